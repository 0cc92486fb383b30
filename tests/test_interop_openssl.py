"""Interop: teachtls against the real `openssl` binary (s_server and s_client).

Known answers prove that teachtls computes what RFC 8448 says; interop proves
that it speaks the same TLS 1.3 as a widely deployed implementation. Every
test runs on 127.0.0.1 with bounded time (see tests/interop.py).

Covered, in both directions (teachtls client -> `openssl s_server`, `openssl
s_client` -> teachtls server):

* every TLS 1.3 cipher suite (RFC 8446 §B.4) x the groups x25519, secp256r1,
  secp384r1 (§4.2.7) x server certificates with ECDSA P-256, RSA-2048
  (signed with RSA-PSS, §4.2.3) and Ed25519 keys, all issued by one ECDSA
  P-256 CA, verified for the name "localhost";
* a HelloRetryRequest (§4.1.4) when the first key share is for a group the
  server does not want;
* client authentication (§4.3.2, §4.4.2), including the certificate_required
  alert (§4.4.2.4) when a required certificate is missing;
* middlebox compatibility mode (§D.4) switched on and off;
* ALPN (RFC 7301), a KeyUpdate (§4.6.3) and data spanning several records;
* a failure: a certificate that does not match the server name.

The openssl servers are module-scoped (one per certificate type); forcing the
suite and group from the teachtls side keeps the matrix fast. The teachtls
servers are cheap threads, one per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from teachtls import Config, HandshakeCompleted, LocalAlert
from teachtls.handshake.alerts import BadCertificate, CertificateRequired
from teachtls.handshake.client13 import ClientConnection
from teachtls.trace.events import AlertSent, MessageReceived, MessageSent, RecordReceived, RecordSent
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import CipherSuite, ContentType, NamedGroup
from tests.interop import (
    CERT_TYPES,
    OPENSSL,
    EchoServer,
    OpenSSLServer,
    Pki,
    connect,
    make_pki,
    run_s_client,
)

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed"),
]

SUITES = (
    CipherSuite.TLS_AES_128_GCM_SHA256,
    CipherSuite.TLS_AES_256_GCM_SHA384,
    CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
)

# teachtls group -> (openssl's -groups name, how s_client prints the server's key share)
GROUPS = {
    NamedGroup.x25519: ("x25519", "Server Temp Key: X25519"),
    NamedGroup.secp256r1: ("P-256", "Server Temp Key: ECDH, prime256v1"),
    NamedGroup.secp384r1: ("P-384", "Server Temp Key: ECDH, secp384r1"),
}

# The scheme each server key signs CertificateVerify with (RFC 8446 §4.2.3:
# RSA keys use RSA-PSS in TLS 1.3, never PKCS #1 v1.5).
SIGNATURE_SCHEMES = {
    "ecdsa-p256": "ecdsa_secp256r1_sha256",
    "rsa-2048": "rsa_pss_rsae_sha256",
    "ed25519": "ed25519",
}

HTTP_GET = b"GET / HTTP/1.0\r\n\r\n"
LINE = b"hello from openssl s_client\n"
ECHO = "teachtls echo: hello from openssl s_client"


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("interop-pki"))


@pytest.fixture(scope="module", params=CERT_TYPES)
def www_server(request: pytest.FixtureRequest, pki: Pki) -> Iterator[tuple[str, OpenSSLServer]]:
    """`openssl s_server -www` with one server certificate type; all suites and groups."""
    cert_type: str = request.param
    files = pki.servers[cert_type]
    server = OpenSSLServer(["-cert", files.cert_file, "-key", files.key_file, "-www", "-groups", "x25519:P-256:P-384"])
    yield cert_type, server
    server.stop()


@pytest.fixture(scope="module")
def p256_only_server(pki: Pki) -> Iterator[OpenSSLServer]:
    """`openssl s_server -www -groups P-256`: an x25519 key share gets a HelloRetryRequest."""
    files = pki.servers["ecdsa-p256"]
    server = OpenSSLServer(["-cert", files.cert_file, "-key", files.key_file, "-www", "-groups", "P-256"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client_auth_server(pki: Pki) -> Iterator[OpenSSLServer]:
    """`openssl s_server -www -Verify 1`: a client certificate from our CA is required."""
    files = pki.servers["ecdsa-p256"]
    server = OpenSSLServer(
        [
            "-cert", files.cert_file, "-key", files.key_file, "-www",
            "-Verify", "1", "-CAfile", pki.ca_file, "-verify_return_error",
        ]
    )  # fmt: skip
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reverse_server(pki: Pki) -> Iterator[OpenSSLServer]:
    """`openssl s_server -rev -alpn http/1.1`: answers every line reversed."""
    files = pki.servers["ecdsa-p256"]
    server = OpenSSLServer(["-cert", files.cert_file, "-key", files.key_file, "-rev", "-alpn", "http/1.1"])
    yield server
    server.stop()


@pytest.fixture
def echo_servers() -> Iterator[list[EchoServer]]:
    """Teachtls servers started by a test; stopped afterwards."""
    servers: list[EchoServer] = []
    yield servers
    for server in servers:
        server.stop()


# --- helpers --------------------------------------------------------------------------


def client_config(pki: Pki, **changes: Any) -> Config:
    config = Config(server_name="localhost", trusted_certificates=(pki.ca.certificate,))
    return attrs.evolve(config, **changes)


def server_config(pki: Pki, cert_type: str, **changes: Any) -> Config:
    leaf = pki.servers[cert_type].issued
    config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
    return attrs.evolve(config, **changes)


def start_echo_server(echo_servers: list[EchoServer], config: Config) -> EchoServer:
    server = EchoServer(config)
    echo_servers.append(server)
    return server


def http_get(port: int, config: Config) -> tuple[HandshakeCompleted, str, ClientConnection]:
    """Handshake with `s_server -www`, GET its status page, close."""
    pump = connect(port, config)
    try:
        completed = pump.handshake()
        pump.send(HTTP_GET)
        page = pump.receive_until_close()
    finally:
        pump.close()
    assert isinstance(pump.connection, ClientConnection)
    return completed, page.decode("utf-8", "replace"), pump.connection


def s_client_args(pki: Pki, *extra: str | Path) -> list[str | Path]:
    """Verify the teachtls server's chain and name; keep reading after stdin ends."""
    return ["-CAfile", pki.ca_file, "-servername", "localhost", "-verify_return_error", "-ign_eof", *extra]


