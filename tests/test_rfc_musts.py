"""Every MUST about a received message, as a test: the alert the RFC names.

`docs/rfc-audit.md` lists each MUST / MUST NOT of RFC 8446 (and of RFC 5246,
7627, 5746, 7301 and 8449 where teachtls implements them) that concerns a
message the peer sent, the alert it calls for, and the test that checks it.
Many of those tests already lived in tests/test_bad_input.py (record
limits, the ClientHello and ServerHello checks, HelloRetryRequest, Finished,
fragmentation); tests/test_tls12.py, test_resumption.py and
test_lifecycle.py hold a few more; tests/test_state_machines.py checks
every out-of-order message. This module holds the rest -- one corruption,
one alert, in the STYLE.md §6 sense.

Each test asserts three things (`expect`):

1. the exception is exactly the `LocalAlert` subclass of the alert the RFC
   names (`decode_error` is not `illegal_parameter`; RFC 8446 §6.2 says
   "terminate the connection with an X alert" means "MUST send alert X");
2. the connection is closed, nothing more can be received, and the trace
   shows one fatal AlertSent (RFC 8446 §6.2: "MUST close the connection");
3. the last record `data_to_send()` produces carries that very alert --
   in plaintext before keys, encrypted after (RFC 8446 §5.2, RFC 5246
   §6.2.3) -- and, where the peer is at hand, that the peer decrypts it and
   raises the same description as a `RemoteAlert`.

Where a test found a bug in the core, its docstring says so; the fix is the
smallest edit that makes the RFC's answer come out.

How records are made: before keys they are built with the codec
(`build_handshake`, `build_header`). After keys, `sealed_for(receiver, ...)`
protects a TLSInnerPlaintext with the receiver's *own* read keys -- which are
exactly the peer's write keys -- so a test can send any content type, any
padding and any length the peer's record layer would never produce.
"""

from __future__ import annotations

import functools
import importlib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding

from teachtls import (
    ApplicationData,
    ClientConnection,
    Config,
    HandshakeCompleted,
    LocalAlert,
    RemoteAlert,
    ServerConnection,
)
from teachtls.connection import Connection
from teachtls.crypto.aead import per_record_nonce
from teachtls.crypto.record12 import additional_data
from teachtls.crypto.signature import sign
from teachtls.crypto.suites12 import CipherSuite12
from teachtls.handshake import alerts
from teachtls.handshake.states import State
from teachtls.pki.generate import IssuedCertificate, issue_leaf
from teachtls.sessions import SessionDatabase
from teachtls.trace.events import AlertSent, MessageSent, RecordSent
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import (
    AlertDescription,
    AlertLevel,
    CipherSuite,
    ContentType,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
)
from teachtls.wire.extensions import (
    CertificateAuthoritiesExtension,
    Empty,
    Extension,
    KeyShareClientHello,
    KeyShareEntry,
    KeyShareHelloRetryRequest,
    KeyShareServerHello,
    NamedGroupList,
    OfferedPsks,
    ProtocolNameList,
    PskKeyExchangeModes,
    RawBody,
    RenegotiationInfo,
    SelectedIdentity,
    SignatureSchemeList,
    SupportedVersionsClientHello,
    find_extension,
    make_extension,
)
from teachtls.wire.messages import (
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    Finished,
    HandshakeMessage,
    KeyUpdate,
    NewSessionTicket,
    ServerHello,
    build_handshake,
    parse_handshake,
)
from teachtls.wire.messages12 import Certificate12, ClientKeyExchangeECDHE, ClientKeyExchangeRSA, ServerKeyExchange
from teachtls.wire.record import HEADER_LENGTH, MAX_PLAINTEXT, build_header
from tests.handshake_pair import (
    HELLO_RETRY_CLIENT,
    HandshakePair,
    client_after_hello_retry_request,
    client_after_server_hello,
    client_config,
    client_waiting_for_server_hello,
    counter_random,
    fresh_server,
    pki,
    recorded,
    recorded_hello_retry,
    server_config,
    server_waiting_for_finished,
    split_records,
)
from tests.test_bad_input import (
    SELECT_TLS13,
    TamperingClient,
    TamperingServer,
    handshake_record,
    hello_retry_request,
    record,
    recorded_client_hello,
    recorded_server_hello,
    server_hello_of,
)

E = ExtensionType
TLS1_2, TLS1_3 = ProtocolVersion.TLS1_2, ProtocolVersion.TLS1_3


# --- what a failing connection must do -------------------------------------------------


class Failure(NamedTuple):
    alert: LocalAlert
    sent: bytes  # everything the connection had left to send, the alert record last


def assert_closed_with_alert(connection: Connection, recorder: Recorder, alert: LocalAlert) -> bytes:
    """The connection is closed and the last record it sends is `alert` (RFC 8446 §6.2)."""
    assert connection.closed and connection.state is State.CLOSED
    sent_alerts = [e for e in recorder.events if isinstance(e, AlertSent) and e.role == connection.role]
    assert (sent_alerts[-1].level, sent_alerts[-1].description) == ("fatal", alert.description.name)
    data = connection.data_to_send()
    records = split_records(data)
    assert records, "no alert record was queued"
    (written, *_) = [e for e in recorder.events if isinstance(e, RecordSent) and e.raw == records[-1]]
    inner_type = written.content_type if written.inner_content_type is None else written.inner_content_type
    assert inner_type == ContentType.alert
    assert written.plaintext == bytes([AlertLevel.fatal, alert.description])
    assert connection.data_to_send() == b""
    with pytest.raises(alerts.ConnectionClosed):
        connection.receive_data(b"")
    return data


def expect(
    connection: Connection,
    recorder: Recorder,
    data: bytes,
    alert_class: type[LocalAlert],
    match: str | None = None,
) -> Failure:
    """One corruption, one alert: exactly `alert_class`, then closed."""
    with pytest.raises(LocalAlert, match=match) as caught:
        connection.receive_data(data)
    assert type(caught.value) is alert_class, f"{type(caught.value).__name__}: {caught.value}"
    return Failure(caught.value, assert_closed_with_alert(connection, recorder, caught.value))


def peer_receives(failure: Failure, peer: Connection) -> None:
    """The alert record decrypts at the peer and names the same description."""
    with pytest.raises(RemoteAlert) as caught:
        peer.receive_data(failure.sent)
    assert caught.value.description == failure.alert.description
    assert peer.closed


def completed(events: list[Any]) -> bool:
    return any(isinstance(event, HandshakeCompleted) for event in events)


# --- records protected with the receiver's read keys ---------------------------------


def sealed_for(receiver: Connection, inner: bytes, *, offset: int = 0) -> bytes:
    """A TLS 1.3 TLSCiphertext holding `inner` (content + type + padding), protected
    with the keys `receiver` reads with: the record its peer would have sent."""
    protection = receiver._read
    assert protection is not None
    header = build_header(ContentType.application_data, len(inner) + protection.params.tag_length)
    nonce = per_record_nonce(protection.iv, protection.sequence_number + offset)
    return header + protection.aead.seal(nonce, inner, header)


def inner_plaintext(content: bytes, content_type: int, padding: int = 0) -> bytes:
    """TLSInnerPlaintext, RFC 8446 §5.2: content, the real type, zeros."""
    return content + bytes([content_type]) + bytes(padding)


def sealed_handshake(receiver: Connection, *messages: HandshakeMessage | bytes) -> bytes:
    raw = b"".join(m if isinstance(m, bytes) else build_handshake(m) for m in messages)
    return sealed_for(receiver, inner_plaintext(raw, ContentType.handshake))


def sealed_for_12(receiver: Connection, content_type: int, plaintext: bytes) -> bytes:
    """A TLS 1.2 record protected with the keys `receiver` reads with (RFC 5246 §6.2.3)."""
    protection = receiver._read
    assert protection is not None
    fragment: bytes = protection.protector.seal(protection.sequence_number, content_type, TLS1_2, plaintext)  # type: ignore[attr-defined]
    return build_header(content_type, len(fragment)) + fragment


# --- connections -------------------------------------------------------------------


def connected(
    client: dict[str, Any] | None = None, server: dict[str, Any] | None = None
) -> tuple[HandshakePair, Recorder]:
    """A client and server that completed a handshake, one recorder watching both."""
    recorder = Recorder()
    pair = HandshakePair(
        ClientConnection(client_config(observer=recorder, **(client or {}))),
        ServerConnection(server_config(observer=recorder, **(server or {}))),
    )
    client_events, server_events = pair.handshake()
    assert completed(client_events) and completed(server_events)
    return pair, recorder


def tampering_pair(
    edit: Callable[[HandshakeMessage], HandshakeMessage],
    *,
    tamper: str = "server",
    client: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
) -> tuple[HandshakePair, Recorder]:
    """A pair whose `tamper` side edits its own messages before protecting them."""
    recorder = Recorder()
    client_settings = {"observer": recorder, **(client or {})}
    server_settings = {"observer": recorder, **(server or {})}
    if tamper == "server":
        pair = HandshakePair(
            ClientConnection(client_config(**client_settings)),
            TamperingServer(server_config(**server_settings), edit),
        )
    else:
        pair = HandshakePair(
            TamperingClient(client_config(**client_settings), edit),
            ServerConnection(server_config(**server_settings)),
        )
    return pair, recorder


def server_flight_to_client(
    edit: Callable[[HandshakeMessage], HandshakeMessage],
    alert_class: type[LocalAlert],
    match: str | None = None,
    **settings: Any,
) -> Failure:
    """The server edits one of its first-flight messages; the client must answer `alert_class`."""
    pair, recorder = tampering_pair(edit, **settings)
    pair.client.start_handshake()
    pair.client_to_server()
    failure = expect(pair.client, recorder, pair.server.data_to_send(), alert_class, match)
    peer_receives(failure, pair.server)
    return failure


Hello = TypeVar("Hello", ClientHello, ServerHello)


def without_extension(hello: Hello, extension_type: int) -> Hello:
    """`hello` without its extension of `extension_type`."""
    return attrs.evolve(hello, extensions=tuple(e for e in hello.extensions if e.extension_type != extension_type))


def replace_extension(extensions: tuple[Extension, ...], new: Extension) -> tuple[Extension, ...]:
    return tuple(new if e.extension_type == new.extension_type else e for e in extensions)


def editing(message_type: type[HandshakeMessage], change: Callable[[Any], HandshakeMessage]) -> Callable[..., Any]:
    """An edit that changes every message of `message_type` and leaves the others."""

    def edit(message: HandshakeMessage) -> HandshakeMessage:
        return change(message) if type(message) is message_type else message

    return edit


@functools.cache
def client_leaf() -> IssuedCertificate:
    ca, _ = pki()
    return issue_leaf(ca, "client", key_type="ed25519", server=False)


def client_auth_settings() -> tuple[dict[str, Any], dict[str, Any]]:
    ca, _ = pki()
    leaf = client_leaf()
    return (
        {"certificate_chain": (leaf.certificate,), "private_key": leaf.private_key},
        {"client_auth": "require", "trusted_certificates": (ca.certificate,)},
    )


# ======================================================================================
# The record layer (RFC 8446 §5)
# ======================================================================================


@pytest.mark.parametrize(
    ("content_length", "padding"),
    [(2**14, 0), (0, 2**14), (1000, 2**14 - 1000)],
    ids=["content-only", "padding-only", "content-and-padding"],
)
def test_inner_plaintext_of_exactly_2_14_plus_1_is_accepted(content_length: int, padding: int) -> None:
    """RFC 8446 §5.2: TLSInnerPlaintext may be 2^14 + 1 bytes -- content + type + padding."""
    pair, _ = connected()
    content = b"x" * content_length
    events = pair.server.receive_data(sealed_for(pair.server, inner_plaintext(content, 23, padding)))
    assert events == [ApplicationData(content)]


@pytest.mark.parametrize(
    ("content_length", "padding"),
    [(2**14 + 1, 0), (2**14, 1), (0, 2**14 + 1), (64, 2**14)],
    ids=["content", "content-plus-padding", "padding-only", "mostly-padding"],
)
def test_inner_plaintext_over_2_14_plus_1_is_record_overflow(content_length: int, padding: int) -> None:
    """RFC 8446 §5.2: "The length MUST NOT exceed 2^14 + 256 bytes" (the ciphertext,
    which here stays below it) -- and the TLSInnerPlaintext inside is limited to
    2^14 + 1 octets; padding counts (§5.4). record_overflow, not bad_record_mac:
    the record authenticated."""
    pair, recorder = connected()
    inner = inner_plaintext(b"x" * content_length, ContentType.application_data, padding)
    failure = expect(pair.server, recorder, sealed_for(pair.server, inner), alerts.RecordOverflow, "2\\^14 \\+ 1")
    peer_receives(failure, pair.client)


@pytest.mark.parametrize("length", [0, 1, 300])
def test_all_zero_inner_plaintext_is_unexpected_message(length: int) -> None:
    """RFC 8446 §5.4: "If a receiving implementation does not find a non-zero octet
    in the cleartext, it MUST terminate the connection with an 'unexpected_message' alert." """
    pair, recorder = connected()
    failure = expect(pair.client, recorder, sealed_for(pair.client, bytes(length)), alerts.UnexpectedMessage)
    peer_receives(failure, pair.server)


@pytest.mark.parametrize("content_type", [ContentType.handshake, ContentType.alert], ids=lambda t: t.name)
@pytest.mark.parametrize("padding", [0, 7])
def test_zero_length_encrypted_handshake_or_alert_is_unexpected_message(content_type: int, padding: int) -> None:
    """RFC 8446 §5.4: "Implementations MUST NOT send Handshake and Alert records that
    have a zero-length TLSInnerPlaintext.content; if such a message is received, the
    receiving implementation MUST terminate the connection with an 'unexpected_message'
    alert."

    Core bug found here: an encrypted empty alert gave decode_error (the length
    check of §6 ran first); it is now unexpected_message."""
    pair, recorder = connected()
    inner = inner_plaintext(b"", content_type, padding)
    expect(pair.server, recorder, sealed_for(pair.server, inner), alerts.UnexpectedMessage, "zero-length")


