"""Record framing (RFC 8446 §5.1, §5.2): headers only, no cryptography.

    struct {
        ContentType type;
        ProtocolVersion legacy_record_version;
        uint16 length;
        opaque fragment[TLSPlaintext.length];
    } TLSPlaintext;

    struct {
        ContentType opaque_type = application_data; /* 23 */
        ProtocolVersion legacy_record_version = 0x0303; /* TLS v1.2 */
        uint16 length;
        opaque encrypted_record[TLSCiphertext.length];
    } TLSCiphertext;

Both share the 5-byte header. Limits (RFC 8446 §5.1, §5.2):

* a TLSPlaintext fragment is at most 2^14 bytes;
* a TLSInnerPlaintext (content + type byte + padding) at most 2^14 + 1;
* a TLSCiphertext at most 2^14 + 256 bytes.

"The length MUST NOT exceed 2^14 + 256 bytes. An endpoint that receives a
record that exceeds this length MUST terminate the connection with a
"record_overflow" alert." -- RFC 8446 §5.2.
"""

from __future__ import annotations

from teachtls.wire.codec import FieldSpan
from teachtls.wire.enums import ContentType, ProtocolVersion, name_of, to_enum

HEADER_LENGTH = 5
MAX_PLAINTEXT = 2**14
MAX_INNER_PLAINTEXT = 2**14 + 1
MAX_CIPHERTEXT = 2**14 + 256


def build_header(content_type: int, length: int, legacy_record_version: int = ProtocolVersion.TLS1_2) -> bytes:
    return bytes([content_type]) + legacy_record_version.to_bytes(2, "big") + length.to_bytes(2, "big")


def parse_header(header: bytes) -> tuple[int, int, int]:
    """(content type, legacy_record_version, length) of a 5-byte header."""
    return header[0], int.from_bytes(header[1:3], "big"), int.from_bytes(header[3:5], "big")


def record_spans(record: bytes, *, protected: bool) -> list[FieldSpan]:
    """Leaf spans of a whole record, for annotating it byte by byte."""
    content_type, version, length = parse_header(record[:HEADER_LENGTH])
    root = "TLSCiphertext" if protected else "TLSPlaintext"
    body = "encrypted_record" if protected else "fragment"
    spans = [
        FieldSpan(path=f"{root}.type", start=0, end=1, value=name_of(to_enum(ContentType, content_type))),
        FieldSpan(
            path=f"{root}.legacy_record_version",
            start=1,
            end=3,
            value=name_of(to_enum(ProtocolVersion, version)),
        ),
        FieldSpan(path=f"{root}.length", start=3, end=5, value=f"{length} bytes"),
    ]
    if length:
        spans.append(FieldSpan(path=f"{root}.{body}", start=5, end=5 + length, value=f"{length} bytes"))
    return spans