def sent_records(recorder: Recorder, content_type: int) -> list[RecordSent]:
    # exact type: RecordReceived is a subclass of RecordSent
    return [e for e in recorder.events if type(e) is RecordSent and e.content_type == content_type]


def received_records(recorder: Recorder, content_type: int) -> list[RecordReceived]:
    return [e for e in recorder.events if type(e) is RecordReceived and e.content_type == content_type]


def sent_messages(recorder: Recorder) -> list[str]:
    return [e.name for e in recorder.events if type(e) is MessageSent]


def received_messages(recorder: Recorder) -> list[str]:
    return [e.name for e in recorder.events if type(e) is MessageReceived]


# --- 1. teachtls client -> openssl s_server: suites x groups x certificate types ----------------


@pytest.mark.parametrize("group", list(GROUPS), ids=lambda group: group.name)
@pytest.mark.parametrize("suite", SUITES, ids=lambda suite: suite.name)
def test_client_against_s_server(
    pki: Pki, www_server: tuple[str, OpenSSLServer], suite: CipherSuite, group: NamedGroup
) -> None:
    cert_type, server = www_server
    config = client_config(pki, cipher_suites=(suite,), supported_groups=(group,), key_share_groups=(group,))

    completed, page, _client = http_get(server.port, config)

    assert completed.version == "TLS 1.3"
    assert completed.cipher_suite == suite.name
    assert completed.group == group.name
    assert completed.signature_scheme == SIGNATURE_SCHEMES[cert_type]
    assert completed.server_name == "localhost"
    assert completed.hello_retry is False
    assert completed.peer_certificates[0] == pki.servers[cert_type].issued.certificate
    # openssl's side of the story: the status page names what it negotiated.
    assert page.startswith("HTTP/1.0 200 ok")
    assert f"New, TLSv1.3, Cipher is {suite.name}" in page