def test_zero_length_encrypted_application_data_is_allowed() -> None:
    """RFC 8446 §5.4: "Application Data records may contain a zero-length
    TLSInnerPlaintext.content if the sender desires" (cover traffic)."""
    pair, _ = connected()
    events = pair.server.receive_data(sealed_for(pair.server, inner_plaintext(b"", 23, padding=100)))
    assert events == [ApplicationData(b"")]
    assert not pair.server.closed


@pytest.mark.parametrize("payload", [b"", b"\x02"], ids=["empty", "one-byte"])
@pytest.mark.parametrize("make", [fresh_server, client_waiting_for_server_hello], ids=["server", "client"])
def test_plaintext_alert_shorter_than_two_bytes_is_decode_error(payload: bytes, make: Callable[..., Any]) -> None:
    """RFC 8446 §6: an Alert is `struct { AlertLevel level; AlertDescription
    description; }`; §6 (note): a message that "cannot be parsed according to the
    syntax" MUST be answered with decode_error."""
    recorder = Recorder()
    connection = make(observer=recorder)
    expect(connection, recorder, record(ContentType.alert, payload), alerts.DecodeError, f"{len(payload)} bytes")


def test_encrypted_alert_of_three_bytes_is_decode_error() -> None:
    pair, recorder = connected()
    inner = inner_plaintext(bytes([AlertLevel.fatal, AlertDescription.handshake_failure, 0]), ContentType.alert)
    expect(pair.client, recorder, sealed_for(pair.client, inner), alerts.DecodeError, "3 bytes")


@pytest.mark.parametrize("role", ["client", "server"])
def test_plaintext_alert_after_the_handshake_is_unexpected_message(role: str) -> None:
    """RFC 8446 §5: once keys are in use, every record but change_cipher_spec is a
    TLSCiphertext; an unprotected alert is an unexpected record."""
    pair, recorder = connected()
    connection = pair.client if role == "client" else pair.server
    plaintext_alert = record(ContentType.alert, bytes([AlertLevel.fatal, AlertDescription.handshake_failure]))
    failure = expect(connection, recorder, plaintext_alert, alerts.UnexpectedMessage, "unprotected")
    peer_receives(failure, pair.server if role == "client" else pair.client)


# --- change_cipher_spec (RFC 8446 §5, §D.4) ----------------------------------------------


CHANGE_CIPHER_SPEC = record(ContentType.change_cipher_spec, b"\x01")


@pytest.mark.parametrize("where", ["client-handshake-keys", "server-handshake-keys", "client-connected"])
def test_protected_change_cipher_spec_is_unexpected_message(where: str) -> None:
    """RFC 8446 §5: "An implementation which receives ... a protected
    change_cipher_spec record MUST abort the handshake with an 'unexpected_message' alert." """
    recorder = Recorder()
    connection: Connection
    if where == "client-handshake-keys":
        connection = client_after_server_hello(observer=recorder)
    elif where == "server-handshake-keys":
        connection = server_waiting_for_finished(observer=recorder)
    else:
        pair, recorder = connected()
        connection = pair.client
    inner = inner_plaintext(b"\x01", ContentType.change_cipher_spec)
    expect(connection, recorder, sealed_for(connection, inner), alerts.UnexpectedMessage, "inner content type 20")


@pytest.mark.parametrize("role", ["client", "server"])
def test_change_cipher_spec_after_the_peers_finished_is_unexpected_message(role: str) -> None:
    """RFC 8446 §5: "If an implementation detects a change_cipher_spec record received
    ... after the peer's Finished message, it MUST be treated as an unexpected record
    type" -- unexpected_message."""
    pair, recorder = connected()
    connection = pair.client if role == "client" else pair.server
    failure = expect(connection, recorder, CHANGE_CIPHER_SPEC, alerts.UnexpectedMessage, "outside the handshake")
    peer_receives(failure, pair.server if role == "client" else pair.client)


def test_change_cipher_spec_right_after_the_server_finished_in_the_same_flight() -> None:
    """The server's Finished, then a change_cipher_spec in the same flight: the
    Finished closes the window, so the record after it is unexpected."""
    recorder = Recorder()
    client = client_waiting_for_server_hello(observer=recorder)
    expect(client, recorder, recorded().server_flight + CHANGE_CIPHER_SPEC, alerts.UnexpectedMessage, "outside")


@pytest.mark.parametrize("contents", [b"", b"\x01\x01", b"\x00", b"\xff"], ids=["empty", "0101", "00", "ff"])
@pytest.mark.parametrize(
    "make",
    [client_waiting_for_server_hello, client_after_server_hello, server_waiting_for_finished],
    ids=["client-before-keys", "client-handshake-keys", "server-handshake-keys"],
)
def test_change_cipher_spec_with_other_contents_is_unexpected_message(
    contents: bytes, make: Callable[..., Any]
) -> None:
    """RFC 8446 §5: "An implementation which receives any other change_cipher_spec
    value [than 0x01] ... MUST abort the handshake with an 'unexpected_message' alert."
    (tests/test_bad_input.py checks 0x02 before keys.)"""
    recorder = Recorder()
    connection = make(observer=recorder)
    expect(connection, recorder, record(ContentType.change_cipher_spec, contents), alerts.UnexpectedMessage)


def test_repeated_change_cipher_spec_during_the_handshake_is_dropped() -> None:
    """RFC 8446 §5: a change_cipher_spec of 0x01 received "at any time after the
    first ClientHello message has been sent or received and before the peer's
    Finished message has been received ... MUST simply drop it without further
    processing" -- even where encrypted records are expected, and however many.
    (In TLS 1.2 a second ChangeCipherSpec is unexpected_message:
    test_tls12_repeated_change_cipher_spec_is_unexpected_message.)"""
    client = client_waiting_for_server_hello()
    records = split_records(recorded().server_flight)
    interleaved = b"".join(r + CHANGE_CIPHER_SPEC * 2 for r in records[:-1]) + records[-1]
    assert completed(client.receive_data(interleaved))
    server = server_waiting_for_finished()
    assert completed(server.receive_data(CHANGE_CIPHER_SPEC * 3 + recorded().client_flight))


@pytest.mark.parametrize("version", [0x0000, 0x0300, 0x0302, 0x0304, 0xFFFF], ids=hex)
def test_legacy_record_version_is_ignored(version: int) -> None:
    """RFC 8446 §5.1: legacy_record_version "MUST be ignored for all purposes"."""
    server = fresh_server()
    hello = recorded().client_hello
    server.receive_data(hello[:1] + version.to_bytes(2, "big") + hello[3:])
    assert server.state is State.WAIT_FINISHED
    assert server.data_to_send() == recorded().server_flight


# ======================================================================================
# Handshake framing: truncated, over-long, disagreeing lengths (RFC 8446 §4, §6)
# ======================================================================================


def client_hello_bytes() -> bytes:
    return build_handshake(recorded_client_hello())


def cipher_suites_offset() -> int:
    """Where ClientHello.cipher_suites' length field starts in the message."""
    return 4 + 2 + 32 + 1 + len(recorded_client_hello().legacy_session_id)


def with_message_length(raw: bytes) -> bytes:
    """Fix the handshake header's uint24 length to fit the body."""
    return raw[:1] + (len(raw) - 4).to_bytes(3, "big") + raw[4:]


def edit_u16(raw: bytes, offset: int, change: Callable[[int], int]) -> bytes:
    value = change(int.from_bytes(raw[offset : offset + 2], "big"))
    return raw[:offset] + value.to_bytes(2, "big") + raw[offset + 2 :]


def extensions_offset(raw: bytes) -> int:
    """Where the ClientHello's extensions length field starts."""
    offset = cipher_suites_offset()
    offset += 2 + int.from_bytes(raw[offset : offset + 2], "big")  # cipher_suites
    offset += 1 + raw[offset]  # legacy_compression_methods
    return offset


MALFORMED_CLIENT_HELLOS: dict[str, Callable[[bytes], bytes]] = {
    # A message longer than its content: one byte too many inside the length.
    "trailing-byte": lambda raw: with_message_length(raw + b"\x00"),
    # The body cut short, the header length made to agree.
    "truncated-by-1": lambda raw: with_message_length(raw[:-1]),
    "truncated-mid-random": lambda raw: with_message_length(raw[:20]),
    "header-only": lambda raw: raw[:1] + b"\x00\x00\x00",
    # cipher_suites: a length running past the message, an odd length for uint16 items.
    "cipher-suites-overrun": lambda raw: edit_u16(raw, cipher_suites_offset(), lambda _: 0xFFFE),
    "cipher-suites-odd-length": lambda raw: edit_u16(raw, cipher_suites_offset(), lambda n: n - 1),
    # The extensions block: one byte more or less than is there.
    "extensions-length-plus-1": lambda raw: edit_u16(raw, extensions_offset(raw), lambda n: n + 1),
    "extensions-length-minus-1": lambda raw: edit_u16(raw, extensions_offset(raw), lambda n: n - 1),
    # The first extension's extension_data length running into the next extension.
    "extension-data-overrun": lambda raw: edit_u16(raw, extensions_offset(raw) + 4, lambda n: n + 3),
}


@pytest.mark.parametrize("corruption", list(MALFORMED_CLIENT_HELLOS))
def test_malformed_client_hello_is_decode_error(corruption: str) -> None:
    """RFC 8446 §6 (note on decode_error): "Peers which receive a message which cannot
    be parsed according to the syntax (e.g., have a length extending beyond the message
    boundary or contain an out-of-range length) MUST terminate the connection with a
    'decode_error' alert." RFC 5246 §7.4.1.2: the server "MUST check that the amount of
    data in the message precisely matches one of these formats"."""
    recorder = Recorder()
    server = fresh_server(observer=recorder)
    corrupted = MALFORMED_CLIENT_HELLOS[corruption](client_hello_bytes())
    expect(server, recorder, record(ContentType.handshake, corrupted), alerts.DecodeError)


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: with_message_length(raw + b"\x00"),
        lambda raw: with_message_length(raw[:-1]),
        lambda raw: raw[:1] + b"\x00\x00\x00",
    ],
    ids=["trailing-byte", "truncated-by-1", "header-only"],
)
def test_malformed_server_hello_is_decode_error(change: Callable[[bytes], bytes]) -> None:
    recorder = Recorder()
    client = client_waiting_for_server_hello(observer=recorder)
    raw = change(build_handshake(recorded_server_hello()))
    expect(client, recorder, record(ContentType.handshake, raw), alerts.DecodeError)


@pytest.mark.parametrize(
    "raw",
    [bytes([8, 0, 0, 3, 0, 0, 0]), bytes([8, 0, 0, 1, 0]), bytes([8, 0, 0, 2, 0, 4])],
    ids=["trailing-byte", "truncated-length", "length-overrun"],
)
def test_malformed_encrypted_extensions_is_decode_error(raw: bytes) -> None:
    """The same rule under encryption: the record authenticates, the message inside does not parse."""
    recorder = Recorder()
    client = client_after_server_hello(observer=recorder)
    failure = expect(client, recorder, sealed_handshake(client, raw), alerts.DecodeError)
    assert failure.sent[0] == ContentType.application_data  # the alert is encrypted


def test_empty_key_exchange_is_decode_error() -> None:
    """RFC 8446 §4.2.8: `opaque key_exchange<1..2^16-1>` -- zero bytes is below the floor."""
    hello = recorded_client_hello()
    empty = make_extension(
        E.key_share, KeyShareClientHello((KeyShareEntry(group=NamedGroup.x25519, key_exchange=b""),))
    )
    recorder = Recorder()
    server = fresh_server(observer=recorder)
    bad = attrs.evolve(hello, extensions=replace_extension(hello.extensions, empty))
    expect(server, recorder, handshake_record(bad), alerts.DecodeError, "key_exchange")


def test_empty_alpn_protocol_name_is_decode_error() -> None:
    """RFC 7301 §3.1: "Empty strings MUST NOT be included" (`opaque ProtocolName<1..2^8-1>`)."""
    hello = recorded_client_hello()
    alpn = make_extension(E.application_layer_protocol_negotiation, ProtocolNameList((b"",)))
    recorder = Recorder()
    server = fresh_server(observer=recorder, alpn_protocols=(b"h2",))
    expect(
        server,
        recorder,
        handshake_record(attrs.evolve(hello, extensions=(alpn, *hello.extensions))),
        alerts.DecodeError,
    )


@pytest.mark.xfail(strict=True, reason="codec models the TLS 1.3 struct: extensions<8..2^16-1> is required")
def test_tls12_client_hello_without_extensions_is_accepted() -> None:
    """RFC 5246 §7.4.1.2: "A server MUST accept ClientHello messages both with and
    without the extensions field"; RFC 8446 §4.1.2 repeats it for servers that
    negotiate TLS 1.2. Known deviation (docs/rfc-audit.md): teachtls answers
    decode_error; such a client could not negotiate anything teachtls offers anyway
    (no signature_algorithms: teachtls refuses the SHA-1 default)."""
    hello = attrs.evolve(recorded_client_hello(), extensions=())
    raw = build_handshake(hello)[:-2]  # no extensions block at all
    server = fresh_server(versions=(TLS1_2,), legacy_suites_for_teaching=True)
    server.receive_data(record(ContentType.handshake, with_message_length(raw)))


