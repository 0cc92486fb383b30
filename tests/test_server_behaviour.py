"""What every peer may expect of `teachtls serve` (teachtls/net/server.py).

* HTTP/1.0 and HTTP/1.1 requests, with CRLF or bare-LF line endings, are
  answered with the whole response in ONE application-data record, read
  here from a teachtls client's own trace;
* malformed and oversized requests get 400 and 431;
* close_notify is answered with close_notify (RFC 8446 §6.1);
* a fatal alert really reaches the client: the server half-closes and
  drains before it closes, so there is no TCP reset that could destroy it;
* the handshake timeout and the idle timeout cut off stalled and slow
  clients, however they dribble their bytes;
* whatever a client sends, the connection's buffers stay bounded -- in the
  sans-I/O core (record and handshake reassembly) and in the server.

Everything runs on 127.0.0.1 with timeouts of a fraction of a second; every
server started here is shut down before its test ends.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator

import attrs
import pytest

from teachtls import Config
from teachtls.connection import MAX_HANDSHAKE_MESSAGE
from teachtls.handshake.alerts import DecodeError, IllegalParameter, RecordOverflow
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.net.server import (
    MAX_REQUEST_HEAD,
    MAX_SHOWN_REQUEST_LINE,
    RunningServer,
    fixed_config,
    hello_page,
    http_handler,
    http_response,
    serve_in_thread,
)
from teachtls.net.session import TLSSession, connect
from teachtls.pki.generate import IssuedCertificate, issue_leaf, make_ca
from teachtls.trace.events import AlertReceived, AlertSent, RecordReceived
from teachtls.trace.observer import Recorder
from teachtls.wire import record as wire_record
from teachtls.wire.enums import AlertDescription, ContentType, HandshakeType, ProtocolVersion

TIMEOUT = 5.0  # the tests' own waits: generous, never reached when all is well
SHORT = 0.5  # the server's handshake and idle timeouts in these tests

# A record carrying a fatal alert: type 21, legacy_record_version 3.3, length 2, level fatal (2).
FATAL_ALERT_PREFIX = b"\x15\x03\x03\x00\x02\x02"


@pytest.fixture(scope="module")
def pki() -> tuple[IssuedCertificate, IssuedCertificate]:
    ca = make_ca()
    return ca, issue_leaf(ca, "localhost", dns_names=["localhost"])


@pytest.fixture
def server_cfg(pki) -> Config:
    _, leaf = pki
    return Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)


@pytest.fixture
def client_cfg(pki) -> Config:
    ca, _ = pki
    return Config(server_name="localhost", trusted_certificates=(ca.certificate,))


@contextlib.contextmanager
def running(config: Config, handler=http_handler, **kwargs) -> Iterator[tuple[RunningServer, list[str]]]:
    """A server in a background thread with short timeouts, its log lines in a list."""
    log: list[str] = []
    kwargs = {"handshake_timeout": SHORT, "idle_timeout": SHORT, "timeout": TIMEOUT, **kwargs}
    server = serve_in_thread("127.0.0.1", 0, fixed_config(config), handler, log=log.append, **kwargs)
    try:
        yield server, log
    finally:
        server.shutdown()


def raw_connection(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def read_to_end(sock: socket.socket) -> bytes:
    """Everything until the server's FIN. A TCP reset raises ConnectionResetError: the test fails."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def client_hello(cipher_suites: tuple[int, ...] | None = None) -> bytes:
    """The bytes of a teachtls ClientHello record (TLS 1.3 only), as a raw client would send them."""
    config = Config(server_name="localhost", verify_peer=False, versions=(ProtocolVersion.TLS1_3,))
    if cipher_suites is not None:
        config = attrs.evolve(config, cipher_suites=cipher_suites)
    client = ClientConnection(config)
    client.start_handshake()
    return client.data_to_send()


def application_records(recorder: Recorder) -> list[RecordReceived]:
    return [
        event
        for event in recorder.events
        if isinstance(event, RecordReceived) and event.inner_content_type == ContentType.application_data
    ]


# --- HTTP: one request, one response record ----------------------------------------


