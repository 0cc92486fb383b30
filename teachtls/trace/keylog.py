"""NSS key log files: let Wireshark decrypt a teachtls connection.

Wireshark and tshark decrypt a captured TLS connection when they are given
its secrets in the NSS key log format: the file that browsers, curl and
OpenSSL-based programs write when the SSLKEYLOGFILE environment variable
names one (NSS "Key Log Format"; draft-ietf-tls-keylogfile). The file is a
series of lines

    <label> <client_random> <secret>

with both values in hex. Lines starting with "#" are comments.
`client_random` is the connection's 32-byte ClientHello.random (RFC 8446
§4.1.2). A capture tool matches it against the ClientHellos it sees, so one
file can serve many connections. The label names the secret:

    secret (teachtls / RFC name)          label
    TLS 1.3, RFC 8446 §7.1
    client_early_traffic_secret           CLIENT_EARLY_TRAFFIC_SECRET
    client_handshake_traffic_secret       CLIENT_HANDSHAKE_TRAFFIC_SECRET
    server_handshake_traffic_secret       SERVER_HANDSHAKE_TRAFFIC_SECRET
    client_application_traffic_secret_0   CLIENT_TRAFFIC_SECRET_0
    server_application_traffic_secret_0   SERVER_TRAFFIC_SECRET_0
    exporter_master_secret                EXPORTER_SECRET
    early_exporter_master_secret          EARLY_EXPORTER_SECRET
    TLS 1.2, RFC 5246 §8.1
    master_secret                         CLIENT_RANDOM

Nothing here derives a secret. A key log is just another rendering of a
trace: the client random comes from the ClientHello in a `MessageSent` or
`MessageReceived` event, and the secrets come from `SecretDerived` events.
The rules:

* Several connections may follow one another in a trace. Each ClientHello
  starts a new connection, and the secrets after it belong to that one. After
  a HelloRetryRequest the client sends a second ClientHello with the same
  random (RFC 8446 §4.1.2), so that changes nothing.
* Each role (the events' `role`) keeps its own current connection. In an
  in-memory client/server pair traced by one observer, the client's secrets
  go with the ClientHello the client sent, and the server's secrets with the
  ClientHello the server received.
* Both sides of such a pair derive the same secrets, so each line is
  written once.
* TLS 1.3 has a "Master Secret" too (RFC 8446 §7.1), but it is not a TLS 1.2
  master secret. `master_secret` is logged as CLIENT_RANDOM only when it
  came from the TLS 1.2 PRF (operation "PRF"), or after a
  `ParametersNegotiated` event of the same role said "TLS 1.2".
* Only generation 0 of the application traffic secrets has a label.
  Wireshark derives the later generations itself after a KeyUpdate (RFC 8446
  §7.2).
* A secret derived before any ClientHello (a trace that starts mid-connection)
  cannot be matched to a connection, so it is left out.

Not for production: anyone with a key log file can decrypt the traffic it
covers. teachtls creates these files readable by their owner only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO

import attrs

from teachtls.trace.events import (
    MessageEvent,
    MessageReceived,
    MessageSent,
    ParametersNegotiated,
    SecretDerived,
    TraceEvent,
)
from teachtls.wire.enums import HandshakeType

TLS13_LABELS: dict[str, str] = {
    "client_early_traffic_secret": "CLIENT_EARLY_TRAFFIC_SECRET",
    "client_handshake_traffic_secret": "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "server_handshake_traffic_secret": "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "client_application_traffic_secret_0": "CLIENT_TRAFFIC_SECRET_0",
    "server_application_traffic_secret_0": "SERVER_TRAFFIC_SECRET_0",
    "exporter_master_secret": "EXPORTER_SECRET",
    "early_exporter_master_secret": "EARLY_EXPORTER_SECRET",
}
"""Key log label for each TLS 1.3 secret, by its RFC 8446 §7.1 name."""

TLS12_LABEL = "CLIENT_RANDOM"
"""The label of a TLS 1.2 master_secret (RFC 5246 §8.1)."""

TLS12_VERSION_NAMES = frozenset({"TLS 1.2", "TLS1_2"})
"""How `ParametersNegotiated.version` may spell TLS 1.2 (text, or the `ProtocolVersion` name)."""


def client_random_of(client_hello: MessageEvent) -> bytes | None:
    """The 32-byte ClientHello.random of a traced ClientHello, or None if it is too short.

    `raw` is the whole handshake message:

        msg_type (1 byte) | length (3 bytes) | legacy_version (2 bytes) | random (32 bytes) | ...

    so the random is `raw[6:38]` (RFC 8446 §4 and §4.1.2). A message traced
    without its bytes falls back to the decoded "ClientHello.random" field."""
    raw = client_hello.raw
    if len(raw) >= 38 and raw[0] == HandshakeType.client_hello:
        return raw[6:38]
    for span in client_hello.fields:
        if span.path == "ClientHello.random":
            random = bytes.fromhex(span.value)
            return random if len(random) == 32 else None
    return None


def label_for(secret_name: str, version: str) -> str | None:
    """The key log label of a secret, or None for secrets a key log does not carry."""
    if secret_name in TLS13_LABELS:
        return TLS13_LABELS[secret_name]
    if secret_name == "master_secret" and version in TLS12_VERSION_NAMES:
        return TLS12_LABEL
    return None


@attrs.define
class _Connection:
    """What one role knows about its current connection."""

    client_random: bytes | None = None
    version: str = ""


class _KeylogFollower:
    """Follows a trace event by event and says which key log line each adds.

    Shared by `keylog_lines` (a recorded trace) and `KeylogWriter` (a live
    one), so both write exactly the same lines."""

    def __init__(self) -> None:
        self._connections: dict[str, _Connection] = {}
        self._lines_written: set[str] = set()

    def line_for(self, event: TraceEvent) -> str | None:
        """The new key log line `event` gives (without "\\n"), or None."""
        if isinstance(event, (MessageSent, MessageReceived)) and event.name == "ClientHello":
            self._connections[event.role] = _Connection(client_random=client_random_of(event))
            return None
        connection = self._connections.setdefault(event.role, _Connection())
        if isinstance(event, ParametersNegotiated):
            connection.version = event.version
            return None
        if not isinstance(event, SecretDerived) or connection.client_random is None:
            return None
        # A TLS 1.2 master secret comes from the PRF (RFC 5246 §8.1), a TLS 1.3
        # one from HKDF-Extract: that tells them apart before ParametersNegotiated.
        version = "TLS 1.2" if event.operation == "PRF" else connection.version
        label = label_for(event.name, version)
        if label is None:
            return None
        line = f"{label} {connection.client_random.hex()} {event.value.hex()}"
        if line in self._lines_written:
            return None
        self._lines_written.add(line)
        return line


def keylog_lines(events: Iterable[TraceEvent]) -> list[str]:
    """The NSS key log lines of a trace, in the order the secrets were derived.

    Lines carry no trailing newline. A trace with no secrets gives []."""
    follower = _KeylogFollower()
    return [line for event in events if (line := follower.line_for(event)) is not None]


def _open_private(path: str | os.PathLike[str], *, append: bool) -> IO[str]:
    # Mode 0o600 (owner read/write) applies when the file is created; an
    # existing file keeps its permissions, as with SSLKEYLOGFILE.
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    return open(os.open(path, flags, 0o600), "w", encoding="ascii", newline="\n")


def write_keylog(events: Iterable[TraceEvent], path: str | os.PathLike[str]) -> None:
    """Write a trace's key log lines to `path`, replacing any file there."""
    with _open_private(path, append=False) as file:
        file.writelines(line + "\n" for line in keylog_lines(events))


class KeylogWriter:
    """An observer that appends key log lines to `path` as secrets are derived.

    Like a file named by SSLKEYLOGFILE: lines are appended (an existing file
    is kept) and flushed one by one, so Wireshark can decrypt a live
    connection while it runs. Use it as a context manager, or call `close()`.

        with KeylogWriter("keys.log") as keylog:
            connection = ClientConnection(attrs.evolve(config, observer=fan_out(recorder, keylog)))
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._follower = _KeylogFollower()
        self._file = _open_private(path, append=True)

    def __call__(self, event: TraceEvent) -> None:
        line = self._follower.line_for(event)
        if line is not None:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> KeylogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