@pytest.mark.xfail(strict=True, reason="codec models the TLS 1.3 struct: extensions<6..2^16-1>")
def test_tls12_server_hello_with_a_short_extension_block_is_accepted() -> None:
    """RFC 5246 §7.4.1.3: a TLS 1.2 ServerHello's extensions are `<0..2^16-1>`; one
    that answers only renegotiation_info (5 bytes) is legal. Known deviation."""
    client = client_waiting_for_server_hello()
    hello = attrs.evolve(
        recorded_server_hello(),
        cipher_suite=CipherSuite12.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        extensions=(make_extension(E.renegotiation_info, RenegotiationInfo(b"")),),
    )
    client.receive_data(handshake_record(hello))
    assert client.state is State.WAIT_CERT


# ======================================================================================
# Versions (RFC 8446 §4.1.3, §4.1.4, §4.2.1, Appendix D)
# ======================================================================================


@pytest.mark.parametrize("legacy_version", [0x0300, 0x0200, 0x0000], ids=hex)
def test_client_hello_legacy_version_ssl3_or_below_is_protocol_version(legacy_version: int) -> None:
    """RFC 8446 §D.5: "Any endpoint receiving a Hello message with
    ClientHello.legacy_version or ServerHello.legacy_version set to 0x0300 MUST abort
    the handshake with a 'protocol_version' alert."

    Core bug found here: a ClientHello whose supported_versions offered TLS 1.3
    was accepted whatever its legacy_version."""
    recorder = Recorder()
    server = fresh_server(observer=recorder)
    hello = attrs.evolve(recorded_client_hello(), legacy_version=legacy_version)
    expect(server, recorder, handshake_record(hello), alerts.ProtocolVersionAlert, "legacy_version")


@pytest.mark.parametrize("retry", [False, True], ids=["server-hello", "hello-retry-request"])
def test_server_hello_legacy_version_ssl3_is_protocol_version(retry: bool) -> None:
    """RFC 8446 §D.5, the ServerHello half (and a HelloRetryRequest is a ServerHello).

    Core bug found here: the client ignored legacy_version entirely."""
    recorder = Recorder()
    client = client_waiting_for_server_hello(observer=recorder)
    hello = recorded_server_hello()
    if retry:
        hello = hello_retry_request(
            make_extension(E.key_share, KeyShareHelloRetryRequest(NamedGroup.secp256r1)), SELECT_TLS13
        )
    hello = attrs.evolve(hello, legacy_version=0x0300)
    failure = expect(client, recorder, handshake_record(hello), alerts.ProtocolVersionAlert, "legacy_version")
    assert failure.sent == record(ContentType.alert, bytes([AlertLevel.fatal, AlertDescription.protocol_version]))


@pytest.mark.parametrize("legacy_version", [0x0301, 0x0302, 0x0304], ids=hex)
def test_server_hello_legacy_version_is_otherwise_ignored(legacy_version: int) -> None:
    """RFC 8446 §4.2.1: with supported_versions present, "clients MUST ignore the
    ServerHello.legacy_version value"."""
    client = client_waiting_for_server_hello()
    client.receive_data(handshake_record(attrs.evolve(recorded_server_hello(), legacy_version=legacy_version)))
    assert client.state is State.WAIT_EE


def test_client_hello_legacy_version_0304_without_supported_versions_negotiates_tls12() -> None:
    """RFC 8446 §4.2.1: without supported_versions, a server that supports TLS 1.2
    "MUST negotiate TLS 1.2 or prior ..., even if ClientHello.legacy_version is
    0x0304 or later"."""
    hello = recorded_client_hello()
    hello = attrs.evolve(
        hello, legacy_version=0x0304, extensions=without_extension(hello, E.supported_versions).extensions
    )
    server = fresh_server()
    server.receive_data(handshake_record(hello))
    assert (server.machine, server.state) == ("server12", State.WAIT_CKE)


def test_client_hello_legacy_version_tls10_without_supported_versions_is_protocol_version() -> None:
    """RFC 8446 §D (and RFC 5246 §E.1): without supported_versions the server
    negotiates min(legacy_version, TLS 1.2); "If the 'supported_versions' extension is
    absent and the server only supports versions greater than
    ClientHello.legacy_version, the server MUST abort the handshake with a
    'protocol_version' alert"."""
    hello = recorded_client_hello()
    hello = attrs.evolve(
        hello, legacy_version=0x0301, extensions=without_extension(hello, E.supported_versions).extensions
    )
    recorder = Recorder()
    expect(fresh_server(observer=recorder), recorder, handshake_record(hello), alerts.ProtocolVersionAlert)


def test_tls12_server_hello_after_a_hello_retry_request_is_illegal_parameter() -> None:
    """RFC 8446 §4.1.4: "The value of selected_version in the HelloRetryRequest
    'supported_versions' extension MUST be retained in the ServerHello, and a client
    MUST abort the handshake with an 'illegal_parameter' alert if the value changes."

    Core bug found here: a TLS 1.2 ServerHello (no supported_versions) after a
    HelloRetryRequest moved the client into TLS 1.2."""
    recorder = Recorder()
    client = client_after_hello_retry_request(observer=recorder)
    hello = attrs.evolve(
        server_hello_of(recorded_hello_retry()),
        cipher_suite=CipherSuite12.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        extensions=(
            make_extension(E.renegotiation_info, RenegotiationInfo(b"")),
            make_extension(E.extended_master_secret, Empty()),
        ),
    )
    expect(client, recorder, handshake_record(hello), alerts.IllegalParameter, "HelloRetryRequest")


def test_server_hello_after_hello_retry_request_with_another_group_is_illegal_parameter() -> None:
    """RFC 8446 §4.2.8: "the client MUST verify that the selected NamedGroup in the
    ServerHello is the same as that in the HelloRetryRequest. If this check fails,
    the client MUST abort the handshake with an 'illegal_parameter' alert."
    (The HelloRetryRequest asked for x25519; this ServerHello answers secp256r1.)"""
    recorder = Recorder()
    client = client_after_hello_retry_request(observer=recorder)
    hello = server_hello_of(recorded_hello_retry())
    share = KeyShareServerHello(KeyShareEntry(group=NamedGroup.secp256r1, key_exchange=P256_GENERATOR))
    hello = attrs.evolve(hello, extensions=replace_extension(hello.extensions, make_extension(E.key_share, share)))
    expect(client, recorder, handshake_record(hello), alerts.IllegalParameter, "no share was offered")


# ======================================================================================
# Key shares (RFC 8446 §4.2.8, §4.2.8.2, §7.4.2)
# ======================================================================================

# The uncompressed secp256r1 base point, a valid public key.
P256_GENERATOR = bytes.fromhex(
    "04"
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
)

BAD_SHARES: dict[str, tuple[int, bytes]] = {
    "x25519-31-bytes": (NamedGroup.x25519, bytes(range(1, 32))),
    "x25519-33-bytes": (NamedGroup.x25519, bytes(range(1, 34))),
    "x25519-all-zero-result": (NamedGroup.x25519, bytes(32)),  # RFC 7748 §6: low order
    "x25519-order-1-point": (NamedGroup.x25519, b"\x01" + bytes(31)),
    "p256-off-curve": (NamedGroup.secp256r1, b"\x04" + (1).to_bytes(32, "big") + (1).to_bytes(32, "big")),
    "p256-point-at-infinity": (NamedGroup.secp256r1, b"\x00"),
    "p256-compressed": (NamedGroup.secp256r1, b"\x02" + P256_GENERATOR[1:33]),
    "p256-legacy-form-5": (NamedGroup.secp256r1, b"\x05" + P256_GENERATOR[1:]),
}


@pytest.mark.parametrize("bad", list(BAD_SHARES))
def test_malformed_client_key_share_is_illegal_parameter(bad: str) -> None:
    """RFC 8446 §4.2.8.2: X25519 shares are exactly 32 bytes, NIST curve shares the
    uncompressed form; §4.2.8.2 / §7.4.2: peers "MUST validate each other's public
    key" and "MUST check whether the computed Diffie-Hellman shared secret is the
    all-zero value and abort if so". §6: "syntactically correct but semantically
    invalid (e.g., a DHE share of p - 1 ...) MUST terminate the connection with an
    'illegal_parameter' alert"."""
    group, key_exchange = BAD_SHARES[bad]
    hello = recorded_client_hello()
    share = make_extension(E.key_share, KeyShareClientHello((KeyShareEntry(group=group, key_exchange=key_exchange),)))
    recorder = Recorder()
    server = fresh_server(observer=recorder, supported_groups=(group,))
    bad_hello = attrs.evolve(hello, extensions=replace_extension(hello.extensions, share))
    expect(server, recorder, handshake_record(bad_hello), alerts.IllegalParameter, "key share is invalid")


@pytest.mark.parametrize("bad", list(BAD_SHARES))
def test_malformed_server_key_share_is_illegal_parameter(bad: str) -> None:
    group, key_exchange = BAD_SHARES[bad]
    recorder = Recorder()
    # The HelloRetryRequest client offers a secp256r1 share; the default client an x25519 one.
    settings = HELLO_RETRY_CLIENT if group == NamedGroup.secp256r1 else {}
    client = client_waiting_for_server_hello(observer=recorder, **settings)
    hello = recorded_server_hello()
    share = KeyShareServerHello(KeyShareEntry(group=group, key_exchange=key_exchange))
    hello = attrs.evolve(hello, extensions=replace_extension(hello.extensions, make_extension(E.key_share, share)))
    expect(client, recorder, handshake_record(hello), alerts.IllegalParameter, "key share is invalid")


def key_shares_of(hello: ClientHello) -> tuple[KeyShareEntry, ...]:
    shares = find_extension(hello.extensions, E.key_share)
    assert isinstance(shares, KeyShareClientHello)
    return shares.client_shares


@pytest.mark.parametrize("problem", ["group-not-in-supported-groups", "two-shares-for-one-group"])
def test_client_key_shares_that_break_the_rules_are_illegal_parameter(problem: str) -> None:
    """RFC 8446 §4.2.8: "Clients MUST NOT offer multiple KeyShareEntry values for the
    same group. Clients MUST NOT offer any KeyShareEntry values for groups not listed in
    the client's 'supported_groups' extension. Servers MAY check for violations of
    these rules and abort the handshake with an 'illegal_parameter' alert"; teachtls does."""
    hello = recorded_client_hello()
    (real,) = key_shares_of(hello)
    if problem == "group-not-in-supported-groups":
        shares = (real, KeyShareEntry(group=NamedGroup.ffdhe2048, key_exchange=b"\x02" * 256))
    else:
        shares = (real, real)
    extension = make_extension(E.key_share, KeyShareClientHello(shares))
    recorder = Recorder()
    server = fresh_server(observer=recorder)
    bad = attrs.evolve(hello, extensions=replace_extension(hello.extensions, extension))
    expect(server, recorder, handshake_record(bad), alerts.IllegalParameter, "duplicated or not in supported_groups")


# ======================================================================================
# Unknown code points and GREASE (RFC 8446 §4.1.2, §4.2, RFC 8701)
# ======================================================================================

GREASE = tuple(0x0A0A + 0x1010 * i for i in range(16))


class GreasingClient(ClientConnection):
    """A client that sprinkles GREASE (RFC 8701) over its ClientHello, as Chrome does:
    a cipher suite, a group and a key share for it, a version, a signature scheme, a
    PSK mode and two extensions (one empty, one with a body)."""

    def build_client_hello(self, cookie: bytes | None = None) -> ClientHello:
        hello = super().build_client_hello(cookie)
        changed: list[Extension] = [make_extension(GREASE[0], RawBody(b""))]
        for extension in hello.extensions:
            body = extension.extension_data
            if extension.extension_type == E.supported_groups:
                assert isinstance(body, NamedGroupList)
                body = NamedGroupList((GREASE[1], *body.named_group_list))
            elif extension.extension_type == E.key_share:
                assert isinstance(body, KeyShareClientHello)
                body = KeyShareClientHello((KeyShareEntry(group=GREASE[1], key_exchange=b"\x00"), *body.client_shares))
            elif extension.extension_type == E.supported_versions:
                assert isinstance(body, SupportedVersionsClientHello)
                body = SupportedVersionsClientHello((GREASE[2], *body.versions))
            elif extension.extension_type == E.signature_algorithms:
                assert isinstance(body, SignatureSchemeList)
                body = SignatureSchemeList((GREASE[3], *body.supported_signature_algorithms))
            elif extension.extension_type == E.psk_key_exchange_modes:
                assert isinstance(body, PskKeyExchangeModes)
                body = PskKeyExchangeModes((0x0B, *body.ke_modes))  # RFC 8701 §2: 0x0B, 0x2A, ...
            changed.append(make_extension(extension.extension_type, body))
        changed.append(make_extension(GREASE[4], RawBody(b"\x00")))
        return attrs.evolve(hello, cipher_suites=(GREASE[5], *hello.cipher_suites), extensions=tuple(changed))


@pytest.mark.parametrize("version", ["TLS 1.3", "TLS 1.2"])
def test_grease_in_the_client_hello_is_ignored(version: str) -> None:
    """RFC 8446 §4.1.2: servers "MUST ignore unrecognized cipher suites, extensions and
    other parameters"; RFC 8701 §3: "servers MUST NOT negotiate any GREASE value" and
    the handshake goes on. (For TLS 1.2 the server is capped at 1.2.)"""
    recorder = Recorder()
    versions = (TLS1_3, TLS1_2) if version == "TLS 1.3" else (TLS1_2,)
    pair = HandshakePair(
        GreasingClient(client_config(observer=recorder)),
        ServerConnection(server_config(versions=versions, observer=recorder)),
    )
    client_events, server_events = pair.handshake()
    assert completed(client_events) and completed(server_events)
    (negotiated,) = [e for e in client_events if isinstance(e, HandshakeCompleted)]
    assert negotiated.version == version and negotiated.group == "x25519"
    (hello,) = [e for e in recorder.events if isinstance(e, MessageSent) and e.name == "ClientHello"]
    assert f"{GREASE[5]:#06x}" in hello.summary  # the GREASE cipher suite went out, as a raw number


