"""A lossy datagram network in memory: drop, duplicate and reorder, reproducibly.

DTLS exists because networks lose, duplicate and reorder datagrams (RFC
6347 §3.2). To watch it cope -- retransmissions, replay rejections,
reassembly out of order -- without a real network or real waiting, this
module offers:

* `ManualClock`: a clock that moves only when told. Give it to both
  connections' `Config.clock`; the retransmission timers then run on it.
* `LossyLink`: carries datagrams between "client" and "server". With a
  seed, its choices are random but reproducible (`random.Random(seed)`);
  `drop`, `duplicate` and `reorder` are probabilities per datagram. For an
  exact lesson, `drop_numbers` drops chosen datagrams (numbered from 1 in
  the order they were sent). Every effect is reported to the observer as a
  `Note` of the sending side ("the link dropped datagram 4 ..."), so it
  shows up in the trace and the walkthrough next to the records it hit.
* `DatagramPair`: a client and a server on one link and one clock, pumped
  until the handshake completes. When no datagram is in flight it moves the
  clock to the earliest `next_timeout()` and calls `handle_timeout()` --
  the whole retransmission story in milliseconds of real time.

    clock = ManualClock()
    pair = DatagramPair(client, server, LossyLink(seed=7, drop=0.3, observer=recorder), clock)
    pair.handshake()          # completes, or raises HandshakeTimeout

Nothing here is part of DTLS: it is the network, for tests and tutorials.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection

import attrs

from teachtls.connection import Event
from teachtls.dtls.connection import DatagramConnection
from teachtls.dtls.record13 import DTLSCiphertextRecord, split_datagram
from teachtls.handshake import alerts
from teachtls.trace import events as trace
from teachtls.trace.observer import Observer, flush_of, ignore
from teachtls.wire.enums import ContentType, name_of, to_enum

ROLES = ("client", "server")


class ManualClock:
    """A clock for `Config.clock` that only moves when told to (seconds)."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, now: float) -> None:
        self.now = max(self.now, now)


@attrs.frozen
class Datagram:
    number: int  # 1, 2, ...: in the order they were sent
    sender: str
    payload: bytes
    copy: bool = False  # a duplicate made by the link


class LossyLink:
    """Datagrams between "client" and "server"; drops, duplicates and reorders by a seed."""

    def __init__(
        self,
        *,
        seed: int = 0,
        drop: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        drop_numbers: Collection[int] = (),
        observer: Observer = ignore,
    ) -> None:
        self.random = random.Random(seed)
        self.drop = drop
        self.duplicate = duplicate
        self.reorder = reorder
        self.drop_numbers = set(drop_numbers)
        self.observe = observer
        self.flush_observer = flush_of(observer)
        self.sent = 0
        self.in_flight: list[Datagram] = []
        self.dropped: list[Datagram] = []
        self.duplicated: list[Datagram] = []
        self.reordered: list[Datagram] = []

    def send(self, sender: str, payload: bytes) -> None:
        """Put a datagram on the link (it may be dropped or duplicated at once)."""
        self.sent += 1
        datagram = Datagram(self.sent, sender, payload)
        if datagram.number in self.drop_numbers or self.random.random() < self.drop:
            self.dropped.append(datagram)
            self._report(datagram, "dropped")
            return
        self.in_flight.append(datagram)
        if self.random.random() < self.duplicate:
            self.in_flight.append(attrs.evolve(datagram, copy=True))
            self.duplicated.append(datagram)
            self._report(datagram, "duplicated")

    def deliver(self) -> list[Datagram]:
        """Everything in flight, in arrival order (some swapped with their successor)."""
        arriving, self.in_flight = self.in_flight, []
        for index in range(len(arriving) - 1):
            if self.random.random() < self.reorder:
                arriving[index], arriving[index + 1] = arriving[index + 1], arriving[index]
                self.reordered.append(arriving[index + 1])
                self._report(arriving[index + 1], f"delayed behind datagram {arriving[index].number}")
        return arriving

    def _report(self, datagram: Datagram, effect: str) -> None:
        # (The DTLS 1.3 splitter reads DTLS 1.2 datagrams too; a network sees
        # no more of a DTLS 1.3 record than its epoch bits: the rest is encrypted.)
        records = split_datagram(datagram.payload).records
        contents = ", ".join(
            f"protected record (epoch bits {r.epoch_bits:02b})"
            if isinstance(r, DTLSCiphertextRecord)
            else name_of(to_enum(ContentType, r.content_type)) + f" (epoch {r.epoch}, seq {r.sequence_number})"
            for r in records
        )
        receiver = "server" if datagram.sender == "client" else "client"
        self.observe(
            trace.Note(
                role=datagram.sender,
                text=f"the link {effect} datagram {datagram.number} ({datagram.sender} → {receiver}, "
                f"{len(datagram.payload)} bytes: {contents})",
                rfc="RFC 6347 §3.2",
            )
        )
        # This happens between two calls of a connection, so no connection
        # flushes a buffering observer for it (trace/observer.py): we do.
        self.flush_observer()


