"""The stateless cookie exchange: HelloVerifyRequest as a denial-of-service defence (RFC 6347 §4.2.1).

UDP has no handshake of its own, so anyone can send a datagram with a
forged source address. Two attacks follow (RFC 6347 §4.2.1):

1. "An attacker can consume excessive resources on the server by
   transmitting a series of handshake initiation requests, causing the
   server to allocate state and potentially to perform expensive
   cryptographic operations."
2. "An attacker can use the server as an amplifier by sending connection
   initiation messages with a forged source of the victim. The server then
   sends its next message (in DTLS, a Certificate message, which can be
   quite large) to the victim machine, thus flooding it."

The defence: before it spends anything, the server answers a ClientHello
with a small HelloVerifyRequest holding a *cookie*, and keeps no state at
all. Only a client that really receives datagrams at its source address can
send the cookie back in a second ClientHello:

    ClientHello           ------>
                          <----- HelloVerifyRequest (contains cookie)
    ClientHello           ------>
    (with cookie)
    [Rest of handshake]

The cookie must be checkable without memory, so it is a MAC over what the
client will send again -- "Cookie = HMAC(Secret, Client-IP,
Client-Parameters)" -- keyed with a secret only the server knows. "When
responding to a HelloVerifyRequest, the client MUST use the same parameter
values (version, random, session_id, cipher_suites, compression_method) as
it did in the original ClientHello." Those are the parameters covered here.
The client's port is included with its IP address: it is part of the
address the reply goes to.

What the cookie does not do: "This mechanism does not provide any defense
against DoS attacks mounted from valid IP addresses." A cookie replayed
from another address fails (the address is MACed); rotating the secret
limits how long a collected cookie stays good.

`check_datagram` is the check a UDP server runs *before* it creates a
connection (as OpenSSL's DTLSv1_listen does): a datagram either carries a
ClientHello with a valid cookie (make a connection and hand it the
datagram), or gets the HelloVerifyRequest datagram to send back, or is
ignored. `teachtls.dtls.dtls12.DTLSServerConnection` runs the same check
itself, so an in-memory server does the exchange too.
"""

from __future__ import annotations

from typing import Literal

import attrs

from teachtls.crypto.hashes import SHA256, constant_time_equal, hmac
from teachtls.dtls import framing, record
from teachtls.dtls.messages import DTLS1_0, DTLSClientHello, HelloVerifyRequest
from teachtls.wire.codec import DecodeError, build_struct, parse_struct
from teachtls.wire.enums import ContentType, HandshakeType

COOKIE_LENGTH = 32  # HMAC-SHA256; at most 255 bytes are allowed (RFC 6347 §4.2.1)


def client_parameters(hello: DTLSClientHello) -> bytes:
    """The fields a client must repeat in its second ClientHello (RFC 6347 §4.2.1)."""
    return (
        int(hello.legacy_version).to_bytes(2, "big")
        + hello.random
        + bytes([len(hello.legacy_session_id)])
        + hello.legacy_session_id
        + b"".join(int(suite).to_bytes(2, "big") for suite in hello.cipher_suites)
        + hello.legacy_compression_methods
    )


def make_cookie(secret: bytes, client_address: bytes, hello: DTLSClientHello) -> bytes:
    """Cookie = HMAC(Secret, Client-IP, Client-Parameters), with HMAC-SHA256."""
    address = len(client_address).to_bytes(1, "big") + client_address
    return hmac(SHA256, secret, address + client_parameters(hello))


def cookie_is_valid(secret: bytes, client_address: bytes, hello: DTLSClientHello) -> bool:
    """Does the ClientHello carry the cookie this server would give this address?"""
    expected = make_cookie(secret, client_address, hello)
    return len(hello.cookie) == len(expected) and constant_time_equal(hello.cookie, expected)


def hello_verify_request(cookie: bytes, message_seq: int) -> bytes:
    """The whole HelloVerifyRequest message, DTLS header included.

    Its message_seq is that of the ClientHello it answers (RFC 6347 §4.2.2's
    example: "ClientHello (seq=0) ... HelloVerifyRequest (seq=0)"); the
    server version is DTLS 1.0, as RFC 6347 §4.2.1 recommends."""
    body = build_struct(HelloVerifyRequest(server_version=DTLS1_0, cookie=cookie))
    return framing.build_fragment(HandshakeType.hello_verify_request_RESERVED, len(body), message_seq, 0, body)


@attrs.frozen
class StatelessAnswer:
    """What a server should do with a datagram from an address it has no connection for."""

    action: Literal["accept", "verify", "ignore"]
    reply: bytes = b""  # "verify": the HelloVerifyRequest datagram to send back
    reason: str = ""
    hello: DTLSClientHello | None = None  # the ClientHello found, if any


def check_datagram(datagram: bytes, client_address: bytes, secret: bytes) -> StatelessAnswer:
    """The stateless check of a first datagram, before any connection exists.

    * "accept": an unfragmented ClientHello in epoch 0 with a valid cookie;
    * "verify": a ClientHello without a valid cookie; `reply` is the
      HelloVerifyRequest datagram, whose record sequence number is the
      ClientHello's ("the server MUST use the record sequence number in the
      ClientHello as the record sequence number in the HelloVerifyRequest");
    * "ignore": anything else -- not DTLS, not a ClientHello, a fragmented
      ClientHello (which a server without state cannot reassemble).
    """
    split = record.split_datagram(datagram)
    for dtls_record in split.records:
        if dtls_record.content_type != ContentType.handshake or dtls_record.epoch != 0:
            continue
        try:
            fragments = framing.parse_fragments(dtls_record.fragment)
        except DecodeError as error:
            return StatelessAnswer("ignore", reason=f"malformed handshake record: {error}")
        for fragment in fragments:
            if fragment.msg_type != HandshakeType.client_hello:
                continue
            if not fragment.is_whole_message:
                return StatelessAnswer("ignore", reason="a fragmented ClientHello cannot be checked without state")
            try:
                hello, _ = parse_struct(fragment.body, DTLSClientHello, record=False)
            except DecodeError as error:
                return StatelessAnswer("ignore", reason=f"malformed ClientHello: {error}")
            if cookie_is_valid(secret, client_address, hello):
                return StatelessAnswer("accept", reason="the ClientHello returns a valid cookie", hello=hello)
            message = hello_verify_request(make_cookie(secret, client_address, hello), fragment.message_seq)
            reply = record.build_record(ContentType.handshake, DTLS1_0, 0, dtls_record.sequence_number, message)
            reason = "the ClientHello has no cookie" if not hello.cookie else "the ClientHello's cookie is not valid"
            return StatelessAnswer("verify", reply=reply, reason=reason, hello=hello)
    return StatelessAnswer("ignore", reason="no ClientHello in epoch 0")