def test_only_unknown_groups_is_handshake_failure() -> None:
    """RFC 8446 §4.1.1: "If there is no overlap between the received
    'supported_groups' and the groups supported by the server, then the server MUST
    abort the handshake with a 'handshake_failure' or an 'insufficient_security' alert."
    Here: a GREASE group (with a share) and ffdhe2048, which teachtls does not implement."""
    hello = recorded_client_hello()
    groups = make_extension(E.supported_groups, NamedGroupList((GREASE[1], NamedGroup.ffdhe2048)))
    shares = make_extension(E.key_share, KeyShareClientHello((KeyShareEntry(group=GREASE[1], key_exchange=b"\x07"),)))
    extensions = replace_extension(replace_extension(hello.extensions, groups), shares)
    recorder = Recorder()
    server = fresh_server(observer=recorder)
    expect(
        server, recorder, handshake_record(attrs.evolve(hello, extensions=extensions)), alerts.HandshakeFailure, "group"
    )


GREASE_FROM_THE_SERVER: dict[str, tuple[Callable[[], ServerHello], type[LocalAlert]]] = {
    # RFC 8701 §3: "Clients MUST reject GREASE values when negotiated by the server."
    "cipher-suite": (lambda: attrs.evolve(recorded_server_hello(), cipher_suite=GREASE[5]), alerts.IllegalParameter),
    "extension": (
        lambda: attrs.evolve(
            recorded_server_hello(),
            extensions=(*recorded_server_hello().extensions, make_extension(GREASE[0], RawBody(b""))),
        ),
        alerts.UnsupportedExtension,
    ),
    "hello-retry-request-group": (
        lambda: hello_retry_request(make_extension(E.key_share, KeyShareHelloRetryRequest(GREASE[1])), SELECT_TLS13),
        alerts.IllegalParameter,
    ),
    "key-share-group": (
        lambda: attrs.evolve(
            recorded_server_hello(),
            extensions=replace_extension(
                recorded_server_hello().extensions,
                make_extension(E.key_share, KeyShareServerHello(KeyShareEntry(group=GREASE[1], key_exchange=b"\x00"))),
            ),
        ),
        alerts.IllegalParameter,
    ),
}


@pytest.mark.parametrize("where", list(GREASE_FROM_THE_SERVER))
def test_grease_selected_by_the_server_is_rejected(where: str) -> None:
    """RFC 8701 §3 (client side): a GREASE value in a ServerHello or HelloRetryRequest
    was never offered, so RFC 8446's own rules reject it: an unoffered cipher suite or
    group is illegal_parameter (§4.1.3, §4.2.8), an unoffered extension
    unsupported_extension (§4.2)."""
    make_hello, alert_class = GREASE_FROM_THE_SERVER[where]
    recorder = Recorder()
    client = client_waiting_for_server_hello(observer=recorder)
    expect(client, recorder, handshake_record(make_hello()), alert_class)


# ======================================================================================
# Extensions: unsolicited, duplicated, in the wrong message (RFC 8446 §4.2)
# ======================================================================================


def add_to(message_type: type[HandshakeMessage], *new: Extension) -> Callable[..., Any]:
    return editing(message_type, lambda m: attrs.evolve(m, extensions=(*m.extensions, *new)))


KEY_SHARE_BODY = RawBody(bytes(4))

WRONG_EXTENSIONS_FROM_THE_SERVER: dict[str, tuple[Callable[..., Any], type[LocalAlert], str, dict[str, Any]]] = {
    # name: (edit of the server's flight, alert, match, settings)
    "encrypted-extensions-with-key_share": (
        add_to(EncryptedExtensions, make_extension(E.key_share, KEY_SHARE_BODY)),
        alerts.IllegalParameter,
        "not allowed in EncryptedExtensions",
        {},
    ),
    "encrypted-extensions-with-supported_versions": (
        add_to(EncryptedExtensions, make_extension(E.supported_versions, RawBody(b"\x03\x04"))),
        alerts.IllegalParameter,
        "not allowed in EncryptedExtensions",
        {},
    ),
    "encrypted-extensions-with-pre_shared_key": (
        add_to(EncryptedExtensions, make_extension(E.pre_shared_key, RawBody(b"\x00\x00"))),
        alerts.IllegalParameter,
        "not allowed in EncryptedExtensions",
        {},
    ),
    "encrypted-extensions-with-unsolicited-early_data": (
        add_to(EncryptedExtensions, make_extension(E.early_data, Empty())),
        alerts.UnsupportedExtension,
        "not offered",
        {},
    ),
    "encrypted-extensions-with-unknown-extension": (
        add_to(EncryptedExtensions, make_extension(0x7777, RawBody(b"?"))),
        alerts.UnsupportedExtension,
        "not offered",
        {},
    ),
    "encrypted-extensions-with-duplicate-supported_groups": (
        add_to(EncryptedExtensions, make_extension(E.supported_groups, NamedGroupList((NamedGroup.x25519,)))),
        alerts.IllegalParameter,
        "two",
        {},
    ),
    "certificate-request-with-key_share": (
        add_to(CertificateRequest, make_extension(E.key_share, KEY_SHARE_BODY)),
        alerts.IllegalParameter,
        "not allowed in CertificateRequest",
        {"server": {"client_auth": "request"}},
    ),
    "certificate-entry-with-key_share": (
        editing(
            Certificate,
            lambda m: attrs.evolve(
                m,
                certificate_list=(
                    attrs.evolve(m.certificate_list[0], extensions=(make_extension(E.key_share, KEY_SHARE_BODY),)),
                ),
            ),
        ),
        alerts.IllegalParameter,
        "not allowed in CertificateEntry",
        {},
    ),
}


@pytest.mark.parametrize("case", list(WRONG_EXTENSIONS_FROM_THE_SERVER))
def test_wrong_extension_in_the_servers_encrypted_flight(case: str) -> None:
    """RFC 8446 §4.2: "If an implementation receives an extension which it recognizes
    and which is not specified for the message in which it appears, it MUST abort the
    handshake with an 'illegal_parameter' alert"; an extension response the client
    never asked for: "MUST abort the handshake with an 'unsupported_extension' alert";
    "There MUST NOT be more than one extension of the same type in a given extension
    block" (no alert named; teachtls: illegal_parameter). §4.3.1: "The client MUST
    check EncryptedExtensions for the presence of any forbidden extensions"."""
    edit, alert_class, match, settings = WRONG_EXTENSIONS_FROM_THE_SERVER[case]
    server_flight_to_client(edit, alert_class, match, **settings)


@pytest.mark.parametrize(
    ("extension", "alert_class", "match"),
    [
        (make_extension(E.server_name, Empty()), alerts.IllegalParameter, "not allowed in ServerHello"),
        (
            make_extension(E.key_share, KeyShareServerHello(KeyShareEntry(group=29, key_exchange=bytes(range(1, 33))))),
            alerts.IllegalParameter,
            "two",
        ),
        (make_extension(E.psk_key_exchange_modes, RawBody(b"\x01\x01")), alerts.IllegalParameter, "not allowed"),
    ],
    ids=["server_name", "duplicate-key_share", "psk_key_exchange_modes"],
)
def test_wrong_extension_in_the_server_hello(extension: Extension, alert_class: type[LocalAlert], match: str) -> None:
    """RFC 8446 §4.2 for the ServerHello (server_name belongs in EncryptedExtensions)."""
    recorder = Recorder()
    client = client_waiting_for_server_hello(observer=recorder)
    hello = recorded_server_hello()
    hello = attrs.evolve(hello, extensions=(*hello.extensions, extension))
    expect(client, recorder, handshake_record(hello), alert_class, match)


def test_wrong_extension_in_a_hello_retry_request() -> None:
    """RFC 8446 §4.2: server_name may not appear in a HelloRetryRequest."""
    recorder = Recorder()
    client = client_waiting_for_server_hello(observer=recorder)
    retry = hello_retry_request(
        make_extension(E.key_share, KeyShareHelloRetryRequest(NamedGroup.secp256r1)),
        SELECT_TLS13,
        make_extension(E.server_name, RawBody(b"")),
    )
    expect(client, recorder, handshake_record(retry), alerts.IllegalParameter, "not allowed in HelloRetryRequest")


def test_wrong_extension_in_the_client_hello() -> None:
    """RFC 8446 §4.2: oid_filters is a CertificateRequest extension; in a ClientHello
    it is recognized but misplaced -- illegal_parameter."""
    hello = recorded_client_hello()
    hello = attrs.evolve(hello, extensions=(make_extension(E.oid_filters, RawBody(b"\x00\x00")), *hello.extensions))
    recorder = Recorder()
    expect(fresh_server(observer=recorder), recorder, handshake_record(hello), alerts.IllegalParameter, "oid_filters")


def test_wrong_extension_in_a_new_session_ticket() -> None:
    """RFC 8446 §4.2 for NewSessionTicket: only early_data (and unknown ones) belong there."""
    recorder = Recorder()
    edit = add_to(NewSessionTicket, make_extension(E.key_share, KEY_SHARE_BODY))
    pair = HandshakePair(
        ClientConnection(client_config(observer=recorder)),
        TamperingServer(server_config(session_store=SessionDatabase(counter_random(b"db")), session_tickets=1), edit),
    )
    pair.client.start_handshake()
    pair.client_to_server()
    pair.server_to_client()
    pair.client_to_server()  # the server's Finished check passes; the ticket follows
    failure = expect(pair.client, recorder, pair.server.data_to_send(), alerts.IllegalParameter, "NewSessionTicket")
    peer_receives(failure, pair.server)


def test_unknown_extensions_in_a_new_session_ticket_are_ignored() -> None:
    """RFC 8446 §4.6.1: NewSessionTicket extensions: "Clients MUST ignore unrecognized extensions"."""
    edit = add_to(NewSessionTicket, make_extension(GREASE[6], RawBody(b"x")))
    pair = HandshakePair(
        ClientConnection(client_config()),
        TamperingServer(server_config(session_store=SessionDatabase(counter_random(b"db")), session_tickets=1), edit),
    )
    pair.handshake()
    assert len(pair.client.sessions) == 1 and not pair.client.closed


# --- the CertificateRequest (RFC 8446 §4.3.2) -----------------------------------------


@pytest.mark.parametrize(
    ("change", "alert_class", "match"),
    [
        (
            lambda m: attrs.evolve(
                m,
                extensions=(
                    make_extension(E.certificate_authorities, CertificateAuthoritiesExtension((b"\x30\x00",))),
                ),
            ),
            alerts.MissingExtension,
            "signature_algorithms",
        ),
        (lambda m: attrs.evolve(m, certificate_request_context=b"\x01"), alerts.IllegalParameter, "context"),
    ],
    ids=["without-signature_algorithms", "non-empty-context"],
)
def test_certificate_request_rules(change: Callable[..., Any], alert_class: type[LocalAlert], match: str) -> None:
    """RFC 8446 §4.3.2: "The 'signature_algorithms' extension MUST be specified"
    (missing_extension, §9.2), and certificate_request_context "SHALL be zero length
    unless used for the post-handshake authentication exchanges"."""
    server_flight_to_client(editing(CertificateRequest, change), alert_class, match, server={"client_auth": "request"})


# ======================================================================================
# ALPN (RFC 7301) and record_size_limit (RFC 8449)
# ======================================================================================


@pytest.mark.parametrize("version", [TLS1_3, TLS1_2], ids=["TLS1.3", "TLS1.2"])
def test_alpn_without_overlap_is_no_application_protocol(version: int) -> None:
    """RFC 7301 §3.2: "In the event that the server supports no protocols that the
    client advertises, then the server SHALL respond with a fatal
    'no_application_protocol' alert." """
    recorder = Recorder()
    client = ClientConnection(client_config(alpn_protocols=(b"h2",)))
    server = ServerConnection(server_config(alpn_protocols=(b"http/1.1",), versions=(version,), observer=recorder))
    client.start_handshake()
    failure = expect(server, recorder, client.data_to_send(), alerts.NoApplicationProtocol)
    assert failure.sent == record(
        ContentType.alert, bytes([AlertLevel.fatal, AlertDescription.no_application_protocol])
    )
    peer_receives(failure, client)


ALPN_ANSWERS: dict[str, tuple[tuple[bytes, ...], tuple[bytes, ...], type[LocalAlert]]] = {
    # name: (what the client offers, what the server's EncryptedExtensions says, alert)
    "protocol-not-offered": ((b"h2",), (b"spdy/3",), alerts.IllegalParameter),
    "two-protocols": ((b"h2", b"http/1.1"), (b"h2", b"http/1.1"), alerts.IllegalParameter),
    "not-offered-at-all": ((), (b"h2",), alerts.UnsupportedExtension),
}


@pytest.mark.parametrize("case", list(ALPN_ANSWERS))
def test_alpn_answer_from_the_server(case: str) -> None:
    """RFC 7301 §3.1: the server's ProtocolNameList "MUST contain exactly one
    'ProtocolName'", one the client offered (no alert named: teachtls,
    illegal_parameter); an answer to an ALPN the client never sent is an unsolicited
    extension: unsupported_extension (RFC 8446 §4.2)."""
    offered, answered, alert_class = ALPN_ANSWERS[case]
    alpn = make_extension(E.application_layer_protocol_negotiation, ProtocolNameList(answered))
    server_flight_to_client(
        editing(EncryptedExtensions, lambda m: attrs.evolve(m, extensions=(*m.extensions, alpn))),
        alert_class,
        client={"alpn_protocols": offered},
    )


