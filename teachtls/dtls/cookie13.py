"""The stateless HelloRetryRequest cookie of DTLS 1.3 (RFC 9147 §5.1).

The denial-of-service problem is DTLS 1.2's (teachtls.dtls.cookie): anyone
can send a ClientHello from a forged address, to make the server work for
nothing or to make it flood the victim whose address was forged with a
Certificate. DTLS 1.3 keeps the defence -- prove that you receive datagrams
at your address before the server spends anything -- but drops the
HelloVerifyRequest message: it reuses TLS 1.3's HelloRetryRequest and its
`cookie` extension (RFC 8446 §4.2.2):

    Client                                   Server
    ClientHello           ------>
                          <----- HelloRetryRequest
                                  + cookie
    ClientHello           ------>
     + cookie
    [Rest of handshake]

"When the client sends its ClientHello message to the server, the server
MAY respond with a HelloRetryRequest message ... The client MUST send a new
ClientHello with the cookie added as an extension. The server then verifies
the cookie and proceeds with the handshake only if it is valid."

Unlike HelloVerifyRequest, the HelloRetryRequest and the first ClientHello
*are* in the transcript: ClientHello1 as the synthetic message_hash, then
the HelloRetryRequest (RFC 8446 §4.4.1). A server that keeps no state must
therefore be able to rebuild both from the second ClientHello alone: "a
stateless server-cookie implementation requires the content or hash of the
initial ClientHello (and HelloRetryRequest) to be stored in the cookie."
teachtls's cookie stores exactly what it needs, under a MAC only the server
can make:

    struct {
        CipherSuite cipher_suite;          // chosen for ClientHello1: the HRR's
        NamedGroup selected_group;         // the HRR's key_share, or 0: none asked
        opaque client_hello1_hash<32..64>; // Hash(ClientHello1), for message_hash
        opaque mac[32];                    // HMAC-SHA256(secret, client address || the above)
    } Cookie;                              (teachtls's own layout; the RFC leaves it open)

The HelloRetryRequest is a function of the first three fields (its random
is fixed, legacy_session_id_echo is empty in DTLS, RFC 9147 §5), so the
server rebuilds it byte for byte. The client's address is MACed in: "If the
client's apparent IP address is embedded in the cookie, this prevents an
attacker from generating an acceptable ClientHello apparently from another
user." A cookie that does not verify ends the handshake: "If a server
receives a ClientHello with an invalid cookie, it MUST terminate the
handshake with an "illegal_parameter" alert."

What the cookie does not do: "This mechanism does not provide any defense
against DoS attacks mounted from valid IP addresses." Rotating the secret
limits how long collected cookies stay good (the RFC recommends it); the
UDP server of teachtls.net.udp keeps one secret per run.
"""

from __future__ import annotations

import attrs

from teachtls.crypto.hashes import SHA256, constant_time_equal, hmac
from teachtls.dtls import framing, record13
from teachtls.dtls.messages import DTLS1_3, DTLSClientHello
from teachtls.wire.codec import DecodeError, parse_struct
from teachtls.wire.enums import ContentType, ExtensionType, HandshakeType, ProtocolVersion
from teachtls.wire.extensions import (
    Cookie,
    Extension,
    KeyShareHelloRetryRequest,
    SupportedVersionsClientHello,
    SupportedVersionsServerHello,
    find_extension,
    make_extension,
)
from teachtls.wire.messages import HELLO_RETRY_REQUEST_RANDOM, ServerHello

MAC_LENGTH = 32  # HMAC-SHA256


@attrs.frozen
class CookieContents:
    """What a DTLS 1.3 cookie carries from the HelloRetryRequest to the second ClientHello."""

    cipher_suite: int
    selected_group: int  # 0: the HelloRetryRequest carried no key_share
    client_hello1_hash: bytes


def _fields(contents: CookieContents) -> bytes:
    return (
        contents.cipher_suite.to_bytes(2, "big")
        + contents.selected_group.to_bytes(2, "big")
        + bytes([len(contents.client_hello1_hash)])
        + contents.client_hello1_hash
    )


