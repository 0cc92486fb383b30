"""IANA code points of TLS 1.3 (RFC 8446 §B) used throughout teachtls.

Every enum here is an `IntEnum` named exactly as in the RFC's presentation
language, so `grep ContentType.handshake` finds both this file and RFC 8446.

Unknown code points -- GREASE values (RFC 8701) or simply values teachtls does
not implement -- are never turned into enum members: the codec keeps them as
plain `int`, and the helpers `to_enum` and `name_of` below make that explicit.
RFC 8446 §4.1.2: servers "MUST ignore unrecognized cipher suites, extensions
and other parameters"; keeping raw ints is how the code ignores them without
losing the bytes a renderer wants to show.
"""

from __future__ import annotations

import enum
from typing import TypeVar, cast

E = TypeVar("E", bound=enum.IntEnum)


class ContentType(enum.IntEnum):
    """RFC 8446 §5.1 `enum { ... } ContentType;`"""

    invalid = 0
    change_cipher_spec = 20
    alert = 21
    handshake = 22
    application_data = 23


class ProtocolVersion(enum.IntEnum):
    """`uint16 ProtocolVersion;` values, RFC 8446 §4.1.2 and §4.2.1."""

    SSL3_0 = 0x0300
    TLS1_0 = 0x0301
    TLS1_1 = 0x0302
    TLS1_2 = 0x0303
    TLS1_3 = 0x0304
    # DTLS (RFC 6347 §4.1, RFC 9147 §5.3): the 1's complement of the DTLS
    # version, {254, 253} for 1.2, so on the wire DTLS versions *decrease*.
    DTLS1_0 = 0xFEFF
    DTLS1_2 = 0xFEFD
    DTLS1_3 = 0xFEFC


class HandshakeType(enum.IntEnum):
    """RFC 8446 §4 `enum { ... } HandshakeType;`"""

    hello_request_RESERVED = 0
    client_hello = 1
    server_hello = 2
    hello_verify_request_RESERVED = 3  # DTLS 1.0 and 1.2 only (RFC 6347 §4.2.1)
    new_session_ticket = 4
    end_of_early_data = 5
    encrypted_extensions = 8
    certificate = 11
    server_key_exchange_RESERVED = 12
    certificate_request = 13
    server_hello_done_RESERVED = 14
    certificate_verify = 15
    client_key_exchange_RESERVED = 16
    finished = 20
    certificate_status = 22  # TLS 1.2 only (RFC 6066 §8)
    key_update = 24
    message_hash = 254


class ExtensionType(enum.IntEnum):
    """RFC 8446 §4.2 `enum { ... } ExtensionType;` plus the few extra ones
    teachtls speaks (renegotiation_info, RFC 5746; session_ticket, RFC 5077;
    padding, RFC 7685; record_size_limit, RFC 8449)."""

    server_name = 0
    max_fragment_length = 1
    status_request = 5
    supported_groups = 10
    ec_point_formats = 11
    signature_algorithms = 13
    use_srtp = 14
    heartbeat = 15
    application_layer_protocol_negotiation = 16
    signed_certificate_timestamp = 18
    client_certificate_type = 19
    server_certificate_type = 20
    padding = 21
    encrypt_then_mac = 22
    extended_master_secret = 23
    record_size_limit = 28
    session_ticket = 35
    pre_shared_key = 41
    early_data = 42
    supported_versions = 43
    cookie = 44
    psk_key_exchange_modes = 45
    certificate_authorities = 47
    oid_filters = 48
    post_handshake_auth = 49
    signature_algorithms_cert = 50
    key_share = 51
    renegotiation_info = 0xFF01


class CipherSuite(enum.IntEnum):
    """Cipher suites: RFC 8446 §B.4 (TLS 1.3 names: AEAD + HKDF hash) and the
    TLS 1.2 ones of RFC 5246, 5288, 5289, 8422 and 7905 (key exchange +
    cipher + MAC/PRF hash)."""

    TLS_AES_128_GCM_SHA256 = 0x1301
    TLS_AES_256_GCM_SHA384 = 0x1302
    TLS_CHACHA20_POLY1305_SHA256 = 0x1303
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF
    # TLS 1.2 suites teachtls speaks (teachtls.crypto.suites12 has their parameters).
    TLS_RSA_WITH_AES_128_CBC_SHA = 0x002F
    TLS_RSA_WITH_AES_128_CBC_SHA256 = 0x003C
    TLS_RSA_WITH_AES_128_GCM_SHA256 = 0x009C
    TLS_RSA_WITH_AES_256_GCM_SHA384 = 0x009D
    TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA = 0xC009
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA = 0xC013
    TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 = 0xC023
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 = 0xC027
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xC02B
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = 0xC02C
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xC02F
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = 0xC030
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA8
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA9


