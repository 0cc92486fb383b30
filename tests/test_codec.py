"""The span-recording codec (teachtls.wire): round trips, spans, decode errors.

Three kinds of test, as STYLE.md §6 asks:

* **Hypothesis properties** over every handshake message class, with
  extensions generated per context from `BODIES` plus GREASE and unknown ones
  (strategies in `tests/strategies.py`):
  `parse_handshake(build_handshake(m)) == m`, `build_handshake(parse_handshake(b)[0]) == b`
  for any `b` that parses, and the leaf spans tile `b` exactly.
* **Round trips of RFC 8448** (`tests/vectors/rfc8448-vectors.json`): every
  complete handshake message the five traces print, with a few fields
  asserted under the RFC's own labels.
* **Decode errors**: one malformation, one `DecodeError`.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teachtls.wire.codec import DecodeError, FieldSpan, Reader, Writer
from teachtls.wire.enums import (
    CipherSuite,
    ExtensionType,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
)
from teachtls.wire.extensions import (
    BODIES,
    Extension,
    ExtensionList,
    KeyShareClientHello,
    KeyShareHelloRetryRequest,
    KeyShareServerHello,
    RawBody,
    SupportedVersionsServerHello,
    find_extension,
)
from teachtls.wire.messages import (
    HELLO_RETRY_REQUEST_RANDOM,
    MESSAGE_CLASSES,
    Certificate,
    ClientHello,
    Finished,
    HandshakeMessage,
    ServerHello,
    UnknownHandshakeType,
    build_handshake,
    parse_handshake,
)
from tests import strategies
from tests.rfc8448 import item, scenarios

PROPERTY = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
PER_CLASS = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])


def assert_spans_tile(spans: list[FieldSpan], data: bytes) -> None:
    """Leaf spans are in byte order, non-empty, and cover `data` exactly once."""
    assert spans, "no spans recorded"
    assert spans[0].start == 0
    for before, after in itertools.pairwise(spans):
        assert before.end == after.start, f"gap or overlap between {before.path} and {after.path}"
    for span in spans:
        assert span.start < span.end, f"empty span {span.path}"
    assert spans[-1].end == len(data)


# --- Hypothesis: round trips and spans -------------------------------------------


def test_a_strategy_for_every_message_class() -> None:
    assert set(strategies.MESSAGES) == set(MESSAGE_CLASSES.values())
    assert len(MESSAGE_CLASSES) >= 10  # the TLS 1.3 messages of RFC 8446 §4, at least


@PROPERTY
@given(strategies.handshake_messages)
def test_parse_inverts_build(message: HandshakeMessage) -> None:
    assert parse_handshake(build_handshake(message))[0] == message


@PROPERTY
@given(strategies.handshake_messages)
def test_build_inverts_parse(message: HandshakeMessage) -> None:
    raw = build_handshake(message)
    parsed, _ = parse_handshake(raw)
    assert build_handshake(parsed) == raw


@PROPERTY
@given(strategies.handshake_messages)
def test_spans_tile_the_message(message: HandshakeMessage) -> None:
    raw = build_handshake(message)
    _, spans = parse_handshake(raw)
    assert_spans_tile(spans, raw)
    assert spans[0].path.endswith(".msg_type")
    assert spans[1].path.endswith(".length")


@pytest.mark.parametrize("message_class", list(MESSAGE_CLASSES.values()), ids=lambda cls: cls.__name__)
@PER_CLASS
@given(data=st.data())
def test_each_message_class_round_trips(message_class: type[HandshakeMessage], data: st.DataObject) -> None:
    message = data.draw(strategies.MESSAGES[message_class])
    raw = build_handshake(message)
    parsed, spans = parse_handshake(raw)
    assert type(parsed) is message_class
    assert parsed == message
    assert build_handshake(parsed) == raw
    assert_spans_tile(spans, raw)


@PROPERTY
@given(strategies.hello_retry_requests)
def test_hello_retry_request_is_read_in_its_own_context(message: ServerHello) -> None:
    raw = build_handshake(message)
    parsed, spans = parse_handshake(raw)
    assert parsed == message
    assert isinstance(parsed, ServerHello) and parsed.is_hello_retry_request
    assert all(span.path.startswith("HelloRetryRequest.") for span in spans)


@pytest.mark.parametrize("key", list(BODIES), ids=lambda key: f"{ExtensionType(key[0]).name}-in-{key[1]}")
@settings(deadline=None, max_examples=15)
@given(data=st.data())
def test_each_extension_body_round_trips_in_its_context(key: tuple[int, str], data: st.DataObject) -> None:
    extension_type, context = key
    body = data.draw(strategies.structs(BODIES[key]))
    extensions = (Extension(extension_type=ExtensionType(extension_type), extension_data=body),)
    shape = ExtensionList(context)
    writer = Writer()
    shape.write(writer, extensions)
    raw = writer.getvalue()
    reader = Reader(raw, "extensions")
    assert shape.read(reader, {}) == extensions
    reader.expect_end()
    assert_spans_tile(reader.spans, raw)


@PROPERTY
@given(st.data())
def test_any_bytes_that_parse_rebuild_identically(data: st.DataObject) -> None:
    """Mutate a valid message: if the result still parses, the encoding is canonical
    (rebuilt byte for byte) and its spans tile it; otherwise it is a DecodeError."""
    raw = build_handshake(data.draw(strategies.handshake_messages))
    candidate = data.draw(strategies.mutated(raw))
    try:
        parsed, spans = parse_handshake(candidate)
    except DecodeError:
        return
    assert build_handshake(parsed) == candidate
    assert_spans_tile(spans, candidate)


@PROPERTY
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_decode_error(raw: bytes) -> None:
    with contextlib.suppress(DecodeError):
        parse_handshake(raw)


@PROPERTY
@given(st.sampled_from(list(MESSAGE_CLASSES)), st.binary(max_size=200))
def test_random_bodies_raise_only_decode_error(msg_type: int, body: bytes) -> None:
    raw = bytes([msg_type]) + len(body).to_bytes(3, "big") + body
    try:
        message, spans = parse_handshake(raw)
    except DecodeError:
        return
    assert build_handshake(message) == raw
    assert_spans_tile(spans, raw)


# --- RFC 8448: every complete handshake message ---------------------------------------

MESSAGE_LABELS = {
    "ClientHello",
    "ServerHello",
    "EncryptedExtensions",
    "Certificate",
    "CertificateRequest",
    "CertificateVerify",
    "Finished",
    "NewSessionTicket",
    "EndOfEarlyData",
}


def rfc8448_messages() -> list[Any]:
    """(id, bytes) of each handshake message RFC 8448 prints in full.

    RFC 8448 §4 prints only a *prefix* of its ClientHello (everything before
    the PSK binders) under the label "ClientHello"; its length field counts
    the whole message, so it is skipped here."""
    found = []
    for scenario in scenarios():
        counts: dict[str, int] = {}
        for step in scenario["steps"]:
            if not step["description"].startswith("construct a"):
                continue
            for vector in step["items"]:
                if vector["label"] not in MESSAGE_LABELS or vector["hex"] is None:
                    continue
                raw = bytes.fromhex(vector["hex"])
                label = vector["label"]
                occurrence = counts.get(f"{step['actor']} {label}", 0)
                counts[f"{step['actor']} {label}"] = occurrence + 1
                if 4 + int.from_bytes(raw[1:4], "big") != len(raw):
                    continue
                name = f"§{scenario['section']}-{step['actor']}-{label}" + (f"-{occurrence + 1}" if occurrence else "")
                found.append(pytest.param(label, raw, id=name))
    return found


RFC8448_MESSAGES = rfc8448_messages()


def test_rfc8448_message_count() -> None:
    # 8 + 5 (§4, its ClientHello prefix skipped) + 9 + 10 + 7 messages.
    assert len(RFC8448_MESSAGES) == 39


@pytest.mark.parametrize(("label", "raw"), RFC8448_MESSAGES)
def test_rfc8448_message_round_trips(label: str, raw: bytes) -> None:
    message, spans = parse_handshake(raw)
    expected_root = "HelloRetryRequest" if raw[6:38] == HELLO_RETRY_REQUEST_RANDOM else label
    assert message.wire_name == label
    assert spans[0].path == f"{expected_root}.msg_type"
    assert build_handshake(message) == raw
    assert_spans_tile(spans, raw)
    # No RFC 8448 extension is unknown to teachtls in its context.
    for extension in getattr(message, "extensions", ()):
        assert not isinstance(extension.extension_data, RawBody) or extension.extension_type in (
            ExtensionType.session_ticket,
            ExtensionType.padding,
        )


def test_rfc8448_section3_client_hello_fields() -> None:
    raw = item("simple_1rtt", "construct a ClientHello", "ClientHello")
    message, spans = parse_handshake(raw)
    assert isinstance(message, ClientHello)
    assert message.legacy_version == ProtocolVersion.TLS1_2
    assert message.legacy_session_id == b""
    assert message.cipher_suites == (
        CipherSuite.TLS_AES_128_GCM_SHA256,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_AES_256_GCM_SHA384,
    )
    assert message.legacy_compression_methods == b"\x00"
    key_share = find_extension(message.extensions, ExtensionType.key_share)
    assert isinstance(key_share, KeyShareClientHello)
    assert [share.group for share in key_share.client_shares] == [NamedGroup.x25519]
    assert key_share.client_shares[0].key_exchange == bytes.fromhex(
        "99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c"
    )
    by_path = {span.path: span for span in spans}
    # 4 (envelope) + 2 (legacy_version) + 32 (random) + 1 (empty session id) = 39.
    assert by_path["ClientHello.cipher_suites.length"] == FieldSpan(
        path="ClientHello.cipher_suites.length", start=39, end=41, value="6 bytes"
    )
    assert by_path["ClientHello.cipher_suites[0]"] == FieldSpan(
        path="ClientHello.cipher_suites[0]", start=41, end=43, value="TLS_AES_128_GCM_SHA256"
    )
    assert raw[41:43] == bytes.fromhex("1301")
    assert by_path["ClientHello.extensions[0].extension_type"].value == "server_name"


def test_rfc8448_section3_server_hello_fields() -> None:
    raw = item("simple_1rtt", "construct a ServerHello", "ServerHello")
    message, _ = parse_handshake(raw)
    assert isinstance(message, ServerHello) and not message.is_hello_retry_request
    assert message.cipher_suite == CipherSuite.TLS_AES_128_GCM_SHA256
    key_share = find_extension(message.extensions, ExtensionType.key_share)
    assert isinstance(key_share, KeyShareServerHello)
    assert key_share.server_share.group == NamedGroup.x25519
    versions = find_extension(message.extensions, ExtensionType.supported_versions)
    assert versions == SupportedVersionsServerHello(ProtocolVersion.TLS1_3)


def test_rfc8448_section5_hello_retry_request_fields() -> None:
    raw = item("hello_retry_request", "construct a ServerHello", "ServerHello")
    message, spans = parse_handshake(raw)
    assert isinstance(message, ServerHello) and message.is_hello_retry_request
    assert message.name == "HelloRetryRequest"
    assert find_extension(message.extensions, ExtensionType.key_share) == KeyShareHelloRetryRequest(
        NamedGroup.secp256r1
    )
    assert find_extension(message.extensions, ExtensionType.cookie) is not None
    assert spans[0].path == "HelloRetryRequest.msg_type"


def test_rfc8448_section3_certificate_and_finished() -> None:
    certificate, _ = parse_handshake(item("simple_1rtt", "construct a Certificate", "Certificate"))
    assert isinstance(certificate, Certificate)
    assert certificate.certificate_request_context == b""
    assert len(certificate.certificate_list) == 1
    assert certificate.certificate_list[0].cert_data[:2] == b"\x30\x82"  # a DER SEQUENCE
    finished, _ = parse_handshake(item("simple_1rtt", "construct a Finished", "Finished", actor="server"))
    assert isinstance(finished, Finished)
    assert finished.verify_data == bytes.fromhex("9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718")


def test_rfc8448_section6_certificate_request_signature_algorithms() -> None:
    message, _ = parse_handshake(item("client_authentication", "construct a CertificateRequest", "CertificateRequest"))
    schemes = find_extension(message.extensions, ExtensionType.signature_algorithms)  # type: ignore[attr-defined]
    assert SignatureScheme.rsa_pss_rsae_sha256 in schemes.supported_signature_algorithms  # type: ignore[union-attr]


# --- decode errors: one malformation, one DecodeError -------------------------------------

SIMPLE_CLIENT_HELLO = item("simple_1rtt", "construct a ClientHello", "ClientHello")


def simple_client_hello() -> ClientHello:
    """RFC 8448 §3's ClientHello, parsed (to edit with attrs.evolve)."""
    message, _ = parse_handshake(SIMPLE_CLIENT_HELLO)
    assert isinstance(message, ClientHello)
    return message


