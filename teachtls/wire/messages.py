"""Handshake messages of TLS 1.3 (RFC 8446 §4), described declaratively.

Each message is a frozen attrs class whose fields carry their wire shape; the
class docstring shows the RFC's presentation-language struct, so the two can
be read side by side. Every message travels inside the same envelope
(RFC 8446 §4):

    struct {
        HandshakeType msg_type;    /* handshake type */
        uint24 length;             /* remaining bytes in message */
        select (Handshake.msg_type) { ... };
    } Handshake;

`parse_handshake(raw)` reads one complete envelope and returns the message and
the spans of every field (the envelope's `msg_type` and `length` included),
with paths rooted at the message name: `ClientHello.cipher_suites[0]`.
`build_handshake(message)` writes the envelope back; the two are inverses.

The HelloRetryRequest is not a message of its own: RFC 8446 §4.1.3 sends it
as a ServerHello whose `random` is the SHA-256 of "HelloRetryRequest". The
codec therefore picks the extension context of a ServerHello from its random.

This module checks only syntax (lengths, vector bounds). Semantics -- is this
extension allowed here, is this version acceptable -- are the handshake
layer's job, because the right alert depends on the state of the connection.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from teachtls.wire.codec import (
    U8,
    U16,
    U32,
    DecodeError,
    FieldSpan,
    Fixed,
    Opaque,
    Reader,
    Rest,
    StructOf,
    VectorOf,
    WireStruct,
    build_struct,
    read_struct,
    wire,
)
from teachtls.wire.enums import (
    CipherSuite,
    HandshakeType,
    KeyUpdateRequest,
    ProtocolVersion,
    SignatureScheme,
    to_enum,
)
from teachtls.wire.extensions import (
    CERTIFICATE,
    CERTIFICATE_REQUEST,
    CLIENT_HELLO,
    ENCRYPTED_EXTENSIONS,
    HELLO_RETRY_REQUEST,
    NEW_SESSION_TICKET,
    SERVER_HELLO,
    Extension,
    ExtensionList,
)

# RFC 8446 §4.1.3: "the Random value ... set to the special value of the
# SHA-256 of 'HelloRetryRequest'".
HELLO_RETRY_REQUEST_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()

# RFC 8446 §4.1.3: downgrade sentinels in the last 8 bytes of ServerHello.random.
DOWNGRADE_TLS12 = bytes.fromhex("444f574e47524401")  # "DOWNGRD" 01
DOWNGRADE_TLS11 = bytes.fromhex("444f574e47524400")  # "DOWNGRD" 00


class HandshakeMessage(WireStruct):
    """Base of all handshake messages; `msg_type` is the envelope's type."""

    msg_type: ClassVar[HandshakeType]


@attrs.frozen(kw_only=True)
class ClientHello(HandshakeMessage):
    """RFC 8446 §4.1.2

    struct {
        ProtocolVersion legacy_version = 0x0303;    /* TLS v1.2 */
        Random random;
        opaque legacy_session_id<0..32>;
        CipherSuite cipher_suites<2..2^16-2>;
        opaque legacy_compression_methods<1..2^8-1>;
        Extension extensions<8..2^16-1>;
    } ClientHello;
    """

    wire_name: ClassVar[str] = "ClientHello"
    msg_type: ClassVar[HandshakeType] = HandshakeType.client_hello
    legacy_version: int = wire(U16(ProtocolVersion), default=ProtocolVersion.TLS1_2)
    random: bytes = wire(Fixed(32))
    legacy_session_id: bytes = wire(Opaque(1, ceiling=32), default=b"")
    cipher_suites: tuple[int, ...] = wire(VectorOf(2, U16(CipherSuite), floor=2, ceiling=2**16 - 2))
    legacy_compression_methods: bytes = wire(Opaque(1, floor=1), default=b"\x00")
    extensions: tuple[Extension, ...] = wire(ExtensionList(CLIENT_HELLO, floor=8))


def _server_hello_context(parsed: Mapping[str, Any]) -> str:
    return HELLO_RETRY_REQUEST if parsed.get("random") == HELLO_RETRY_REQUEST_RANDOM else SERVER_HELLO