class DatagramPair:
    """A DTLS client and server joined by a `LossyLink`, on one `ManualClock`."""

    def __init__(
        self,
        client: DatagramConnection,
        server: DatagramConnection,
        link: LossyLink | None = None,
        clock: ManualClock | None = None,
    ) -> None:
        self.client = client
        self.server = server
        self.link = link or LossyLink()
        self.clock = clock
        self.events: dict[str, list[Event]] = {"client": [], "server": []}
        self.timeouts = 0  # how often the clock had to jump to a timer

    def connection(self, role: str) -> DatagramConnection:
        return self.client if role == "client" else self.server

    def step(self) -> bool:
        """Send what both sides have, deliver what the link lets through. Anything moved?"""
        for role in ROLES:
            connection = self.connection(role)
            # (a closed connection may still hold its fatal alert)
            if not connection.closed or connection._outgoing:
                for payload in connection.datagrams_to_send():
                    self.link.send(role, payload)
        arriving = self.link.deliver()
        for datagram in arriving:
            receiver = self.connection("server" if datagram.sender == "client" else "client")
            if not receiver.closed:
                self.events[receiver.role] += receiver.receive_datagram(datagram.payload)
        return bool(arriving)

    def wait_for_timer(self) -> bool:
        """Move the clock to the earliest timer and fire it. False when no timer runs."""
        deadlines = [
            deadline for connection in (self.client, self.server) if (deadline := connection.next_timeout()) is not None
        ]
        if not deadlines or self.clock is None:
            return False
        self.clock.set(min(deadlines))
        self.timeouts += 1
        for connection in (self.client, self.server):
            deadline = connection.next_timeout()
            if deadline is not None and self.clock() >= deadline:
                connection.handle_timeout()
        return True

    def run(self, done: Callable[[], bool], max_steps: int = 1000) -> None:
        """Pump (and wait for timers) until `done()`; raises if nothing can move any more."""
        for _ in range(max_steps):
            if done():
                return
            if not self.step() and not self.wait_for_timer():
                if done():
                    return
                raise alerts.TLSError("the handshake is stuck: no datagram in flight and no timer running")
        raise alerts.TLSError(f"not done after {max_steps} steps")

    def handshake(self, max_steps: int = 1000) -> None:
        """Run until both sides completed the handshake."""
        self.client_start()
        self.run(lambda: self.client.handshake_complete and self.server.handshake_complete, max_steps)

    def client_start(self) -> None:
        start = getattr(self.client, "start_handshake", None)
        if start is not None and self.client.handshake_started_at is None:
            start()

    def settle(self, max_steps: int = 100) -> None:
        """Deliver until the link is quiet (no timers are fired)."""
        for _ in range(max_steps):
            if not self.step():
                return
