"""`teachtls serve --explain`: the page shows the handshake of the connection that carries it.

Three ways in, none needing a browser (tests/test_browser.py runs Chromium):

* in memory: a ClientHello that headless Chromium 156 really sent
  (tests/vectors/chromium-156-client-hello.hex) is fed to a `ServerConnection`,
  and the page is rendered from the server's trace -- GREASE, the 1216-byte
  hybrid key share, the extensions teachtls does not implement;
* over real sockets on 127.0.0.1: `explain_handler` behind `serve_in_thread`,
  asked by the teachtls client -- the HTTP answers, and the page's content;
* the command: `teachtls serve --explain` as a subprocess, asked by `curl`
  (when curl is installed), and its new limits' flags.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from teachtls import Config, ServerConnection
from teachtls.cli import main
from teachtls.net.server import (
    EXPLAIN_ALPN,
    ConnectionRecorder,
    explain_handler,
    explaining,
    fixed_config,
    hybrid_first,
    serve_in_thread,
)
from teachtls.net.session import connect
from teachtls.pki.generate import IssuedCertificate, issue_leaf, make_ca
from teachtls.render.explain_page import MAX_RECORDS_DRAWN, render_explain_page, summarize_client_hello
from teachtls.trace import events as trace
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import NamedGroup
from tests.test_cli import files, teachtls_serve  # noqa: F401 (files is a fixture)

TIMEOUT = 10.0
VECTORS = Path(__file__).parent / "vectors"
CHROMIUM_CLIENT_HELLO = bytes.fromhex("".join(VECTORS.joinpath("chromium-156-client-hello.hex").read_text().split()))


@pytest.fixture(scope="module")
def pki() -> tuple[IssuedCertificate, IssuedCertificate]:
    ca = make_ca()
    return ca, issue_leaf(ca, "localhost", dns_names=["localhost"])


@pytest.fixture
def server_cfg(pki: tuple[IssuedCertificate, IssuedCertificate]) -> Config:
    _, leaf = pki
    return Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)


@pytest.fixture
def client_cfg(pki: tuple[IssuedCertificate, IssuedCertificate]) -> Config:
    ca, _ = pki
    return Config(server_name="localhost", trusted_certificates=(ca.certificate,))


def negotiated_value(page: str, key: str) -> str:
    """The text of the page's `negotiated-<key>` card ("group", "alpn", ...)."""
    match = re.search(rf'id="negotiated-{key}">([^<]*)', page)
    assert match, f"no negotiated-{key} on the page"
    return match.group(1)


# --- the page, from a real Chromium ClientHello (in memory) -----------------------------------------


@pytest.fixture(scope="module")
def chromium_trace(pki: tuple[IssuedCertificate, IssuedCertificate]) -> list[trace.TraceEvent]:
    """The server's trace after it answered Chromium's ClientHello (the handshake stops there)."""
    _, leaf = pki
    base = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
    with explaining(fixed_config(base))(1) as config:
        server = ServerConnection(config)
        server.receive_data(CHROMIUM_CLIENT_HELLO)
        assert isinstance(config.observer, ConnectionRecorder)
        return list(config.observer.events)


def test_the_vector_is_one_client_hello_record():
    assert CHROMIUM_CLIENT_HELLO[:3] == b"\x16\x03\x01"  # handshake record, legacy version TLS 1.0
    assert int.from_bytes(CHROMIUM_CLIENT_HELLO[3:5], "big") == len(CHROMIUM_CLIENT_HELLO) - 5 == 2008
    assert CHROMIUM_CLIENT_HELLO[5] == 1  # client_hello


def test_the_explain_server_chooses_chromiums_hybrid_share(chromium_trace):
    server_hello = next(e for e in chromium_trace if isinstance(e, trace.MessageSent) and e.name == "ServerHello")
    assert [f.value for f in server_hello.fields if f.path.endswith("server_share.group")] == ["X25519MLKEM768"]
    shares = [e for e in chromium_trace if isinstance(e, trace.KeyExchangeComputed)]
    assert [(s.group, len(s.client_share), len(s.server_share)) for s in shares] == [("X25519MLKEM768", 1216, 1120)]