@pytest.mark.parametrize(
    "request_head",
    [
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET / HTTP/1.0\n\n",  # bare LF, as typed into openssl s_client
        b"GET / HTTP/1.1\nHost: localhost\n\n",
        b"GET / HTTP/1.1\r\nHost: localhost\n\r\n",  # mixed: RFC 9112 §2.2 ignores a CR before LF
    ],
    ids=["1.0-crlf", "1.1-crlf", "1.0-lf", "1.1-lf", "1.1-mixed"],
)
def test_request_is_answered_in_one_application_data_record(server_cfg, client_cfg, request_head):
    recorder = Recorder()
    with running(server_cfg) as (server, log):
        session = connect("127.0.0.1", server.port, attrs.evolve(client_cfg, observer=recorder), timeout=TIMEOUT)
        with session:
            session.send(request_head)
            response = session.recv_all()
        assert not session.truncated  # the server ended with close_notify
    records = application_records(recorder)
    assert len(records) == 1
    assert records[0].plaintext == response
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert f"Content-Length: {len(body)}".encode() in head
    assert request_head.splitlines()[0].strip() in body  # the page repeats the request line
    # the response record comes before the close_notify record, and nothing after it
    alerts = [e for e in recorder.events if isinstance(e, AlertReceived)]
    assert [a.description for a in alerts] == ["close_notify"]
    assert recorder.events.index(records[0]) < recorder.events.index(alerts[0])
    assert len(log) == 1 and log[0].endswith("TLS 1.3, TLS_AES_128_GCM_SHA256, x25519")


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"hello\n\n", b"HTTP/1.0 400 Bad Request"),
        (b"GET /\r\n\r\n", b"HTTP/1.0 400 Bad Request"),  # HTTP/0.9 has no headers to answer with
        (b"GET / HTTP/1.1\r\nX-Long: " + b"a" * MAX_REQUEST_HEAD, b"HTTP/1.0 431 Request Header Fields Too Large"),
    ],
    ids=["not-http", "http-0.9", "head-too-large"],
)
def test_bad_requests_get_an_error_status_in_one_record(server_cfg, client_cfg, request_head, status):
    recorder = Recorder()
    with (
        running(server_cfg) as (server, _),
        connect("127.0.0.1", server.port, attrs.evolve(client_cfg, observer=recorder), timeout=TIMEOUT) as session,
    ):
        session.send(request_head)
        response = session.recv_all()
    assert response.startswith(status + b"\r\n")
    assert len(application_records(recorder)) == 1


def test_the_longest_page_still_fits_in_one_record():
    """The page repeats what the client chose; all of it is bounded (see `hello_page`)."""
    from teachtls.connection import HandshakeCompleted

    worst = '"' * 255  # html.escape makes each of these 6 characters
    completed = HandshakeCompleted(
        version="TLS 1.3",
        cipher_suite="TLS_CHACHA20_POLY1305_SHA256",
        group="X25519MLKEM768",
        signature_scheme="rsa_pss_rsae_sha512",
        alpn_protocol=worst.encode(),
        server_name=worst,
        peer_certificates=(),
        hello_retry=True,
    )
    page = hello_page(completed, worst * 10)  # longer than any request line the handler passes on
    assert len(http_response(200, "OK", page)) > 4 * MAX_SHOWN_REQUEST_LINE  # the test is not vacuous...
    page = hello_page(completed, '"' * MAX_SHOWN_REQUEST_LINE)
    assert len(http_response(200, "OK", page)) <= wire_record.MAX_PLAINTEXT  # ...and the real bound holds


def test_a_half_closed_client_still_gets_its_answer(server_cfg, client_cfg):
    """RFC 8446 §6.1: close_notify closes one direction; the server may still write."""
    with running(server_cfg) as (server, _), connect("127.0.0.1", server.port, client_cfg, timeout=TIMEOUT) as session:
        session.send(b"GET / HTTP/1.0\r\n\r\n")
        session.shutdown_write()  # close_notify, then TCP FIN
        response = session.recv_all()
    assert response.startswith(b"HTTP/1.0 200 OK\r\n")
    assert not session.truncated


# --- closing --------------------------------------------------------------------------


def test_close_notify_is_answered_with_close_notify(server_cfg, client_cfg):
    recorder = Recorder()
    with running(server_cfg) as (server, log):
        session = connect("127.0.0.1", server.port, attrs.evolve(client_cfg, observer=recorder), timeout=TIMEOUT)
        with session:
            started = time.monotonic()
            session.shutdown_write()  # our close_notify, before any request
            assert session.recv() == b""  # ... and the server's, at once (no timeout involved)
            answered_within = time.monotonic() - started
        assert not session.truncated
    assert answered_within < SHORT
    sent = [e.description for e in recorder.events if isinstance(e, AlertSent)]
    received = [e.description for e in recorder.events if isinstance(e, AlertReceived)]
    assert sent == ["close_notify"] and received == ["close_notify"]
    assert len(log) == 1  # the handshake line; no error


