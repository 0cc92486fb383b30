"""The DTLS 1.3 record formats: DTLSPlaintext and the unified header (RFC 9147 §4).

DTLS 1.3 keeps DTLS 1.2's 13-byte DTLSPlaintext header for the few records
that travel unprotected -- ClientHello, ServerHello, HelloRetryRequest, and
alerts or ACKs sent before any keys exist -- always in epoch 0 and with
legacy_record_version {254, 253}. Every protected record gets a new, short
header instead, the *unified header*:

       0 1 2 3 4 5 6 7
       +-+-+-+-+-+-+-+-+
       |0|0|1|C|S|L|E E|
       +-+-+-+-+-+-+-+-+
       | Connection ID |   C   - Connection ID (CID) present
       / (if any)      /   S   - Sequence number length (0: 8 bits, 1: 16 bits)
       +-+-+-+-+-+-+-+-+   L   - Length present
       |  8 or 16 bit  |   E   - Epoch (its two low bits)
       |Sequence Number|
       +-+-+-+-+-+-+-+-+
       | 16 bit Length |
       | (if present)  |
       +-+-+-+-+-+-+-+-+

What changed, and why:

* **No content type and no version** on the outside: the real content type
  is the last non-zero byte of the decrypted DTLSInnerPlaintext, as in TLS
  1.3 (RFC 8446 §5.4). The first three bits 001 tell a unified header apart
  from any DTLSPlaintext record, whose first byte is a content type (§4.1:
  alert 21, handshake 22 and ack 26 are plaintext; 32..63 is DTLSCiphertext;
  anything else "MUST be rejected as if it had failed deprotection").
* **Only the low bits of the epoch and of the sequence number.** The
  receiver reconstructs the rest (§4.2.2): the epoch from the epochs it has
  keys for, the sequence number as "the full sequence number which is
  numerically closest to one plus the sequence number of the highest
  successfully deprotected record in the current epoch"
  (`reconstruct_sequence_number`).
* **The sequence number bits are encrypted** (§4.2.3,
  teachtls.crypto.record_number), with a mask computed from the first 16
  bytes of the ciphertext.
* **The length is optional**: without it the record runs to the end of the
  datagram, so it must be the last one. teachtls always writes 16-bit
  sequence numbers and a length (0b001011EE, the first byte of every
  protected record of the wolfSSL capture in tests/vectors too), and reads
  every variant.

The whole header as sent, *before* record number encryption, is the AEAD's
additional data (§4): "if the minimal variant is used, the Associated Data
(AD) is 2 octets long". The nonce is TLS 1.3's, built from the 64-bit
sequence number alone -- "unlike DTLS 1.2, the epoch is not included".

As in DTLS 1.2 (teachtls.dtls.record), several records may share a
datagram and none may span two; `split_datagram` reads both formats and
reports the bytes it could not frame. Connection IDs (RFC 9146) are not
negotiated by teachtls, so a record with the C bit set cannot be framed: its
CID length is unknown, and the rest of the datagram is discarded.

This module only frames bytes and does arithmetic: no keys, no state.
"""

from __future__ import annotations

import attrs

from teachtls.dtls.record import DTLSRecord, SplitDatagram, read_plaintext_record
from teachtls.wire.codec import FieldSpan

FIXED_BITS = 0b001  # the three high bits of a unified header (RFC 9147 §4)
CID_BIT = 0x10
SEQUENCE_BIT = 0x08  # set: 16-bit sequence number; clear: 8-bit
LENGTH_BIT = 0x04
EPOCH_MASK = 0x03

ACK = 26
"""The ack content type (RFC 9147 §7, IANA "TLS ContentType" registry). Not in
teachtls.wire.enums.ContentType: TLS itself has no use for it."""

# RFC 9147 §4.1: "If the first byte is alert(21), handshake(22), or ack(proposed,
# 26), the record MUST be interpreted as a DTLSPlaintext record."
PLAINTEXT_CONTENT_TYPES = frozenset({21, 22, ACK})

# RFC 9147 §4.2.1: "Plaintext records MUST NOT be sent with sequence numbers
# that would exceed 2^48-1"; teachtls keeps protected records below it too
# (the AEAD limits of RFC 9147 §4.5.3 come far earlier).
MAX_SEQUENCE_NUMBER = 2**48 - 1


def is_unified_header(first_byte: int) -> bool:
    """Does a record starting with this byte have a unified header? (001xxxxx, RFC 9147 §4.1)"""
    return first_byte >> 5 == FIXED_BITS


@attrs.frozen(kw_only=True)
class DTLSCiphertextRecord(DTLSRecord):
    """A record with a unified header, as cut out of a datagram.

    Until the connection resolves it, `epoch` holds only the header's two
    epoch bits and `sequence_number` the still *encrypted* low bits; then
    it makes a copy with the full values (`resolved`). `content_type` is
    the header's first byte (the real type is inside) and `version` is 0:
    a unified header has no version."""

    sequence_length: int  # 1 or 2 bytes on the wire
    length_present: bool
    is_resolved: bool = False

    @property
    def epoch_bits(self) -> int:
        return self.raw[0] & EPOCH_MASK

    @property
    def encrypted_sequence_number(self) -> bytes:
        return self.raw[1 : 1 + self.sequence_length]

    def header_with(self, sequence_bytes: bytes) -> bytes:
        """The header with these (decrypted) sequence number bytes: the AEAD's additional data."""
        return self.raw[:1] + sequence_bytes + self.raw[1 + self.sequence_length : self.header_length]

    def resolved(self, epoch: int, sequence_number: int) -> DTLSCiphertextRecord:
        return attrs.evolve(self, epoch=epoch, sequence_number=sequence_number, is_resolved=True)