@attrs.frozen(kw_only=True)
class ServerHello(HandshakeMessage):
    """RFC 8446 §4.1.3 (also the HelloRetryRequest, by its special random)

    struct {
        ProtocolVersion legacy_version = 0x0303;    /* TLS v1.2 */
        Random random;
        opaque legacy_session_id_echo<0..32>;
        CipherSuite cipher_suite;
        uint8 legacy_compression_method = 0;
        Extension extensions<6..2^16-1>;
    } ServerHello;
    """

    wire_name: ClassVar[str] = "ServerHello"
    msg_type: ClassVar[HandshakeType] = HandshakeType.server_hello
    legacy_version: int = wire(U16(ProtocolVersion), default=ProtocolVersion.TLS1_2)
    random: bytes = wire(Fixed(32))
    legacy_session_id_echo: bytes = wire(Opaque(1, ceiling=32), default=b"")
    cipher_suite: int = wire(U16(CipherSuite))
    legacy_compression_method: int = wire(U8(), default=0)
    extensions: tuple[Extension, ...] = wire(ExtensionList(_server_hello_context, floor=6))

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HELLO_RETRY_REQUEST_RANDOM

    @property
    def name(self) -> str:
        return "HelloRetryRequest" if self.is_hello_retry_request else "ServerHello"


@attrs.frozen(kw_only=True)
class EncryptedExtensions(HandshakeMessage):
    """RFC 8446 §4.3.1 `struct { Extension extensions<0..2^16-1>; } EncryptedExtensions;`"""

    wire_name: ClassVar[str] = "EncryptedExtensions"
    msg_type: ClassVar[HandshakeType] = HandshakeType.encrypted_extensions
    extensions: tuple[Extension, ...] = wire(ExtensionList(ENCRYPTED_EXTENSIONS), default=())


@attrs.frozen(kw_only=True)
class CertificateRequest(HandshakeMessage):
    """RFC 8446 §4.3.2

    struct {
        opaque certificate_request_context<0..2^8-1>;
        Extension extensions<2..2^16-1>;
    } CertificateRequest;
    """

    wire_name: ClassVar[str] = "CertificateRequest"
    msg_type: ClassVar[HandshakeType] = HandshakeType.certificate_request
    certificate_request_context: bytes = wire(Opaque(1), default=b"")
    extensions: tuple[Extension, ...] = wire(ExtensionList(CERTIFICATE_REQUEST, floor=2))


@attrs.frozen(kw_only=True)
class CertificateEntry(WireStruct):
    """RFC 8446 §4.4.2 (X.509 certificates only)

    struct {
        opaque cert_data<1..2^24-1>;
        Extension extensions<0..2^16-1>;
    } CertificateEntry;
    """

    wire_name: ClassVar[str] = "CertificateEntry"
    cert_data: bytes = wire(Opaque(3, floor=1))
    extensions: tuple[Extension, ...] = wire(ExtensionList(CERTIFICATE), default=())


@attrs.frozen(kw_only=True)
class Certificate(HandshakeMessage):
    """RFC 8446 §4.4.2

    struct {
        opaque certificate_request_context<0..2^8-1>;
        CertificateEntry certificate_list<0..2^24-1>;
    } Certificate;
    """

    wire_name: ClassVar[str] = "Certificate"
    msg_type: ClassVar[HandshakeType] = HandshakeType.certificate
    certificate_request_context: bytes = wire(Opaque(1), default=b"")
    certificate_list: tuple[CertificateEntry, ...] = wire(VectorOf(3, StructOf(CertificateEntry)), default=())


@attrs.frozen(kw_only=True)
class CertificateVerify(HandshakeMessage):
    """RFC 8446 §4.4.3

    struct {
        SignatureScheme algorithm;
        opaque signature<0..2^16-1>;
    } CertificateVerify;
    """

    wire_name: ClassVar[str] = "CertificateVerify"
    msg_type: ClassVar[HandshakeType] = HandshakeType.certificate_verify
    algorithm: int = wire(U16(SignatureScheme))
    signature: bytes = wire(Opaque(2))


@attrs.frozen(kw_only=True)
class Finished(HandshakeMessage):
    """RFC 8446 §4.4.4 `struct { opaque verify_data[Hash.length]; } Finished;`

    Hash.length depends on the cipher suite, so the codec takes the rest of
    the message and the handshake layer checks the length (decode_error)."""

    wire_name: ClassVar[str] = "Finished"
    msg_type: ClassVar[HandshakeType] = HandshakeType.finished
    verify_data: bytes = wire(Rest())