def test_a_fatal_alert_reaches_the_client(server_cfg, client_cfg):
    """The server rejects the ClientHello and hangs up -- and the client reads why.

    The client sends more than the server will ever read: the ClientHello
    and 32 KiB behind it. Had the server simply closed its socket with those
    bytes unread, its kernel would have answered with a reset (RFC 1122
    §4.2.2.13) and this client would see ECONNRESET. With the lingering
    close it reads the alert and then a clean end of stream."""
    hello = client_hello(cipher_suites=(0x1305,))  # TLS_AES_128_CCM_8_SHA256: the server has no CCM
    with running(server_cfg) as (server, log), raw_connection(server.port) as raw:
        raw.sendall(hello + b"\x17\x03\x03\x40\x00" + bytes(2**15))
        time.sleep(0.2)  # let the server reject it and close before we read: the reset would come now
        received = read_to_end(raw)
    assert received == FATAL_ALERT_PREFIX + bytes([AlertDescription.handshake_failure])
    assert "no cipher suite in common" in log[0] and "handshake_failure" in log[0]


def test_a_record_header_too_long_is_an_alert_at_once(server_cfg):
    """RFC 8446 §5.2: more than 2^14 + 256 bytes of ciphertext is record_overflow -- decided from the header."""
    with running(server_cfg) as (server, log), raw_connection(server.port) as raw:
        raw.sendall(b"\x16\x03\x01\xff\xff")  # announces 65535 bytes, sends none of them
        assert read_to_end(raw) == FATAL_ALERT_PREFIX + bytes([AlertDescription.record_overflow])
    assert "record_overflow" in log[0]


def test_a_handshake_message_header_too_long_is_an_alert_at_once(server_cfg):
    """A ClientHello announcing 2^24 - 1 bytes is refused before a byte of it is buffered."""
    with running(server_cfg) as (server, log), raw_connection(server.port) as raw:
        raw.sendall(b"\x16\x03\x01\x00\x04" + bytes([HandshakeType.client_hello]) + b"\xff\xff\xff")
        assert read_to_end(raw) == FATAL_ALERT_PREFIX + bytes([AlertDescription.illegal_parameter])
    assert "exceeds teachtls's limit" in log[0]


# --- timeouts -------------------------------------------------------------------------