def _mac(secret: bytes, client_address: bytes, fields: bytes) -> bytes:
    return hmac(SHA256, secret, bytes([len(client_address)]) + client_address + fields)


def make_cookie(secret: bytes, client_address: bytes, contents: CookieContents) -> bytes:
    """The cookie for a HelloRetryRequest: the contents, then their MAC (see the module essay)."""
    fields = _fields(contents)
    return fields + _mac(secret, client_address, fields)


def open_cookie(secret: bytes, client_address: bytes, cookie: bytes) -> CookieContents | None:
    """The contents of a cookie this server made for this address, or None (forged, altered, other address)."""
    if len(cookie) < 5 + MAC_LENGTH:
        return None
    fields, mac = cookie[:-MAC_LENGTH], cookie[-MAC_LENGTH:]
    if not constant_time_equal(mac, _mac(secret, client_address, fields)):
        return None
    hash_length = fields[4]
    if len(fields) != 5 + hash_length:
        return None
    return CookieContents(
        cipher_suite=int.from_bytes(fields[0:2], "big"),
        selected_group=int.from_bytes(fields[2:4], "big"),
        client_hello1_hash=fields[5:],
    )


def hello_retry_request(contents: CookieContents, cookie: bytes) -> ServerHello:
    """The HelloRetryRequest that carries `cookie`, in the TLS form the handshake code uses.

    Rebuilt from the cookie alone, it has the same bytes every time: that is
    what lets a server that kept nothing put it into the transcript."""
    extensions: list[Extension] = []
    if contents.selected_group:
        extensions.append(make_extension(ExtensionType.key_share, KeyShareHelloRetryRequest(contents.selected_group)))
    extensions.append(make_extension(ExtensionType.cookie, Cookie(cookie)))
    extensions.append(
        make_extension(ExtensionType.supported_versions, SupportedVersionsServerHello(ProtocolVersion.TLS1_3))
    )
    return ServerHello(
        random=HELLO_RETRY_REQUEST_RANDOM,
        legacy_session_id_echo=b"",  # RFC 9147 §5: "DTLS servers MUST NOT echo the legacy_session_id"
        cipher_suite=contents.cipher_suite,
        extensions=tuple(extensions),
    )


def message_hash(client_hello1_hash: bytes) -> bytes:
    """The synthetic message_hash handshake message that stands for ClientHello1 (RFC 8446 §4.4.1)."""
    return bytes([HandshakeType.message_hash]) + len(client_hello1_hash).to_bytes(3, "big") + client_hello1_hash


# --- looking at a first datagram without a connection ----------------------------------------


def peek_client_hello(datagram: bytes) -> tuple[DTLSClientHello, int] | None:
    """The whole ClientHello in a datagram's first epoch-0 handshake record, with its message_seq; else None.

    A UDP server uses it to decide, before it creates anything, which DTLS
    version a new client speaks and whether it returns a cookie."""
    for dtls_record in record13.split_datagram(datagram).records:
        if dtls_record.content_type != ContentType.handshake or dtls_record.epoch != 0:
            continue
        try:
            fragments = framing.parse_fragments(dtls_record.fragment)
        except DecodeError:
            return None
        for fragment in fragments:
            if fragment.msg_type != HandshakeType.client_hello or not fragment.is_whole_message:
                continue
            try:
                hello, _ = parse_struct(fragment.body, DTLSClientHello, record=False)
            except DecodeError:
                return None
            return hello, fragment.message_seq
    return None


def offers_dtls13(hello: DTLSClientHello) -> bool:
    """Does this ClientHello list DTLS 1.3 (0xFEFC) in supported_versions (RFC 9147 §5.3)?"""
    versions = find_extension(hello.extensions, ExtensionType.supported_versions)
    return isinstance(versions, SupportedVersionsClientHello) and DTLS1_3 in versions.versions


def returned_cookie(hello: DTLSClientHello) -> bytes | None:
    """The cookie extension's contents in a ClientHello, if it has one."""
    cookie = find_extension(hello.extensions, ExtensionType.cookie)
    return cookie.cookie if isinstance(cookie, Cookie) else None