@attrs.frozen(kw_only=True)
class NewSessionTicket(HandshakeMessage):
    """RFC 8446 §4.6.1

    struct {
        uint32 ticket_lifetime;
        uint32 ticket_age_add;
        opaque ticket_nonce<0..255>;
        opaque ticket<1..2^16-1>;
        Extension extensions<0..2^16-2>;
    } NewSessionTicket;
    """

    wire_name: ClassVar[str] = "NewSessionTicket"
    msg_type: ClassVar[HandshakeType] = HandshakeType.new_session_ticket
    ticket_lifetime: int = wire(U32())
    ticket_age_add: int = wire(U32())
    ticket_nonce: bytes = wire(Opaque(1))
    ticket: bytes = wire(Opaque(2, floor=1))
    extensions: tuple[Extension, ...] = wire(ExtensionList(NEW_SESSION_TICKET), default=())


@attrs.frozen(kw_only=True)
class EndOfEarlyData(HandshakeMessage):
    """RFC 8446 §4.5 `struct {} EndOfEarlyData;`"""

    wire_name: ClassVar[str] = "EndOfEarlyData"
    msg_type: ClassVar[HandshakeType] = HandshakeType.end_of_early_data


@attrs.frozen(kw_only=True)
class KeyUpdate(HandshakeMessage):
    """RFC 8446 §4.6.3 `struct { KeyUpdateRequest request_update; } KeyUpdate;`"""

    wire_name: ClassVar[str] = "KeyUpdate"
    msg_type: ClassVar[HandshakeType] = HandshakeType.key_update
    request_update: int = wire(U8(KeyUpdateRequest))


@attrs.frozen(kw_only=True)
class MessageHash(HandshakeMessage):
    """RFC 8446 §4.4.1: the synthetic `message_hash` message that replaces
    ClientHello1 in the transcript after a HelloRetryRequest. Its body is
    Hash(ClientHello1). It never travels on the wire."""

    wire_name: ClassVar[str] = "message_hash"
    msg_type: ClassVar[HandshakeType] = HandshakeType.message_hash
    hash_value: bytes = wire(Rest())


MESSAGE_CLASSES: dict[int, type[HandshakeMessage]] = {
    cls.msg_type: cls
    for cls in (
        ClientHello,
        ServerHello,
        EncryptedExtensions,
        CertificateRequest,
        Certificate,
        CertificateVerify,
        Finished,
        NewSessionTicket,
        EndOfEarlyData,
        KeyUpdate,
    )
}


def message_name(message: HandshakeMessage) -> str:
    """The RFC's name for a message; a HelloRetryRequest is named as such."""
    if isinstance(message, ServerHello):
        return message.name
    return message.wire_name


class UnknownHandshakeType(DecodeError):
    """A msg_type teachtls has no class for (-> unexpected_message)."""

    def __init__(self, msg_type: int) -> None:
        self.msg_type = msg_type
        super().__init__(f"unknown handshake message type {msg_type}")


def parse_handshake(
    raw: bytes, *, record: bool = True, classes: Mapping[int, type[HandshakeMessage]] = MESSAGE_CLASSES
) -> tuple[HandshakeMessage, list[FieldSpan]]:
    """Parse one complete handshake message (4-byte envelope included).

    Returns the message and its leaf field spans (offsets into `raw`).
    Raises `DecodeError` on malformed bytes, `UnknownHandshakeType` for a
    msg_type with no message class."""
    if len(raw) < 4:
        raise DecodeError("handshake message shorter than its 4-byte header")
    message_class = classes.get(raw[0])
    if message_class is None:
        raise UnknownHandshakeType(raw[0])
    root = message_class.wire_name
    if message_class is ServerHello and raw[6:38] == HELLO_RETRY_REQUEST_RANDOM:
        root = "HelloRetryRequest"
    reader = Reader(raw, root, record=record)
    msg_type = reader.uint(1)
    if record:
        reader.leaf(0, _type_name(msg_type), "msg_type")
    with reader.block(3):  # uint24 length: the remaining bytes of the message
        message = read_struct(reader, message_class)
    reader.expect_end()
    return message, reader.spans


def _type_name(value: int) -> str:
    member = to_enum(HandshakeType, value)
    return member.name if isinstance(member, HandshakeType) else str(value)


def build_handshake(message: HandshakeMessage) -> bytes:
    """The inverse of `parse_handshake`: envelope plus body bytes."""
    body = build_struct(message)
    return message.msg_type.to_bytes(1, "big") + len(body).to_bytes(3, "big") + body
