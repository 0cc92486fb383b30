"""Non-blocking sessions: "again", "interrupted", warning alerts, timeouts (teachtls.net).

Most tests run a client and a server session in ONE thread over
`FlakyTransport`, an in-memory stand-in for a non-blocking socket that has a
bad day: it delivers at most one byte per recv(), takes a random part of
what is sent, and refuses reads and writes at random points (seeded, so
every run is the same). Both sessions are driven round robin: call a
method; on `WouldBlock` move on to the other side and come back later,
exactly what an event loop does with real sockets.

The configurations are deterministic (counter randomness, fixed key shares,
a frozen clock, an Ed25519 certificate whose signatures are deterministic),
so the non-blocking handshake can be compared byte for byte with a blocking
one over a real socket pair.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from teachtls import ClientConnection, Config, ServerConnection
from teachtls.connection import KeyUpdated
from teachtls.handshake.alerts import (
    ConnectionClosed,
    HandshakeTimeout,
    RemoteAlert,
    TLSError,
    UnexpectedMessage,
)
from teachtls.net.nonblocking import (
    NON_FATAL,
    Again,
    ApplicationDataPending,
    Interrupted,
    PacketTooLarge,
    RehandshakeRequested,
    WarningAlert,
    WouldBlock,
    is_fatal,
    retry,
)
from teachtls.net.session import ConnectionClosedDuringHandshake, TLSSession
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.sessions import StatelessTickets
from teachtls.trace import events as trace
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import AlertDescription, AlertLevel, NamedGroup

pytestmark = pytest.mark.timeout(60)

CA = make_ca()
LEAF = issue_leaf(CA, "localhost", dns_names=["localhost"], key_type="ed25519")  # RFC 8032: deterministic
NOW = time.time()  # the frozen clock of every deterministic connection

# A user_canceled warning alert, as a plaintext record (RFC 8446 §6.1, §5.1):
# type alert(21), legacy_record_version 0x0303, length 2, warning(1), user_canceled(90).
USER_CANCELED_RECORD = bytes.fromhex("1503030002015a")


# --- deterministic configurations ---------------------------------------------------------


def counter_random(seed: bytes) -> Callable[[int], bytes]:
    """A reproducible `Config.random`: SHA-256(seed || counter) blocks."""
    counter = itertools.count()

    def randbytes(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + next(counter).to_bytes(8, "big")).digest()
        return out[:n]

    return randbytes


class Clock:
    """An injected clock the tests move by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client_config(**overrides: Any) -> Config:
    settings: dict[str, Any] = {
        "server_name": "localhost",
        "trusted_certificates": (CA.certificate,),
        "random": counter_random(b"client"),
        "key_share_private_keys": {NamedGroup.x25519: hashlib.sha256(b"client x25519").digest()},
        "clock": Clock(),
    }
    return Config(**{**settings, **overrides})


def server_config(**overrides: Any) -> Config:
    settings: dict[str, Any] = {
        "certificate_chain": (LEAF.certificate,),
        "private_key": LEAF.private_key,
        "random": counter_random(b"server"),
        "key_share_private_keys": {NamedGroup.x25519: hashlib.sha256(b"server x25519").digest()},
        "clock": Clock(),
    }
    return Config(**{**settings, **overrides})


# --- a non-blocking socket having a bad day ---------------------------------------------------


@attrs.define
class Wire:
    """One direction of an in-memory byte stream."""

    data: bytearray = attrs.Factory(bytearray)
    ended: bool = False  # the writer shut down (FIN)