class NamedGroup(enum.IntEnum):
    """RFC 8446 §4.2.7 `enum { ... } NamedGroup;` plus the hybrid
    X25519MLKEM768 of draft-ietf-tls-ecdhe-mlkem."""

    secp256r1 = 0x0017
    secp384r1 = 0x0018
    secp521r1 = 0x0019
    x25519 = 0x001D
    x448 = 0x001E
    ffdhe2048 = 0x0100
    ffdhe3072 = 0x0101
    ffdhe4096 = 0x0102
    ffdhe6144 = 0x0103
    ffdhe8192 = 0x0104
    X25519MLKEM768 = 0x11EC


class SignatureScheme(enum.IntEnum):
    """RFC 8446 §4.2.3 `enum { ... } SignatureScheme;`"""

    rsa_pkcs1_sha256 = 0x0401
    rsa_pkcs1_sha384 = 0x0501
    rsa_pkcs1_sha512 = 0x0601
    ecdsa_secp256r1_sha256 = 0x0403
    ecdsa_secp384r1_sha384 = 0x0503
    ecdsa_secp521r1_sha512 = 0x0603
    rsa_pss_rsae_sha256 = 0x0804
    rsa_pss_rsae_sha384 = 0x0805
    rsa_pss_rsae_sha512 = 0x0806
    ed25519 = 0x0807
    ed448 = 0x0808
    rsa_pss_pss_sha256 = 0x0809
    rsa_pss_pss_sha384 = 0x080A
    rsa_pss_pss_sha512 = 0x080B
    rsa_pkcs1_sha1 = 0x0201
    ecdsa_sha1 = 0x0203


class PskKeyExchangeMode(enum.IntEnum):
    """RFC 8446 §4.2.9 `enum { psk_ke(0), psk_dhe_ke(1), (255) }`."""

    psk_ke = 0
    psk_dhe_ke = 1


class KeyUpdateRequest(enum.IntEnum):
    """RFC 8446 §4.6.3."""

    update_not_requested = 0
    update_requested = 1


class CertificateType(enum.IntEnum):
    """RFC 8446 §4.4.2 `enum { X509(0), RawPublicKey(2), (255) }`."""

    X509 = 0
    RawPublicKey = 2


class AlertLevel(enum.IntEnum):
    """RFC 8446 §6 `enum { warning(1), fatal(2), (255) } AlertLevel;`"""

    warning = 1
    fatal = 2


class AlertDescription(enum.IntEnum):
    """RFC 8446 §6 `enum { ... } AlertDescription;`"""

    close_notify = 0
    unexpected_message = 10
    bad_record_mac = 20
    decryption_failed_RESERVED = 21
    record_overflow = 22
    decompression_failure_RESERVED = 30
    handshake_failure = 40
    no_certificate_RESERVED = 41
    bad_certificate = 42
    unsupported_certificate = 43
    certificate_revoked = 44
    certificate_expired = 45
    certificate_unknown = 46
    illegal_parameter = 47
    unknown_ca = 48
    access_denied = 49
    decode_error = 50
    decrypt_error = 51
    export_restriction_RESERVED = 60
    protocol_version = 70
    insufficient_security = 71
    internal_error = 80
    inappropriate_fallback = 86
    user_canceled = 90
    no_renegotiation_RESERVED = 100
    missing_extension = 109
    unsupported_extension = 110
    certificate_unobtainable_RESERVED = 111
    unrecognized_name = 112
    bad_certificate_status_response = 113
    bad_certificate_hash_value_RESERVED = 114
    unknown_psk_identity = 115
    certificate_required = 116
    no_application_protocol = 120


def to_enum(enum_class: type[E], value: int) -> E | int:
    """Return the enum member for `value`, or `value` itself when unknown.

    Unknown values are legal on the wire (GREASE, newer code points) and the
    RFC asks receivers to ignore them, so they must survive parsing."""
    # A dictionary lookup rather than `enum_class(value)`, which raises and
    # catches a ValueError for every unknown value: the codec calls this for
    # every enum field it reads, GREASE included.
    member = enum_class._value2member_map_.get(value, value)
    return cast("E | int", member)


def name_of(value: int) -> str:
    """A readable name: `x25519` for a known member, `0x0a0a` otherwise."""
    if isinstance(value, enum.IntEnum):
        return value._name_  # what `.name` returns, without its property lookup (slow before Python 3.12)
    return f"0x{value:04x}"


def is_grease(value: int) -> bool:
    """RFC 8701 §2: GREASE values have the form 0x?A?A with equal bytes."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)
