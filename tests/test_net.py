"""teachtls.net: blocking sessions over real sockets, and the threaded server.

Everything runs on 127.0.0.1 (or a socketpair), with short socket timeouts,
and every server and thread started here is stopped before the test ends.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator

import attrs
import pytest

from teachtls import Config, ServerConnection
from teachtls.handshake.alerts import RemoteAlert, UnexpectedMessage
from teachtls.handshake.client13 import ClientConnection
from teachtls.net.server import (
    TLSServer,
    fixed_config,
    hello_page,
    http_handler,
    serve_in_thread,
    server_config,
)
from teachtls.net.session import (
    ConnectionClosedDuringHandshake,
    TLSSession,
    client_config,
    connect,
    describe_error,
)
from teachtls.pki.generate import IssuedCertificate, issue_leaf, make_ca
from teachtls.trace.events import Note
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import AlertDescription

TIMEOUT = 5.0


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


@contextlib.contextmanager
def running(config: Config, handler=http_handler, **kwargs) -> Iterator[tuple[TLSServer, list[str]]]:
    """A server in a background thread, its log lines collected in a list."""
    log: list[str] = []
    server = serve_in_thread("127.0.0.1", 0, fixed_config(config), handler, log=log.append, **kwargs)
    try:
        yield server.server, log
    finally:
        server.shutdown()


def get(port: int, config: Config) -> bytes:
    with connect("127.0.0.1", port, config, timeout=TIMEOUT) as session:
        session.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return session.recv_all()


# --- the HTTP server -------------------------------------------------------------


def test_http_page_over_real_sockets(server_cfg, client_cfg):
    with running(server_cfg) as (server, log):
        response = get(server.port, client_cfg)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"Content-Type: text/html" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert b"Connection: close" in head
    for text in (b"teachtls", b"TLS 1.3", b"TLS_AES_128_GCM_SHA256", b"x25519", b"GET / HTTP/1.1"):
        assert text in body
    assert len(log) == 1
    assert log[0].startswith("connection 1 from 127.0.0.1:")
    assert log[0].endswith(": TLS 1.3, TLS_AES_128_GCM_SHA256, x25519")


def test_hello_page_escapes_what_the_client_chose(server_cfg, client_cfg):
    with running(server_cfg) as (server, _), connect("127.0.0.1", server.port, client_cfg, timeout=TIMEOUT) as session:
        session.send(b"GET /<script> HTTP/1.1\r\n\r\n")
        body = session.recv_all()
    assert b"<script>" not in body
    assert b"GET /&lt;script&gt; HTTP/1.1" in body


def test_each_connection_gets_its_own_config(server_cfg, client_cfg):
    recorders: dict[int, Recorder] = {}

    @contextlib.contextmanager
    def factory(number: int) -> Iterator[Config]:
        recorders[number] = Recorder()
        yield attrs.evolve(server_cfg, observer=recorders[number])

    server = serve_in_thread("127.0.0.1", 0, factory, http_handler, log=lambda line: None)
    try:
        for _ in range(3):
            assert get(server.port, client_cfg).startswith(b"HTTP/1.0 200 OK")
    finally:
        server.shutdown()
    assert sorted(recorders) == [1, 2, 3]
    for recorder in recorders.values():
        hellos = [e for e in recorder.events if getattr(e, "name", "") == "ClientHello"]
        assert len(hellos) == 1  # one connection per trace
        assert {e.role for e in recorder.events} == {"server"}


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",  # plaintext HTTP to a TLS port
        bytes(range(256)) * 4,  # random-looking bytes
        b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",  # a handshake record with a truncated ClientHello
        b"",  # connect and hang up at once
    ],
)
def test_server_survives_a_bad_client(server_cfg, client_cfg, garbage):
    with running(server_cfg) as (server, log):
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw:
            raw.sendall(garbage)
            if garbage:
                # the server answers with a fatal alert record, then closes
                reply = raw.recv(100)
                assert reply[:1] in (b"\x15", b"")
        assert get(server.port, client_cfg).startswith(b"HTTP/1.0 200 OK")
    assert len(log) == 2
    assert log[0].startswith("connection 1 from 127.0.0.1:")
    assert "\n" not in log[0]
    assert log[1].endswith("TLS 1.3, TLS_AES_128_GCM_SHA256, x25519")


def test_a_silent_client_blocks_nobody(server_cfg, client_cfg):
    log: list[str] = []
    server = serve_in_thread("127.0.0.1", 0, fixed_config(server_cfg), http_handler, timeout=0.5, log=log.append)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT):
            # while connection 1 says nothing, connection 2 is served
            assert get(server.port, client_cfg).startswith(b"HTTP/1.0 200 OK")
            # shutdown() waits for connection 1's thread, which gives up after 0.5 s
            server.shutdown()
    finally:
        server.shutdown()
    assert any("connection 1" in line and "silent for 0.5 s" in line for line in log)
    assert not [t for t in threading.enumerate() if t.name.startswith("teachtls-")]


def test_connections_beyond_the_cap_are_refused(server_cfg, client_cfg):
    with (
        running(server_cfg, timeout=1.0, max_connections=1) as (server, log),
        socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT),  # takes the one slot
        socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as second,
    ):
        assert second.recv(10) == b""  # closed at once
    assert any("connection 2" in line and "too many connections" in line for line in log)


def test_server_config_from_pem_files(tmp_path, pki, client_cfg):
    _, leaf = pki
    leaf.write(tmp_path / "cert.pem", tmp_path / "key.pem")
    config = server_config(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"), alpn=["http/1.1"])
    assert config.certificate_chain == (leaf.certificate,)
    assert config.alpn_protocols == (b"http/1.1",)
    with running(config) as (server, _):
        client = attrs.evolve(client_cfg, alpn_protocols=(b"h2", b"http/1.1"))
        assert b"http/1.1" in get(server.port, client)


def test_server_config_rejects_a_file_without_certificates(tmp_path, pki):
    _, leaf = pki
    (tmp_path / "key.pem").write_bytes(leaf.private_key_pem())
    with pytest.raises(ValueError):
        server_config(str(tmp_path / "key.pem"), str(tmp_path / "key.pem"))


def test_hello_page_lists_the_parameters():
    from teachtls.connection import HandshakeCompleted

    completed = HandshakeCompleted(
        version="TLS 1.3",
        cipher_suite="TLS_CHACHA20_POLY1305_SHA256",
        group="secp256r1",
        signature_scheme="ecdsa_secp256r1_sha256",
        alpn_protocol=b"h2",
        server_name="localhost",
        peer_certificates=(),
        hello_retry=True,
    )
    page = hello_page(completed, "GET / HTTP/1.0")
    for text in ("teachtls", "TLS 1.3", "TLS_CHACHA20_POLY1305_SHA256", "secp256r1", "h2", "localhost"):
        assert text in page


# --- TLSSession ------------------------------------------------------------------


def session_pair(client_cfg: Config, server_cfg: Config) -> tuple[TLSSession, TLSSession]:
    client_sock, server_sock = socket.socketpair()
    client_sock.settimeout(TIMEOUT)
    server_sock.settimeout(TIMEOUT)
    return TLSSession(client_sock, ClientConnection(client_cfg)), TLSSession(server_sock, ServerConnection(server_cfg))


def in_thread(function) -> tuple[threading.Thread, dict[str, object]]:
    """Run `function()` in a thread; its result or exception lands in the dict."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = function()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_session_pair_handshake_data_key_update_and_close(client_cfg, server_cfg):
    client, server = session_pair(client_cfg, server_cfg)

    def serve_echo() -> list[bytes]:
        server.handshake()
        received = []
        while data := server.recv():
            received.append(data)
            server.send(data.upper())
        server.close()
        return received

    thread, outcome = in_thread(serve_echo)
    try:
        completed = client.handshake()
        assert completed.version == "TLS 1.3"
        client.send(b"hello")
        assert client.recv() == b"HELLO"
        client.connection.key_update(request_peer=True)  # RFC 8446 §4.6.3
        client.send(b"again")
        assert client.recv() == b"AGAIN"
        assert client.connection.write_generation == 1
        assert client.connection.read_generation == 1  # the server answered the request
        client.close()
    finally:
        thread.join(TIMEOUT)
    assert outcome == {"result": [b"hello", b"again"]}
    assert client.closed and server.closed