def test_client_hello_summary(chromium_trace):
    hello = next(e for e in chromium_trace if isinstance(e, trace.MessageReceived) and e.name == "ClientHello")
    negotiated = trace.ParametersNegotiated(
        role="server",
        version="TLS 1.3",
        cipher_suite="TLS_AES_128_GCM_SHA256",
        group="X25519MLKEM768",
        signature_scheme="ecdsa_secp256r1_sha256",
        alpn="http/1.1",
    )
    summary = summarize_client_hello(hello, negotiated, ["key_share", "supported_versions"])
    assert summary.size == 2008
    assert summary.server_name == "localhost"

    # RFC 8701: one GREASE value at the front of each list, shown as GREASE with its code point
    for offers in (summary.cipher_suites, summary.supported_groups, summary.signature_algorithms, summary.versions):
        assert offers[0].grease and offers[0].name == "GREASE"
        assert offers[0].code is not None and offers[0].code & 0x0F0F == 0x0A0A
    assert [o.name for o in summary.supported_groups[1:]] == ["X25519MLKEM768", "x25519", "secp256r1", "secp384r1"]
    assert [o.name for o in summary.versions[1:]] == ["TLS1_3", "TLS1_2"]
    assert sum(o.grease for o in summary.extensions) == 2  # the first and the last extension

    # what the server chose is marked, once per list
    assert [o.name for o in summary.cipher_suites if o.chosen] == ["TLS_AES_128_GCM_SHA256"]
    assert [o.name for o in summary.supported_groups if o.chosen] == ["X25519MLKEM768"]
    assert [o.name for o in summary.signature_algorithms if o.chosen] == ["ecdsa_secp256r1_sha256"]
    assert [o.name for o in summary.versions if o.chosen] == ["TLS1_3"]
    assert [(o.name, o.chosen) for o in summary.alpn] == [("h2", False), ("http/1.1", True)]
    assert {o.name for o in summary.extensions if o.chosen} == {"key_share", "supported_versions"}

    # key shares with their sizes: GREASE (1 byte), the hybrid (1184 + 32), x25519
    assert [(s.group.name, s.size) for s in summary.key_shares] == [
        ("GREASE", 1),
        ("X25519MLKEM768", 1216),
        ("x25519", 32),
    ]
    assert "1184" in summary.key_shares[1].contents

    # code points teachtls does not implement are named, and marked as ignored
    foreign = {o.name for o in summary.extensions + summary.signature_algorithms + summary.cipher_suites if not o.known}
    assert foreign == {
        "encrypted_client_hello",  # 0xfe0d, a "GREASE ECH"
        "application_settings",  # 0x44cd, ALPS
        "compress_certificate",  # 0x001b
        "trust_anchors",  # 0xca34
        "mldsa44",
        "mldsa65",
        "mldsa87",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
    }


def test_page_of_a_handshake_in_progress(chromium_trace):
    """The trace stops after the server's first flight: no ParametersNegotiated yet."""
    page = render_explain_page(chromium_trace)
    assert "Your browser&#x27;s TLS handshake" in page
    assert "nothing was negotiated" in page
    assert "1216 B" in page and "GREASE" in page and "mldsa65" in page
    assert '<figure class="diagram" id="sequence-diagram"><svg' in page
    assert '<figure class="diagram" id="key-schedule"><svg' in page


def test_hybrid_first():
    groups = (NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.X25519MLKEM768, NamedGroup.x448)
    assert hybrid_first(groups) == (NamedGroup.X25519MLKEM768, NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.x448)
    assert hybrid_first((NamedGroup.x25519,)) == (NamedGroup.x25519,)  # not added where it was left out


def test_explaining_keeps_the_factorys_own_observer(server_cfg):
    outer = Recorder()
    with explaining(fixed_config(attrs.evolve(server_cfg, alpn_protocols=(b"h2",), observer=outer)))(7) as config:
        assert config.alpn_protocols == EXPLAIN_ALPN
        assert config.supported_groups[0] == NamedGroup.X25519MLKEM768
        assert isinstance(config.observer, ConnectionRecorder)
        config.observer(trace.Note(role="server", text="hello"))
        assert len(config.observer.events) == len(outer.events) == 1


# --- explain_handler over real sockets, asked by the teachtls client -------------------------------


@contextlib.contextmanager
def explain_server(config: Config, *, explain: bool = True) -> Iterator[tuple[int, list[str]]]:
    log: list[str] = []
    factory = explaining(fixed_config(config)) if explain else fixed_config(config)
    server = serve_in_thread("127.0.0.1", 0, factory, explain_handler, log=log.append)
    try:
        yield server.port, log
    finally:
        server.shutdown()


