"""The wire between the lab's client and server, and the man in the middle on it.

`Network` is `teachtls.scenarios.memory.pump` with one difference: every
record passes through a *tap* on its way, a function that may hand it on
unchanged or edit it. That is where an on-path attacker sits (RFC 8446 §1:
TLS must hold "even against an attacker who has complete control of the
network"), and where most labs put their fault:

    def flip_first_byte_of_random(record: bytes) -> bytes:
        if not is_handshake_record(record, HandshakeType.server_hello):
            return record
        return flip_field(record, "ServerHello.random")

    network = Network(client, server, to_client=flip_first_byte_of_random)
    network.start()

A tap sees whole records (5-byte header included), one at a time, in order,
and returns the record to deliver. It works with the codec, not with magic
offsets: `parse_handshake` tells where each field of a message sits
(`FieldSpan`), `build_handshake` turns an edited message back into bytes and
`build_header` frames it. Encrypted records are opaque to a tap, as they are
to a real attacker: it can flip their bytes, not read them.

When one side detects the fault it raises a `LocalAlert` and queues the
alert record; `Network` catches the exception, keeps the first one in
`error`, and carries the alert to the other side, which raises
`RemoteAlert` and closes. Both views end up in the trace.

The fault itself is recorded too: `note()` adds a `Note` event beginning
"LAB FAULT: ", attributed to the side the fault is aimed at, at the moment it
happens, so the walkthrough and the annotated page say what was done just
before they show what it caused. (The core never emits these; they are the
lab's commentary.)
"""

from __future__ import annotations

from collections.abc import Callable

from teachtls.connection import Connection, Event
from teachtls.handshake.alerts import LocalAlert, RemoteAlert
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.labs.lab import FAULT_PREFIX
from teachtls.scenarios.memory import split_records
from teachtls.trace.events import Note
from teachtls.trace.observer import Observer
from teachtls.wire.enums import ContentType, HandshakeType
from teachtls.wire.messages import parse_handshake
from teachtls.wire.record import HEADER_LENGTH, build_header, parse_header

Tap = Callable[[bytes], bytes]
"""What the man in the middle does to one record on its way: record in, record out."""


def untouched(record: bytes) -> bytes:
    """The honest wire."""
    return record


class Network:
    """A client and a server wired together in memory, with a tap in each direction."""

    def __init__(
        self,
        client: ClientConnection,
        server: ServerConnection,
        *,
        to_server: Tap = untouched,
        to_client: Tap = untouched,
    ) -> None:
        self.client = client
        self.server = server
        self.to_server = to_server
        self.to_client = to_client
        self.client_events: list[Event] = []
        self.server_events: list[Event] = []
        self.error: LocalAlert | None = None  # the first alert a side raised
        self.remote_error: RemoteAlert | None = None  # and the other side's view of it

    def start(self, early_data: bytes | None = None) -> LocalAlert | None:
        """The client starts the handshake; carry bytes until both sides are quiet."""
        self.client.start_handshake(early_data=early_data)
        return self.pump()

    def pump(self) -> LocalAlert | None:
        """Carry bytes both ways until neither side has anything to say.

        Returns the first `LocalAlert` raised (also kept in `error`), or None."""
        while True:
            moved = self.carry(self.client, self.server, self.to_server, self.server_events)
            moved = self.carry(self.server, self.client, self.to_client, self.client_events) or moved
            if not moved:
                return self.error

    def carry(self, sender: Connection, receiver: Connection, tap: Tap, events: list[Event]) -> bool:
        """Move what `sender` has queued through `tap` to `receiver`; False if nothing was queued."""
        data = sender.data_to_send()
        if not data:
            return False
        records = [tap(record) for record in split_records(data)]
        if receiver.closed:
            return True
        try:
            events += receiver.receive_data(b"".join(records))
        except LocalAlert as alert:
            # The receiver caught the fault: its alert is queued, it has closed.
            self.error = self.error or alert
        except RemoteAlert as alert:
            # The receiver was told of the sender's alert, and closed too.
            self.remote_error = self.remote_error or alert
        return True


# --- looking at records ----------------------------------------------------------------------


def is_handshake_record(record: bytes, msg_type: HandshakeType) -> bool:
    """A plaintext handshake record whose (first) message is of `msg_type`."""
    return record[0] == ContentType.handshake and len(record) > HEADER_LENGTH and record[HEADER_LENGTH] == msg_type


def handshake_message(record: bytes) -> bytes:
    """The handshake message(s) in a plaintext handshake record: the record minus its header."""
    return record[HEADER_LENGTH:]


def field_offset(message: bytes, path: str) -> int:
    """Where field `path` ("ServerHello.random") starts in a handshake message.

    The codec's spans say; a `KeyError` lists the fields there are."""
    _, spans = parse_handshake(message)
    for span in spans:
        if span.path == path:
            return span.start
    raise KeyError(f"no field {path!r}; the message has {', '.join(span.path for span in spans)}")


def flip_byte(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    """`data` with the byte at `offset` XORed with `mask` (one bit, by default)."""
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :]


def flip_field(record: bytes, path: str, mask: int = 0x01) -> bytes:
    """A plaintext handshake record with the first byte of field `path` flipped."""
    offset = HEADER_LENGTH + field_offset(handshake_message(record), path)
    return flip_byte(record, offset, mask)


def reframe(record: bytes, payload: bytes) -> bytes:
    """`record`'s header (content type, legacy_record_version) around a new payload, length fixed."""
    content_type, version, _ = parse_header(record[:HEADER_LENGTH])
    return build_header(content_type, len(payload), version) + payload


# --- telling the trace what the lab did ------------------------------------------------------


def note(observer: Observer, role: str, text: str, rfc: str = "") -> None:
    """Record the lab's fault in the trace, as a Note of the side whose bytes were touched."""
    observer(Note(role=role, text=FAULT_PREFIX + text, level="info", rfc=rfc))


__all__ = [
    "Network",
    "Tap",
    "field_offset",
    "flip_byte",
    "flip_field",
    "handshake_message",
    "is_handshake_record",
    "note",
    "reframe",
    "untouched",
]