def test_recv_returns_empty_after_close_notify(client_cfg, server_cfg):
    client, server = session_pair(client_cfg, server_cfg)

    def server_side() -> None:
        server.handshake()
        server.send(b"bye")
        server.close()

    thread, outcome = in_thread(server_side)
    try:
        client.handshake()
        assert client.recv_all() == b"bye"
        assert client.recv() == b""
        assert not client.truncated
    finally:
        client.close()
        thread.join(TIMEOUT)
    assert "error" not in outcome


def test_recv_reports_truncation_without_close_notify(client_cfg, server_cfg):
    recorder = Recorder()
    client, server = session_pair(attrs.evolve(client_cfg, observer=recorder), server_cfg)

    def server_side() -> None:
        server.handshake()
        server.send(b"partial")
        server.sock.close()  # no close_notify: a truncation (RFC 8446 §6.1)

    thread, _ = in_thread(server_side)
    try:
        client.handshake()
        assert client.recv_all() == b"partial"
        assert client.truncated
    finally:
        client.close()
        thread.join(TIMEOUT)
    notes = [e for e in recorder.events if isinstance(e, Note)]
    assert notes and "close_notify" in notes[-1].text


def test_peer_eof_during_handshake(client_cfg):
    client_sock, other = socket.socketpair()
    client_sock.settimeout(TIMEOUT)
    other.shutdown(socket.SHUT_WR)  # the peer says nothing and hangs up
    session = TLSSession(client_sock, ClientConnection(client_cfg))
    with pytest.raises(ConnectionClosedDuringHandshake, match=r"^connection closed by peer during handshake$"):
        session.handshake()
    assert session.closed
    other.close()


