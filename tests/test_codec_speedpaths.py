"""The codec's fast paths give the same answers as the plain ones.

`parse_handshake(raw, record=False)` is what an untraced connection runs; it
skips describing values, but must parse the same message and, on malformed
bytes, raise the same `DecodeError` (reason, field path, offset) as a traced
parse. Writing goes through each wire type's `encode`; `write(writer, value)`
must append exactly those bytes.
"""

from __future__ import annotations

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teachtls.wire.codec import U16, DecodeError, FieldSpan, Opaque, Reader, VectorOf, WireType, Writer
from teachtls.wire.enums import ExtensionType, NamedGroup, name_of, to_enum
from teachtls.wire.messages import build_handshake, parse_handshake
from tests import strategies
from tests.rfc8448 import item

PROPERTY = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])

SIMPLE_CLIENT_HELLO = item("simple_1rtt", "construct a ClientHello", "ClientHello")


def outcome(raw: bytes, *, record: bool) -> object:
    """The parsed message, or the error as (type, reason, path, offset)."""
    try:
        return parse_handshake(raw, record=record)[0]
    except DecodeError as error:
        return type(error), error.reason, error.path, error.offset


@PROPERTY
@given(st.data())
def test_untraced_parse_matches_traced_parse(data: st.DataObject) -> None:
    raw = build_handshake(data.draw(strategies.handshake_messages))
    candidate = data.draw(strategies.mutated(raw))
    assert outcome(candidate, record=False) == outcome(candidate, record=True)


@pytest.mark.parametrize("record", [False, True])
def test_decode_error_names_the_field_when_untraced_too(record: bool) -> None:
    # Drop the ClientHello's last byte and fix its uint24 length: the extension
    # block now claims one byte more than the message holds.
    cut = SIMPLE_CLIENT_HELLO[:-1]
    cut = cut[:1] + (len(cut) - 4).to_bytes(3, "big") + cut[4:]
    with pytest.raises(DecodeError, match="runs past") as caught:
        parse_handshake(cut, record=record)
    assert caught.value.path == "ClientHello.extensions"


def test_nested_blocks_restore_the_outer_end() -> None:
    # opaque<0..255> items inside a uint16-prefixed vector, then one more uint16.
    raw = bytes.fromhex("0005 0161 020102 abcd")
    reader = Reader(raw, "Test")
    reader.paths.append("Test.names")
    names = VectorOf(2, Opaque(1)).read(reader, {})
    assert names == (b"a", b"\x01\x02")
    assert reader.end == len(raw)
    reader.paths[-1] = "Test.tail"
    assert U16().read(reader, {}) == 0xABCD
    reader.expect_end()
    assert [span.path for span in reader.spans] == [
        "Test.names.length",
        "Test.names[0].length",
        "Test.names[0]",
        "Test.names[1].length",
        "Test.names[1]",
        "Test.tail",
    ]


@pytest.mark.parametrize(
    ("shape", "value"),
    [
        (U16(NamedGroup), NamedGroup.x25519),
        (U16(), 0x0A0A),
        (Opaque(2), b"hello"),
        (VectorOf(1, U16()), (1, 2, 3)),
    ],
)
def test_write_appends_what_encode_returns(shape: WireType, value: object) -> None:
    writer = Writer()
    writer.put(b"\xff")
    shape.write(writer, value)
    assert writer.getvalue() == b"\xff" + shape.encode(value)


def test_to_enum_keeps_unknown_values() -> None:
    assert to_enum(ExtensionType, 43) is ExtensionType.supported_versions
    grease = to_enum(ExtensionType, 0x0A0A)
    assert grease == 0x0A0A and type(grease) is int
    assert name_of(ExtensionType.key_share) == "key_share"
    assert name_of(grease) == "0x0a0a"


def test_field_span_positional_and_keyword_forms_agree() -> None:
    assert FieldSpan("A.b", 1, 3, "x") == FieldSpan(path="A.b", start=1, end=3, value="x")
    assert hash(FieldSpan("A.b", 1, 3, "x")) == hash(FieldSpan(path="A.b", start=1, end=3, value="x"))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        FieldSpan("A.b", 1, 3, "x").start = 2  # type: ignore[misc]
