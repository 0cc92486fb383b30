"""Handshake messages over datagrams: message_seq, fragments, reassembly (RFC 6347 §4.2.2-§4.2.3).

Over TCP a handshake message may be cut across records at any byte, because
the byte stream puts the pieces back in order. Over UDP a record may be
lost, duplicated or overtaken, so every piece of a handshake message says
exactly which message it belongs to and where it goes:

    struct {
      HandshakeType msg_type;
      uint24 length;
      uint16 message_seq;                               // New field
      uint24 fragment_offset;                           // New field
      uint24 fragment_length;                           // New field
      select (HandshakeType) { ... } body;              // the fragment's bytes
    } Handshake;

* `message_seq` numbers each side's handshake messages 0, 1, 2, ...
  "When a message is retransmitted, the same message_seq value is used", so
  the receiver recognises a copy it has already processed.
* `fragment_offset` / `fragment_length` place a fragment inside the
  message; `length` is always the whole message's length. "An unfragmented
  message is a degenerate case with fragment_offset=0 and
  fragment_length=length."

Sending (`fragment_message`): a message that does not fit the datagram is
divided into "N contiguous data ranges", each sent with the same
message_seq. Receiving (`Reassembler`): RFC 6347 §4.2.3, "When a DTLS
implementation receives a handshake message fragment, it MUST buffer it
until it has the entire handshake message. DTLS implementations MUST be
able to handle overlapping fragment ranges." Messages are then handed on
strictly in message_seq order (§4.2.2): "If the sequence number is less than
next_receive_seq, the message MUST be discarded. If the sequence number is
greater than next_receive_seq, the implementation SHOULD queue the message
but MAY discard it." teachtls queues a few messages ahead and discards the
rest, which bounds the memory a peer can make it spend.

Which bytes are "the message". The handshake hash of DTLS 1.2 covers the
DTLS-specific fields too, but "computed as if each handshake message had
been sent as a single fragment" (RFC 6347 §4.2.6): 12-byte header with
fragment_offset = 0 and fragment_length = length, as `dtls_message` builds
it. DTLS 1.3 changed that (RFC 9147 §5.2): its transcript uses the TLS 1.3
form with a 4-byte header, `tls_message` below.

Nothing here knows keys or states; the connection decides what a fragment
of an old message means (the peer retransmitted its flight).
"""

from __future__ import annotations

from typing import Literal

import attrs

from teachtls.wire.codec import DecodeError, FieldSpan
from teachtls.wire.enums import HandshakeType, to_enum

HANDSHAKE_HEADER_LENGTH = 12  # msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3)
TLS_HANDSHAKE_HEADER_LENGTH = 4  # msg_type(1) length(3)

# A bound on one handshake message, as teachtls.connection.MAX_HANDSHAKE_MESSAGE.
MAX_MESSAGE_LENGTH = 2**18
# How many messages beyond next_receive_seq are buffered (RFC 6347 §4.2.2
# allows discarding them; a whole flight is fewer messages than this).
MAX_MESSAGES_AHEAD = 8


@attrs.frozen(kw_only=True)
class HandshakeFragment:
    """One piece of a handshake message, as carried in a record."""

    msg_type: int
    length: int
    message_seq: int
    fragment_offset: int
    body: bytes  # fragment_length bytes

    @property
    def fragment_length(self) -> int:
        return len(self.body)

    @property
    def end(self) -> int:
        return self.fragment_offset + len(self.body)

    @property
    def is_whole_message(self) -> bool:
        return self.fragment_offset == 0 and len(self.body) == self.length

    def build(self) -> bytes:
        return build_fragment(self.msg_type, self.length, self.message_seq, self.fragment_offset, self.body)


def build_fragment(msg_type: int, length: int, message_seq: int, fragment_offset: int, body: bytes) -> bytes:
    """The 12-byte DTLS handshake header, then the fragment's bytes."""
    return (
        bytes([msg_type])
        + length.to_bytes(3, "big")
        + message_seq.to_bytes(2, "big")
        + fragment_offset.to_bytes(3, "big")
        + len(body).to_bytes(3, "big")
        + body
    )


