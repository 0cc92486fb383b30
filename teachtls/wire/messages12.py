"""The handshake messages TLS 1.2 has and TLS 1.3 dropped or changed (RFC 5246 §7.4).

TLS 1.2 shares the ClientHello, ServerHello, CertificateVerify and Finished
structs with TLS 1.3 (teachtls.wire.messages); these are the others:

* HelloRequest (§7.4.1.1) -- the server asks for a re-handshake.
* Certificate (§7.4.2) -- a bare list of DER certificates: no
  certificate_request_context, no per-certificate extensions.
* ServerKeyExchange (§7.4.3, RFC 8422 §5.4) -- the server's ephemeral ECDH
  public key, *signed* together with both randoms. In TLS 1.3 the key share
  moved into the ServerHello and the signature into CertificateVerify.
* CertificateRequest (§7.4.4) -- certificate types, signature algorithms
  and CA names as three fixed fields (TLS 1.3 uses extensions).
* ServerHelloDone (§7.4.5) -- "that's all from me"; TLS 1.3 needs no such
  marker because the server's Finished ends its flight.
* ClientKeyExchange (§7.4.7) -- the client's ECDH public key, or, with static
  RSA key transport, the pre-master secret encrypted to the server's key.
* NewSessionTicket (RFC 5077 §3.3) -- a lifetime hint and an opaque ticket.
* CertificateStatus (RFC 6066 §8) -- the stapled OCSP response.

The ClientKeyExchange body depends on the key exchange of the negotiated
cipher suite, so there are two classes; the handshake layer tells the codec
which one it expects (`message_classes_12(key_exchange)`).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from teachtls.wire.codec import U8, U16, U32, Opaque, VectorOf, wire
from teachtls.wire.enums import HandshakeType, NamedGroup, SignatureScheme
from teachtls.wire.messages import (
    CertificateVerify,
    ClientHello,
    Finished,
    HandshakeMessage,
    ServerHello,
)

# RFC 8422 §5.4: "ECCurveType curve_type; ... named_curve (3)".
EC_CURVE_TYPE_NAMED_CURVE = 3

# RFC 5246 §7.4.4 ClientCertificateType values teachtls uses.
RSA_SIGN = 1
ECDSA_SIGN = 64  # RFC 8422 §5.5


@attrs.frozen(kw_only=True)
class HelloRequest(HandshakeMessage):
    """RFC 5246 §7.4.1.1 `struct { } HelloRequest;`"""

    wire_name: ClassVar[str] = "HelloRequest"
    msg_type: ClassVar[HandshakeType] = HandshakeType.hello_request_RESERVED


@attrs.frozen(kw_only=True)
class Certificate12(HandshakeMessage):
    """RFC 5246 §7.4.2

    opaque ASN.1Cert<1..2^24-1>;
    struct {
        ASN.1Cert certificate_list<0..2^24-1>;
    } Certificate;
    """

    wire_name: ClassVar[str] = "Certificate"
    msg_type: ClassVar[HandshakeType] = HandshakeType.certificate
    certificate_list: tuple[bytes, ...] = wire(VectorOf(3, Opaque(3, floor=1)), default=())


@attrs.frozen(kw_only=True)
class ServerKeyExchange(HandshakeMessage):
    """RFC 8422 §5.4 (ECDHE), RFC 5246 §7.4.3

    struct {
        ECParameters curve_params;   /* curve_type (3 = named_curve) + namedcurve */
        ECPoint      public;         /* opaque point <1..2^8-1> */
    } ServerECDHParams;
    struct {
        ServerECDHParams params;
        digitally-signed struct {   /* SignatureAndHashAlgorithm + signature */
            opaque client_random[32];
            opaque server_random[32];
            ServerECDHParams params;
        } signed_params;
    } ServerKeyExchange;
    """

    wire_name: ClassVar[str] = "ServerKeyExchange"
    msg_type: ClassVar[HandshakeType] = HandshakeType.server_key_exchange_RESERVED
    curve_type: int = wire(U8(), default=EC_CURVE_TYPE_NAMED_CURVE)
    namedcurve: int = wire(U16(NamedGroup))
    public: bytes = wire(Opaque(1, floor=1))
    algorithm: int = wire(U16(SignatureScheme))
    signature: bytes = wire(Opaque(2))

    def params_bytes(self) -> bytes:
        """The ServerECDHParams as signed: curve_type, namedcurve, public."""
        return (
            bytes([self.curve_type])
            + int(self.namedcurve).to_bytes(2, "big")
            + bytes([len(self.public)])
            + self.public
        )


@attrs.frozen(kw_only=True)
class CertificateRequest12(HandshakeMessage):
    """RFC 5246 §7.4.4

    struct {
        ClientCertificateType certificate_types<1..2^8-1>;
        SignatureAndHashAlgorithm supported_signature_algorithms<2..2^16-2>;
        DistinguishedName certificate_authorities<0..2^16-1>;
    } CertificateRequest;
    """

    wire_name: ClassVar[str] = "CertificateRequest"
    msg_type: ClassVar[HandshakeType] = HandshakeType.certificate_request
    certificate_types: tuple[int, ...] = wire(VectorOf(1, U8(), floor=1), default=(RSA_SIGN, ECDSA_SIGN))
    supported_signature_algorithms: tuple[int, ...] = wire(VectorOf(2, U16(SignatureScheme), floor=2))
    certificate_authorities: tuple[bytes, ...] = wire(VectorOf(2, Opaque(2, floor=1)), default=())


@attrs.frozen(kw_only=True)
class ServerHelloDone(HandshakeMessage):
    """RFC 5246 §7.4.5 `struct { } ServerHelloDone;`"""

    wire_name: ClassVar[str] = "ServerHelloDone"
    msg_type: ClassVar[HandshakeType] = HandshakeType.server_hello_done_RESERVED


@attrs.frozen(kw_only=True)
class ClientKeyExchangeECDHE(HandshakeMessage):
    """RFC 8422 §5.7 `struct { opaque point <1..2^8-1>; } ClientECDiffieHellmanPublic;`"""

    wire_name: ClassVar[str] = "ClientKeyExchange"
    msg_type: ClassVar[HandshakeType] = HandshakeType.client_key_exchange_RESERVED
    ecdh_Yc: bytes = wire(Opaque(1, floor=1))


@attrs.frozen(kw_only=True)
class ClientKeyExchangeRSA(HandshakeMessage):
    """RFC 5246 §7.4.7.1 `public-key-encrypted PreMasterSecret pre_master_secret;`
    (an opaque<0..2^16-1> holding the RSA ciphertext)."""

    wire_name: ClassVar[str] = "ClientKeyExchange"
    msg_type: ClassVar[HandshakeType] = HandshakeType.client_key_exchange_RESERVED
    encrypted_pre_master_secret: bytes = wire(Opaque(2))


@attrs.frozen(kw_only=True)
class NewSessionTicket12(HandshakeMessage):
    """RFC 5077 §3.3

    struct {
        uint32 ticket_lifetime_hint;
        opaque ticket<0..2^16-1>;
    } NewSessionTicket;
    """

    wire_name: ClassVar[str] = "NewSessionTicket"
    msg_type: ClassVar[HandshakeType] = HandshakeType.new_session_ticket
    ticket_lifetime_hint: int = wire(U32())
    ticket: bytes = wire(Opaque(2))


@attrs.frozen(kw_only=True)
class CertificateStatus12(HandshakeMessage):
    """RFC 6066 §8 `struct { CertificateStatusType status_type; OCSPResponse response; }`"""

    wire_name: ClassVar[str] = "CertificateStatus"
    msg_type: ClassVar[HandshakeType] = HandshakeType.certificate_status
    status_type: int = wire(U8(), default=1)  # ocsp(1)
    ocsp_response: bytes = wire(Opaque(3, floor=1))


def message_classes_12(key_exchange: str = "ECDHE") -> dict[int, type[HandshakeMessage]]:
    """The TLS 1.2 message classes by msg_type; ClientKeyExchange per key exchange."""
    client_key_exchange: type[HandshakeMessage] = (
        ClientKeyExchangeRSA if key_exchange == "RSA" else ClientKeyExchangeECDHE
    )
    return {
        cls.msg_type: cls
        for cls in (
            HelloRequest,
            ClientHello,
            ServerHello,
            Certificate12,
            ServerKeyExchange,
            CertificateRequest12,
            ServerHelloDone,
            CertificateVerify,
            client_key_exchange,
            Finished,
            NewSessionTicket12,
            CertificateStatus12,
        )
    }