def with_length(raw: bytes, length: int) -> bytes:
    """`raw` with its uint24 handshake length field replaced."""
    return raw[:1] + length.to_bytes(3, "big") + raw[4:]


@pytest.mark.parametrize("cut", [0, 1, 3, 4, 5, 38, 100, len(SIMPLE_CLIENT_HELLO) - 1])
def test_truncated_message(cut: int) -> None:
    with pytest.raises(DecodeError):
        parse_handshake(SIMPLE_CLIENT_HELLO[:cut])


def test_length_field_too_long() -> None:
    with pytest.raises(DecodeError, match="runs past"):
        parse_handshake(with_length(SIMPLE_CLIENT_HELLO, len(SIMPLE_CLIENT_HELLO) - 3))


def test_length_field_too_short() -> None:
    # The ClientHello body then ends inside its extension block.
    with pytest.raises(DecodeError):
        parse_handshake(with_length(SIMPLE_CLIENT_HELLO, len(SIMPLE_CLIENT_HELLO) - 5))


def test_trailing_bytes_after_message() -> None:
    with pytest.raises(DecodeError, match="trailing"):
        parse_handshake(SIMPLE_CLIENT_HELLO + b"\x00")


def test_legacy_session_id_of_33_bytes_exceeds_its_ceiling() -> None:
    # opaque legacy_session_id<0..32>: build with 32, then splice in one more byte.
    hello = attrs.evolve(simple_client_hello(), legacy_session_id=bytes(32))
    raw = build_handshake(hello)
    assert raw[38] == 32
    too_long = raw[:38] + bytes([33]) + bytes(33) + raw[39 + 32 :]
    too_long = with_length(too_long, len(too_long) - 4)
    with pytest.raises(DecodeError, match=r"outside <0\.\.32>") as caught:
        parse_handshake(too_long)
    assert caught.value.path == "ClientHello.legacy_session_id"