# --- 2. HelloRetryRequest, teachtls client side ------------------------------------------------


@pytest.mark.parametrize("middlebox_compatibility", [True, False], ids=["middlebox", "no-middlebox"])
def test_client_hello_retry_request(pki: Pki, p256_only_server: OpenSSLServer, middlebox_compatibility: bool) -> None:
    """We send only an x25519 share; s_server wants P-256 and asks again (RFC 8446 §4.1.4)."""
    recorder = Recorder()
    config = client_config(
        pki,
        key_share_groups=(NamedGroup.x25519,),
        middlebox_compatibility=middlebox_compatibility,
        observer=recorder,
    )

    completed, page, _client = http_get(p256_only_server.port, config)

    assert completed.hello_retry is True
    assert completed.group == "secp256r1"
    assert received_messages(recorder)[0] == "HelloRetryRequest"
    assert sent_messages(recorder)[:2] == ["ClientHello", "ClientHello"]
    assert page.startswith("HTTP/1.0 200 ok")
    assert "Cipher is TLS_AES_128_GCM_SHA256" in page


# --- 3. openssl s_client -> teachtls server -----------------------------------------------------


@pytest.mark.parametrize("cert_type", CERT_TYPES)
@pytest.mark.parametrize("group", list(GROUPS), ids=lambda group: group.name)
@pytest.mark.parametrize("suite", SUITES, ids=lambda suite: suite.name)
def test_s_client_against_server(
    pki: Pki, echo_servers: list[EchoServer], suite: CipherSuite, group: NamedGroup, cert_type: str
) -> None:
    server = start_echo_server(echo_servers, server_config(pki, cert_type))
    openssl_group, temp_key = GROUPS[group]

    result = run_s_client(
        server.port, s_client_args(pki, "-ciphersuites", suite.name, "-groups", openssl_group), stdin=LINE
    )
    served = server.next_result()

    assert served.error is None, served.error
    assert served.completed is not None
    assert served.completed.cipher_suite == suite.name
    assert served.completed.group == group.name
    assert served.completed.signature_scheme == SIGNATURE_SCHEMES[cert_type]
    assert served.completed.server_name == "localhost"
    assert served.completed.hello_retry is False
    assert served.received == LINE
    # openssl verified our chain for "localhost" and agrees on the parameters.
    assert result.returncode == 0, result.output
    assert f"New, TLSv1.3, Cipher is {suite.name}" in result.stdout
    assert temp_key in result.stdout
    assert "Verify return code: 0 (ok)" in result.stdout
    assert ECHO in result.stdout


def test_s_client_hello_retry_request(pki: Pki, echo_servers: list[EchoServer]) -> None:
    """openssl 3.0 sends a key share for its first group only: P-384. Our server
    supports only x25519, so it must ask again with a HelloRetryRequest."""
    server = start_echo_server(echo_servers, server_config(pki, "ecdsa-p256", supported_groups=(NamedGroup.x25519,)))

    result = run_s_client(server.port, s_client_args(pki, "-groups", "P-384:x25519"), stdin=LINE)
    served = server.next_result()

    assert served.error is None, served.error
    assert served.completed is not None
    assert served.completed.hello_retry is True
    assert served.completed.group == "x25519"
    assert sent_messages(served.recorder)[0] == "HelloRetryRequest"
    assert received_messages(served.recorder)[:2] == ["ClientHello", "ClientHello"]
    assert result.returncode == 0, result.output
    assert "Server Temp Key: X25519" in result.stdout
    assert ECHO in result.stdout


# --- 4. client authentication ----------------------------------------------------------------