def parse_fragments(content: bytes) -> list[HandshakeFragment]:
    """The handshake fragments in one record's content, in order.

    "multiple handshake messages may be placed in the same DTLS record"
    (RFC 6347 §4.2.3). Raises `DecodeError` if a header is cut short or a
    fragment runs past the record or past its message."""
    fragments = []
    offset = 0
    while offset < len(content):
        header = content[offset : offset + HANDSHAKE_HEADER_LENGTH]
        if len(header) < HANDSHAKE_HEADER_LENGTH:
            raise DecodeError("handshake fragment header cut short", path="Handshake", offset=offset)
        length = int.from_bytes(header[1:4], "big")
        fragment_offset = int.from_bytes(header[6:9], "big")
        fragment_length = int.from_bytes(header[9:12], "big")
        start = offset + HANDSHAKE_HEADER_LENGTH
        if start + fragment_length > len(content):
            raise DecodeError(
                f"fragment_length {fragment_length} runs past the record",
                path="Handshake.fragment_length",
                offset=offset,
            )
        if fragment_offset + fragment_length > length:
            raise DecodeError(
                f"fragment [{fragment_offset}, {fragment_offset + fragment_length}) lies outside "
                f"the {length}-byte message",
                path="Handshake.fragment_offset",
                offset=offset,
            )
        fragments.append(
            HandshakeFragment(
                msg_type=header[0],
                length=length,
                message_seq=int.from_bytes(header[4:6], "big"),
                fragment_offset=fragment_offset,
                body=content[start : start + fragment_length],
            )
        )
        offset = start + fragment_length
    return fragments


def dtls_message(tls_message: bytes, message_seq: int) -> bytes:
    """A TLS-form message (4-byte header) as one whole DTLS fragment (RFC 6347 §4.2.6)."""
    body = tls_message[TLS_HANDSHAKE_HEADER_LENGTH:]
    return build_fragment(tls_message[0], len(body), message_seq, 0, body)


def tls_message(dtls_message: bytes) -> bytes:
    """The TLS form of a whole DTLS message: its 4-byte header and body (RFC 9147 §5.2)."""
    return dtls_message[:TLS_HANDSHAKE_HEADER_LENGTH] + dtls_message[HANDSHAKE_HEADER_LENGTH:]


def message_seq_of(dtls_message: bytes) -> int:
    return int.from_bytes(dtls_message[4:6], "big")


def fragment_message(message: bytes, max_body: int) -> list[bytes]:
    """Divide a whole DTLS message into fragments of at most `max_body` bytes each.

    RFC 6347 §4.2.3: "the sender divides the message into a series of N
    contiguous data ranges. These ranges MUST NOT be larger than the maximum
    handshake fragment size and MUST jointly contain the entire handshake
    message." An empty message (ServerHelloDone) is one empty fragment."""
    if max_body < 1:
        raise ValueError("a handshake fragment needs room for at least one byte")
    msg_type, message_seq = message[0], message_seq_of(message)
    body = message[HANDSHAKE_HEADER_LENGTH:]
    if not body:
        return [message]
    return [
        build_fragment(msg_type, len(body), message_seq, start, body[start : start + max_body])
        for start in range(0, len(body), max_body)
    ]


def header_spans(message: bytes, root: str) -> list[FieldSpan]:
    """The spans of the 12-byte header of a whole DTLS message."""
    member = to_enum(HandshakeType, message[0])
    return [
        FieldSpan(
            path=f"{root}.msg_type",
            start=0,
            end=1,
            value=member.name if isinstance(member, HandshakeType) else str(message[0]),
        ),
        FieldSpan(path=f"{root}.length", start=1, end=4, value=f"{int.from_bytes(message[1:4], 'big')} bytes"),
        FieldSpan(path=f"{root}.message_seq", start=4, end=6, value=str(message_seq_of(message))),
        FieldSpan(path=f"{root}.fragment_offset", start=6, end=9, value=str(int.from_bytes(message[6:9], "big"))),
        FieldSpan(
            path=f"{root}.fragment_length", start=9, end=12, value=f"{int.from_bytes(message[9:12], 'big')} bytes"
        ),
    ]


def message_spans(message: bytes, tls_spans: list[FieldSpan]) -> list[FieldSpan]:
    """Spans of a whole DTLS message from the spans of its TLS form.

    The TLS form's msg_type and length (its first 4 bytes) are replaced by
    the 12-byte DTLS header; every body span moves 8 bytes to the right."""
    root = tls_spans[0].path.split(".")[0] if tls_spans else "Handshake"
    shift = HANDSHAKE_HEADER_LENGTH - TLS_HANDSHAKE_HEADER_LENGTH
    body = [
        FieldSpan(path=span.path, start=span.start + shift, end=span.end + shift, value=span.value)
        for span in tls_spans
        if span.start >= TLS_HANDSHAKE_HEADER_LENGTH
    ]
    return header_spans(message, root) + body