def header_length(sequence_length: int = 2, length_present: bool = True) -> int:
    """Bytes of a unified header without a connection ID."""
    return 1 + sequence_length + (2 if length_present else 0)


def build_unified_header(epoch: int, sequence_number: int, length: int, *, sequence_length: int = 2) -> bytes:
    """A unified header with the epoch's low bits, the sequence number's low
    `sequence_length` bytes (not yet encrypted) and the length (RFC 9147 §4)."""
    if sequence_length not in (1, 2):
        raise ValueError("the sequence number is 8 or 16 bits")
    first = FIXED_BITS << 5 | (SEQUENCE_BIT if sequence_length == 2 else 0) | LENGTH_BIT | (epoch & EPOCH_MASK)
    low_bits = sequence_number & ((1 << (8 * sequence_length)) - 1)
    return bytes([first]) + low_bits.to_bytes(sequence_length, "big") + length.to_bytes(2, "big")


def split_datagram(datagram: bytes) -> SplitDatagram:
    """Cut a DTLS 1.3 datagram into records: DTLSPlaintext and unified headers (RFC 9147 §4, §4.3).

    "The first byte of the datagram payload MUST be the beginning of a
    record. Records MUST NOT span datagrams." A header or a length that runs
    past the datagram ends the framing; the rest comes back as `leftover`
    with the reason, for the connection to discard (§4.5.2). DTLS 1.2
    datagrams never start a record with 001xxxxx, so this reads them too."""
    records: list[DTLSRecord] = []
    offset = 0
    while offset < len(datagram):
        rest = datagram[offset:]
        if not is_unified_header(rest[0]):
            found = read_plaintext_record(rest)  # a DTLSPlaintext record, as in DTLS 1.2
            if isinstance(found, str):
                return SplitDatagram(tuple(records), rest, found)
            records.append(found)
            offset += len(found.raw)
            continue
        flags = rest[0]
        if flags & CID_BIT:
            # RFC 9146: the CID's length was negotiated; without a negotiated CID
            # there is no telling where it ends.
            return SplitDatagram(
                tuple(records), rest, "a unified header with a connection ID, but none was negotiated (RFC 9146)"
            )
        sequence_length = 2 if flags & SEQUENCE_BIT else 1
        length_present = bool(flags & LENGTH_BIT)
        size = header_length(sequence_length, length_present)
        if len(rest) < size:
            return SplitDatagram(
                tuple(records), rest, f"{len(rest)} bytes left, too few for a {size}-byte unified header"
            )
        if length_present:
            length = int.from_bytes(rest[size - 2 : size], "big")
            if size + length > len(rest):
                return SplitDatagram(
                    tuple(records),
                    rest,
                    f"the unified header announces {length} bytes, the datagram holds {len(rest) - size}",
                )
        else:
            # RFC 9147 §4: "the record consumes the entire rest of the datagram"
            length = len(rest) - size
        raw = rest[: size + length]
        records.append(
            DTLSCiphertextRecord(
                content_type=flags,
                version=0,
                epoch=flags & EPOCH_MASK,
                sequence_number=int.from_bytes(raw[1 : 1 + sequence_length], "big"),
                raw=raw,
                header_length=size,
                sequence_length=sequence_length,
                length_present=length_present,
            )
        )
        offset += len(raw)
    return SplitDatagram(tuple(records))


def reconstruct_sequence_number(expected: int, low_bits: int, bit_length: int) -> int:
    """The full sequence number whose low `bit_length` bits are `low_bits`,
    numerically closest to `expected` (RFC 9147 §4.2.2).

    `expected` is one plus the highest sequence number deprotected so far in
    the epoch. The candidates are the numbers with the right low bits in the
    window around `expected`, exactly as QUIC decodes packet numbers (RFC
    9000 §A.3): e.g. with 8 bits, expected 0x1FE and low bits 0x01 give
    0x201, not 0x101."""
    window = 1 << bit_length
    half = window // 2
    candidate = (expected & ~(window - 1)) | low_bits
    if candidate <= expected - half and candidate + window <= MAX_SEQUENCE_NUMBER:
        return candidate + window
    if candidate > expected + half and candidate >= window:
        return candidate - window
    return candidate


def unified_header_spans(record: bytes, sequence_number: int | None = None) -> list[FieldSpan]:
    """Leaf spans of a record with a unified header, for annotating it byte by byte.

    `sequence_number`, when known (after decryption), is shown next to the
    encrypted bits."""
    flags = record[0]
    sequence_length = 2 if flags & SEQUENCE_BIT else 1
    size = header_length(sequence_length, bool(flags & LENGTH_BIT))
    bits = f"001 C={flags >> 4 & 1} S={flags >> 3 & 1} L={flags >> 2 & 1} epoch bits {flags & EPOCH_MASK:02b}"
    encrypted = record[1 : 1 + sequence_length].hex()
    shown = f"{encrypted} (encrypted)" + (f" = {sequence_number}" if sequence_number is not None else "")
    spans = [
        FieldSpan(path="DTLSCiphertext.unified_hdr.flags", start=0, end=1, value=bits),
        FieldSpan(path="DTLSCiphertext.unified_hdr.sequence_number", start=1, end=1 + sequence_length, value=shown),
    ]
    if flags & LENGTH_BIT:
        length = int.from_bytes(record[size - 2 : size], "big")
        spans.append(
            FieldSpan(path="DTLSCiphertext.unified_hdr.length", start=size - 2, end=size, value=f"{length} bytes")
        )
    if len(record) > size:
        spans.append(
            FieldSpan(
                path="DTLSCiphertext.encrypted_record", start=size, end=len(record), value=f"{len(record) - size} bytes"
            )
        )
    return spans