def ask(port: int, config: Config, request: bytes) -> tuple[str, dict[str, str], bytes, list[trace.TraceEvent]]:
    """Send `request`, read to the end: (status line, headers, body, the client's trace)."""
    recorder = Recorder()
    with connect("127.0.0.1", port, attrs.evolve(config, observer=recorder), timeout=TIMEOUT) as session:
        session.send(request)
        response = session.recv_all()
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.decode("ascii").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, headers, body, recorder.events


GET = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: teachtls-test/1.0\r\nConnection: close\r\n\r\n"


def test_the_page_shows_the_connection_that_carries_it(server_cfg, client_cfg):
    # the client offers h2 too, as browsers do; and a hybrid key share, so there is no HelloRetryRequest
    client = attrs.evolve(
        client_cfg, alpn_protocols=(b"h2", b"http/1.1"), key_share_groups=(NamedGroup.X25519MLKEM768,)
    )
    with explain_server(server_cfg) as (port, log):
        status, headers, body, client_events = ask(port, client, GET)
    assert status == "HTTP/1.1 200 OK"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Connection"] == "close"
    assert int(headers["Content-Length"]) == len(body)
    page = body.decode("utf-8")

    assert negotiated_value(page, "version") == "TLS 1.3"
    assert negotiated_value(page, "group") == "X25519MLKEM768"
    assert negotiated_value(page, "alpn") == "http/1.1"  # h2 was offered; --explain speaks HTTP/1.1
    assert negotiated_value(page, "hello-retry") == "no"
    assert log == [f"{log[0].split(': ')[0]}: TLS 1.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768"]
    negotiated = next(e for e in client_events if isinstance(e, trace.ParametersNegotiated))
    assert (negotiated.group, negotiated.alpn) == ("X25519MLKEM768", "http/1.1")

    assert "GET / HTTP/1.1" in page and "teachtls-test/1.0" in page  # the request line and User-Agent
    assert "cannot show: itself" in page
    assert '<figure class="diagram" id="sequence-diagram"><svg' in page
    assert '<figure class="diagram" id="key-schedule"><svg' in page
    assert '<iframe class="bytes" id="every-byte"' in page and "srcdoc=" in page
    assert "1216 B" in page  # the client's hybrid key share

    # far more than one record: session.send cut the response into records of at most 2^14 bytes
    records = [
        e for e in client_events if isinstance(e, trace.RecordReceived) and e.inner_content_type == 23
    ]  # application_data
    assert len(records) >= len(body) // 2**14
    assert all(len(e.plaintext) <= 2**14 for e in records)


def test_a_client_without_a_hybrid_share_gets_a_hello_retry_request(server_cfg, client_cfg):
    """teachtls connect offers X25519MLKEM768 but sends only an x25519 share (its default)."""
    with explain_server(server_cfg) as (port, _):
        status, _, body, _ = ask(port, client_cfg, GET)
    page = body.decode("utf-8")
    assert status == "HTTP/1.1 200 OK"
    assert negotiated_value(page, "group") == "X25519MLKEM768"
    assert negotiated_value(page, "hello-retry") == "yes"
    assert "HelloRetryRequest (RFC 8446 §4.1.4)" in page


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /favicon.ico HTTP/1.1\r\nHost: localhost\r\n\r\n", "HTTP/1.1 404 Not Found"),
        (b"GET /elsewhere HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
        (b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"),
        (b"hello\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET / HTTP/1.1\r\nX: " + b"x" * 20_000, "HTTP/1.1 431 Request Header Fields Too Large"),
    ],
)
def test_everything_but_the_page_is_answered_cheaply(server_cfg, client_cfg, request_bytes, status):
    with explain_server(server_cfg) as (port, _):
        answer, headers, body, _ = ask(port, client_cfg, request_bytes)
    assert answer == status
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert int(headers["Content-Length"]) == len(body) < 200
    if "405" in status:
        assert headers["Allow"] == "GET, HEAD"