@pytest.mark.parametrize("client_type", CERT_TYPES)
def test_s_client_certificate_accepted(pki: Pki, echo_servers: list[EchoServer], client_type: str) -> None:
    config = server_config(pki, "ecdsa-p256", client_auth="require", trusted_certificates=(pki.ca.certificate,))
    server = start_echo_server(echo_servers, config)
    client = pki.clients[client_type]

    result = run_s_client(
        server.port, s_client_args(pki, "-cert", client.cert_file, "-key", client.key_file), stdin=LINE
    )
    served = server.next_result()

    assert served.error is None, served.error
    assert served.completed is not None
    assert served.completed.peer_certificates[0] == client.issued.certificate
    assert "CertificateRequest" in sent_messages(served.recorder)
    assert received_messages(served.recorder) == ["ClientHello", "Certificate", "CertificateVerify", "Finished"]
    assert result.returncode == 0, result.output
    assert ECHO in result.stdout


def test_s_client_without_certificate_is_refused(pki: Pki, echo_servers: list[EchoServer]) -> None:
    """RFC 8446 §4.4.2.4: a server requiring a certificate may abort with certificate_required."""
    config = server_config(pki, "ecdsa-p256", client_auth="require", trusted_certificates=(pki.ca.certificate,))
    server = start_echo_server(echo_servers, config)

    result = run_s_client(server.port, s_client_args(pki), stdin=LINE)
    served = server.next_result()

    assert isinstance(served.error, CertificateRequired)
    assert served.completed is None
    alerts_sent = [e for e in served.recorder.events if type(e) is AlertSent]
    assert [alert.description for alert in alerts_sent] == ["certificate_required"]
    # openssl reports the alert it received (alert number 116)
    assert "alert certificate required" in result.output
    assert ECHO not in result.stdout


@pytest.mark.parametrize("client_type", CERT_TYPES)
def test_client_certificate_against_s_server(pki: Pki, client_auth_server: OpenSSLServer, client_type: str) -> None:
    recorder = Recorder()
    client = pki.clients[client_type].issued
    config = client_config(
        pki, certificate_chain=(client.certificate,), private_key=client.private_key, observer=recorder
    )

    completed, page, _client = http_get(client_auth_server.port, config)

    assert completed.cipher_suite == "TLS_AES_128_GCM_SHA256"
    assert "CertificateRequest" in received_messages(recorder)
    assert sent_messages(recorder)[1:] == ["Certificate", "CertificateVerify", "Finished"]
    assert page.startswith("HTTP/1.0 200 ok")
    # s_server's status page shows the client certificate it verified
    assert "Client certificate" in page
    assert f"teachtls client {client_type}" in page


# --- beyond the handshake: ALPN, KeyUpdate, data larger than a record -----------------------------


def test_client_alpn_key_update_and_large_data(pki: Pki, reverse_server: OpenSSLServer) -> None:
    """ALPN (RFC 7301), a KeyUpdate asking openssl to update too (RFC 8446
    §4.6.3), and 40 KB of lines, more than two 16 KB records (§5.1)."""
    config = client_config(pki, alpn_protocols=(b"h2", b"http/1.1"))
    lines = [bytes([0x61 + i % 26]) * 10 + f"-{i:03}".encode() * 100 for i in range(80)]
    assert sum(len(line) + 1 for line in lines) > 2 * 2**14

    pump = connect(reverse_server.port, config)
    try:
        completed = pump.handshake()
        pump.connection.key_update(request_peer=True)
        pump.send(b"".join(line + b"\n" for line in lines))
        answer = pump.receive_until(lambda data: data.count(b"\n") >= len(lines))
        connection = pump.connection
    finally:
        pump.close()

    assert completed.alpn_protocol == b"http/1.1"
    assert answer == b"".join(line[::-1] + b"\n" for line in lines)
    # we moved to generation 1 and so did openssl, as we asked it to
    assert connection.write_generation == 1
    assert connection.read_generation == 1