# --- reassembly ------------------------------------------------------------------------

Outcome = Literal["new", "old", "too far ahead", "conflicting", "too long"]
"""What `Reassembler.add` did with a fragment:

* "new": kept (it may complete a message, see `pop_message`);
* "old": its message_seq is below next_receive_seq, a message already
  processed -- the peer retransmitted (RFC 6347 §4.2.2: "MUST be discarded");
* "too far ahead": more than MAX_MESSAGES_AHEAD messages early, discarded;
* "conflicting": its msg_type, length or bytes contradict fragments
  already received for the same message_seq, discarded;
* "too long": the message would exceed MAX_MESSAGE_LENGTH, discarded.
"""


@attrs.define
class _PartialMessage:
    """The fragments of one message received so far, merged."""

    msg_type: int
    length: int
    body: bytearray
    covered: list[tuple[int, int]] = attrs.Factory(list)  # sorted, disjoint [start, end) ranges

    @property
    def complete(self) -> bool:
        return self.length == 0 or self.covered == [(0, self.length)]

    def overlaps_agree(self, fragment: HandshakeFragment) -> bool:
        """Do the bytes already received agree with `fragment` where they overlap?"""
        for start, end in self.covered:
            low, high = max(start, fragment.fragment_offset), min(end, fragment.end)
            if low < high:
                mine = self.body[low:high]
                theirs = fragment.body[low - fragment.fragment_offset : high - fragment.fragment_offset]
                if mine != theirs:
                    return False
        return True

    def add(self, fragment: HandshakeFragment) -> None:
        self.body[fragment.fragment_offset : fragment.end] = fragment.body
        ranges = sorted([*self.covered, (fragment.fragment_offset, fragment.end)])
        merged: list[tuple[int, int]] = []
        for start, end in ranges:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            elif start < end:
                merged.append((start, end))
        self.covered = merged


class Reassembler:
    """Puts handshake messages back together, and in message_seq order.

    `next_receive_seq` is the next message_seq to hand on (RFC 6347 §4.2.2);
    None means "whatever comes first" -- a server before the first
    ClientHello, whose message_seq is 1 after a HelloVerifyRequest."""

    def __init__(self, next_receive_seq: int | None = 0) -> None:
        self.next_receive_seq = next_receive_seq
        self._partial: dict[int, _PartialMessage] = {}

    def reset(self, next_receive_seq: int | None) -> None:
        """Forget every partial message; expect `next_receive_seq` next."""
        self.next_receive_seq = next_receive_seq
        self._partial.clear()

    def add(self, fragment: HandshakeFragment) -> Outcome:
        if self.next_receive_seq is None:
            self.next_receive_seq = fragment.message_seq
        if fragment.message_seq < self.next_receive_seq:
            return "old"
        if fragment.message_seq > self.next_receive_seq + MAX_MESSAGES_AHEAD:
            return "too far ahead"
        if fragment.length > MAX_MESSAGE_LENGTH:
            return "too long"
        partial = self._partial.get(fragment.message_seq)
        if partial is None:
            partial = _PartialMessage(fragment.msg_type, fragment.length, bytearray(fragment.length))
            self._partial[fragment.message_seq] = partial
        elif (partial.msg_type, partial.length) != (fragment.msg_type, fragment.length):
            return "conflicting"
        if not partial.overlaps_agree(fragment):
            # RFC 9147 §5.5: "Senders MUST NOT change handshake message bytes
            # upon retransmission." RFC 6347 leaves it open; a DTLS 1.2
            # receiver discards the fragment like any invalid record.
            return "conflicting"
        partial.add(fragment)
        return "new"

    def pop_message(self) -> bytes | None:
        """The next message in order, if complete: whole, as one fragment (RFC 6347 §4.2.6)."""
        if self.next_receive_seq is None:
            return None
        partial = self._partial.get(self.next_receive_seq)
        if partial is None or not partial.complete:
            return None
        del self._partial[self.next_receive_seq]
        message = build_fragment(partial.msg_type, partial.length, self.next_receive_seq, 0, bytes(partial.body))
        self.next_receive_seq += 1
        return message

    @property
    def waiting(self) -> bool:
        """Are fragments of some message held, waiting for the rest?"""
        return bool(self._partial)
