"""The DTLS record header (RFC 6347 §4.1): epochs and explicit sequence numbers.

TLS can leave the record sequence number implicit because TCP delivers
every record, once and in order: both sides simply count. UDP promises
none of that. A datagram may be lost, arrive twice, or overtake an earlier
one, so a DTLS record carries the numbers a receiver needs to make sense of
it on its own:

    struct {
         ContentType type;
         ProtocolVersion version;
         uint16 epoch;                                    // New field
         uint48 sequence_number;                          // New field
         uint16 length;
         opaque fragment[DTLSPlaintext.length];
       } DTLSPlaintext;

* `version` is {254, 253} (0xFEFD) for DTLS 1.2 -- "the 1's complement of
  DTLS version 1.2", so that DTLS and TLS records cannot be mistaken for
  each other.
* `epoch` counts cipher state changes: 0 until the first ChangeCipherSpec,
  1 after it, and so on. It tells the receiver which keys to use, even when
  a record from the old epoch arrives after the new one has begun.
* `sequence_number` starts at 0 in each epoch and grows by one per record.
  Together, epoch || sequence_number is the 64-bit number that TLS 1.2 kept
  implicit: it goes into the MAC or the AEAD's additional data (RFC 6347
  §4.1.2.1), and it lets the receiver reject replays (§4.1.2.6).

Datagrams and records (RFC 6347 §4.1.1): "Each DTLS record MUST fit within
a single datagram"; "Multiple DTLS records may be placed in a single
datagram. They are simply encoded consecutively ... the first byte of the
datagram payload must be the beginning of a record. Records may not span
datagrams." `split_datagram` below is the receiving half of that rule: it
cuts a datagram into records and reports the bytes it could not use (a
truncated record), which a DTLS receiver discards.

This module only frames bytes: no keys, no state. DTLS 1.3 (RFC 9147 §4)
keeps DTLSPlaintext for unprotected records but adds a variable-length
"unified header" for protected ones; `is_dtls13_ciphertext` tells the two
apart by the first byte (RFC 9147 §4.1) so that the datagram splitter can
leave those to a DTLS 1.3 parser.
"""

from __future__ import annotations

import attrs

from teachtls.wire.codec import FieldSpan
from teachtls.wire.enums import ContentType, ProtocolVersion, name_of, to_enum

HEADER_LENGTH = 13  # type(1) version(2) epoch(2) sequence_number(6) length(2)
MAX_EPOCH = 2**16 - 1
# RFC 6347 §4.1: "implementations MUST either abandon an association or
# rehandshake prior to allowing the sequence number to wrap."
MAX_SEQUENCE_NUMBER = 2**48 - 1
# RFC 6347 §4.1: "As in TLS 1.2, the length should not exceed 2^14" for the
# plaintext; a protected fragment may add up to 2048 bytes (RFC 5246 §6.2.3).
MAX_PLAINTEXT = 2**14
MAX_CIPHERTEXT = 2**14 + 2048

# The content types a DTLS 1.2 record may carry (RFC 6347 §4.1 uses TLS 1.2's).
DTLS12_CONTENT_TYPES = frozenset(
    {ContentType.change_cipher_spec, ContentType.alert, ContentType.handshake, ContentType.application_data}
)


@attrs.frozen(kw_only=True)
class DTLSRecord:
    """One record cut out of a datagram: its header fields and its bytes.

    `raw` is the whole record, header included; `fragment` is what follows
    the header (protected or not, as the epoch says)."""

    content_type: int
    version: int
    epoch: int
    sequence_number: int
    raw: bytes
    header_length: int = HEADER_LENGTH  # DTLS 1.3's unified header is shorter

    @property
    def fragment(self) -> bytes:
        return self.raw[self.header_length :]

    @property
    def header(self) -> bytes:
        return self.raw[: self.header_length]

    @property
    def record_number(self) -> int:
        """epoch || sequence_number as one 64-bit number (RFC 6347 §4.1.2.1)."""
        return record_number(self.epoch, self.sequence_number)


def record_number(epoch: int, sequence_number: int) -> int:
    """The 64-bit "seq_num" of TLS 1.2's MAC and AEAD input, in DTLS:
    "the 64-bit value formed by concatenating the epoch and the sequence
    number in the order they appear on the wire" (RFC 6347 §4.1.2.1)."""
    return (epoch << 48) | sequence_number


