"""ACK messages and partial acknowledgement (RFC 9147 §7).

DTLS 1.2 knew only one way to learn that a flight was lost: wait for the
timer, then send the whole flight again. DTLS 1.3 adds a content type of
its own, ack (26), with which a receiver says *which records* it got:

    struct {
        uint64 epoch;
        uint64 sequence_number;
    } RecordNumber;

    struct {
        RecordNumber record_numbers<0..2^16-1>;
    } ACK;

"record_numbers: A list of the records containing handshake messages in the
current flight which the endpoint has received and either processed or
buffered, in numerically increasing order." ACK is not a handshake message
("This avoids having ACK being added to the handshake transcript"), and it
is never retransmitted itself.

Two halves, one per side:

* The **receiver** lists the handshake records of the peer's current flight
  it processed or buffered, and sends an ACK when something looks wrong --
  a message or fragment out of order, records it cannot decrypt yet, part
  of a flight and then silence (§7.1) -- and always for a flight nothing
  else answers: the client's last flight, NewSessionTicket, KeyUpdate.
  That bookkeeping lives in teachtls.dtls.dtls13; it is a list.
* The **sender** must know "which messages appear in which records" (§7.2):
  a record is the unit that gets acknowledged, a message (or a byte range
  of one) is the unit that gets retransmitted. `SentPieces` is that map.
  With it, a retransmission leaves out what was acknowledged (§5.8.1: "it
  SHOULD omit any messages or message fragments which have already been
  acknowledged"), and a flight whose every byte was acknowledged needs no
  timer any more.

Message identity is message_seq: DTLS 1.3 never resets it within an
association (§5.2), so it names one message for good.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from teachtls.wire.codec import StructOf, UInt, VectorOf, WireStruct, build_struct, parse_struct, wire

RECORD_NUMBER_LENGTH = 16  # uint64 epoch, uint64 sequence_number
ACK_OVERHEAD = 2  # the vector's length prefix


@attrs.frozen(kw_only=True, order=True)
class RecordNumber(WireStruct):
    """RFC 9147 §4: `struct { uint64 epoch; uint64 sequence_number; } RecordNumber;`

    Ordered as the ACK lists them: by epoch, then sequence number."""

    wire_name: ClassVar[str] = "RecordNumber"
    epoch: int = wire(UInt(8))
    sequence_number: int = wire(UInt(8))

    def __str__(self) -> str:
        return f"{self.epoch}/{self.sequence_number}"


@attrs.frozen(kw_only=True)
class Ack(WireStruct):
    """RFC 9147 §7: `struct { RecordNumber record_numbers<0..2^16-1>; } ACK;`"""

    wire_name: ClassVar[str] = "ACK"
    record_numbers: tuple[RecordNumber, ...] = wire(VectorOf(2, StructOf(RecordNumber), ceiling=2**16 - 1))


def build_ack(record_numbers: list[RecordNumber] | tuple[RecordNumber, ...]) -> bytes:
    """The ACK's bytes, its record numbers "in numerically increasing order"."""
    return build_struct(Ack(record_numbers=tuple(sorted(set(record_numbers)))))


def parse_ack(content: bytes) -> Ack:
    """Raises `teachtls.wire.codec.DecodeError` for anything but whole RecordNumbers."""
    ack, _ = parse_struct(content, Ack, record=False)
    return ack


def most_record_numbers(room: int) -> int:
    """How many record numbers an ACK with `room` bytes of content can hold."""
    return max(0, (room - ACK_OVERHEAD) // RECORD_NUMBER_LENGTH)


# --- the sender's side: which bytes went in which record --------------------------------------


Range = tuple[int, int]  # [start, end) bytes of a message body


@attrs.frozen
class Piece:
    """Bytes [start, end) of the body of the message with this message_seq."""

    message_seq: int
    start: int
    end: int


def _merge(ranges: list[Range]) -> list[Range]:
    merged: list[Range] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class SentPieces:
    """Which record carried which piece of which message, and what the peer acknowledged (RFC 9147 §7.2).

        pieces.sent(RecordNumber(epoch=2, sequence_number=5), Piece(3, 0, 400))
        pieces.acknowledge([RecordNumber(epoch=2, sequence_number=5)])
        pieces.missing(3, 1200)    # -> [(400, 1200)]: what a retransmission must still carry

    "Implementations MUST treat a record as having been acknowledged if it
    appears in any ACK": acknowledged bytes stay acknowledged, whichever
    transmission carried them."""

    def __init__(self) -> None:
        self.carried: dict[RecordNumber, Piece] = {}
        self.acknowledged: dict[int, list[Range]] = {}  # message_seq -> merged acknowledged ranges
        self.empty_acknowledged: set[int] = set()  # messages with an empty body that were acknowledged

    def sent(self, number: RecordNumber, piece: Piece) -> None:
        self.carried[number] = piece

    def acknowledge(self, numbers: list[RecordNumber] | tuple[RecordNumber, ...]) -> list[Piece]:
        """Mark the pieces these records carried as received; return those newly acknowledged.

        Record numbers we never sent (or already forgot) are ignored."""
        newly: list[Piece] = []
        for number in numbers:
            piece = self.carried.get(number)
            if piece is None:
                continue
            if piece.start == piece.end:
                if piece.message_seq not in self.empty_acknowledged:
                    self.empty_acknowledged.add(piece.message_seq)
                    newly.append(piece)
                continue
            before = self.acknowledged.get(piece.message_seq, [])
            after = _merge([*before, (piece.start, piece.end)])
            if after != before:
                newly.append(piece)
            self.acknowledged[piece.message_seq] = after
        return newly

    def missing(self, message_seq: int, length: int) -> list[Range]:
        """The byte ranges of a `length`-byte message body not acknowledged yet."""
        if length == 0:
            return [] if message_seq in self.empty_acknowledged else [(0, 0)]
        gaps: list[Range] = []
        position = 0
        for start, end in self.acknowledged.get(message_seq, []):
            if start > position:
                gaps.append((position, start))
            position = max(position, end)
        if position < length:
            gaps.append((position, length))
        return gaps

    def is_acknowledged(self, message_seq: int, length: int) -> bool:
        return not self.missing(message_seq, length)

    def forget(self, message_seqs: set[int]) -> None:
        """Drop what we know about these messages (their flight is over)."""
        self.carried = {n: p for n, p in self.carried.items() if p.message_seq not in message_seqs}
        for message_seq in message_seqs:
            self.acknowledged.pop(message_seq, None)
            self.empty_acknowledged.discard(message_seq)