def test_peer_gone_before_the_client_hello(client_cfg):
    client_sock, other = socket.socketpair()
    client_sock.settimeout(TIMEOUT)
    other.close()
    session = TLSSession(client_sock, ClientConnection(client_cfg))
    with pytest.raises(ConnectionClosedDuringHandshake, match="connection closed by peer during handshake"):
        session.handshake()
    assert session.closed


def test_local_alert_is_sent_before_the_socket_closes(server_cfg):
    server_sock, other = socket.socketpair()
    server_sock.settimeout(TIMEOUT)
    other.settimeout(TIMEOUT)
    session = TLSSession(server_sock, ServerConnection(server_cfg))
    other.sendall(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(UnexpectedMessage):
        session.handshake()
    # alert record: type 21, legacy version 3.3, length 2, fatal(2) unexpected_message(10)
    assert other.recv(100) == b"\x15\x03\x03\x00\x02\x02\x0a"
    assert other.recv(100) == b""  # and then the socket was closed
    other.close()


def test_remote_alert_is_raised(server_cfg, client_cfg):
    config = attrs.evolve(server_cfg, alpn_protocols=(b"http/1.1",))
    with running(config) as (server, log):
        client = attrs.evolve(client_cfg, alpn_protocols=(b"h2",))
        with pytest.raises(RemoteAlert) as caught:
            connect("127.0.0.1", server.port, client, timeout=TIMEOUT)
    assert caught.value.description == AlertDescription.no_application_protocol
    assert describe_error(caught.value, peer="server") == "the server sent a fatal no_application_protocol alert"
    assert "ALPN" in log[0] and "no_application_protocol" in log[0]


def test_connect_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        connect("127.0.0.1", port, client_config(servername="localhost"), timeout=TIMEOUT)


def test_connect_timeout_when_the_server_is_silent(client_cfg):
    with socket.create_server(("127.0.0.1", 0)) as listener, pytest.raises(TimeoutError):
        connect("127.0.0.1", listener.getsockname()[1], client_cfg, timeout=0.3)


def test_client_config():
    config = client_config(servername="example.org", cafile="/ca.pem", insecure=True, alpn=["h2"])
    assert config.server_name == "example.org"
    assert config.cafile == "/ca.pem"
    assert config.verify_peer is False
    assert config.alpn_protocols == (b"h2",)
    assert client_config(servername="x").verify_peer is True


def test_describe_error_is_one_line():
    assert describe_error(ConnectionRefusedError()) == "connection refused (is a server listening there?)"
    assert describe_error(TimeoutError(), peer="server") == "timed out waiting for the server"
    assert describe_error(ConnectionClosedDuringHandshake()) == "connection closed by peer during handshake"
    local = UnexpectedMessage("line one\nline two", rfc="RFC 8446 §5")
    assert describe_error(local) == "line one line two (sent a fatal unexpected_message alert, RFC 8446 §5)"
    assert describe_error(RemoteAlert(200), peer="client") == "the client sent a fatal unknown (200) alert"
    assert describe_error(OSError(os.strerror(104))).startswith("network error:")


def test_handshake_resumes_after_a_timeout(client_cfg, server_cfg):
    client, server = session_pair(client_cfg, server_cfg)
    client.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        client.handshake()  # the server has not started yet
    thread, outcome = in_thread(server.handshake)
    try:
        client.sock.settimeout(TIMEOUT)
        assert client.handshake().version == "TLS 1.3"  # carries on with the same ClientHello
    finally:
        client.close()
        thread.join(TIMEOUT)
        server.close()
    assert "error" not in outcome
