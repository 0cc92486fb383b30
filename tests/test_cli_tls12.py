"""`--tls-version 1.2` and `--legacy-suites-for-teaching` on demo, serve and connect.

Without `--tls-version` a teachtls client offers TLS 1.3 and 1.2 and a
teachtls server accepts both (RFC 8446 §4.2.1: the highest both speak wins);
`--tls-version 1.2` caps the server at TLS 1.2, makes the client offer only
TLS 1.2 (no supported_versions extension, RFC 8446 §4.2.1), and runs the
in-memory demo at TLS 1.2. The teaching-only suites -- static RSA key
transport and AES-CBC with HMAC -- are refused unless
`--legacy-suites-for-teaching` asks for them, which says so on stderr.

As in tests/test_cli.py, serve and connect run as real subprocesses on
127.0.0.1 with a freshly made CA, and against the real `openssl` binary.
The server's certificate is RSA, so that every TLS 1.2 key exchange teachtls
knows fits it: ECDHE_RSA and (teaching only) static RSA.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from teachtls.cli import main
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.trace import ParametersNegotiated, load_jsonl
from teachtls.trace import events as trace
from teachtls.wire.enums import ExtensionType
from teachtls.wire.extensions import find_extension
from teachtls.wire.messages import ClientHello, parse_handshake
from tests.test_cli import (
    OPENSSL,
    PROCESS_TIMEOUT,
    Files,
    free_port,
    stop,
    teachtls,
    teachtls_serve,
    wait_until_listening,
)

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    directory = tmp_path_factory.mktemp("pki-rsa")
    ca = make_ca("teachtls TLS 1.2 test CA")
    other_ca = make_ca("some other CA")
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"], key_type="rsa-2048")
    (directory / "ca.pem").write_bytes(ca.certificate_pem())
    (directory / "other-ca.pem").write_bytes(other_ca.certificate_pem())
    leaf.write(directory / "cert.pem", directory / "key.pem")
    return Files(directory / "ca.pem", directory / "other-ca.pem", directory / "cert.pem", directory / "key.pem")


def negotiated_versions(path: Path) -> set[str]:
    return {event.version for event in load_jsonl(path) if isinstance(event, ParametersNegotiated)}


def client_hello(path: Path) -> ClientHello:
    """The first ClientHello the client sent, parsed from its traced bytes."""
    sent = [e for e in load_jsonl(path) if isinstance(e, trace.MessageSent) and e.name == "ClientHello"]
    message, _ = parse_handshake(sent[0].raw)
    assert isinstance(message, ClientHello)
    return message


# --- teachtls demo --tls-version -----------------------------------------------------------


def test_demo_tls_1_2_writes_trace_diagram_and_page(tmp_path, capsys):
    out = tmp_path / "demo12"
    assert main(["demo", "--tls-version", "1.2", "--out", str(out)]) == 0
    output = capsys.readouterr()
    assert "ServerKeyExchange" in output.out  # the walkthrough tells the TLS 1.2 story
    assert output.err == ""  # no warning without --legacy-suites-for-teaching

    events = load_jsonl(out / "trace.jsonl")
    negotiated = [event for event in events if isinstance(event, ParametersNegotiated)]
    assert sorted(event.role for event in negotiated) == ["client", "server"]
    assert {event.version for event in negotiated} == {"TLS 1.2"}
    names = [event.name for event in events if isinstance(event, trace.MessageSent)]
    assert "ServerHelloDone" in names and "ClientKeyExchange" in names and "EncryptedExtensions" not in names

    assert "TLS 1.2 handshake" in (out / "diagram.svg").read_text()
    page = (out / "page.html").read_text()
    assert "TLS 1.2 connection" in page and "ServerKeyExchange" in page


def test_demo_tls_1_3_flag_and_default_speak_tls_1_3(tmp_path):
    for arguments, directory in (([], "default"), (["--tls-version", "1.3"], "capped")):
        assert main(["demo", *arguments, "--out", str(tmp_path / directory)]) == 0
        assert negotiated_versions(tmp_path / directory / "trace.jsonl") == {"TLS 1.3"}


def test_demo_legacy_suites_are_offered_only_with_the_flag(tmp_path, capsys):
    assert main(["demo", "--tls-version", "1.2", "--out", str(tmp_path / "plain")]) == 0
    assert capsys.readouterr().err == ""
    assert (
        main(["demo", "--tls-version", "1.2", "--legacy-suites-for-teaching", "--out", str(tmp_path / "legacy")]) == 0
    )
    err = capsys.readouterr().err
    assert "warning: --legacy-suites-for-teaching" in err and "For teaching only" in err

    rsa_cbc = 0x002F  # TLS_RSA_WITH_AES_128_CBC_SHA (RFC 5246 App. A.5)
    assert rsa_cbc not in client_hello(tmp_path / "plain" / "trace.jsonl").cipher_suites
    assert rsa_cbc in client_hello(tmp_path / "legacy" / "trace.jsonl").cipher_suites


# --- teachtls serve / connect --tls-version 1.2, end to end -----------------------------------


def test_serve_capped_at_tls_1_2_and_a_default_client(files, tmp_path):
    trace_path = tmp_path / "client.jsonl"
    with teachtls_serve(files, tmp_path, "--tls-version", "1.2") as server:
        result = teachtls(
            "connect", f"127.0.0.1:{server.port}", "--cafile", files.ca, "--servername", "localhost",
            "--trace", trace_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # the page says what the connection negotiated
    assert "HTTP/1.0 200 OK" in result.stdout
    assert "reached you over TLS 1.2" in result.stdout
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in result.stdout
    assert negotiated_versions(trace_path) == {"TLS 1.2"}
    # the client offered both versions; the server chose the one it speaks
    assert find_extension(client_hello(trace_path).extensions, ExtensionType.supported_versions) is not None
    assert "TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in server.log()


def test_connect_tls_1_2_to_a_default_server(files, tmp_path):
    trace_path = tmp_path / "client.jsonl"
    with teachtls_serve(files, tmp_path) as server:
        result = teachtls(
            "connect", f"127.0.0.1:{server.port}", "--cafile", files.ca, "--servername", "localhost",
            "--tls-version", "1.2", "--trace", trace_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "reached you over TLS 1.2" in result.stdout
    assert negotiated_versions(trace_path) == {"TLS 1.2"}
    # RFC 8446 §4.2.1: a client offering only TLS 1.2 sends no supported_versions
    assert find_extension(client_hello(trace_path).extensions, ExtensionType.supported_versions) is None


def test_versions_that_do_not_meet(files, tmp_path):
    with teachtls_serve(files, tmp_path, "--tls-version", "1.2") as server:
        result = teachtls(
            "connect", f"127.0.0.1:{server.port}", "--cafile", files.ca, "--servername", "localhost",
            "--tls-version", "1.3",
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "teachtls: the server sent a fatal protocol_version alert\n"
    assert "protocol_version" in server.log()


def test_serve_warns_about_legacy_suites(files, tmp_path):
    with teachtls_serve(files, tmp_path, "--tls-version", "1.2", "--legacy-suites-for-teaching") as server:
        result = teachtls("connect", f"127.0.0.1:{server.port}", "--cafile", files.ca, "--servername", "localhost")
    assert result.returncode == 0, result.stderr
    # the client did not ask for the legacy suites, so a modern one was chosen
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in result.stdout
    assert "warning: --legacy-suites-for-teaching" in server.log()


# --- the teaching-only suites against openssl ---------------------------------------------------


def openssl_s_client(port: int, files: Files, *options: str) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(files.ca),
         "-servername", "localhost", "-verify_return_error", "-quiet", *options],
        input=REQUEST,
        capture_output=True,
        timeout=PROCESS_TIMEOUT,
    )  # fmt: skip


@pytest.mark.interop
@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl binary")
def test_openssl_tls_1_2_against_teachtls_serve(files, tmp_path):
    with teachtls_serve(files, tmp_path, "--tls-version", "1.2") as server:
        result = openssl_s_client(server.port, files, "-tls1_2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"reached you over TLS 1.2" in result.stdout


@pytest.mark.interop
@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl binary")
def test_openssl_aes128_sha_needs_legacy_suites_for_teaching(files, tmp_path):
    """AES128-SHA is TLS_RSA_WITH_AES_128_CBC_SHA: static RSA, CBC, HMAC-SHA1."""
    with teachtls_serve(files, tmp_path, "--tls-version", "1.2") as server:
        refused = openssl_s_client(server.port, files, "-tls1_2", "-cipher", "AES128-SHA")
    assert refused.returncode != 0
    assert b"HTTP/1.0 200 OK" not in refused.stdout
    assert "handshake_failure" in server.log()

    with teachtls_serve(files, tmp_path, "--tls-version", "1.2", "--legacy-suites-for-teaching") as server:
        accepted = openssl_s_client(server.port, files, "-tls1_2", "-cipher", "AES128-SHA")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"TLS_RSA_WITH_AES_128_CBC_SHA" in accepted.stdout


@pytest.mark.interop
@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl binary")
def test_connect_to_an_aes128_sha_only_openssl_server(files, tmp_path):
    port = free_port()
    assert OPENSSL is not None
    server = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(files.cert), "-key", str(files.key),
         "-www", "-tls1_2", "-cipher", "AES128-SHA"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        wait_until_listening(port, server)
        address = f"127.0.0.1:{port}"
        refused = teachtls(
            "connect", address, "--cafile", files.ca, "--servername", "localhost", "--tls-version", "1.2"
        )
        accepted = teachtls(
            "connect", address, "--cafile", files.ca, "--servername", "localhost", "--tls-version", "1.2",
            "--legacy-suites-for-teaching",
        )  # fmt: skip
    finally:
        stop(server)
    assert refused.returncode == 1
    assert "handshake_failure" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith("HTTP/1.0 200 ok")
    assert "TLSv1.2" in accepted.stdout and "AES128-SHA" in accepted.stdout
    assert "warning: --legacy-suites-for-teaching" in accepted.stderr