@attrs.define
class FlakyTransport:
    """Socket-like, non-blocking, and unreliable in every way TCP allows.

    * recv() returns at most `max_read` bytes (1 by default);
    * send() takes a random number of bytes, at least one;
    * either refuses (BlockingIOError, EAGAIN) with probability `refusal`;
    * `interrupt` names calls ("send", "recv") to fail once with EINTR;
    * `writable = False` refuses every send, for scripted tests."""

    incoming: Wire
    outgoing: Wire
    rng: random.Random
    refusal: float = 0.3
    max_read: int = 1
    interrupt: set[str] = attrs.Factory(set)
    writable: bool = True
    closed: bool = False
    refused: int = 0  # how many calls were refused: proof that the test exercised "again"
    partial_writes: int = 0

    def send(self, data: bytes) -> int:
        self._maybe_fail("send")
        if not self.writable or self.rng.random() < self.refusal:
            self.refused += 1
            raise BlockingIOError(errno.EAGAIN, "send would block")
        taken = self.rng.randint(1, len(data))
        self.partial_writes += taken < len(data)
        self.outgoing.data += data[:taken]
        return taken

    def recv(self, bufsize: int) -> bytes:
        self._maybe_fail("recv")
        if not self.incoming.data and self.incoming.ended:
            return b""
        if not self.incoming.data or self.rng.random() < self.refusal:
            self.refused += 1
            raise BlockingIOError(errno.EAGAIN, "recv would block")
        size = min(bufsize, self.max_read)
        chunk = bytes(self.incoming.data[:size])
        del self.incoming.data[:size]
        return chunk

    def _maybe_fail(self, call: str) -> None:
        if self.closed:
            raise OSError(errno.EBADF, "closed")
        if call in self.interrupt:
            self.interrupt.discard(call)
            raise InterruptedError(errno.EINTR, f"{call} interrupted")

    def gettimeout(self) -> float | None:
        return 0.0  # non-blocking

    def settimeout(self, value: float | None) -> None:
        raise AssertionError("a non-blocking session never changes the socket's timeout")

    def shutdown(self, how: int) -> None:
        self.outgoing.ended = True

    def close(self) -> None:
        self.closed = True
        self.outgoing.ended = True


def flaky_pair(seed: int, **options: Any) -> tuple[FlakyTransport, FlakyTransport]:
    """Two connected transports, each with its own seeded dice."""
    client_to_server, server_to_client = Wire(), Wire()
    rng = random.Random(seed)
    client = FlakyTransport(server_to_client, client_to_server, random.Random(rng.random()), **options)
    server = FlakyTransport(client_to_server, server_to_client, random.Random(rng.random()), **options)
    return client, server


def session_pair(
    seed: int = 0, client_cfg: Config | None = None, server_cfg: Config | None = None, **options: Any
) -> tuple[TLSSession, TLSSession]:
    client_transport, server_transport = flaky_pair(seed, **options)
    client = TLSSession(client_transport, ClientConnection(client_cfg or client_config()))
    server = TLSSession(server_transport, ServerConnection(server_cfg or server_config()))
    return client, server


def flaky(session: TLSSession) -> FlakyTransport:
    """The test double under `session`."""
    assert isinstance(session.sock, FlakyTransport)
    return session.sock


def drive(*steps: Callable[[], Any], limit: int = 100_000) -> list[Any]:
    """Call each step until it returns, round robin, moving on at every `WouldBlock`.

    One thread plays both ends, like an event loop. Returns the results in order."""
    results: dict[int, Any] = {}
    waiting = dict(enumerate(steps))
    for _ in range(limit):
        for index, step in list(waiting.items()):
            try:
                results[index] = step()
            except WouldBlock:
                continue
            del waiting[index]
        if not waiting:
            return [results[index] for index in range(len(steps))]
    raise AssertionError(f"no progress after {limit} rounds")


def recv_exactly(session: TLSSession, size: int) -> Callable[[], bytes]:
    """A resumable step: recv() until `size` bytes have arrived."""
    received = b""

    def step() -> bytes:
        nonlocal received
        while len(received) < size:
            received += session.recv()
        return received

    return step


# --- the handshake, byte by byte ----------------------------------------------------------------


