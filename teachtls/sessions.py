"""Sessions and tickets: what resumption remembers (RFC 8446 §2.2, §4.6.1).

After a full handshake, the server may send NewSessionTickets. Each stands
for a pre-shared key (PSK) derived from the connection's
resumption_master_secret:

    PSK = HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length)

In a later handshake the client offers the ticket as a PSK identity, proves it
knows the PSK with a binder, and both sides skip certificate authentication
(and, with psk_ke, even the Diffie-Hellman exchange).

Two sides, two records:

* `ClientSession` -- what a client keeps: the opaque ticket, the PSK, the
  cipher suite and when the ticket arrived (for the ticket age). This is what
  `ClientConnection.get_session_data()` returns and `set_session_data()`
  takes, like gnutls_session_get_data / gnutls_session_set_data.
* `SessionState` -- what a server needs to accept the ticket again. Where it
  lives is the server's choice, and teachtls offers both back-ends the GnuTLS
  manual names:

  - `StatelessTickets`: the state is sealed (AEAD) *into* the ticket with a
    ticket key the server keeps; keys rotate, and tickets sealed under a key
    that has expired no longer open. The server stores nothing per client
    (RFC 5077's idea, carried into TLS 1.3).
  - `SessionDatabase`: the ticket is a random identifier and the state stays
    on the server (in memory here; the `SessionStore` protocol is what a real
    database would implement).

0-RTT and replay (RFC 8446 §8): early data is not protected against replay by
the handshake itself. teachtls's defence is single-use tickets: a ticket with
which 0-RTT data was accepted is remembered (`SessionStore.use_once`) and
refused the second time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

import attrs

from teachtls.crypto.aead import CIPHER_SUITES, Aead, AeadError
from teachtls.wire.enums import CipherSuite

# RFC 8446 §4.6.1: "Servers MUST NOT use any value greater than 604800 seconds (7 days)."
MAX_TICKET_LIFETIME = 604800


BYTES_FIELDS = ("resumption_psk", "ticket", "master_secret", "session_id", "alpn_protocol")


def _to_json(session: SessionState | ClientSession) -> bytes:
    """JSON with bytes fields as hex (alpn_protocol may be null)."""
    fields = attrs.asdict(session)
    for name in BYTES_FIELDS:
        if isinstance(fields.get(name), bytes):
            fields[name] = fields[name].hex()
    return json.dumps(fields, sort_keys=True).encode()


def _from_json(data: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = json.loads(data)
    for name in BYTES_FIELDS:
        if isinstance(fields.get(name), str):
            fields[name] = bytes.fromhex(fields[name])
    return fields


@attrs.frozen(kw_only=True)
class SessionState:
    """What the server needs to resume a session from a ticket."""

    cipher_suite: int
    resumption_psk: bytes = attrs.field(repr=False)
    created: float  # server clock when the ticket was issued, in seconds
    ticket_age_add: int
    ticket_lifetime: int
    max_early_data_size: int = 0
    alpn_protocol: bytes | None = None
    server_name: str | None = None
    # TLS 1.2 sessions resume from the master secret itself (RFC 5246 §7.4.1.2,
    # RFC 5077); `resumption_psk` is then empty.
    version: int = 0x0304
    master_secret: bytes = attrs.field(default=b"", repr=False)
    extended_master_secret: bool = False

    def to_bytes(self) -> bytes:
        return _to_json(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> SessionState:
        return cls(**_from_json(data))


@attrs.frozen(kw_only=True)
class ClientSession:
    """What a client keeps from one NewSessionTicket (gnutls_session_get_data)."""

    server_name: str | None
    cipher_suite: int
    ticket: bytes
    resumption_psk: bytes = attrs.field(repr=False)
    ticket_age_add: int
    ticket_lifetime: int
    received_at: float  # client clock when the ticket arrived, in seconds
    max_early_data_size: int = 0
    alpn_protocol: bytes | None = None
    # TLS 1.2: the session ID and master secret (RFC 5246 §7.4.1.2).
    version: int = 0x0304
    session_id: bytes = b""
    master_secret: bytes = attrs.field(default=b"", repr=False)
    extended_master_secret: bool = False

    def to_bytes(self) -> bytes:
        """A portable form (JSON) of the session, secrets included: keep it private."""
        return _to_json(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> ClientSession:
        return cls(**_from_json(data))

    def obfuscated_ticket_age(self, now: float) -> int:
        """RFC 8446 §4.2.11: (age in milliseconds + ticket_age_add) mod 2^32."""
        age_ms = max(0, round((now - self.received_at) * 1000))
        return (age_ms + self.ticket_age_add) % 2**32

    def usable(self, now: float) -> bool:
        return now - self.received_at < self.ticket_lifetime


class SessionStore(Protocol):
    """The server back-end of resumption (gnutls_db_set_* / ticket keys)."""

    def store(self, state: SessionState) -> bytes:
        """Remember `state`; return the ticket that names it."""
        ...

    def retrieve(self, ticket: bytes, now: float) -> SessionState | None:
        """The state behind `ticket`, or None if unknown, forged or expired."""
        ...

    def use_once(self, ticket: bytes) -> bool:
        """True the first time a ticket is used for 0-RTT, False on a replay."""
        ...


class SessionDatabase:
    """In-memory session cache: tickets are random identifiers (RFC 8446 §4.6.1
    "the ticket itself ... MAY be a database lookup key")."""

    def __init__(self, random: Callable[[int], bytes]) -> None:
        self._random = random
        self._sessions: dict[bytes, SessionState] = {}
        self._used: set[bytes] = set()

    def store(self, state: SessionState) -> bytes:
        ticket = self._random(32)
        self._sessions[ticket] = state
        return ticket

    def retrieve(self, ticket: bytes, now: float) -> SessionState | None:
        state = self._sessions.get(ticket)
        if state is None or now - state.created >= state.ticket_lifetime:
            return None
        return state

    def use_once(self, ticket: bytes) -> bool:
        if ticket in self._used:
            return False
        self._used.add(ticket)
        return True

    def put(self, session_id: bytes, state: SessionState) -> None:
        """TLS 1.2: remember a session under the ID the server chose (RFC 5246 §7.4.1.3)."""
        self._sessions[session_id] = state

    def __len__(self) -> int:
        return len(self._sessions)


@attrs.define
class TicketKey:
    """One ticket-sealing key: an id (sent in clear) and an AES-256-GCM key."""

    key_id: bytes
    key: bytes = attrs.field(repr=False)
    created: float


class StatelessTickets:
    """Tickets that carry their own state, sealed under rotating keys.

        ticket = key_id (4) || nonce (12) || AES-256-GCM(key, nonce, state, aad=key_id)

    `rotation_interval` seconds after a key is made, a new one replaces it for
    sealing; the old one still opens tickets until `ticket_lifetime` more
    seconds have passed, then it is forgotten. Time comes from the injected
    clock, so rotation is deterministic in tests.
    """

    SEAL = CIPHER_SUITES[CipherSuite.TLS_AES_256_GCM_SHA384]

    def __init__(
        self,
        random: Callable[[int], bytes],
        clock: Callable[[], float],
        *,
        rotation_interval: float = 3600.0,
        key_lifetime: float = 2 * 3600.0 + MAX_TICKET_LIFETIME,
    ) -> None:
        self._random = random
        self._clock = clock
        self.rotation_interval = rotation_interval
        self.key_lifetime = key_lifetime
        self.keys: list[TicketKey] = []
        self._used: set[bytes] = set()

    def _now(self) -> float:
        return self._clock()

    def _new_key(self) -> TicketKey:
        return TicketKey(key_id=self._random(4), key=self._random(32), created=self._now())

    def current_key(self) -> TicketKey:
        """The sealing key, rotating it when it is older than `rotation_interval`."""
        now = self._now()
        if not self.keys or now - self.keys[0].created >= self.rotation_interval:
            self.keys.insert(0, self._new_key())
        self.keys = [key for key in self.keys if now - key.created < self.key_lifetime]
        return self.keys[0]

    def rotate(self) -> TicketKey:
        """Start sealing with a fresh key now (older keys keep opening tickets)."""
        self.keys.insert(0, self._new_key())
        return self.keys[0]

    def store(self, state: SessionState) -> bytes:
        key = self.current_key()
        nonce = self._random(12)
        sealed = Aead(self.SEAL, key.key).seal(nonce, state.to_bytes(), key.key_id)
        return key.key_id + nonce + sealed

    def retrieve(self, ticket: bytes, now: float) -> SessionState | None:
        key_id, nonce, sealed = ticket[:4], ticket[4:16], ticket[16:]
        self.keys = [key for key in self.keys if now - key.created < self.key_lifetime]
        for key in self.keys:
            if key.key_id == key_id:
                try:
                    state = SessionState.from_bytes(Aead(self.SEAL, key.key).open(nonce, sealed, key_id))
                except (AeadError, ValueError, TypeError, KeyError):
                    return None
                if now - state.created >= state.ticket_lifetime:
                    return None
                return state
        return None

    def use_once(self, ticket: bytes) -> bool:
        # A stateless server needs *some* state to stop replays: it remembers
        # the tickets already used for 0-RTT (RFC 8446 §8.1 "single-use tickets").
        if ticket in self._used:
            return False
        self._used.add(ticket)
        return True