@pytest.mark.parametrize("limit", [0, 63])
@pytest.mark.parametrize("receiver", ["server", "client"])
def test_record_size_limit_below_64_is_illegal_parameter(limit: int, receiver: str) -> None:
    """RFC 8449 §4: "Endpoints MUST NOT send a 'record_size_limit' extension with a
    value smaller than 64. An endpoint MUST treat receipt of a smaller value as a fatal
    error and generate an 'illegal_parameter' alert." """
    recorder = Recorder()
    if receiver == "server":
        client = ClientConnection(client_config(record_size_limit=limit))
        server = ServerConnection(server_config(record_size_limit=2**14 + 1, observer=recorder))
        client.start_handshake()
        expect(server, recorder, client.data_to_send(), alerts.IllegalParameter, "smaller than 64")
    else:
        client = ClientConnection(client_config(record_size_limit=2**14 + 1, observer=recorder))
        server = ServerConnection(server_config(record_size_limit=limit))
        client.start_handshake()
        server.receive_data(client.data_to_send())
        failure = expect(client, recorder, server.data_to_send(), alerts.IllegalParameter, "smaller than 64")
        if limit >= 3:  # a server configured with limit 0 could not even read the alert
            peer_receives(failure, server)


def test_record_over_our_record_size_limit_is_record_overflow() -> None:
    """RFC 8449 §4: "A TLS endpoint that receives a record larger than its advertised
    limit MUST generate a fatal 'record_overflow' alert." In TLS 1.3 the limit counts
    the TLSInnerPlaintext: content, type and padding."""
    pair, recorder = connected({"record_size_limit": 100}, {"record_size_limit": 2**14 + 1})
    assert pair.client.receive_data(sealed_for(pair.client, inner_plaintext(b"x" * 99, 23))) == [
        ApplicationData(b"x" * 99)
    ]
    too_big = sealed_for(pair.client, inner_plaintext(b"x" * 90, 23, padding=10))
    failure = expect(pair.client, recorder, too_big, alerts.RecordOverflow, "record_size_limit")
    peer_receives(failure, pair.server)


# ======================================================================================
# Finished, CertificateVerify, Certificate (RFC 8446 §4.4)
# ======================================================================================


FINISHED_EDITS: dict[str, tuple[Callable[[bytes], bytes], type[LocalAlert]]] = {
    "padded-by-one-byte": (lambda v: v + b"\x00", alerts.DecodeError),
    "empty": (lambda v: b"", alerts.DecodeError),
    "all-zero": (lambda v: bytes(len(v)), alerts.DecryptError),
    "last-bit-flipped": (lambda v: v[:-1] + bytes([v[-1] ^ 1]), alerts.DecryptError),
    "doubled": (lambda v: v + v, alerts.DecodeError),
}


@pytest.mark.parametrize("case", list(FINISHED_EDITS))
@pytest.mark.parametrize("version", [TLS1_3, TLS1_2], ids=["TLS1.3", "TLS1.2"])
def test_bad_server_finished(case: str, version: int) -> None:
    """RFC 8446 §4.4.4: "Recipients of Finished messages MUST verify that the contents
    are correct and if incorrect MUST terminate the connection with a 'decrypt_error'
    alert"; a verify_data that is not Hash.length (TLS 1.2: 12 bytes, RFC 5246 §7.4.9)
    long cannot be parsed: decode_error (§6)."""
    change, alert_class = FINISHED_EDITS[case]
    edit = editing(Finished, lambda m: Finished(verify_data=change(m.verify_data)))
    if version == TLS1_3:
        server_flight_to_client(edit, alert_class)
    else:
        tls12_server_final_flight(edit, alert_class)


def tls12_server_final_flight(
    edit: Callable[..., Any], alert_class: type[LocalAlert], match: str | None = None
) -> Failure:
    """A TLS 1.2 server edits one of its messages; run until the client objects."""
    pair, recorder = tampering_pair(edit, server={"versions": (TLS1_2,)})
    pair.client.start_handshake()
    pair.client_to_server()
    pair.server_to_client()
    pair.client_to_server()
    failure = expect(pair.client, recorder, pair.server.data_to_send(), alert_class, match)
    peer_receives(failure, pair.server)
    return failure


def test_certificate_verify_with_a_bad_signature_is_decrypt_error() -> None:
    """RFC 8446 §4.4.3: "If the verification fails, the receiver MUST terminate the
    handshake with a 'decrypt_error' alert." """
    flip = editing(
        CertificateVerify, lambda m: attrs.evolve(m, signature=m.signature[:-1] + bytes([m.signature[-1] ^ 1]))
    )
    server_flight_to_client(flip, alerts.DecryptError, "does not verify")


@pytest.mark.parametrize(
    "scheme",
    [SignatureScheme.rsa_pkcs1_sha256, SignatureScheme.ed448, 0x0A0A],
    ids=["rsa_pkcs1_sha256", "ed448-not-offered", "grease"],
)
def test_certificate_verify_with_a_scheme_not_allowed_is_illegal_parameter(scheme: int) -> None:
    """RFC 8446 §4.4.3: the algorithm must be one the peer offered, and "RSA
    signatures MUST use an RSASSA-PSS algorithm"; RFC 8701 §3: never a GREASE value.
    No alert is named; teachtls: illegal_parameter (§6: "semantically invalid")."""
    server_flight_to_client(
        editing(CertificateVerify, lambda m: attrs.evolve(m, algorithm=scheme)),
        alerts.IllegalParameter,
        "CertificateVerify uses",
    )


def client_auth_pair(edit: Callable[..., Any] | None = None, **server: Any) -> tuple[HandshakePair, Recorder]:
    client_settings, server_settings = client_auth_settings()
    recorder = Recorder()
    client_class: Callable[..., ClientConnection] = (
        (lambda config: TamperingClient(config, edit)) if edit is not None else ClientConnection
    )
    pair = HandshakePair(
        client_class(client_config(**client_settings)),
        ServerConnection(server_config(observer=recorder, **{**server_settings, **server})),
    )
    pair.client.start_handshake()
    pair.client_to_server()
    pair.server_to_client()
    return pair, recorder


def test_client_certificate_verify_with_a_bad_signature_is_decrypt_error() -> None:
    flip = editing(CertificateVerify, lambda m: attrs.evolve(m, signature=bytes(len(m.signature))))
    pair, recorder = client_auth_pair(flip)
    failure = expect(
        pair.server, recorder, pair.client.data_to_send(), alerts.DecryptError, "client's CertificateVerify"
    )
    peer_receives(failure, pair.client)


def test_empty_client_certificate_when_required_is_certificate_required() -> None:
    """RFC 8446 §4.4.2.4: "If the client does not send any certificates (i.e., it
    sends an empty Certificate message), the server MAY at its discretion either
    continue the handshake without client authentication, or abort the handshake with
    a 'certificate_required' alert." teachtls aborts when `client_auth="require"`."""
    pair, recorder = client_auth_pair(editing(Certificate, lambda m: attrs.evolve(m, certificate_list=())))
    failure = expect(pair.server, recorder, pair.client.data_to_send(), alerts.CertificateRequired)
    peer_receives(failure, pair.client)


def test_client_certificate_with_a_request_context_is_illegal_parameter() -> None:
    """RFC 8446 §4.4.2: in the handshake the Certificate's certificate_request_context
    echoes the (empty) one of the CertificateRequest."""
    pair, recorder = client_auth_pair(
        editing(Certificate, lambda m: attrs.evolve(m, certificate_request_context=b"\x05"))
    )
    expect(pair.server, recorder, pair.client.data_to_send(), alerts.IllegalParameter, "context")


def test_server_certificate_with_a_request_context_is_illegal_parameter() -> None:
    server_flight_to_client(
        editing(Certificate, lambda m: attrs.evolve(m, certificate_request_context=b"\x05")),
        alerts.IllegalParameter,
        "context",
    )


# ======================================================================================
# KeyUpdate (RFC 8446 §4.6.3, §5.1)
# ======================================================================================


@pytest.mark.parametrize(
    "raw",
    [bytes([24, 0, 0, 0]), bytes([24, 0, 0, 2, 0, 0]), bytes([24, 0, 0, 2, 1, 24, 0, 0, 1, 0])],
    ids=["empty", "trailing-byte", "length-overrun"],
)
def test_malformed_key_update_is_decode_error(raw: bytes) -> None:
    """RFC 8446 §4.6.3: `struct { KeyUpdateRequest request_update; } KeyUpdate;` --
    one byte, no more, no less; otherwise decode_error (§6)."""
    pair, recorder = connected()
    failure = expect(pair.server, recorder, sealed_handshake(pair.server, raw), alerts.DecodeError)
    peer_receives(failure, pair.client)


def test_key_update_not_at_the_end_of_its_record_is_unexpected_message() -> None:
    """RFC 8446 §5.1: "Handshake messages MUST NOT span key changes. Implementations
    MUST verify that all messages immediately preceding a key change align with a
    record boundary; if not, then they MUST terminate the connection with an
    'unexpected_message' alert." A KeyUpdate changes the read keys."""
    pair, recorder = connected()
    key_update = build_handshake(KeyUpdate(request_update=0))
    data = sealed_handshake(pair.server, key_update + key_update[:2])
    expect(pair.server, recorder, data, alerts.UnexpectedMessage, "key change")


def test_key_update_with_request_update_255_is_illegal_parameter() -> None:
    """RFC 8446 §4.6.3: "If an implementation receives any other value [than 0 or 1],
    it MUST terminate the connection with an 'illegal_parameter' alert." (2 is in
    tests/test_bad_input.py.)"""
    pair, recorder = connected()
    data = sealed_handshake(pair.client, KeyUpdate(request_update=255))
    failure = expect(pair.client, recorder, data, alerts.IllegalParameter, "request_update")
    peer_receives(failure, pair.server)


def test_server_finished_not_at_the_end_of_its_record_is_unexpected_message() -> None:
    """RFC 8446 §5.1: the server's Finished precedes a key change too (the client
    switches to the application traffic keys): a NewSessionTicket in the same record
    straddles it."""
    recorder = Recorder()
    client = client_after_server_hello(observer=recorder)
    # Decrypt the real encrypted flight with the client's keys, then re-seal it as one
    # record with a KeyUpdate's first bytes behind the Finished.
    probe = client_after_server_hello()
    messages = b""
    for encrypted in split_records(recorded().server_flight_after_server_hello):
        if encrypted[0] != ContentType.application_data:
            continue
        _, plaintext, _ = probe._unprotect(encrypted)  # type: ignore[misc]
        messages += plaintext
    data = sealed_handshake(client, messages + bytes([24, 0]))
    expect(client, recorder, data, alerts.UnexpectedMessage, "key change")


# ======================================================================================
# Pre-shared keys and 0-RTT (RFC 8446 §4.2.9, §4.2.10, §4.2.11)
# ======================================================================================


def session_and_server_settings(**server: Any) -> tuple[bytes, dict[str, Any]]:
    """A saved session from a first full handshake, and the server settings that resume it."""
    settings: dict[str, Any] = {
        "session_store": SessionDatabase(counter_random(b"tickets")),
        "session_tickets": 1,
        "max_early_data_size": 1024,
        **server,
    }
    first = HandshakePair(ClientConnection(client_config()), ServerConnection(server_config(**settings)))
    first.handshake()
    return first.client.get_session_data(), settings


def resuming_client(session: bytes, **settings: Any) -> ClientConnection:
    client = ClientConnection(client_config(random=counter_random(b"second client"), **settings))
    client.set_session_data(session)
    return client


def psk_client_hello_and_server(recorder: Recorder, **server: Any) -> tuple[ClientConnection, ServerConnection, bytes]:
    """A client offering a ticket, its ClientHello record, and a server that can resume it."""
    session, settings = session_and_server_settings(**server)
    client = resuming_client(session)
    client.start_handshake()
    server_connection = ServerConnection(server_config(observer=recorder, **settings))
    return client, server_connection, client.data_to_send()


def test_wrong_psk_binder_is_decrypt_error() -> None:
    """RFC 8446 §4.2.11: "Prior to accepting PSK key establishment, the server MUST
    validate the corresponding binder value ... If this value is not present or does
    not validate, the server MUST abort the handshake." §6.2 decrypt_error is the
    failed cryptographic check (tests/test_resumption.py shows it with a wrong PSK)."""
    recorder = Recorder()
    client, server, hello = psk_client_hello_and_server(recorder)
    flipped = hello[:-1] + bytes([hello[-1] ^ 0x01])  # the binder is the ClientHello's last field
    failure = expect(server, recorder, flipped, alerts.DecryptError, "binder")
    peer_receives(failure, client)


def offered_psks_edit(hello_record: bytes, change: Callable[[OfferedPsks], OfferedPsks]) -> bytes:
    hello, _ = parse_handshake(hello_record[HEADER_LENGTH:])
    assert isinstance(hello, ClientHello)
    offered = find_extension(hello.extensions, E.pre_shared_key)
    assert isinstance(offered, OfferedPsks)
    new = make_extension(E.pre_shared_key, change(offered))
    return handshake_record(attrs.evolve(hello, extensions=replace_extension(hello.extensions, new)))


@pytest.mark.parametrize(
    ("change", "alert_class", "match"),
    [
        (lambda o: attrs.evolve(o, binders=(*o.binders, o.binders[0])), alerts.IllegalParameter, "binders"),
        (lambda o: attrs.evolve(o, binders=(o.binders[0] + bytes(16),)), alerts.DecryptError, "binder"),
        (lambda o: attrs.evolve(o, binders=(o.binders[0][:31],)), alerts.DecodeError, "binders"),
    ],
    ids=["two-binders-for-one-identity", "binder-48-bytes", "binder-31-bytes"],
)
def test_malformed_psk_binders(change: Callable[..., Any], alert_class: type[LocalAlert], match: str) -> None:
    """RFC 8446 §4.2.11: one binder per identity; `opaque PskBinderEntry<32..255>`
    (a 31-byte binder does not parse: decode_error); a binder of the wrong length for
    the PSK's hash does not validate (decrypt_error)."""
    recorder = Recorder()
    _, server, hello = psk_client_hello_and_server(recorder)
    expect(server, recorder, offered_psks_edit(hello, change), alert_class, match)