def blocking_handshake(client_cfg: Config, server_cfg: Config) -> None:
    """The reference: a blocking handshake over a real socket pair, one thread per side."""
    client_sock, server_sock = socket.socketpair()
    for sock in (client_sock, server_sock):
        sock.settimeout(10)
    client = TLSSession(client_sock, ClientConnection(client_cfg))
    server = TLSSession(server_sock, ServerConnection(server_cfg))
    thread = threading.Thread(target=server.handshake)
    thread.start()
    try:
        client.handshake()
    finally:
        thread.join(10)
        client_sock.close()  # no close_notify: the traces end with the handshake
        server_sock.close()


TRANSCRIPT_EVENTS = (trace.MessageSent, trace.MessageReceived, trace.TranscriptUpdated, trace.SecretDerived)


@pytest.mark.parametrize("seed", range(8))
def test_non_blocking_handshake_has_the_blocking_transcript(seed):
    reference = {"client": Recorder(), "server": Recorder()}
    blocking_handshake(client_config(observer=reference["client"]), server_config(observer=reference["server"]))

    recorded = {"client": Recorder(), "server": Recorder()}
    client, server = session_pair(
        seed, client_config(observer=recorded["client"]), server_config(observer=recorded["server"])
    )
    client_completed, server_completed = drive(client.handshake, server.handshake)

    assert client_completed.version == server_completed.version == "TLS 1.3"
    assert flaky(client).refused > 10 and flaky(server).refused > 10  # "again" happened, many times
    assert flaky(client).partial_writes + flaky(server).partial_writes > 0
    for role in ("client", "server"):
        # The same messages (MessageSent raw bytes), transcript hashes and secrets ...
        expected = [e for e in reference[role].events if isinstance(e, TRANSCRIPT_EVENTS)]
        actual = [e for e in recorded[role].events if isinstance(e, TRANSCRIPT_EVENTS)]
        assert [e.raw for e in actual if isinstance(e, trace.MessageSent)] == [
            e.raw for e in expected if isinstance(e, trace.MessageSent)
        ]
        assert actual == expected
        # ... and in fact the whole trace, record for record.
        assert recorded[role].events == reference[role].events


@pytest.mark.parametrize("seed", range(4))
def test_data_key_update_and_close_over_a_flaky_transport(seed):
    client, server = session_pair(seed)
    drive(client.handshake, server.handshake)
    message = bytes(range(256)) * 40  # 10240 bytes: the flaky socket takes them a few at a time

    assert drive(lambda: client.send(message), recv_exactly(server, len(message))) == [len(message), message]
    assert drive(lambda: server.send(message[::-1]), recv_exactly(client, len(message))) == [
        len(message),
        message[::-1],
    ]

    drive(lambda: client.key_update(request_peer=True))
    drive(lambda: client.send(b"after"), recv_exactly(server, 5))
    drive(lambda: server.send(b"reply"), recv_exactly(client, 5))
    assert (client.connection.write_generation, client.connection.read_generation) == (1, 1)
    assert (server.connection.write_generation, server.connection.read_generation) == (1, 1)

    def server_side() -> None:
        assert server.recv() == b""  # the client's close_notify ...
        server.close()  # ... answered with ours

    drive(client.close, server_side)
    assert client.closed and server.closed
    assert not client.truncated and not server.truncated


# --- "interrupted" ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "direction"), [("recv", "read"), ("send", "write")])
def test_eintr_is_interrupted_and_the_next_call_completes(call, direction):
    client, server = session_pair(refusal=0.0)
    flaky(client).interrupt.add(call)  # the first send() or recv() fails with EINTR
    with pytest.raises(Interrupted) as caught:
        client.handshake()
    assert caught.value.direction == direction == client.direction
    assert not is_fatal(caught.value)
    drive(client.handshake, server.handshake)
    assert client.completed is not None and server.completed is not None