def test_s_client_alpn(pki: Pki, echo_servers: list[EchoServer]) -> None:
    server = start_echo_server(echo_servers, server_config(pki, "ed25519", alpn_protocols=(b"h2", b"http/1.1")))

    result = run_s_client(server.port, s_client_args(pki, "-alpn", "http/1.1,spdy/3"), stdin=LINE)
    served = server.next_result()

    assert served.error is None, served.error
    assert served.completed is not None
    assert served.completed.alpn_protocol == b"http/1.1"
    assert "ALPN protocol: http/1.1" in result.stdout
    assert ECHO in result.stdout


# --- 5. middlebox compatibility mode (RFC 8446 §D.4) --------------------------------------------


def test_client_middlebox_compatibility_on(pki: Pki, p256_only_server: OpenSSLServer) -> None:
    """The default: a 32-byte legacy_session_id and one dummy change_cipher_spec."""
    recorder = Recorder()
    config = client_config(pki, key_share_groups=(NamedGroup.secp256r1,), observer=recorder)

    completed, page, client = http_get(p256_only_server.port, config)

    assert completed.hello_retry is False
    assert len(client.legacy_session_id) == 32
    assert len(sent_records(recorder, ContentType.change_cipher_spec)) == 1
    # openssl answers in kind: its own dummy change_cipher_spec after ServerHello
    assert len(received_records(recorder, ContentType.change_cipher_spec)) == 1
    assert page.startswith("HTTP/1.0 200 ok")


def test_client_middlebox_compatibility_off(pki: Pki, p256_only_server: OpenSSLServer) -> None:
    recorder = Recorder()
    config = client_config(
        pki, key_share_groups=(NamedGroup.secp256r1,), middlebox_compatibility=False, observer=recorder
    )

    completed, page, client = http_get(p256_only_server.port, config)

    assert completed.hello_retry is False
    assert client.legacy_session_id == b""
    assert sent_records(recorder, ContentType.change_cipher_spec) == []
    # openssl's server stays in compatibility mode and still sends its dummy
    # change_cipher_spec; RFC 8446 §5 obliges us to drop it, whatever we sent.
    assert len(received_records(recorder, ContentType.change_cipher_spec)) <= 1
    assert page.startswith("HTTP/1.0 200 ok")


@pytest.mark.parametrize("middlebox", [True, False], ids=["middlebox", "no-middlebox"])
def test_s_client_middlebox_compatibility(pki: Pki, echo_servers: list[EchoServer], middlebox: bool) -> None:
    """Our server sends a dummy change_cipher_spec exactly when the client's session id is non-empty."""
    server = start_echo_server(echo_servers, server_config(pki, "ecdsa-p256"))
    extra = [] if middlebox else ["-no_middlebox"]

    result = run_s_client(server.port, s_client_args(pki, *extra), stdin=LINE)
    served = server.next_result()

    assert served.error is None, served.error
    assert len(sent_records(served.recorder, ContentType.change_cipher_spec)) == (1 if middlebox else 0)
    assert len(received_records(served.recorder, ContentType.change_cipher_spec)) == (1 if middlebox else 0)
    assert result.returncode == 0, result.output
    assert ECHO in result.stdout


# --- 6. a failure: the certificate is not for the name we asked for ------------------------------


def test_client_rejects_wrong_server_name(pki: Pki, p256_only_server: OpenSSLServer) -> None:
    recorder = Recorder()
    config = client_config(pki, server_name="not-localhost.example", observer=recorder)

    pump = connect(p256_only_server.port, config)
    try:
        with pytest.raises(LocalAlert, match="hostname mismatch") as raised:
            pump.handshake()
    finally:
        pump.close()

    assert isinstance(raised.value, BadCertificate)
    alerts_sent = [e for e in recorder.events if type(e) is AlertSent]
    assert [alert.description for alert in alerts_sent] == ["bad_certificate"]
    # s_server logs the alert it received from us
    assert p256_only_server.wait_for("alert bad certificate") is not None