def test_extension_block_with_bytes_left_over() -> None:
    # supported_versions in a ServerHello is a single uint16; give it 3 bytes.
    hello, _ = parse_handshake(item("simple_1rtt", "construct a ServerHello", "ServerHello"))
    assert isinstance(hello, ServerHello)
    extensions = tuple(
        attrs.evolve(extension, extension_data=RawBody(b"\x03\x04\x00"))
        if extension.extension_type == ExtensionType.supported_versions
        else extension
        for extension in hello.extensions
    )
    raw = build_handshake(attrs.evolve(hello, extensions=extensions))
    with pytest.raises(DecodeError, match="left over") as caught:
        parse_handshake(raw)
    assert "extension_data" in caught.value.path


def test_empty_vector_where_floor_is_positive() -> None:
    # CipherSuite cipher_suites<2..2^16-2>: an empty list is not allowed.
    hello = attrs.evolve(simple_client_hello(), cipher_suites=())
    with pytest.raises(DecodeError, match=r"outside <2\.\.65534>") as caught:
        parse_handshake(build_handshake(hello))
    assert caught.value.path == "ClientHello.cipher_suites"


def test_empty_compression_methods() -> None:
    # opaque legacy_compression_methods<1..2^8-1>
    hello = attrs.evolve(simple_client_hello(), legacy_compression_methods=b"")
    with pytest.raises(DecodeError, match=r"outside <1\.\.255>"):
        parse_handshake(build_handshake(hello))


def test_client_hello_extension_block_below_its_floor() -> None:
    # Extension extensions<8..2^16-1> in a ClientHello: one 4-byte extension is too few.
    hello = attrs.evolve(
        simple_client_hello(),
        extensions=(Extension(extension_type=0x0A0A, extension_data=RawBody(b"")),),
    )
    with pytest.raises(DecodeError, match=r"outside <8\.\.65535>"):
        parse_handshake(build_handshake(hello))


def test_unknown_handshake_type() -> None:
    with pytest.raises(UnknownHandshakeType) as caught:
        parse_handshake(bytes([99, 0, 0, 0]))
    assert caught.value.msg_type == 99
    # message_hash never travels on the wire, so the codec does not read it.
    with pytest.raises(UnknownHandshakeType):
        parse_handshake(bytes([HandshakeType.message_hash, 0, 0, 0]))