# --- the handshake timeout ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["client", "server"])
def test_handshake_timeout_on_a_non_blocking_socket(role):
    clock = Clock()
    client, server = session_pair(
        client_cfg=client_config(clock=clock, handshake_timeout_ms=5000),
        server_cfg=server_config(clock=clock, handshake_timeout_ms=5000),
        refusal=0.0,
    )
    session = client if role == "client" else server  # the peer never says a word
    with pytest.raises(WouldBlock) as caught:
        session.handshake()
    assert caught.value.direction == "read" == session.direction
    clock.now += 4.9
    with pytest.raises(WouldBlock):
        session.handshake()  # still in time
    clock.now += 0.2
    with pytest.raises(HandshakeTimeout) as timed_out:
        session.handshake()
    assert is_fatal(timed_out.value)
    assert session.closed and flaky(session).closed
    with pytest.raises(ConnectionClosed):
        session.handshake()


def test_blocking_socket_waits_no_longer_than_the_handshake_timeout():
    client_sock, silent = socket.socketpair()
    client_sock.settimeout(10)  # the socket alone would wait 10 s
    session = TLSSession(client_sock, ClientConnection(Config(server_name="localhost", handshake_timeout_ms=200)))
    started = time.monotonic()
    with pytest.raises(HandshakeTimeout):
        session.handshake()
    assert time.monotonic() - started < 5
    assert session.closed
    assert client_sock.gettimeout() is None or client_sock.fileno() == -1
    silent.close()


# --- warning alerts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["client", "server"])
def test_warning_alert_is_reported_then_the_handshake_continues(role):
    client, server = session_pair(seed=3)
    session = client if role == "client" else server
    # Injected ahead of everything the peer will send: before any keys, so plaintext.
    flaky(session).incoming.data += USER_CANCELED_RECORD

    with pytest.raises(WarningAlert) as caught:
        drive(client.handshake, server.handshake)
    warning = caught.value
    assert warning.level == AlertLevel.warning
    assert warning.description == AlertDescription.user_canceled
    assert not is_fatal(warning)
    assert "user_canceled" in str(warning)

    client_completed, server_completed = drive(client.handshake, server.handshake)
    assert client_completed.cipher_suite == server_completed.cipher_suite
    drive(lambda: client.send(b"still fine"), recv_exactly(server, 10))


# --- handshake() after the handshake (TLS 1.3) ------------------------------------------------------


def test_handshake_again_is_a_key_update_on_the_client_and_a_no_op_on_the_server():
    recorder = Recorder()
    client, server = session_pair(seed=5, client_cfg=client_config(observer=recorder))
    first, _ = drive(client.handshake, server.handshake)

    assert drive(server.handshake) == [server.completed]  # no-op: nothing is written
    assert server.connection.write_generation == 0 and not server.connection.data_to_send()

    assert drive(client.handshake) == [first]  # KeyUpdate(update_requested)
    assert client.connection.write_generation == 1
    drive(lambda: client.send(b"ping"), recv_exactly(server, 4))
    assert server.connection.read_generation == 1
    assert server.connection.write_generation == 1  # it answered with its own KeyUpdate
    drive(lambda: server.send(b"pong"), recv_exactly(client, 4))
    assert client.connection.read_generation == 1
    # (Only updates caused by received data come back as events: the core's
    # key_update() has no way to return one, so our own is seen in write_generation.)
    # Our own update is reported too (with the next events), then the server's answer.
    assert [e for e in client.events if isinstance(e, KeyUpdated)] == [
        KeyUpdated(direction="write", generation=1),
        KeyUpdated(direction="read", generation=1),
    ]
    assert [e for e in server.events if isinstance(e, KeyUpdated)] == [
        KeyUpdated(direction="read", generation=1),
        KeyUpdated(direction="write", generation=1),
    ]
    # The traffic secret updates are traced (RFC 8446 §7.2).
    updates = [e.name for e in recorder.events if isinstance(e, trace.SecretDerived) and e.label == "traffic upd"]
    assert updates == ["client_application_traffic_secret_1", "server_application_traffic_secret_1"]