def build_header(content_type: int, version: int, epoch: int, sequence_number: int, length: int) -> bytes:
    """The 13-byte DTLSPlaintext header."""
    if not 0 <= epoch <= MAX_EPOCH:
        raise ValueError(f"epoch {epoch} does not fit in 16 bits")
    if not 0 <= sequence_number <= MAX_SEQUENCE_NUMBER:
        raise ValueError(f"sequence number {sequence_number} does not fit in 48 bits")
    return (
        bytes([content_type])
        + version.to_bytes(2, "big")
        + epoch.to_bytes(2, "big")
        + sequence_number.to_bytes(6, "big")
        + length.to_bytes(2, "big")
    )


def build_record(content_type: int, version: int, epoch: int, sequence_number: int, fragment: bytes) -> bytes:
    return build_header(content_type, version, epoch, sequence_number, len(fragment)) + fragment


def is_dtls13_ciphertext(first_byte: int) -> bool:
    """RFC 9147 §4.1: a first byte 001xxxxx starts a DTLS 1.3 unified header."""
    return first_byte >> 5 == 0b001


@attrs.frozen
class SplitDatagram:
    """What `split_datagram` found: the records, and why it stopped early (if it did)."""

    records: tuple[DTLSRecord, ...]
    leftover: bytes = b""  # bytes after the last whole record
    problem: str = ""  # why `leftover` could not be read as a record


def split_datagram(datagram: bytes) -> SplitDatagram:
    """Cut a datagram into DTLSPlaintext records (RFC 6347 §4.1.1).

    A record "may not span datagrams", so a header or fragment that runs
    past the end of the datagram is not waiting for more bytes, as it would
    be over TCP: it is simply broken. Whatever follows a broken record
    cannot be framed either, and is returned as `leftover` with the reason;
    the connection discards it (RFC 6347 §4.1.2.7)."""
    records: list[DTLSRecord] = []
    offset = 0
    while offset < len(datagram):
        rest = datagram[offset:]
        found = read_plaintext_record(rest)
        if isinstance(found, str):
            return SplitDatagram(tuple(records), rest, found)
        records.append(found)
        offset += len(found.raw)
    return SplitDatagram(tuple(records))


def read_plaintext_record(data: bytes) -> DTLSRecord | str:
    """The DTLSPlaintext record at the start of `data` (RFC 6347 §4.1), or,
    when its header or its fragment runs past the end, why it cannot be read."""
    if len(data) < HEADER_LENGTH:
        return f"{len(data)} bytes left, too few for a 13-byte record header"
    length = int.from_bytes(data[11:13], "big")
    if HEADER_LENGTH + length > len(data):
        return f"the record header announces {length} bytes, the datagram holds {len(data) - HEADER_LENGTH}"
    raw = data[: HEADER_LENGTH + length]
    return DTLSRecord(
        content_type=raw[0],
        version=int.from_bytes(raw[1:3], "big"),
        epoch=int.from_bytes(raw[3:5], "big"),
        sequence_number=int.from_bytes(raw[5:11], "big"),
        raw=raw,
    )


def record_spans(record: bytes, *, protected: bool) -> list[FieldSpan]:
    """Leaf spans of a whole DTLS record, for annotating it byte by byte."""
    content_type = record[0]
    version = int.from_bytes(record[1:3], "big")
    epoch = int.from_bytes(record[3:5], "big")
    sequence_number = int.from_bytes(record[5:11], "big")
    length = int.from_bytes(record[11:13], "big")
    root = "DTLSCiphertext" if protected else "DTLSPlaintext"
    body = "encrypted_record" if protected else "fragment"
    spans = [
        FieldSpan(path=f"{root}.type", start=0, end=1, value=name_of(to_enum(ContentType, content_type))),
        FieldSpan(path=f"{root}.version", start=1, end=3, value=name_of(to_enum(ProtocolVersion, version))),
        FieldSpan(path=f"{root}.epoch", start=3, end=5, value=str(epoch)),
        FieldSpan(path=f"{root}.sequence_number", start=5, end=11, value=str(sequence_number)),
        FieldSpan(path=f"{root}.length", start=11, end=13, value=f"{length} bytes"),
    ]
    if length:
        spans.append(FieldSpan(path=f"{root}.{body}", start=13, end=13 + length, value=f"{length} bytes"))
    return spans