def test_pre_shared_key_without_psk_key_exchange_modes_is_missing_extension() -> None:
    """RFC 8446 §4.2.9: "If clients offer 'pre_shared_key' without a
    'psk_key_exchange_modes' extension, servers MUST abort the handshake" -- with
    missing_extension (§9.2)."""
    recorder = Recorder()
    _, server, hello_record = psk_client_hello_and_server(recorder)
    hello, _ = parse_handshake(hello_record[HEADER_LENGTH:])
    assert isinstance(hello, ClientHello)
    stripped = without_extension(hello, E.psk_key_exchange_modes)
    expect(server, recorder, handshake_record(stripped), alerts.MissingExtension, "psk_key_exchange_modes")


def psk_server_hello(client_hello_record: bytes, *extensions: Extension, **fields: Any) -> bytes:
    """The recorded ServerHello, answering this client's ClientHello, plus `extensions`."""
    hello, _ = parse_handshake(client_hello_record[HEADER_LENGTH:])
    assert isinstance(hello, ClientHello)
    server_hello = attrs.evolve(recorded_server_hello(), legacy_session_id_echo=hello.legacy_session_id, **fields)
    return handshake_record(attrs.evolve(server_hello, extensions=(*server_hello.extensions, *extensions)))


@pytest.mark.parametrize(
    ("extra", "fields", "match"),
    [
        ((make_extension(E.pre_shared_key, SelectedIdentity(1)),), {}, "selected_identity"),
        (
            (make_extension(E.pre_shared_key, SelectedIdentity(0)),),
            {"cipher_suite": CipherSuite.TLS_AES_256_GCM_SHA384},
            "hash differs",
        ),
    ],
    ids=["selected-identity-out-of-range", "suite-hash-differs-from-the-psk"],
)
def test_server_psk_selection_that_does_not_fit_is_illegal_parameter(
    extra: tuple[Extension, ...], fields: dict[str, int], match: str
) -> None:
    """RFC 8446 §4.2.11: "Clients MUST verify that the server's selected_identity is
    within the range supplied by the client, that the server selected a cipher suite
    indicating a Hash associated with the PSK ... If these values are not consistent,
    the client MUST abort the handshake with an 'illegal_parameter' alert." """
    session, _ = session_and_server_settings()
    recorder = Recorder()
    client = resuming_client(session, observer=recorder)
    client.start_handshake()
    expect(client, recorder, psk_server_hello(client.data_to_send(), *extra, **fields), alerts.IllegalParameter, match)


def test_psk_without_the_key_share_the_client_asked_for_is_illegal_parameter() -> None:
    """RFC 8446 §4.2.11: the client MUST verify "that a server 'key_share' extension is
    present if required by the ClientHello 'psk_key_exchange_modes' extension. If these
    values are not consistent, the client MUST abort the handshake with an
    'illegal_parameter' alert." (The client offered psk_dhe_ke only.)

    Core bug found here: teachtls answered missing_extension."""
    session, _ = session_and_server_settings()
    recorder = Recorder()
    client = resuming_client(session, observer=recorder)
    client.start_handshake()
    hello_record = client.data_to_send()
    hello, _ = parse_handshake(hello_record[HEADER_LENGTH:])
    assert isinstance(hello, ClientHello)
    server_hello = without_extension(
        attrs.evolve(recorded_server_hello(), legacy_session_id_echo=hello.legacy_session_id), E.key_share
    )
    server_hello = attrs.evolve(
        server_hello, extensions=(*server_hello.extensions, make_extension(E.pre_shared_key, SelectedIdentity(0)))
    )
    expect(client, recorder, handshake_record(server_hello), alerts.IllegalParameter, "key_share")


def test_early_data_record_that_fails_to_decrypt_is_bad_record_mac() -> None:
    """RFC 8446 §4.2.10: "if the server fails to decrypt a 0-RTT record following an
    accepted 'early_data' extension, it MUST terminate the connection with a
    'bad_record_mac' alert as per Section 5.2." """
    session, settings = session_and_server_settings()
    client = resuming_client(session)
    client.start_handshake(early_data=b"GET /0rtt")
    flight = client.data_to_send()
    recorder = Recorder()
    server = ServerConnection(server_config(observer=recorder, **settings))
    corrupted = flight[:-1] + bytes([flight[-1] ^ 0x01])
    failure = expect(server, recorder, corrupted, alerts.BadRecordMac, "client_early_traffic_secret")
    assert server.early_data_accepted
    # The server's whole flight went out before the bad record arrived, so its alert
    # follows under the application keys: the client reads the flight, then the alert.
    peer_receives(failure, client)


def test_more_early_data_than_max_early_data_size_is_unexpected_message() -> None:
    """RFC 8446 §4.2.10: a server that receives more than max_early_data_size
    "SHOULD terminate the connection with an 'unexpected_message' alert"; teachtls does."""
    session, settings = session_and_server_settings()
    client = resuming_client(session)
    client.start_handshake(early_data=b"GET /0rtt")
    recorder = Recorder()
    server = ServerConnection(server_config(observer=recorder, **settings))
    server.receive_data(client.data_to_send())
    assert server.early_data_accepted and server.state is State.WAIT_EOED
    too_much = sealed_for(server, inner_plaintext(b"x" * 1024, ContentType.application_data))
    expect(server, recorder, too_much, alerts.UnexpectedMessage, "max_early_data_size")


# ======================================================================================
# TLS 1.2: records (RFC 5246 §6.2)
# ======================================================================================


def tls12_connected(
    client: dict[str, Any] | None = None, server: dict[str, Any] | None = None
) -> tuple[HandshakePair, Recorder]:
    """A TLS 1.2 connection: a default client, a server capped at 1.2."""
    return connected(client, {"versions": (TLS1_2,), **(server or {})})


CBC_SUITE = CipherSuite12.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256


def cbc_record_with_maximal_padding(receiver: Connection, content: bytes) -> bytes:
    """A legal RFC 5246 §6.2.3.2 record: `content`, its HMAC, then 255 bytes of
    padding ("The padding MAY be any length up to 255 bytes"), for `receiver`."""
    protection = receiver._read
    assert protection is not None
    protector = protection.protector  # type: ignore[attr-defined]
    header = additional_data(protection.sequence_number, ContentType.application_data, TLS1_2, len(content))
    mac = protector._mac(header, content)
    padding_length = 255
    while (len(content) + len(mac) + padding_length + 1) % 16:
        padding_length -= 1
    block_ciphered = content + mac + bytes([padding_length]) * (padding_length + 1)
    iv = bytes(16)
    encryptor = Cipher(algorithms.AES(protector._write_key), modes.CBC(iv)).encryptor()
    fragment = iv + encryptor.update(block_ciphered) + encryptor.finalize()
    return build_header(ContentType.application_data, len(fragment)) + fragment


def test_tls12_cbc_record_longer_than_2_14_plus_256_is_legal() -> None:
    """RFC 5246 §6.2.3: a TLS 1.2 TLSCiphertext "length MUST NOT exceed 2^14 + 2048"
    -- TLS 1.3's tighter 2^14 + 256 does not apply. 2^14 bytes with an HMAC-SHA256 and
    the full 255 bytes of CBC padding make a 16,688-byte record.

    Core bug found here: the record layer applied TLS 1.3's limit to every record
    and answered this legal record with record_overflow."""
    teaching = {"legacy_suites_for_teaching": True}
    pair, _ = tls12_connected(teaching, {"cipher_suites_12": (CBC_SUITE,), **teaching})
    content = b"x" * MAX_PLAINTEXT
    data = cbc_record_with_maximal_padding(pair.client, content)
    assert len(data) - HEADER_LENGTH > 2**14 + 256
    assert pair.client.receive_data(data) == [ApplicationData(content)]


def test_tls12_record_longer_than_2_14_plus_2048_is_record_overflow() -> None:
    """RFC 5246 §6.2.3 / §7.2.2 record_overflow: "A TLSCiphertext record was received
    that had a length more than 2^14+2048 bytes"."""
    pair, recorder = tls12_connected()
    header = build_header(ContentType.application_data, 2**14 + 2049)
    failure = expect(pair.client, recorder, header, alerts.RecordOverflow)
    peer_receives(failure, pair.server)


def test_tls12_record_decrypting_to_more_than_2_14_bytes_is_record_overflow() -> None:
    """RFC 5246 §6.2.1: TLSPlaintext.length "MUST NOT exceed 2^14"; §7.2.2: a record
    that decrypts to more is record_overflow (checked after it authenticated)."""
    pair, recorder = tls12_connected()
    protection = pair.client._read
    assert protection is not None
    protector = protection.protector  # type: ignore[attr-defined]
    content = b"x" * (MAX_PLAINTEXT + 1)
    sequence_number = protection.sequence_number
    aad = additional_data(sequence_number, ContentType.application_data, TLS1_2, len(content))
    record_iv = sequence_number.to_bytes(8, "big")
    fragment = record_iv + protector._cipher.encrypt(protector._nonce(sequence_number, record_iv), content, aad)
    data = build_header(ContentType.application_data, len(fragment)) + fragment
    failure = expect(pair.client, recorder, data, alerts.RecordOverflow, "2\\^14")
    peer_receives(failure, pair.server)


def tls12_client_after_server_hello(recorder: Recorder) -> tuple[ClientConnection, list[bytes]]:
    """A client that has read the TLS 1.2 ServerHello (state WAIT_CERT), and the
    rest of that server flight as handshake messages."""
    client = ClientConnection(client_config(observer=recorder))
    server = ServerConnection(server_config(versions=(TLS1_2,)))
    client.start_handshake()
    server.receive_data(client.data_to_send())
    (plaintext_record,) = split_records(server.data_to_send())
    payload = plaintext_record[HEADER_LENGTH:]
    messages = []
    while payload:
        length = 4 + int.from_bytes(payload[1:4], "big")
        messages.append(payload[:length])
        payload = payload[length:]
    client.receive_data(record(ContentType.handshake, messages[0]))
    assert (client.machine, client.state) == ("client12", State.WAIT_CERT)
    return client, messages[1:]


def test_tls12_plaintext_record_longer_than_2_14_is_record_overflow() -> None:
    """RFC 5246 §6.2.1: "The length MUST NOT exceed 2^14" (no alert named there;
    §7.2.2 makes it record_overflow)."""
    recorder = Recorder()
    client, _ = tls12_client_after_server_hello(recorder)
    expect(client, recorder, record(ContentType.handshake, bytes(MAX_PLAINTEXT + 1)), alerts.RecordOverflow)


def test_tls12_flight_in_one_byte_records_succeeds() -> None:
    """RFC 5246 §6.2.1: "multiple client messages of the same ContentType MAY be
    coalesced into a single TLSPlaintext record, or a single message MAY be
    fragmented across several records"."""
    client, rest = tls12_client_after_server_hello(Recorder())
    payload = b"".join(rest)
    client.receive_data(b"".join(record(ContentType.handshake, payload[i : i + 1]) for i in range(len(payload))))
    assert client.state in (State.WAIT_NST, State.WAIT_CCS)


def test_tls12_alert_between_the_fragments_of_a_handshake_message_is_unexpected_message() -> None:
    recorder = Recorder()
    client, rest = tls12_client_after_server_hello(recorder)
    certificate = rest[0]
    warning = record(ContentType.alert, bytes([AlertLevel.warning, AlertDescription.no_renegotiation_RESERVED]))
    data = record(ContentType.handshake, certificate[:10]) + warning + record(ContentType.handshake, certificate[10:])
    expect(client, recorder, data, alerts.UnexpectedMessage, "interleaved")


# --- ChangeCipherSpec (RFC 5246 §7.1) ---------------------------------------------------


@pytest.mark.parametrize("contents", [b"", b"\x02", b"\x01\x01"], ids=["empty", "02", "0101"])
def test_tls12_change_cipher_spec_with_other_contents_is_unexpected_message(contents: bytes) -> None:
    """RFC 5246 §7.1: "The message consists of a single byte of value 1." (No alert is
    named; teachtls: unexpected_message, as RFC 8446 §5 asks of TLS 1.3.)"""
    recorder = Recorder()
    pair = HandshakePair(
        ClientConnection(client_config()), ServerConnection(server_config(versions=(TLS1_2,), observer=recorder))
    )
    pair.client.start_handshake()
    pair.client_to_server()
    pair.server_to_client()
    flight = split_records(pair.client.data_to_send())
    bad = [
        record(ContentType.change_cipher_spec, contents) if r[0] == ContentType.change_cipher_spec else r
        for r in flight
    ]
    expect(pair.server, recorder, b"".join(bad), alerts.UnexpectedMessage, "ChangeCipherSpec with contents")


class DoubleChangeCipherSpecServer(ServerConnection):
    """Sends its ChangeCipherSpec twice; the second one goes out under the new keys."""

    def send_change_cipher_spec_12(self) -> None:
        super().send_change_cipher_spec_12()
        self.write_record(ContentType.change_cipher_spec, b"\x01")


def test_tls12_repeated_change_cipher_spec_is_unexpected_message() -> None:
    """RFC 5246 §7.4: messages "MUST be sent in the order" of §7.3; a second
    ChangeCipherSpec where the Finished must come is unexpected_message (§7.2.2).
    (TLS 1.3 drops extra ones: test_repeated_change_cipher_spec_during_the_handshake_is_dropped.)"""
    recorder = Recorder()
    pair = HandshakePair(
        ClientConnection(client_config(observer=recorder)),
        DoubleChangeCipherSpecServer(server_config(versions=(TLS1_2,))),
    )
    pair.client.start_handshake()
    pair.client_to_server()
    pair.server_to_client()
    pair.client_to_server()
    failure = expect(
        pair.client,
        recorder,
        pair.server.data_to_send(),
        alerts.UnexpectedMessage,
        "not expected in state WAIT_FINISHED",
    )
    peer_receives(failure, pair.server)