# --- interrupted writes are finished, never repeated ---------------------------------------------------


def test_an_interrupted_send_is_finished_by_calling_again_with_the_same_data():
    client, server = session_pair(refusal=0.0)
    drive(client.handshake, server.handshake)
    flaky(client).writable = False
    with pytest.raises(WouldBlock) as caught:
        client.send(b"exactly once")
    assert caught.value.direction == "write" == client.direction
    assert not flaky(client).outgoing.data  # nothing went out: the records wait in the session
    waiting = client.wants_write  # so an event loop watches for writability
    with pytest.raises(TLSError, match="same data"):
        client.send(b"something else")
    flaky(client).writable = True
    assert client.send(b"exactly once") == 12
    assert waiting and not client.wants_write
    assert drive(recv_exactly(server, 12)) == [b"exactly once"]
    with pytest.raises(WouldBlock):
        server.recv()  # and nothing more


def test_an_interrupted_key_update_is_not_sent_twice():
    client, server = session_pair(refusal=0.0)
    drive(client.handshake, server.handshake)
    flaky(client).writable = False
    with pytest.raises(WouldBlock):
        client.key_update(request_peer=False)
    flaky(client).writable = True
    client.key_update(request_peer=False)  # finishes the first one
    assert client.connection.write_generation == 1
    drive(lambda: client.send(b"x"), recv_exactly(server, 1))
    assert server.connection.read_generation == 1


# --- half-close -----------------------------------------------------------------------------------------


def test_shutdown_write_keeps_reading():
    client, server = session_pair(seed=7)
    drive(client.handshake, server.handshake)
    drive(client.shutdown_write)  # gnutls_bye(GNUTLS_SHUT_WR)
    assert drive(server.recv) == [b""]  # the client said close_notify ...
    assert not server.truncated
    drive(lambda: server.send(b"one more thing"))  # ... but the server may still talk
    assert drive(recv_exactly(client, 14)) == [b"one more thing"]
    with pytest.raises(ConnectionClosed):
        client.connection.send_application_data(b"no")
    drive(server.close)
    assert drive(client.recv) == [b""]
    assert not client.truncated


def test_end_of_stream_without_close_notify_is_a_truncation():
    client, server = session_pair(refusal=0.0)
    drive(client.handshake, server.handshake)
    drive(lambda: server.send(b"partial"))
    flaky(server).close()  # TCP FIN, no close_notify
    assert drive(recv_exactly(client, 7)) == [b"partial"]
    assert client.recv() == b""
    assert client.truncated


def test_eof_during_handshake():
    client, server = session_pair(refusal=0.0)
    flaky(server).close()
    with pytest.raises(ConnectionClosedDuringHandshake):
        drive(client.handshake)
    assert client.closed


def test_a_fatal_alert_ends_the_session():
    client, _ = session_pair(refusal=0.0)
    with pytest.raises(WouldBlock):
        client.handshake()
    flaky(client).incoming.data += bytes.fromhex("1503030002022f")  # fatal illegal_parameter
    with pytest.raises(RemoteAlert) as caught:
        drive(client.handshake)
    assert caught.value.description == AlertDescription.illegal_parameter
    assert is_fatal(caught.value)
    assert client.closed


def test_a_local_alert_is_sent_then_the_session_ends():
    client, server = session_pair(refusal=0.0)
    flaky(client).outgoing.data += b"GET / HTTP/1.1\r\n\r\n"  # not TLS
    with pytest.raises(UnexpectedMessage):
        drive(server.handshake)
    assert server.closed
    # alert record: type 21, legacy version 3.3, length 2, fatal(2) unexpected_message(10)
    assert bytes(flaky(server).outgoing.data) == bytes.fromhex("1503030002020a")


# --- resumption and 0-RTT over the flaky transport ----------------------------------------------------


