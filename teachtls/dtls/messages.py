"""The two handshake messages DTLS changes: ClientHello and HelloVerifyRequest (RFC 6347 §4.2.1).

Every other DTLS 1.2 handshake message has exactly its TLS 1.2 body
(teachtls.wire.messages, teachtls.wire.messages12); only the header around
it grows (teachtls.dtls.framing). Two things differ:

* The **ClientHello** carries a `cookie` after the session ID, empty in the
  first ClientHello and echoing the server's cookie in the second. DTLS 1.3
  keeps the field, renamed `legacy_cookie` and always empty (RFC 9147 §5.3).
* The **HelloVerifyRequest** (msg_type 3) is the server's stateless answer
  to a ClientHello without a valid cookie: "prove that you can receive at
  the address you claim, by sending this cookie back".

Versions. On the wire DTLS speaks its own version numbers -- 0xFEFD for
DTLS 1.2, 0xFEFF for DTLS 1.0 -- in the record header and in the hellos.
DTLS is defined as "a series of deltas from TLS" (RFC 6347 §4), DTLS 1.2
from TLS 1.2 and DTLS 1.0 from TLS 1.1, so teachtls runs the TLS 1.2
handshake code unchanged and translates the version at the wire:
`TLS_VERSION_OF` and `DTLS_VERSION_OF` are that translation, and
`to_tls_form` / `to_dtls_form` apply it to whole messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import attrs

from teachtls.wire.codec import U16, Fixed, Opaque, VectorOf, wire
from teachtls.wire.enums import CipherSuite, HandshakeType, ProtocolVersion, name_of
from teachtls.wire.extensions import (
    CLIENT_HELLO,
    Extension,
    ExtensionList,
    SupportedVersionsClientHello,
    SupportedVersionsServerHello,
)
from teachtls.wire.messages import ClientHello, HandshakeMessage, ServerHello

DTLS1_0 = ProtocolVersion.DTLS1_0
DTLS1_2 = ProtocolVersion.DTLS1_2
DTLS1_3 = ProtocolVersion.DTLS1_3

# RFC 6347 §1 ("DTLS 1.2 ... corresponds to TLS 1.2"; DTLS 1.0 to TLS 1.1)
# and RFC 9147 §1 (DTLS 1.3 is based on TLS 1.3).
TLS_VERSION_OF: dict[int, ProtocolVersion] = {
    DTLS1_0: ProtocolVersion.TLS1_1,
    DTLS1_2: ProtocolVersion.TLS1_2,
    DTLS1_3: ProtocolVersion.TLS1_3,
}
DTLS_VERSION_OF: dict[int, ProtocolVersion] = {
    ProtocolVersion.TLS1_1: DTLS1_0,
    ProtocolVersion.TLS1_2: DTLS1_2,
    ProtocolVersion.TLS1_3: DTLS1_3,
}

# RFC 6347 §4.2.1: "This specification increases the cookie size limit to
# 255 bytes for greater future flexibility."
MAX_COOKIE_LENGTH = 255


def tls_version_of(version: int) -> int:
    """The TLS version a DTLS wire version stands for; unknown values stay as they are."""
    return TLS_VERSION_OF.get(version, version)


def dtls_version_of(version: int) -> int:
    """The DTLS wire version for a TLS version; unknown values stay as they are."""
    return DTLS_VERSION_OF.get(version, version)


@attrs.frozen(kw_only=True)
class DTLSClientHello(HandshakeMessage):
    """RFC 6347 §4.2.1 (and RFC 9147 §5.3, where `cookie` is `legacy_cookie`)

    struct {
      ProtocolVersion client_version;
      Random random;
      SessionID session_id;
      opaque cookie<0..2^8-1>;                             // New field
      CipherSuite cipher_suites<2..2^16-1>;
      CompressionMethod compression_methods<1..2^8-1>;
    } ClientHello;

    (plus the extensions of RFC 5246 §7.4.1.2, as every DTLS 1.2 client
    sends them). The field names are the TLS 1.3 ones teachtls uses for
    every ClientHello, so a reader can compare the two classes line by line.
    """

    wire_name: ClassVar[str] = "ClientHello"
    msg_type: ClassVar[HandshakeType] = HandshakeType.client_hello
    legacy_version: int = wire(U16(ProtocolVersion), default=DTLS1_2)
    random: bytes = wire(Fixed(32))
    legacy_session_id: bytes = wire(Opaque(1, ceiling=32), default=b"")
    cookie: bytes = wire(Opaque(1, ceiling=MAX_COOKIE_LENGTH), default=b"")
    cipher_suites: tuple[int, ...] = wire(VectorOf(2, U16(CipherSuite), floor=2, ceiling=2**16 - 2))
    legacy_compression_methods: bytes = wire(Opaque(1, floor=1), default=b"\x00")
    extensions: tuple[Extension, ...] = wire(ExtensionList(CLIENT_HELLO), default=())

    @classmethod
    def from_tls(cls, hello: ClientHello, cookie: bytes) -> DTLSClientHello:
        """The DTLS form of a ClientHello the TLS code built: DTLS version, with `cookie`.

        A DTLS 1.3 client lists DTLS versions in supported_versions too:
        "The value 0xfefc is used to indicate DTLS 1.3" (RFC 9147 §5.3)."""
        return cls(
            legacy_version=dtls_version_of(hello.legacy_version),
            random=hello.random,
            legacy_session_id=hello.legacy_session_id,
            cookie=cookie,
            cipher_suites=hello.cipher_suites,
            legacy_compression_methods=hello.legacy_compression_methods,
            extensions=translate_supported_versions(hello.extensions, dtls_version_of),
        )

    def to_tls(self) -> ClientHello:
        """The same ClientHello as the TLS handshake code reads it (cookie left out).

        Versions are translated in supported_versions too, where a DTLS 1.3
        client lists 0xFEFC and 0xFEFD (RFC 9147 §5.3)."""
        return ClientHello(
            legacy_version=tls_version_of(self.legacy_version),
            random=self.random,
            legacy_session_id=self.legacy_session_id,
            cipher_suites=self.cipher_suites,
            legacy_compression_methods=self.legacy_compression_methods,
            extensions=translate_supported_versions(self.extensions, tls_version_of),
        )


@attrs.frozen(kw_only=True)
class HelloVerifyRequest(HandshakeMessage):
    """RFC 6347 §4.2.1

    struct {
      ProtocolVersion server_version;
      opaque cookie<0..2^8-1>;
    } HelloVerifyRequest;

    "DTLS 1.2 server implementations SHOULD use DTLS version 1.0 regardless
    of the version of TLS that is expected to be negotiated", and clients
    "MUST use the version solely to indicate packet formatting".
    """

    wire_name: ClassVar[str] = "HelloVerifyRequest"
    msg_type: ClassVar[HandshakeType] = HandshakeType.hello_verify_request_RESERVED
    server_version: int = wire(U16(ProtocolVersion), default=DTLS1_0)
    cookie: bytes = wire(Opaque(1, ceiling=MAX_COOKIE_LENGTH))


def translate_supported_versions(
    extensions: tuple[Extension, ...], translate: Callable[[int], int]
) -> tuple[Extension, ...]:
    """`extensions` with the versions of supported_versions translated (TLS <-> DTLS).

    The ClientHello's list and the ServerHello's (or HelloRetryRequest's)
    selected_version alike: a DTLS 1.3 peer writes 0xFEFC where TLS 1.3's
    handshake code reads 0x0304 (RFC 9147 §5.3, §5.4)."""
    translated: list[Extension] = []
    for extension in extensions:
        data = extension.extension_data
        if isinstance(data, SupportedVersionsClientHello):
            extension = attrs.evolve(
                extension, extension_data=SupportedVersionsClientHello(tuple(translate(v) for v in data.versions))
            )
        elif isinstance(data, SupportedVersionsServerHello):
            extension = attrs.evolve(
                extension, extension_data=SupportedVersionsServerHello(translate(data.selected_version))
            )
        translated.append(extension)
    return tuple(translated)


def dtls_message_classes(classes: Mapping[int, type[HandshakeMessage]]) -> dict[int, type[HandshakeMessage]]:
    """A connection's message classes, with DTLS's ClientHello and HelloVerifyRequest."""
    result = dict(classes)
    result[HandshakeType.client_hello] = DTLSClientHello
    result[HandshakeType.hello_verify_request_RESERVED] = HelloVerifyRequest
    return result


def to_dtls_form(message: HandshakeMessage, cookie: bytes = b"") -> HandshakeMessage:
    """A message built by the TLS handshake code, as DTLS sends it."""
    if isinstance(message, ClientHello):
        return DTLSClientHello.from_tls(message, cookie)
    if isinstance(message, ServerHello):
        return attrs.evolve(
            message,
            legacy_version=dtls_version_of(message.legacy_version),
            extensions=translate_supported_versions(message.extensions, dtls_version_of),
        )
    return message


def to_tls_form(message: HandshakeMessage) -> HandshakeMessage:
    """A message received over DTLS, as the TLS handshake code reads it."""
    if isinstance(message, DTLSClientHello):
        return message.to_tls()
    if isinstance(message, ServerHello):
        return attrs.evolve(
            message,
            legacy_version=tls_version_of(message.legacy_version),
            extensions=translate_supported_versions(message.extensions, tls_version_of),
        )
    return message


def summarize_dtls(message: HandshakeMessage) -> str:
    """One line of the fields a reader looks at first (DTLS messages only; else "")."""
    if isinstance(message, HelloVerifyRequest):
        return f"server_version={name_of(message.server_version)} cookie={message.cookie.hex() or '(empty)'}"
    if isinstance(message, DTLSClientHello):
        from teachtls.connection import summarize

        cookie = message.cookie.hex() if message.cookie else "(empty)"
        return f"cookie={cookie} {summarize(message.to_tls())}"
    return ""
