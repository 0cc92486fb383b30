"""An in-memory client/server pair, and one recorded handshake to replay.

Not a test module: a helper, in the spirit of h11's `ConnectionPair`. Bytes
move between a `ClientConnection` and a `ServerConnection` without sockets::

    pair = HandshakePair()
    client_events, server_events = pair.handshake()

Determinism. Connections built with `client_config()` / `server_config()`
get their randomness from a counter (`counter_random`), fixed x25519 private
keys and an Ed25519 server certificate (RFC 8032 signatures are
deterministic). So two fresh connections with the same configuration say
exactly the same bytes, and a flight recorded once (`recorded()`) can be
replayed into a fresh connection standing at the same point of the
handshake. That is what lets a test feed a *corrupted* copy of the real
server flight to a client, thousands of times, cheaply.

The CA and the server certificate are generated once per test session and
cached here (`pki()`), so building a pair costs only the handshake itself.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Callable
from typing import Any

import attrs

from teachtls import ClientConnection, Config, ServerConnection
from teachtls.connection import Connection, Event
from teachtls.pki.generate import IssuedCertificate, issue_leaf, make_ca
from teachtls.wire.enums import NamedGroup
from teachtls.wire.record import HEADER_LENGTH, parse_header

SERVER_NAME = "localhost"
# Fixed X25519 private keys (RFC 7748 §5 clamps whatever 32 bytes it is given).
CLIENT_X25519_PRIVATE_KEY = hashlib.sha256(b"teachtls test client x25519").digest()
SERVER_X25519_PRIVATE_KEY = hashlib.sha256(b"teachtls test server x25519").digest()
# A secp256r1 private scalar (any 32 bytes below the group order).
CLIENT_P256_PRIVATE_KEY = hashlib.sha256(b"teachtls test client secp256r1").digest()


@functools.cache
def pki() -> tuple[IssuedCertificate, IssuedCertificate]:
    """(CA, server leaf for "localhost"), made once per session. Ed25519 leaf: deterministic signatures."""
    ca = make_ca()
    leaf = issue_leaf(ca, SERVER_NAME, dns_names=[SERVER_NAME], key_type="ed25519")
    return ca, leaf


def counter_random(seed: bytes) -> Callable[[int], bytes]:
    """A `Config.random` that is reproducible: SHA-256(seed || counter) blocks."""
    counter = itertools.count()

    def random(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + next(counter).to_bytes(8, "big")).digest()
        return out[:n]

    return random


def client_config(**overrides: Any) -> Config:
    """A deterministic client config that trusts the cached CA. Build one per connection:
    the random source counts calls."""
    ca, _ = pki()
    settings: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "trusted_certificates": (ca.certificate,),
        "random": counter_random(b"client"),
        "key_share_private_keys": {NamedGroup.x25519: CLIENT_X25519_PRIVATE_KEY},
    }
    settings.update(overrides)
    return Config(**settings)


def server_config(**overrides: Any) -> Config:
    """A deterministic server config with the cached leaf certificate."""
    _, leaf = pki()
    settings: dict[str, Any] = {
        "certificate_chain": (leaf.certificate,),
        "private_key": leaf.private_key,
        "random": counter_random(b"server"),
        "key_share_private_keys": {NamedGroup.x25519: SERVER_X25519_PRIVATE_KEY},
    }
    settings.update(overrides)
    return Config(**settings)


class HandshakePair:
    """A client and a server wired back to back in memory."""

    def __init__(
        self,
        client: ClientConnection | None = None,
        server: ServerConnection | None = None,
    ) -> None:
        self.client = client if client is not None else ClientConnection(client_config())
        self.server = server if server is not None else ServerConnection(server_config())

    def client_to_server(self) -> list[Event]:
        """Deliver everything the client has queued; return the server's events."""
        return self.server.receive_data(self.client.data_to_send())

    def server_to_client(self) -> list[Event]:
        return self.client.receive_data(self.server.data_to_send())

    def pump(self) -> tuple[list[Event], list[Event]]:
        """Move bytes both ways until neither side has anything to say.

        Returns (client events, server events). Alerts propagate as exceptions."""
        client_events: list[Event] = []
        server_events: list[Event] = []
        while True:
            to_server = self.client.data_to_send()
            if to_server and not self.server.closed:
                server_events += self.server.receive_data(to_server)
            to_client = self.server.data_to_send()
            if to_client and not self.client.closed:
                client_events += self.client.receive_data(to_client)
            if not to_server and not to_client:
                return client_events, server_events

    def handshake(self) -> tuple[list[Event], list[Event]]:
        """Start the client and pump until both sides are quiet."""
        self.client.start_handshake()
        return self.pump()


# --- records ------------------------------------------------------------------------


def split_records(data: bytes) -> list[bytes]:
    """Cut a byte stream into whole records (header included)."""
    records = []
    while data:
        _, _, length = parse_header(data[:HEADER_LENGTH])
        records.append(data[: HEADER_LENGTH + length])
        data = data[HEADER_LENGTH + length :]
    return records


# --- recorded handshakes, replayable ------------------------------------------------