# --- ServerHello extensions and versions -------------------------------------------------


@pytest.mark.parametrize(
    ("extension", "alert_class", "match"),
    [
        (make_extension(0x7777, RawBody(b"\x01")), alerts.UnsupportedExtension, "not offered"),
        (make_extension(E.heartbeat, RawBody(b"\x01")), alerts.IllegalParameter, "must not carry"),
        (
            make_extension(E.key_share, KeyShareServerHello(KeyShareEntry(group=29, key_exchange=bytes(range(1, 33))))),
            alerts.IllegalParameter,
            "must not carry",
        ),
        (make_extension(E.extended_master_secret, Empty()), alerts.IllegalParameter, "two"),
    ],
    ids=["unsolicited", "not-a-server-hello-extension", "tls13-only", "duplicate"],
)
def test_tls12_server_hello_extension_rules(extension: Extension, alert_class: type[LocalAlert], match: str) -> None:
    """RFC 5246 §7.4.1.4: "If a client receives an extension type in ServerHello that
    it did not request in the associated ClientHello, it MUST abort the handshake with
    an unsupported_extension fatal alert"; "There MUST NOT be more than one extension of
    the same type"; RFC 8446 §4.2: key_share belongs to TLS 1.3 messages only."""
    server_flight_to_client(
        editing(ServerHello, lambda m: attrs.evolve(m, extensions=(*m.extensions, extension))),
        alert_class,
        match,
        server={"versions": (TLS1_2,)},
    )


def test_tls12_server_hello_alpn_not_offered_is_illegal_parameter() -> None:
    alpn = make_extension(E.application_layer_protocol_negotiation, ProtocolNameList((b"spdy/3",)))
    server_flight_to_client(
        editing(ServerHello, lambda m: attrs.evolve(m, extensions=(*m.extensions, alpn))),
        alerts.IllegalParameter,
        "ALPN",
        client={"alpn_protocols": (b"h2",)},
        server={"versions": (TLS1_2,)},
    )


# --- renegotiation_info (RFC 5746) ------------------------------------------------------------


def test_tls12_non_empty_renegotiation_info_in_the_first_server_hello_is_handshake_failure() -> None:
    """RFC 5746 §3.4: "The client MUST then verify that the length of the
    'renegotiated_connection' field is zero, and if it is not, MUST abort the
    handshake (by sending a fatal handshake_failure alert)." """
    info = make_extension(E.renegotiation_info, RenegotiationInfo(bytes(24)))
    server_flight_to_client(
        editing(ServerHello, lambda m: attrs.evolve(m, extensions=replace_extension(m.extensions, info))),
        alerts.HandshakeFailure,
        "renegotiation_info",
        server={"versions": (TLS1_2,)},
    )


def test_tls12_non_empty_renegotiation_info_in_the_first_client_hello_is_handshake_failure() -> None:
    """RFC 5746 §3.6: the server "MUST then verify that the length of the
    'renegotiated_connection' field is zero, and if it is not, MUST abort the
    handshake" -- handshake_failure, as in §3.4."""
    info = make_extension(E.renegotiation_info, RenegotiationInfo(bytes(12)))
    hello = recorded_client_hello()
    hello = attrs.evolve(hello, extensions=replace_extension(hello.extensions, info))
    recorder = Recorder()
    server = fresh_server(observer=recorder, versions=(TLS1_2,))
    expect(server, recorder, handshake_record(hello), alerts.HandshakeFailure, "renegotiation_info")


class ScsvOnRenegotiationClient(ClientConnection):
    """Puts TLS_EMPTY_RENEGOTIATION_INFO_SCSV into its renegotiating ClientHello."""

    def build_client_hello(self, cookie: bytes | None = None) -> ClientHello:
        hello = super().build_client_hello(cookie)
        if not self.renegotiating:
            return hello
        return attrs.evolve(hello, cipher_suites=(*hello.cipher_suites, CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV))


def test_tls12_scsv_in_a_renegotiating_client_hello_is_handshake_failure() -> None:
    """RFC 5746 §3.7: "When a ClientHello is received, the server MUST verify that it
    does not contain the TLS_EMPTY_RENEGOTIATION_INFO_SCSV SCSV. If the SCSV is
    present, the server MUST abort the handshake."

    Core bug found here: the renegotiation went ahead."""
    recorder = Recorder()
    pair = HandshakePair(
        ScsvOnRenegotiationClient(client_config()),
        ServerConnection(server_config(versions=(TLS1_2,), observer=recorder)),
    )
    pair.handshake()
    pair.client.renegotiate()
    failure = expect(pair.server, recorder, pair.client.data_to_send(), alerts.HandshakeFailure, "SCSV")
    peer_receives(failure, pair.client)


class DropsRenegotiationInfoWhenRenegotiating(ServerConnection):
    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        if isinstance(message, ServerHello) and self.renegotiating:
            message = without_extension(message, E.renegotiation_info)
        return super().send_handshake(message, transcript=transcript)


def test_tls12_renegotiation_server_hello_without_renegotiation_info_is_handshake_failure() -> None:
    """RFC 5746 §3.5: "When a ServerHello is received, the client MUST verify that the
    'renegotiation_info' extension is present; if it is not, the client MUST abort the
    handshake." (A wrong value: tests/test_tls12.py.)"""
    recorder = Recorder()
    pair = HandshakePair(
        ClientConnection(client_config(observer=recorder)),
        DropsRenegotiationInfoWhenRenegotiating(server_config(versions=(TLS1_2,))),
    )
    pair.handshake()
    pair.client.renegotiate()
    pair.client_to_server()
    failure = expect(pair.client, recorder, pair.server.data_to_send(), alerts.HandshakeFailure, "renegotiation_info")
    peer_receives(failure, pair.server)


def test_tls13_server_hello_during_a_tls12_renegotiation_is_protocol_version() -> None:
    """RFC 8446 §4.1.3: "A legacy TLS client performing renegotiation with TLS 1.2 or
    prior and which receives a TLS 1.3 ServerHello during renegotiation MUST abort the
    handshake with a 'protocol_version' alert."

    Core bug found here: the client took the TLS 1.3 path inside its TLS 1.2 machine
    and failed with internal_error."""
    recorder = Recorder()
    pair = HandshakePair(
        ClientConnection(client_config(observer=recorder)), ServerConnection(server_config(versions=(TLS1_2,)))
    )
    pair.handshake()
    pair.client.renegotiate()
    pair.client.data_to_send()  # the server never sees this ClientHello; a TLS 1.3 ServerHello answers it
    pair.server.send_handshake(recorded_server_hello(), transcript=False)
    # (The server never read the renegotiating ClientHello, so the record sequence
    # numbers no longer agree and it could not decrypt the alert: not checked here.)
    expect(pair.client, recorder, pair.server.data_to_send(), alerts.ProtocolVersionAlert, "renegotiation")


# --- the extended master secret on resumption (RFC 7627 §5.3) ---------------------------------


def tls12_session(extended_master_secret: bool) -> tuple[bytes, SessionDatabase]:
    """A TLS 1.2 session, saved by ID, with or without the extended master secret."""
    cache = SessionDatabase(counter_random(b"session ids"))
    first = HandshakePair(
        ClientConnection(client_config()),
        ServerConnection(
            server_config(versions=(TLS1_2,), session_id_cache=cache, extended_master_secret=extended_master_secret)
        ),
    )
    first.handshake()
    return first.client.get_session_data(), cache


class ResumesWhateverTheExtendedMasterSecret(ServerConnection):
    """A server that ignores RFC 7627 §5.3 and resumes any session it finds."""

    def find_session_12(self) -> Any:
        assert self.client_hello is not None and self.config.session_id_cache is not None
        return self.config.session_id_cache.retrieve(self.client_hello.legacy_session_id, self.config.clock())


@pytest.mark.parametrize("session_used_it", [True, False], ids=["session-used-it", "session-did-not"])
def test_tls12_resumption_that_changes_the_extended_master_secret_is_handshake_failure(session_used_it: bool) -> None:
    """RFC 7627 §5.3, client side: "If the original session did not use the
    'extended_master_secret' extension but the new ServerHello contains the extension,
    the client MUST abort the handshake", and "If the original session used the
    extension but the new ServerHello does not contain the extension, the client MUST
    abort the handshake." No alert is named; teachtls: handshake_failure.

    Core bug found here: the session-did-not case was resumed."""
    session, cache = tls12_session(extended_master_secret=session_used_it)
    recorder = Recorder()
    client = resuming_client(session, observer=recorder)
    server = ResumesWhateverTheExtendedMasterSecret(
        server_config(versions=(TLS1_2,), session_id_cache=cache, extended_master_secret=not session_used_it)
    )
    client.start_handshake()
    server.receive_data(client.data_to_send())
    assert server.resumed
    failure = expect(client, recorder, server.data_to_send(), alerts.HandshakeFailure, "extended master secret")
    peer_receives(failure, server)


@pytest.mark.parametrize("session_used_it", [True, False], ids=["session-used-it", "session-did-not"])
def test_tls12_server_does_not_resume_across_an_extended_master_secret_change(session_used_it: bool) -> None:
    """RFC 7627 §5.3, server side: "If the original session did not use the
    'extended_master_secret' extension but the new ClientHello contains the extension,
    then the server MUST NOT perform the abbreviated handshake" (it SHOULD do a full
    one); "If the original session used the 'extended_master_secret' extension but the
    new ClientHello does not contain it, the server MUST abort the abbreviated
    handshake" -- teachtls falls back to a full handshake in both cases.

    Core bug found here: the session-did-not case was resumed."""
    session, cache = tls12_session(extended_master_secret=session_used_it)
    client = resuming_client(session, extended_master_secret=not session_used_it)
    # (Another random source: the same one would draw the old session ID again.)
    server = ServerConnection(
        server_config(versions=(TLS1_2,), session_id_cache=cache, random=counter_random(b"second server"))
    )
    client_events, server_events = HandshakePair(client, server).handshake()
    assert completed(client_events) and completed(server_events)
    assert not client.resumed and not server.resumed


# --- key exchange messages (RFC 5246 §7.4.3, §7.4.7; RFC 8422 §5.4, §5.7) ----------------------


class ResigningServer(ServerConnection):
    """Changes its ServerKeyExchange, then signs the changed parameters properly,
    so that the client's check of the parameters -- not of the signature -- is tested."""

    def __init__(self, config: Config, change: Callable[[ServerKeyExchange], ServerKeyExchange]) -> None:
        super().__init__(config)
        self.change = change

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        if isinstance(message, ServerKeyExchange):
            message = self.change(message)
            content = self.client_random + self.server_random + message.params_bytes()
            key = self.config.private_key
            assert isinstance(key, ed25519.Ed25519PrivateKey)  # the test leaf
            message = attrs.evolve(message, signature=sign(key, SignatureScheme.ed25519, content))
        return super().send_handshake(message, transcript=transcript)


SERVER_KEY_EXCHANGE_CHANGES: dict[str, tuple[Callable[[ServerKeyExchange], ServerKeyExchange], str]] = {
    "explicit-curve-type": (lambda m: attrs.evolve(m, curve_type=1), "named_curve"),
    "curve-not-offered": (lambda m: attrs.evolve(m, namedcurve=NamedGroup.ffdhe2048), "not offered"),
    "hybrid-group": (lambda m: attrs.evolve(m, namedcurve=NamedGroup.X25519MLKEM768), "not offered"),
    "all-zero-x25519-point": (lambda m: attrs.evolve(m, public=bytes(32)), "public key is invalid"),
    "x25519-point-of-31-bytes": (lambda m: attrs.evolve(m, public=m.public[:31]), "public key is invalid"),
}


@pytest.mark.parametrize("change", list(SERVER_KEY_EXCHANGE_CHANGES))
def test_tls12_bad_server_key_exchange_parameters_are_illegal_parameter(change: str) -> None:
    """RFC 8422 §5.4: the curve must be a named_curve the client offered, the point a
    valid one (RFC 8446 §6's "semantically invalid" rule gives illegal_parameter).
    (A bad *signature* is decrypt_error: tests/test_tls12.py.)"""
    edit, match = SERVER_KEY_EXCHANGE_CHANGES[change]
    recorder = Recorder()
    pair = HandshakePair(
        ClientConnection(client_config(observer=recorder)), ResigningServer(server_config(versions=(TLS1_2,)), edit)
    )
    pair.client.start_handshake()
    pair.client_to_server()
    failure = expect(pair.client, recorder, pair.server.data_to_send(), alerts.IllegalParameter, match)
    assert failure.sent == record(ContentType.alert, bytes([AlertLevel.fatal, AlertDescription.illegal_parameter]))


def test_tls12_server_key_exchange_signed_with_a_scheme_unfit_for_the_certificate_is_illegal_parameter() -> None:
    """RFC 5246 §7.4.3 / §7.4.1.4.1: the signature algorithm must be one the client
    offered and must fit the server's key (here RSA-PSS for an Ed25519 certificate)."""
    edit = editing(ServerKeyExchange, lambda m: attrs.evolve(m, algorithm=SignatureScheme.rsa_pss_rsae_sha256))
    server_flight_to_client(
        edit, alerts.IllegalParameter, "ServerKeyExchange is signed", server={"versions": (TLS1_2,)}
    )


