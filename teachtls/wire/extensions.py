"""Extensions: their bodies, and which message each may appear in.

RFC 8446 §4.2: "Extensions are generally structured in a request/response
fashion". The same extension type has different bodies in different messages
-- `key_share` is a list of shares in a ClientHello, a single share in a
ServerHello and just a group in a HelloRetryRequest -- so the codec looks an
extension body up by the pair (extension type, message context), as
tlslite-ng's context-keyed registries do.

Three tables live here:

* `BODIES`: (ExtensionType, context) -> the wire class of the body.
* `ALLOWED_CONTEXTS`: the table of RFC 8446 §4.2 ("CH, SH, EE, CT, CR, NST,
  HRR") saying where each extension MAY appear. A *recognized* extension in
  any other message is an `illegal_parameter` (RFC 8446 §4.2); the handshake
  layer enforces that with this table.
* Unknown extension types (including GREASE, RFC 8701) are kept as raw bytes
  and ignored: "Servers MUST ignore unrecognized extensions" -- RFC 8446 §4.1.2.

Contexts are the snake_case names of RFC 8446's HandshakeType values plus
`hello_retry_request`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs

from teachtls.wire.codec import (
    NO_FIELDS,
    U8,
    U16,
    U32,
    Opaque,
    Reader,
    Rest,
    StructOf,
    VectorOf,
    WireStruct,
    WireType,
    build_struct,
    read_struct,
    wire,
)
from teachtls.wire.enums import (
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
    SignatureScheme,
    to_enum,
)

CLIENT_HELLO = "client_hello"
SERVER_HELLO = "server_hello"
HELLO_RETRY_REQUEST = "hello_retry_request"
ENCRYPTED_EXTENSIONS = "encrypted_extensions"
CERTIFICATE = "certificate"
CERTIFICATE_REQUEST = "certificate_request"
NEW_SESSION_TICKET = "new_session_ticket"


# --- bodies -------------------------------------------------------------------


@attrs.frozen
class Empty(WireStruct):
    """An extension whose body is empty (a flag, or an acknowledgement)."""

    wire_name: ClassVar[str] = "Empty"


@attrs.frozen
class RawBody(WireStruct):
    """A body teachtls does not decode: unknown types, padding, misplaced ones."""

    wire_name: ClassVar[str] = "opaque"
    data: bytes = wire(Rest())


@attrs.frozen(kw_only=True)
class ServerName(WireStruct):
    """RFC 6066 §3 `struct { NameType name_type; HostName host_name; } ServerName;`"""

    wire_name: ClassVar[str] = "ServerName"
    name_type: int = wire(U8(), default=0)  # host_name(0)
    host_name: bytes = wire(Opaque(2, floor=1))


@attrs.frozen
class ServerNameList(WireStruct):
    """RFC 6066 §3 `ServerName server_name_list<1..2^16-1>`"""

    wire_name: ClassVar[str] = "ServerNameList"
    server_name_list: tuple[ServerName, ...] = wire(VectorOf(2, StructOf(ServerName), floor=1))


@attrs.frozen
class NamedGroupList(WireStruct):
    """RFC 8446 §4.2.7 `NamedGroup named_group_list<2..2^16-1>;`"""

    wire_name: ClassVar[str] = "NamedGroupList"
    named_group_list: tuple[int, ...] = wire(VectorOf(2, U16(NamedGroup), floor=2))


@attrs.frozen
class SignatureSchemeList(WireStruct):
    """RFC 8446 §4.2.3 `SignatureScheme supported_signature_algorithms<2..2^16-2>;`"""

    wire_name: ClassVar[str] = "SignatureSchemeList"
    supported_signature_algorithms: tuple[int, ...] = wire(VectorOf(2, U16(SignatureScheme), floor=2))


@attrs.frozen(kw_only=True)
class KeyShareEntry(WireStruct):
    """RFC 8446 §4.2.8 `struct { NamedGroup group; opaque key_exchange<1..2^16-1>; }`"""

    wire_name: ClassVar[str] = "KeyShareEntry"
    group: int = wire(U16(NamedGroup))
    key_exchange: bytes = wire(Opaque(2, floor=1))


@attrs.frozen
class KeyShareClientHello(WireStruct):
    """RFC 8446 §4.2.8 `KeyShareEntry client_shares<0..2^16-1>;`"""

    wire_name: ClassVar[str] = "KeyShareClientHello"
    client_shares: tuple[KeyShareEntry, ...] = wire(VectorOf(2, StructOf(KeyShareEntry)))


@attrs.frozen
class KeyShareServerHello(WireStruct):
    """RFC 8446 §4.2.8 `KeyShareEntry server_share;`"""

    wire_name: ClassVar[str] = "KeyShareServerHello"
    server_share: KeyShareEntry = wire(StructOf(KeyShareEntry))


@attrs.frozen
class KeyShareHelloRetryRequest(WireStruct):
    """RFC 8446 §4.2.8 `NamedGroup selected_group;`"""

    wire_name: ClassVar[str] = "KeyShareHelloRetryRequest"
    selected_group: int = wire(U16(NamedGroup))


@attrs.frozen
class SupportedVersionsClientHello(WireStruct):
    """RFC 8446 §4.2.1 `ProtocolVersion versions<2..254>;`"""

    wire_name: ClassVar[str] = "SupportedVersions"
    versions: tuple[int, ...] = wire(VectorOf(1, U16(ProtocolVersion), floor=2, ceiling=254))


@attrs.frozen
class SupportedVersionsServerHello(WireStruct):
    """RFC 8446 §4.2.1 `ProtocolVersion selected_version;`"""

    wire_name: ClassVar[str] = "SupportedVersions"
    selected_version: int = wire(U16(ProtocolVersion))


@attrs.frozen
class Cookie(WireStruct):
    """RFC 8446 §4.2.2 `struct { opaque cookie<1..2^16-1>; } Cookie;`"""

    wire_name: ClassVar[str] = "Cookie"
    cookie: bytes = wire(Opaque(2, floor=1))


@attrs.frozen
class PskKeyExchangeModes(WireStruct):
    """RFC 8446 §4.2.9 `PskKeyExchangeMode ke_modes<1..255>;`"""

    wire_name: ClassVar[str] = "PskKeyExchangeModes"
    ke_modes: tuple[int, ...] = wire(VectorOf(1, U8(PskKeyExchangeMode), floor=1))


@attrs.frozen(kw_only=True)
class PskIdentity(WireStruct):
    """RFC 8446 §4.2.11 `struct { opaque identity<1..2^16-1>; uint32 obfuscated_ticket_age; }`"""

    wire_name: ClassVar[str] = "PskIdentity"
    identity: bytes = wire(Opaque(2, floor=1))
    obfuscated_ticket_age: int = wire(U32())


@attrs.frozen(kw_only=True)
class OfferedPsks(WireStruct):
    """RFC 8446 §4.2.11 `PskIdentity identities<7..2^16-1>; PskBinderEntry binders<33..2^16-1>;`"""

    wire_name: ClassVar[str] = "OfferedPsks"
    identities: tuple[PskIdentity, ...] = wire(VectorOf(2, StructOf(PskIdentity), floor=7))
    binders: tuple[bytes, ...] = wire(VectorOf(2, Opaque(1, floor=32), floor=33))


@attrs.frozen
class SelectedIdentity(WireStruct):
    """RFC 8446 §4.2.11 `uint16 selected_identity;` (ServerHello)"""

    wire_name: ClassVar[str] = "PreSharedKeyExtension"
    selected_identity: int = wire(U16())


@attrs.frozen
class EarlyDataIndicationNewSessionTicket(WireStruct):
    """RFC 8446 §4.2.10 `uint32 max_early_data_size;` (NewSessionTicket)"""

    wire_name: ClassVar[str] = "EarlyDataIndication"
    max_early_data_size: int = wire(U32())


@attrs.frozen
class ProtocolNameList(WireStruct):
    """RFC 7301 §3.1 `ProtocolName protocol_name_list<2..2^16-1>`, names `opaque<1..2^8-1>`."""

    wire_name: ClassVar[str] = "ProtocolNameList"
    protocol_name_list: tuple[bytes, ...] = wire(VectorOf(2, Opaque(1, floor=1), floor=2))


@attrs.frozen
class RecordSizeLimit(WireStruct):
    """RFC 8449 §4 `uint16 RecordSizeLimit;`"""

    wire_name: ClassVar[str] = "RecordSizeLimit"
    record_size_limit: int = wire(U16())


@attrs.frozen
class RenegotiationInfo(WireStruct):
    """RFC 5746 §3.2 `opaque renegotiated_connection<0..255>;`"""

    wire_name: ClassVar[str] = "RenegotiationInfo"
    renegotiated_connection: bytes = wire(Opaque(1))


@attrs.frozen(kw_only=True)
class CertificateStatusRequest(WireStruct):
    """RFC 6066 §8 `struct { CertificateStatusType status_type; OCSPStatusRequest request; }`
    with `ResponderID responder_id_list<0..2^16-1>; Extensions request_extensions<0..2^16-1>;`"""

    wire_name: ClassVar[str] = "CertificateStatusRequest"
    status_type: int = wire(U8(), default=1)  # ocsp(1)
    responder_id_list: bytes = wire(Opaque(2), default=b"")
    request_extensions: bytes = wire(Opaque(2), default=b"")


@attrs.frozen(kw_only=True)
class CertificateStatus(WireStruct):
    """RFC 8446 §4.4.2.1 / RFC 6066 §8: `CertificateStatusType status_type; opaque OCSPResponse<1..2^24-1>;`"""

    wire_name: ClassVar[str] = "CertificateStatus"
    status_type: int = wire(U8(), default=1)
    ocsp_response: bytes = wire(Opaque(3, floor=1))


@attrs.frozen
class CertificateAuthoritiesExtension(WireStruct):
    """RFC 8446 §4.2.4 `DistinguishedName authorities<3..2^16-1>;`"""

    wire_name: ClassVar[str] = "CertificateAuthoritiesExtension"
    authorities: tuple[bytes, ...] = wire(VectorOf(2, Opaque(2, floor=1), floor=3))


@attrs.frozen
class ECPointFormatList(WireStruct):
    """RFC 8422 §5.1.2 `ECPointFormat ec_point_format_list<1..2^8-1>` (TLS 1.2)."""

    wire_name: ClassVar[str] = "ECPointFormatList"
    ec_point_format_list: tuple[int, ...] = wire(VectorOf(1, U8(), floor=1))


E = ExtensionType
CH, SH, HRR, EE, CT, CR, NST = (
    CLIENT_HELLO,
    SERVER_HELLO,
    HELLO_RETRY_REQUEST,
    ENCRYPTED_EXTENSIONS,
    CERTIFICATE,
    CERTIFICATE_REQUEST,
    NEW_SESSION_TICKET,
)

BODIES: dict[tuple[int, str], type[WireStruct]] = {
    (E.server_name, CH): ServerNameList,
    (E.server_name, EE): Empty,
    (E.supported_groups, CH): NamedGroupList,
    (E.supported_groups, EE): NamedGroupList,
    (E.signature_algorithms, CH): SignatureSchemeList,
    (E.signature_algorithms, CR): SignatureSchemeList,
    (E.signature_algorithms_cert, CH): SignatureSchemeList,
    (E.signature_algorithms_cert, CR): SignatureSchemeList,
    (E.key_share, CH): KeyShareClientHello,
    (E.key_share, SH): KeyShareServerHello,
    (E.key_share, HRR): KeyShareHelloRetryRequest,
    (E.supported_versions, CH): SupportedVersionsClientHello,
    (E.supported_versions, SH): SupportedVersionsServerHello,
    (E.supported_versions, HRR): SupportedVersionsServerHello,
    (E.cookie, CH): Cookie,
    (E.cookie, HRR): Cookie,
    (E.psk_key_exchange_modes, CH): PskKeyExchangeModes,
    (E.pre_shared_key, CH): OfferedPsks,
    (E.pre_shared_key, SH): SelectedIdentity,
    (E.early_data, CH): Empty,
    (E.early_data, EE): Empty,
    (E.early_data, NST): EarlyDataIndicationNewSessionTicket,
    (E.application_layer_protocol_negotiation, CH): ProtocolNameList,
    (E.application_layer_protocol_negotiation, EE): ProtocolNameList,
    (E.record_size_limit, CH): RecordSizeLimit,
    (E.record_size_limit, EE): RecordSizeLimit,
    (E.renegotiation_info, CH): RenegotiationInfo,
    # A TLS 1.2 ServerHello answers with these two (RFC 5746 §3.6, RFC 7301 §3.1);
    # TLS 1.3 moved ALPN to EncryptedExtensions and dropped renegotiation_info.
    (E.renegotiation_info, SH): RenegotiationInfo,
    (E.application_layer_protocol_negotiation, SH): ProtocolNameList,
    (E.session_ticket, CH): RawBody,
    (E.padding, CH): RawBody,
    (E.status_request, CH): CertificateStatusRequest,
    (E.status_request, CR): Empty,
    (E.status_request, CT): CertificateStatus,
    (E.certificate_authorities, CH): CertificateAuthoritiesExtension,
    (E.certificate_authorities, CR): CertificateAuthoritiesExtension,
    (E.post_handshake_auth, CH): Empty,
    (E.ec_point_formats, CH): ECPointFormatList,
    (E.extended_master_secret, CH): Empty,
    (E.encrypt_then_mac, CH): Empty,
}

# RFC 8446 §4.2, the table's right-hand column, plus RFC 8449 §4 for
# record_size_limit. TLS 1.2-only extensions may appear in a ClientHello
# (the client may still negotiate 1.2) but nowhere else in TLS 1.3.
ALLOWED_CONTEXTS: dict[int, frozenset[str]] = {
    E.server_name: frozenset({CH, EE}),
    E.max_fragment_length: frozenset({CH, EE}),
    E.status_request: frozenset({CH, CR, CT}),
    E.supported_groups: frozenset({CH, EE}),
    E.signature_algorithms: frozenset({CH, CR}),
    E.use_srtp: frozenset({CH, EE}),
    E.heartbeat: frozenset({CH, EE}),
    E.application_layer_protocol_negotiation: frozenset({CH, EE}),
    E.signed_certificate_timestamp: frozenset({CH, CR, CT}),
    E.client_certificate_type: frozenset({CH, EE}),
    E.server_certificate_type: frozenset({CH, EE}),
    E.padding: frozenset({CH}),
    E.pre_shared_key: frozenset({CH, SH}),
    E.early_data: frozenset({CH, EE, NST}),
    E.supported_versions: frozenset({CH, SH, HRR}),
    E.cookie: frozenset({CH, HRR}),
    E.psk_key_exchange_modes: frozenset({CH}),
    E.certificate_authorities: frozenset({CH, CR}),
    E.oid_filters: frozenset({CR}),
    E.post_handshake_auth: frozenset({CH}),
    E.signature_algorithms_cert: frozenset({CH, CR}),
    E.key_share: frozenset({CH, SH, HRR}),
    E.record_size_limit: frozenset({CH, EE}),
    E.renegotiation_info: frozenset({CH}),
    E.session_ticket: frozenset({CH}),
    E.ec_point_formats: frozenset({CH}),
    E.extended_master_secret: frozenset({CH}),
    E.encrypt_then_mac: frozenset({CH}),
}


# --- the Extension struct and the extension list --------------------------------


@attrs.frozen(kw_only=True)
class Extension:
    """RFC 8446 §4.2 `struct { ExtensionType extension_type; opaque extension_data<0..2^16-1>; }`

    `extension_data` is the decoded body (see `BODIES`) or a `RawBody` when the
    type is unknown or not expected in this message."""

    extension_type: int
    extension_data: WireStruct


Context = str | Callable[[Mapping[str, Any]], str]


# The wire type of `ExtensionType extension_type`, made once rather than per extension.
EXTENSION_TYPE = U16(ExtensionType)


@attrs.frozen
class ExtensionList(WireType):
    """Wire type of `Extension extensions<floor..2^16-1>` in a given message context."""

    context: Context
    floor: int = 0

    def resolve(self, parsed: Mapping[str, Any]) -> str:
        return self.context if isinstance(self.context, str) else self.context(parsed)

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> tuple[Extension, ...]:
        context = self.resolve(parsed)
        extensions: list[Extension] = []
        paths = reader.paths
        with reader.block(2, floor=self.floor):
            list_path = paths[-1]
            while reader.pos < reader.end:
                # Each extension is read like a two-field struct, pushing each field's path.
                extension_path = f"{list_path}[{len(extensions)}]"
                paths.append(f"{extension_path}.extension_type")
                extension_type = EXTENSION_TYPE.read(reader, NO_FIELDS)
                paths[-1] = f"{extension_path}.extension_data"
                with reader.block(2):
                    body = read_struct(reader, BODIES.get((extension_type, context), RawBody))
                paths.pop()
                extensions.append(Extension(extension_type=extension_type, extension_data=body))
        return tuple(extensions)

    def encode(self, value: tuple[Extension, ...]) -> bytes:
        encoded = []
        for extension in value:
            body = build_struct(extension.extension_data)
            encoded.append(extension.extension_type.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body)
        extensions = b"".join(encoded)
        return len(extensions).to_bytes(2, "big") + extensions


def make_extension(extension_type: ExtensionType | int, body: WireStruct) -> Extension:
    return Extension(extension_type=to_enum(ExtensionType, int(extension_type)), extension_data=body)


def find_extension(extensions: tuple[Extension, ...], extension_type: ExtensionType) -> WireStruct | None:
    """The body of the first extension of `extension_type`, or None."""
    for extension in extensions:
        if extension.extension_type == extension_type:
            return extension.extension_data
    return None


__all__ = [
    "ALLOWED_CONTEXTS",
    "BODIES",
    "CERTIFICATE",
    "CERTIFICATE_REQUEST",
    "CLIENT_HELLO",
    "ENCRYPTED_EXTENSIONS",
    "HELLO_RETRY_REQUEST",
    "NEW_SESSION_TICKET",
    "SERVER_HELLO",
    "CertificateAuthoritiesExtension",
    "CertificateStatus",
    "CertificateStatusRequest",
    "Cookie",
    "ECPointFormatList",
    "EarlyDataIndicationNewSessionTicket",
    "Empty",
    "Extension",
    "ExtensionList",
    "KeyShareClientHello",
    "KeyShareEntry",
    "KeyShareHelloRetryRequest",
    "KeyShareServerHello",
    "NamedGroupList",
    "OfferedPsks",
    "PskIdentity",
    "PskKeyExchangeModes",
    "ProtocolNameList",
    "RawBody",
    "RecordSizeLimit",
    "RenegotiationInfo",
    "SelectedIdentity",
    "ServerName",
    "ServerNameList",
    "SignatureSchemeList",
    "SupportedVersionsClientHello",
    "SupportedVersionsServerHello",
    "find_extension",
    "make_extension",
]