@attrs.frozen(kw_only=True)
class RecordedHandshake:
    """The bytes of one deterministic handshake, flight by flight.

    `flights[0]` is the client's, then they alternate. A 1-RTT handshake has
    three: ClientHello; ServerHello, change_cipher_spec, the encrypted rest;
    change_cipher_spec, encrypted Finished. A HelloRetryRequest adds two in
    front: ClientHello1; HelloRetryRequest, change_cipher_spec; then
    change_cipher_spec, ClientHello2 and the three-flight ending."""

    flights: tuple[bytes, ...]

    @property
    def client_hello(self) -> bytes:
        return self.flights[0]

    @property
    def server_flight(self) -> bytes:
        """The server flight with the ServerHello (not a HelloRetryRequest)."""
        return self.flights[-2]

    @property
    def client_flight(self) -> bytes:
        return self.flights[-1]

    @property
    def server_hello_record(self) -> bytes:
        return split_records(self.server_flight)[0]

    @property
    def server_flight_after_server_hello(self) -> bytes:
        return self.server_flight[len(self.server_hello_record) :]


def record_handshake(pair: HandshakePair) -> RecordedHandshake:
    """Run `pair`'s handshake flight by flight and keep every flight's bytes."""
    flights = []
    pair.client.start_handshake()
    sender: Connection = pair.client
    receiver: Connection = pair.server
    while data := sender.data_to_send():
        flights.append(data)
        receiver.receive_data(data)
        sender, receiver = receiver, sender
    assert pair.client.handshake_complete and pair.server.handshake_complete
    return RecordedHandshake(flights=tuple(flights))


@functools.cache
def recorded() -> RecordedHandshake:
    """One 1-RTT handshake between deterministic connections."""
    return record_handshake(HandshakePair())


# A client that sends only a secp256r1 share, to a server that prefers x25519,
# gets a HelloRetryRequest (as in RFC 8448 §5, groups swapped).
HELLO_RETRY_CLIENT = {
    "key_share_groups": (NamedGroup.secp256r1,),
    "key_share_private_keys": {
        NamedGroup.secp256r1: CLIENT_P256_PRIVATE_KEY,
        NamedGroup.x25519: CLIENT_X25519_PRIVATE_KEY,
    },
}


@functools.cache
def recorded_hello_retry() -> RecordedHandshake:
    """One handshake with a HelloRetryRequest: five flights."""
    recording = record_handshake(HandshakePair(ClientConnection(client_config(**HELLO_RETRY_CLIENT))))
    assert len(recording.flights) == 5
    return recording


# --- fresh connections at known points of the recorded handshakes ----------------------


def fresh_server(**overrides: Any) -> ServerConnection:
    """A server that has received nothing (state START)."""
    return ServerConnection(server_config(**overrides))


def client_waiting_for_server_hello(**overrides: Any) -> ClientConnection:
    """A client that has sent its ClientHello (state WAIT_SH); its output is discarded."""
    client = ClientConnection(client_config(**overrides))
    client.start_handshake()
    client.data_to_send()
    return client


def client_after_server_hello(**overrides: Any) -> ClientConnection:
    """A client that has processed the recorded ServerHello record (state WAIT_EE, handshake keys)."""
    client = client_waiting_for_server_hello(**overrides)
    client.receive_data(recorded().server_hello_record)
    return client


def server_waiting_for_finished(**overrides: Any) -> ServerConnection:
    """A server that has answered the recorded ClientHello (state WAIT_FINISHED)."""
    server = fresh_server(**overrides)
    server.receive_data(recorded().client_hello)
    server.data_to_send()
    return server


def server_after_hello_retry_request(**overrides: Any) -> ServerConnection:
    """A server that has answered ClientHello1 with a HelloRetryRequest (state START again)."""
    server = fresh_server(**overrides)
    server.receive_data(recorded_hello_retry().flights[0])
    server.data_to_send()
    return server


def client_after_hello_retry_request(**overrides: Any) -> ClientConnection:
    """A client that has answered a HelloRetryRequest with ClientHello2 (state WAIT_SH)."""
    client = client_waiting_for_server_hello(**{**HELLO_RETRY_CLIENT, **overrides})
    client.receive_data(recorded_hello_retry().flights[1])
    client.data_to_send()
    return client


@attrs.frozen
class Point:
    """A place in a recorded handshake where a fresh connection can be put."""

    make: Callable[..., Connection]  # keyword arguments override the Config
    expected_input: Callable[[], bytes]  # the real bytes it expects next
    then_sends: Callable[[], bytes]  # what it sends after them (b"" if nothing)
    completes: bool  # whether those bytes complete its handshake


POINTS: dict[str, Point] = {
    "server-fresh": Point(
        fresh_server, lambda: recorded().client_hello, lambda: recorded().server_flight, completes=False
    ),
    "client-sent-client-hello": Point(
        client_waiting_for_server_hello,
        lambda: recorded().server_flight,
        lambda: recorded().client_flight,
        completes=True,
    ),
    "client-received-server-hello": Point(
        client_after_server_hello,
        lambda: recorded().server_flight_after_server_hello,
        lambda: recorded().client_flight,
        completes=True,
    ),
    "server-sent-flight": Point(
        server_waiting_for_finished, lambda: recorded().client_flight, lambda: b"", completes=True
    ),
    "server-sent-hello-retry-request": Point(
        server_after_hello_retry_request,
        lambda: recorded_hello_retry().flights[2],
        lambda: recorded_hello_retry().flights[3],
        completes=False,
    ),
    "client-received-hello-retry-request": Point(
        client_after_hello_retry_request,
        lambda: recorded_hello_retry().flights[3],
        lambda: recorded_hello_retry().flights[4],
        completes=True,
    ),
}
"""Where in a handshake a connection stands, by name, for parametrized tests."""