def tls12_client_flight(
    edit: Callable[..., Any], client: dict[str, Any] | None = None, server: dict[str, Any] | None = None
) -> tuple[HandshakePair, Recorder]:
    """The client edits its second flight; the server has sent its first."""
    recorder = Recorder()
    client_settings, server_settings = client or {}, server or {}
    pair = HandshakePair(
        TamperingClient(client_config(**client_settings), edit),
        ServerConnection(server_config(versions=(TLS1_2,), observer=recorder, **server_settings)),
    )
    pair.client.start_handshake()
    pair.client_to_server()
    pair.server_to_client()
    return pair, recorder


@pytest.mark.parametrize(
    "public", [bytes(32), b"\x01" + bytes(31), bytes(range(31))], ids=["all-zero", "order-1", "31-bytes"]
)
def test_tls12_bad_client_key_exchange_point_is_illegal_parameter(public: bytes) -> None:
    """RFC 8422 §5.7 / RFC 7748 §6: the client's ECDH point must be valid and must not
    lead to the all-zero shared secret."""
    pair, recorder = tls12_client_flight(
        editing(ClientKeyExchangeECDHE, lambda m: ClientKeyExchangeECDHE(ecdh_Yc=public))
    )
    failure = expect(pair.server, recorder, pair.client.data_to_send(), alerts.IllegalParameter, "ECDH public key")
    assert failure.sent == record(ContentType.alert, bytes([AlertLevel.fatal, AlertDescription.illegal_parameter]))


@functools.cache
def rsa_leaf() -> IssuedCertificate:
    ca, _ = pki()
    return issue_leaf(ca, "localhost", dns_names=["localhost"], key_type="rsa-2048")


def test_tls12_bad_rsa_premaster_secret_fails_at_finished_not_before() -> None:
    """RFC 5246 §7.4.7.1: when the encrypted pre-master secret does not decrypt
    properly, the server "MUST NOT generate an alert"; it carries on "with a randomly
    generated premaster secret" -- the Bleichenbacher defence. The handshake then fails
    where any key mismatch does: the client's Finished, encrypted under keys the server
    does not have, is bad_record_mac (RFC 5246 §6.2.3.2)."""
    leaf = rsa_leaf()
    suite = CipherSuite12.TLS_RSA_WITH_AES_128_CBC_SHA256
    garbage = editing(
        ClientKeyExchangeRSA,
        lambda m: ClientKeyExchangeRSA(encrypted_pre_master_secret=bytes(len(m.encrypted_pre_master_secret))),
    )
    pair, recorder = tls12_client_flight(
        garbage,
        {"legacy_suites_for_teaching": True},
        {
            "certificate_chain": (leaf.certificate,),
            "private_key": leaf.private_key,
            "cipher_suites_12": (suite,),
            "legacy_suites_for_teaching": True,
        },
    )
    client_key_exchange, *rest = split_records(pair.client.data_to_send())
    assert pair.server.receive_data(client_key_exchange) == [] and not pair.server.closed
    assert pair.server.data_to_send() == b""
    failure = expect(pair.server, recorder, b"".join(rest), alerts.BadRecordMac)
    peer_receives(failure, pair.client)


# --- more TLS 1.2 hellos (RFC 5246 §7.4.1.2, §7.4.1.3, Appendix E.1) ---------------------------


def test_tls12_client_hello_without_the_null_compression_method_is_illegal_parameter() -> None:
    """RFC 5246 §7.4.1.2: the compression methods vector "MUST contain, and all
    implementations MUST support, CompressionMethod.null" (no alert named; teachtls:
    illegal_parameter, as RFC 8446 §4.1.2 asks of TLS 1.3)."""
    recorder = Recorder()
    server = fresh_server(observer=recorder, versions=(TLS1_2,))
    hello = attrs.evolve(recorded_client_hello(), legacy_compression_methods=b"\x01")
    expect(server, recorder, handshake_record(hello), alerts.IllegalParameter, "null compression")


@pytest.mark.parametrize(
    ("fields", "alert_class", "match"),
    [
        ({"legacy_compression_method": 1}, alerts.IllegalParameter, "compression"),
        ({"legacy_version": ProtocolVersion.TLS1_1}, alerts.ProtocolVersionAlert, "TLS1_1"),
    ],
    ids=["compression-method-1", "tls11"],
)
def test_tls12_server_hello_rules(fields: dict[str, int], alert_class: type[LocalAlert], match: str) -> None:
    """RFC 5246 §7.4.1.3: the server selects null compression; Appendix E.1: "If the
    version chosen by the server is not supported by the client (or not acceptable),
    the client MUST send a 'protocol_version' alert message and close the connection"."""
    server_flight_to_client(
        editing(ServerHello, lambda m: attrs.evolve(m, **fields)), alert_class, match, server={"versions": (TLS1_2,)}
    )


def test_tls12_unknown_record_type_is_unexpected_message() -> None:
    """RFC 5246 §6: "If a TLS implementation receives an unexpected record type, it
    MUST send an unexpected_message alert." """
    pair, recorder = tls12_connected()
    failure = expect(pair.server, recorder, record(0x18, b"\x01"), alerts.UnexpectedMessage, "content type 24")
    peer_receives(failure, pair.client)


def test_tls12_client_certificate_verify_with_a_bad_signature_is_decrypt_error() -> None:
    """RFC 5246 §7.4.8 and §7.2.2 decrypt_error: "A handshake cryptographic operation
    failed, including being unable to correctly verify a signature"."""
    client_settings, server_settings = client_auth_settings()
    flip = editing(CertificateVerify, lambda m: attrs.evolve(m, signature=bytes(len(m.signature))))
    pair, recorder = tls12_client_flight(flip, client_settings, server_settings)
    failure = expect(pair.server, recorder, pair.client.data_to_send(), alerts.DecryptError, "CertificateVerify")
    assert failure.sent == record(ContentType.alert, bytes([AlertLevel.fatal, AlertDescription.decrypt_error]))


# --- certificates that do not parse (RFC 8446 §4.4.2, RFC 5246 §7.4.2) ---------------------------


def corrupt_certificate(der: bytes, how: str) -> bytes:
    """The server's certificate with one part of its insides broken, its outer DER intact."""
    if how == "extension":
        # subjectAltName (2.5.29.17): turn the SEQUENCE tag of its GeneralNames into a SET tag.
        position = der.index(bytes.fromhex("0603551d11"))
        inner = der.index(b"\x04", position + 5)  # the OCTET STRING holding the extension value
        return der[: inner + 2] + b"\x31" + der[inner + 3 :]
    if how == "duplicate-extension":
        # subjectAltName's OID becomes subjectKeyIdentifier's (2.5.29.14): two of the same.
        return der.replace(bytes.fromhex("0603551d11"), bytes.fromhex("0603551d0e"), 1)
    if how == "version":
        # TBSCertificate.version [0] EXPLICIT INTEGER: v3 (2) becomes 6, which does not exist.
        return der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020106"), 1)
    # The public key algorithm: Ed25519 (1.3.101.112) becomes 1.3.101.108, which nobody implements.
    assert how == "key-algorithm"
    return der.replace(bytes.fromhex("06032b6570"), bytes.fromhex("06032b656c"), 1)


@pytest.mark.parametrize(
    ("how", "alert_class"),
    [
        ("extension", alerts.BadCertificate),
        ("version", alerts.BadCertificate),
        ("duplicate-extension", alerts.BadCertificate),
        ("key-algorithm", alerts.UnsupportedCertificate),
    ],
)
@pytest.mark.parametrize("version", [TLS1_3, TLS1_2], ids=["TLS1.3", "TLS1.2"])
def test_certificate_that_does_not_parse_inside(how: str, alert_class: type[LocalAlert], version: int) -> None:
    """RFC 5246 §7.2.2 / RFC 8446 §6.2: bad_certificate "A certificate was corrupt";
    unsupported_certificate "A certificate was of an unsupported type".

    Core bugs found here (by tests/test_mutation_fuzzer.py, in TLS 1.2, where the
    certificate travels in the clear), each an internal_error before: cryptography
    parses extensions, names and the public key lazily, so a certificate corrupt
    inside got past the DER check and failed deep in chain verification; and an
    unknown X.509 version raises InvalidVersion, and a duplicate extension
    DuplicateExtension, neither of them the ValueError the DER check caught."""

    _, leaf = pki()
    bad = corrupt_certificate(leaf.certificate.public_bytes(Encoding.DER), how)
    if version == TLS1_3:
        edit = editing(
            Certificate,
            lambda m: attrs.evolve(m, certificate_list=(attrs.evolve(m.certificate_list[0], cert_data=bad),)),
        )
        server_flight_to_client(edit, alert_class, "certificate")
    else:
        server_flight_to_client(
            editing(Certificate12, lambda m: Certificate12(certificate_list=(bad,))),
            alert_class,
            "certificate",
            server={"versions": (TLS1_2,)},
        )


# --- mandatory extensions (RFC 8446 §4.2.3, §9.2) ------------------------------------------------


@pytest.mark.parametrize("missing", [E.signature_algorithms, E.supported_groups], ids=lambda e: e.name)
def test_client_hello_without_a_mandatory_extension_is_missing_extension(missing: ExtensionType) -> None:
    """RFC 8446 §4.2.3: "If a server is authenticating via a certificate and the client
    has not sent a 'signature_algorithms' extension, then the server MUST abort the
    handshake with a 'missing_extension' alert"; §9.2: a ClientHello with key_share
    needs supported_groups, and "Servers receiving a ClientHello which does not conform
    to these requirements MUST abort the handshake with a 'missing_extension' alert"."""
    recorder = Recorder()
    server = fresh_server(observer=recorder, versions=(TLS1_3,))
    hello = without_extension(recorded_client_hello(), missing)
    expect(server, recorder, handshake_record(hello), alerts.MissingExtension, missing.name)


# --- alerts (RFC 8446 §6, §6.1) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "description"),
    [
        (AlertLevel.warning, AlertDescription.handshake_failure),
        (AlertLevel.fatal, 255),
        (AlertLevel.warning, 255),
        (7, AlertDescription.decode_error),
    ],
    ids=["warning-handshake_failure", "fatal-unknown", "warning-unknown", "level-7"],
)
def test_error_alerts_are_fatal_whatever_their_level(level: int, description: int) -> None:
    """RFC 8446 §6: "All the alerts listed in Section 6.2 MUST be sent with
    AlertLevel=fatal and MUST be treated as error alerts when received regardless of
    the AlertLevel in the message. Unknown Alert types MUST be treated as error
    alerts." The connection closes; no alert answers an alert."""
    pair, _ = connected()
    alert = sealed_for(pair.client, inner_plaintext(bytes([level, description]), ContentType.alert))
    with pytest.raises(RemoteAlert) as caught:
        pair.client.receive_data(alert)
    assert caught.value.raw_description == description
    assert pair.client.closed and pair.client.data_to_send() == b""


def test_user_canceled_warning_is_not_fatal() -> None:
    """RFC 8446 §6.1: user_canceled is the one warning alert of TLS 1.3."""
    pair, _ = connected()
    warning = sealed_for(pair.client, inner_plaintext(bytes([1, AlertDescription.user_canceled]), ContentType.alert))
    pair.client.receive_data(warning)
    assert not pair.client.closed


def test_data_after_close_notify_is_ignored() -> None:
    """RFC 8446 §6.1: "Any data received after a closure alert has been received MUST be ignored." """
    pair, _ = connected()
    close_notify = sealed_for(pair.client, inner_plaintext(bytes([1, 0]), ContentType.alert))
    after = sealed_for(pair.client, inner_plaintext(b"too late", ContentType.application_data), offset=1)
    events = pair.client.receive_data(close_notify + after + b"\xff garbage")
    assert [type(e).__name__ for e in events] == ["CloseNotifyReceived"]
    assert not pair.client.closed  # half-closed: the client may still send
    pair.client.send_application_data(b"still writing")
    assert pair.server.receive_data(pair.client.data_to_send()) == [ApplicationData(b"still writing")]


# ======================================================================================
# The audit table (docs/rfc-audit.md) names only tests that exist
# ======================================================================================

AUDIT = Path(__file__).parent.parent / "docs" / "rfc-audit.md"
TEST_REFERENCE = re.compile(r"`(test_\w+)::(test_\w+)(?:\[([^\]]+)\])?`")


def collected_ids(module_names: set[str]) -> set[str]:
    """Every test id pytest collects from these modules (`module::function[parameters]`)."""
    paths = [str(Path(__file__).parent / f"{name}.py") for name in sorted(module_names)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    return {line.split("/")[-1].replace(".py::", "::") for line in result.stdout.splitlines() if "::" in line}


def test_audit_table_names_existing_tests() -> None:
    text = AUDIT.read_text(encoding="utf-8")
    references = TEST_REFERENCE.findall(text)
    assert len(references) > 150
    missing = []
    for module_name, function_name, _ in references:
        if not hasattr(importlib.import_module(f"tests.{module_name}"), function_name):
            missing.append(f"{module_name}::{function_name}")
    with_parameters = {(m, f, p) for m, f, p in references if p}
    known = collected_ids({m for m, _, _ in with_parameters})
    missing += [f"{m}::{f}[{p}]" for m, f, p in sorted(with_parameters) if f"{m}::{f}[{p}]" not in known]
    assert not missing, f"docs/rfc-audit.md names tests that do not exist: {missing}"


def test_every_test_of_this_module_is_in_the_audit_table() -> None:
    """The other direction: a MUST tested here is a row there."""
    text = AUDIT.read_text(encoding="utf-8")
    named = {function for module, function, _ in TEST_REFERENCE.findall(text) if module == "test_rfc_musts"}
    here = {name for name in globals() if name.startswith("test_")} - {
        "test_audit_table_names_existing_tests",
        "test_every_test_of_this_module_is_in_the_audit_table",
    }
    assert here - named == set()