def test_handshake_timeout_closes_a_stalled_handshake(server_cfg):
    hello = client_hello()
    with running(server_cfg) as (server, log), raw_connection(server.port) as raw:
        started = time.monotonic()
        raw.sendall(hello[: len(hello) // 2])  # half a ClientHello, then nothing
        received = read_to_end(raw)
        elapsed = time.monotonic() - started
    assert received == b""  # RFC-wise nothing to say: GnuTLS, too, just closes (GNUTLS_E_TIMEDOUT)
    assert SHORT - 0.05 <= elapsed < SHORT + 1.0
    assert f"did not finish within {round(SHORT * 1000)} ms" in log[0]


def test_handshake_timeout_is_a_deadline_not_a_pause(server_cfg):
    """A client that dribbles its ClientHello, one byte per 0.1 s, never pauses for
    `timeout` (5 s here) -- yet the whole handshake must fit in `handshake_timeout`."""
    hello = client_hello()
    with running(server_cfg) as (server, log), raw_connection(server.port) as raw:
        started = time.monotonic()
        for byte in hello:
            raw.sendall(bytes([byte]))
            if hung_up_within(raw, 0.1):
                break
        elapsed = time.monotonic() - started
        assert read_to_end(raw) == b""
    assert SHORT - 0.05 <= elapsed < SHORT + 1.0
    assert "did not finish within" in log[0]


def hung_up_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server says something (here: its FIN, or close_notify) within `seconds`."""
    readable, _, _ = select.select([sock], [], [], seconds)
    return bool(readable)


def test_idle_timeout_closes_a_connection_without_request(server_cfg, client_cfg):
    with (
        running(server_cfg) as (server, log),
        connect("127.0.0.1", server.port, client_cfg, timeout=TIMEOUT) as session,
    ):
        started = time.monotonic()
        assert session.recv() == b""  # we never ask; the server gives up and says close_notify
        elapsed = time.monotonic() - started
        assert not session.truncated
    assert SHORT - 0.05 <= elapsed < SHORT + 1.0
    assert f"no complete request within {SHORT:g} s of the handshake" in log[1]


def test_idle_timeout_is_a_deadline_not_a_pause(server_cfg, client_cfg):
    """Slowloris after the handshake: one header byte per 0.1 s is cut off at the deadline."""
    with (
        running(server_cfg) as (server, log),
        connect("127.0.0.1", server.port, client_cfg, timeout=TIMEOUT) as session,
    ):
        raw = session.sock
        assert isinstance(raw, socket.socket)
        started = time.monotonic()
        session.send(b"GET / HTTP/1.1\r\n")
        while not hung_up_within(raw, 0.1) and time.monotonic() - started < SHORT + 1.0:
            session.send(b"X")
        elapsed = time.monotonic() - started
        assert session.recv() == b""  # the server's close_notify
    assert SHORT - 0.05 <= elapsed < SHORT + 1.0
    assert "no complete request within" in log[1]


# --- memory bounds -------------------------------------------------------------------


def test_receive_limit_cuts_off_a_flooding_client(server_cfg, client_cfg):
    received = []

    def sink(session: TLSSession) -> None:
        while data := session.recv():
            received.append(len(data))

    with (
        running(server_cfg, handler=sink, receive_limit=2**16) as (server, log),
        connect("127.0.0.1", server.port, client_cfg, timeout=TIMEOUT) as session,
        contextlib.suppress(OSError),
    ):
        for _ in range(64):  # 1 MiB in all, far beyond the limit
            session.send(bytes(2**14))
    assert sum(received) < 2**16
    assert "the client sent more than 65536 bytes" in log[1]


def test_core_refuses_a_handshake_message_longer_than_its_limit(server_cfg):
    """The sans-I/O core decides from the 4-byte handshake header, before buffering anything."""
    server = ServerConnection(server_cfg)
    header = bytes([HandshakeType.client_hello]) + (2**24 - 1).to_bytes(3, "big")
    with pytest.raises(IllegalParameter, match="exceeds teachtls's limit"):
        server.receive_data(b"\x16\x03\x01\x00\x04" + header)
    assert server.closed
    assert server.data_to_send() == FATAL_ALERT_PREFIX + bytes([AlertDescription.illegal_parameter])


def test_core_buffers_at_most_one_record_and_one_handshake_message(server_cfg):
    """Feed a ClientHello that claims exactly MAX_HANDSHAKE_MESSAGE bytes, in
    full-size records, split into odd-sized reads: neither buffer ever holds
    more than its bound, and the message is then refused for what it is."""
    server = ServerConnection(server_cfg)
    message = bytes([HandshakeType.client_hello]) + MAX_HANDSHAKE_MESSAGE.to_bytes(3, "big")
    message += bytes(MAX_HANDSHAKE_MESSAGE)
    stream = b"".join(
        wire_record.build_header(ContentType.handshake, len(fragment)) + fragment
        for fragment in (message[i : i + 2**14] for i in range(0, len(message), 2**14))
    )
    largest_record_buffer = largest_handshake_buffer = 0
    with pytest.raises(DecodeError):  # 256 KiB of zeros are no ClientHello
        for start in range(0, len(stream), 7777):
            server.receive_data(stream[start : start + 7777])
            # white-box: the two reassembly buffers of connection.py
            largest_record_buffer = max(largest_record_buffer, len(server._incoming))
            largest_handshake_buffer = max(largest_handshake_buffer, len(server._handshake_in))
    assert largest_record_buffer < wire_record.HEADER_LENGTH + wire_record.MAX_CIPHERTEXT
    assert largest_handshake_buffer <= 4 + MAX_HANDSHAKE_MESSAGE
    assert largest_handshake_buffer >= MAX_HANDSHAKE_MESSAGE - 2**14  # it really got close


def test_core_refuses_an_oversized_record_from_its_header(server_cfg):
    server = ServerConnection(server_cfg)
    with pytest.raises(RecordOverflow):
        server.receive_data(b"\x16\x03\x01" + (wire_record.MAX_CIPHERTEXT + 1).to_bytes(2, "big"))


# --- leaving nothing behind -----------------------------------------------------------


def test_no_connection_thread_outlives_shutdown(server_cfg, client_cfg):
    with running(server_cfg) as (server, _):
        for _ in range(3):
            with connect("127.0.0.1", server.port, client_cfg, timeout=TIMEOUT) as session:
                session.send(b"GET / HTTP/1.0\r\n\r\n")
                session.recv_all()
        with raw_connection(server.port):
            pass  # connects and leaves at once
    assert server.server.active_connections == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("teachtls-")]