def test_session_data_and_early_data_over_a_flaky_transport():
    clock = Clock()
    store = StatelessTickets(counter_random(b"tickets"), clock)
    server_settings = {"session_store": store, "session_tickets": 1, "max_early_data_size": 1024, "clock": clock}

    client, server = session_pair(seed=11, server_cfg=server_config(**server_settings))
    drive(client.handshake, server.handshake)
    drive(lambda: server.send(b"hello"), recv_exactly(client, 5))  # the ticket came first
    saved = client.get_session_data()  # gnutls_session_get_data

    def server_goodbye() -> None:
        assert server.recv() == b""
        server.close()

    drive(client.close, server_goodbye)

    client, server = session_pair(
        seed=12, client_cfg=client_config(clock=clock), server_cfg=server_config(**server_settings)
    )
    client.set_session_data(saved)  # gnutls_session_set_data
    client_completed, server_completed = drive(lambda: client.handshake(early_data=b"0-RTT request"), server.handshake)
    assert client_completed.resumed and server_completed.resumed
    assert client_completed.early_data_accepted
    assert drive(recv_exactly(server, 13)) == [b"0-RTT request"]
    with pytest.raises(TLSError, match="clients"):
        server.get_session_data()


# --- retry() against real non-blocking sockets ------------------------------------------------------------


def test_retry_drives_real_non_blocking_sockets():
    client_sock, server_sock = socket.socketpair()
    client_sock.setblocking(False)
    server_sock.settimeout(10)
    client = TLSSession(client_sock, ClientConnection(client_config()))
    server = TLSSession(server_sock, ServerConnection(server_config()))
    thread = threading.Thread(target=lambda: (server.handshake(), server.send(server.recv().upper())))
    thread.start()
    try:
        completed = retry(client.handshake, client_sock, timeout=10)
        assert completed.version == "TLS 1.3"
        retry(lambda: client.send(b"abc"), client_sock, timeout=10)
        assert retry(client.recv, client_sock, timeout=10) == b"ABC"
    finally:
        thread.join(10)
        client.close(timeout=0)
        server.close(timeout=0)


# --- is_fatal (gnutls_error_is_fatal) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "fatal"),
    [
        (WouldBlock("read"), False),  # GNUTLS_E_AGAIN
        (Again("write"), False),
        (Interrupted("read"), False),  # GNUTLS_E_INTERRUPTED
        (WarningAlert(AlertDescription.user_canceled), False),  # GNUTLS_E_WARNING_ALERT_RECEIVED
        (TimeoutError(), False),  # a socket timeout: call again
        (HandshakeTimeout("too slow"), True),  # GNUTLS_E_TIMEDOUT
        (UnexpectedMessage("bad"), True),  # we sent a fatal alert
        (RemoteAlert(AlertDescription.handshake_failure), True),  # GNUTLS_E_FATAL_ALERT_RECEIVED
        (ConnectionClosedDuringHandshake(), True),  # GNUTLS_E_PREMATURE_TERMINATION
        (ConnectionClosed("closed"), True),
        (TLSError("anything else"), True),
        (ConnectionResetError(), True),
        (ValueError(), True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_is_fatal(error, fatal):
    assert is_fatal(error) is fatal


def test_again_is_would_block_and_every_condition_is_a_tls_error():
    assert Again is WouldBlock
    for condition in (
        WouldBlock("read"),
        Interrupted("write"),
        WarningAlert(90),
        ApplicationDataPending(1),
        RehandshakeRequested(),
    ):
        assert isinstance(condition, TLSError)
    assert set(NON_FATAL) == {
        WouldBlock,
        Interrupted,
        WarningAlert,
        TimeoutError,
        PacketTooLarge,
        ApplicationDataPending,  # GNUTLS_E_GOT_APPLICATION_DATA (TLS 1.2 re-handshake)
        RehandshakeRequested,  # GNUTLS_E_REHANDSHAKE
    }
    assert "unknown (200)" in str(WarningAlert(200))