def test_head_gets_the_headers_only(server_cfg, client_cfg):
    with explain_server(server_cfg) as (port, _):
        status, headers, body, _ = ask(port, client_cfg, b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert status == "HTTP/1.1 200 OK"
    assert int(headers["Content-Length"]) > 100_000
    assert body == b""


def test_a_request_cut_into_tiny_records_draws_only_the_first(server_cfg, client_cfg):
    """One record per byte of the request: the diagrams and the bytes stop at MAX_RECORDS_DRAWN."""
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"x" * 80 + b"\r\n\r\n"
    with explain_server(server_cfg) as (port, _), connect("127.0.0.1", port, client_cfg, timeout=TIMEOUT) as session:
        for byte in request:
            session.send(bytes([byte]))  # each send is one record
        response = session.recv_all()
    page = response.partition(b"\r\n\r\n")[2].decode("utf-8")
    assert response.startswith(b"HTTP/1.1 200 OK")
    took = re.search(r"This connection took (\d+) records; the diagrams and the bytes below show the first (\d+)", page)
    assert took and int(took.group(1)) > len(request) and int(took.group(2)) == MAX_RECORDS_DRAWN
    assert negotiated_value(page, "group") == "X25519MLKEM768"  # the summary still covers the whole trace


def test_without_a_recorder_the_answer_is_500(server_cfg, client_cfg):
    with explain_server(server_cfg, explain=False) as (port, _):
        status, _, body, _ = ask(port, client_cfg, GET)
    assert status == "HTTP/1.1 500 Internal Server Error"
    assert b"explaining()" in body


def test_tls_1_2_shows_the_prf_instead_of_the_ladder(server_cfg, client_cfg):
    with explain_server(attrs.evolve(server_cfg, versions=(0x0303,))) as (port, _):
        status, _, body, _ = ask(port, client_cfg, GET)
    page = body.decode("utf-8")
    assert status == "HTTP/1.1 200 OK"
    assert negotiated_value(page, "version") == "TLS 1.2"
    assert '<ol class="prf"><li><code>master_secret</code>' in page
    assert 'id="key-schedule"' not in page


# --- the command: teachtls serve --explain ------------------------------------------------------------


CURL = shutil.which("curl")


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_against_teachtls_serve_explain(files, tmp_path):  # noqa: F811 (files is a fixture)
    assert CURL is not None
    with teachtls_serve(files, tmp_path, "--explain") as server:
        # --resolve: straight to 127.0.0.1, where the server listens (localhost may mean ::1 first)
        command = [CURL, "-sS", "--max-time", "30", "--cacert", str(files.ca), "--dump-header", "-"]
        command += ["--resolve", f"localhost:{server.port}:127.0.0.1", f"https://localhost:{server.port}/"]
        result = subprocess.run(command, capture_output=True, timeout=60)
        log = server.log()
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"Content-Length: {len(body)}".encode() in head
    page = body.decode("utf-8")
    # whatever group this curl's TLS library prefers, the page names the one the server logged
    group = negotiated_value(page, "group")
    assert re.search(rf"connection 1 from 127\.0\.0\.1:\d+: TLS 1\.3, \w+, {group}\n", log), log
    assert negotiated_value(page, "alpn") == "http/1.1"  # curl offers h2 and http/1.1
    assert "curl/" in page  # its User-Agent
    assert '<figure class="diagram" id="sequence-diagram"><svg' in page


def test_serve_limits_reach_the_server(files, monkeypatch):  # noqa: F811
    seen: dict[str, object] = {}

    def fake_serve(host, port, config_factory, handler, **options):
        seen.update(options, handler=handler)
        with config_factory(1) as config:
            seen["observer"] = config.observer

    monkeypatch.setattr("teachtls.cli.serve", fake_serve)
    arguments = ["serve", "--cert", str(files.cert), "--key", str(files.key), "--port", "0"]
    limits = ["--handshake-timeout", "2.5", "--idle-timeout", "3", "--max-connections", "5"]
    assert main([*arguments, "--explain", *limits]) == 0
    assert (seen["handshake_timeout"], seen["idle_timeout"], seen["max_connections"]) == (2.5, 3.0, 5)
    assert seen["handler"] is explain_handler
    assert isinstance(seen["observer"], ConnectionRecorder)

    assert main(arguments) == 0  # without --explain: the plain page, the default limits
    assert seen["handler"] is not explain_handler
    assert (seen["handshake_timeout"], seen["idle_timeout"], seen["max_connections"]) == (10.0, 10.0, 64)


@pytest.mark.parametrize(
    "bad",
    [
        ["--handshake-timeout", "0"],
        ["--idle-timeout", "-1"],
        ["--idle-timeout", "inf"],
        ["--max-connections", "0"],
        ["--explain", "--dtls"],
    ],
)
def test_serve_usage_errors(files, bad, capsys):  # noqa: F811
    assert main(["serve", "--cert", str(files.cert), "--key", str(files.key), *bad]) == 2
