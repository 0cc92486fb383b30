"""Interop of TLS 1.2 with the real `openssl` binary (3.0), in both directions.

tests/test_tls12.py shows teachtls agreeing with itself; here the other end
is `openssl s_server -tls1_2` or `openssl s_client -tls1_2`:

1. **Every TLS 1.2 suite** (`DEFAULT_SUITES_12` and, explicitly enabled with
   `legacy_suites_for_teaching`, `TEACHING_ONLY_SUITES_12`: static RSA and
   AES-CBC), each with the matching certificate (ECDSA P-256 for ECDHE_ECDSA,
   RSA-2048 otherwise), exactly one suite per run, application data both ways.
   OpenSSL offers encrypt-then-MAC (RFC 7366) for CBC; teachtls does not, so
   the CBC suites run MAC-then-encrypt -- the check is that it is never
   negotiated and everything still works.
2. **Resumption** (RFC 5246 §7.3): by ticket (RFC 5077) and by session ID,
   `s_client -sess_out`/`-sess_in` against teachtls, and teachtls
   (`get_session_data`/`set_session_data`) against `s_server` with and
   without `-no_ticket`.
3. **Renegotiation** (RFC 5746): s_client's "R" command, teachtls's
   `renegotiate()` against s_server, s_server's "r" command (a HelloRequest),
   teachtls's `request_renegotiation()` against s_client; and the refusals --
   s_server without `-client_renegotiation`, s_client with
   `-no_renegotiation` -- answered with a warning no_renegotiation alert,
   after which data still flows. (OpenSSL always sends renegotiation_info, so
   peers *without* RFC 5746 are shown in memory, in tests/test_tls12.py.)
4. **Versions** (RFC 8446 §4.2.1, §4.1.3): a 1.3-capable peer and a peer
   capped at 1.2 agree on 1.2 -- OpenSSL checks the downgrade sentinel, so
   this also shows that teachtls does not set it when capped -- and a man in
   the middle stripping TLS 1.3 is caught, by openssl and by teachtls.
5. Client authentication and OCSP stapling in TLS 1.2, once each way.

Every test runs on 127.0.0.1 with bounded time; every process and server is
stopped by a fixture finalizer (see tests/interop.py).
"""

from __future__ import annotations

import datetime
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from teachtls import ApplicationData, Config, HandshakeCompleted, WarningAlertReceived
from teachtls.config import system_clock, system_random
from teachtls.crypto.suites12 import DEFAULT_SUITES_12, SUITES_12, TEACHING_ONLY_SUITES_12, CipherSuite12
from teachtls.handshake.alerts import IllegalParameter, RemoteAlert
from teachtls.handshake.client13 import ClientConnection
from teachtls.pki.ocsp import make_ocsp_response
from teachtls.sessions import ClientSession, SessionDatabase, StatelessTickets
from teachtls.trace.events import AlertSent, MessageEvent, MessageReceived, MessageSent, ParametersNegotiated
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import AlertDescription, ProtocolVersion
from teachtls.wire.messages import DOWNGRADE_TLS12
from tests.interop import (
    HOST,
    OPENSSL,
    TIMEOUT,
    Conversation,
    DowngradeProxy,
    EchoServer,
    InteractiveOpenSSLServer,
    InteractiveSClient,
    LineEchoServer,
    OpenSSLServer,
    Pki,
    ScriptedServer,
    SocketPump,
    connect,
    make_pki,
    next_events,
    openssl_cipher_name,
    run_s_client,
)

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed"),
]

TLS1_2 = ProtocolVersion.TLS1_2
ALL_SUITES_12 = list(DEFAULT_SUITES_12) + list(TEACHING_ONLY_SUITES_12)
HTTP_GET = b"GET / HTTP/1.0\r\n\r\n"
LINE = b"hello from openssl s_client\n"
ECHO = "teachtls echo: hello from openssl s_client"
NO_RENEGOTIATION = AlertDescription.no_renegotiation_RESERVED
# `-cipher` for the teaching-only suites: OpenSSL 3.0's default security level
# (1) still allows them, but level 0 states the intent -- old suites on purpose.
SECLEVEL_0 = ":@SECLEVEL=0"


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("tls12-pki"))


@pytest.fixture(scope="module")
def www_servers(pki: Pki) -> Iterator[dict[str, OpenSSLServer]]:
    """`s_server -tls1_2 -www`, one per certificate type, every suite allowed."""
    servers: dict[str, OpenSSLServer] = {}
    try:
        for cert_type in ("ecdsa-p256", "rsa-2048"):
            servers[cert_type] = start_www_server(pki, cert_type, "-cipher", "ALL" + SECLEVEL_0)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def started() -> Iterator[list[Any]]:
    """Servers, proxies and processes started by a test; stopped afterwards."""
    things: list[Any] = []
    yield things
    for thing in reversed(things):
        thing.stop()


# --- helpers ---------------------------------------------------------------------------------


def cert_type_for(suite: int) -> str:
    return "ecdsa-p256" if SUITES_12[suite].key_exchange == "ECDHE_ECDSA" else "rsa-2048"


def start_www_server(pki: Pki, cert_type: str, *extra: str) -> OpenSSLServer:
    files = pki.servers[cert_type]
    return OpenSSLServer(["-tls1_2", "-www", "-cert", files.cert_file, "-key", files.key_file, *extra])


def client_config(pki: Pki, **changes: Any) -> Config:
    """A default teachtls client: offers TLS 1.3 and 1.2."""
    return attrs.evolve(Config(server_name="localhost", trusted_certificates=(pki.ca.certificate,)), **changes)


def server_config(pki: Pki, cert_type: str = "ecdsa-p256", **changes: Any) -> Config:
    leaf = pki.servers[cert_type].issued
    config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key, versions=(TLS1_2,))
    return attrs.evolve(config, **changes)


def http_get(port: int, config: Config, session: bytes | None = None) -> tuple[HandshakeCompleted, str, SocketPump]:
    """Handshake with `s_server -www` (offering `session`), GET its status page, close."""
    pump = connect_with_session(port, config, session)
    try:
        completed = pump.handshake()
        pump.send(HTTP_GET)
        page = pump.receive_until_close()
    finally:
        pump.close()
    return completed, page.decode("utf-8", "replace"), pump


def connect_with_session(port: int, config: Config, session: bytes | None) -> SocketPump:
    """A teachtls client on 127.0.0.1:`port` offering `session` (if any), ClientHello queued."""
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    connection = ClientConnection(config)
    if session is not None:
        connection.set_session_data(session)
    connection.start_handshake()
    return SocketPump(connection, sock)


def s_client_args(pki: Pki, *extra: str | Path, tls12_only: bool = True) -> list[str | Path]:
    """TLS 1.2 only (unless told otherwise); verify the teachtls server's chain
    and name; keep reading after stdin ends."""
    versions: list[str | Path] = ["-tls1_2"] if tls12_only else []
    return [*versions, "-CAfile", pki.ca_file, "-servername", "localhost", "-verify_return_error", "-ign_eof", *extra]


def start_echo_server(started: list[Any], config: Config, lines: int = 1) -> LineEchoServer:
    server = LineEchoServer(config, lines=lines)
    started.append(server)
    return server


def served_ok(server: EchoServer) -> Conversation:
    served = server.next_result()
    assert isinstance(served, Conversation)
    assert served.error is None, served.error
    assert served.completed is not None
    return served


def summary_of(recorder: Recorder, event_type: type[MessageEvent], name: str) -> str:
    """The one-line summary of the one `name` message sent or received."""
    (message,) = [
        e for e in recorder.events if type(e) is event_type and isinstance(e, MessageEvent) and e.name == name
    ]
    return message.summary


def negotiations(recorder: Recorder, role: str) -> list[ParametersNegotiated]:
    return [e for e in recorder.events if isinstance(e, ParametersNegotiated) and e.role == role]


def negotiated_by_openssl(output: str) -> tuple[str, str]:
    """(protocol, cipher) from the SSL-Session block of s_server -www or s_client.

    Not from the "New, TLSv1.0, Cipher is ..." line: its version is the
    *cipher's* oldest protocol (SSL_CIPHER_get_version), not the one in use."""
    protocol = re.search(r"Protocol\s*: (\S+)", output)
    cipher = re.search(r"Cipher\s*: (\S+)", output)
    assert protocol is not None and cipher is not None, output
    return protocol.group(1), cipher.group(1)


def data_of(events: list[Any]) -> bytes:
    return b"".join(event.data for event in events if isinstance(event, ApplicationData))


def client(pump: SocketPump) -> ClientConnection:
    assert isinstance(pump.connection, ClientConnection)
    return pump.connection


def is_completed(event: object) -> bool:
    return isinstance(event, HandshakeCompleted)


def is_warning(event: object) -> bool:
    return isinstance(event, WarningAlertReceived)


def is_data(event: object) -> bool:
    return isinstance(event, ApplicationData)


# --- 1a. teachtls client -> openssl s_server -tls1_2: every suite ---------------------------------


@pytest.mark.parametrize("suite", DEFAULT_SUITES_12, ids=lambda suite: suite.name)
def test_client_against_s_server(pki: Pki, www_servers: dict[str, OpenSSLServer], suite: CipherSuite12) -> None:
    """A default suite, forced from our side: we offer only it."""
    recorder = Recorder()
    config = client_config(pki, cipher_suites_12=(suite,), observer=recorder)

    completed, page, _pump = http_get(www_servers[cert_type_for(suite)].port, config)

    assert completed.version == "TLS 1.2"
    assert completed.cipher_suite == suite.name
    assert completed.group == "x25519"
    assert page.startswith("HTTP/1.0 200 ok")
    assert negotiated_by_openssl(page) == ("TLSv1.2", openssl_cipher_name(suite.name))
    # We offered TLS 1.3 too: s_server, capped at 1.2 by -tls1_2, set no DOWNGRD
    # sentinel (or we would have aborted), and it agreed to RFC 7627.
    server_hello = summary_of(recorder, MessageReceived, "ServerHello")
    assert "extended_master_secret" in server_hello and "renegotiation_info" in server_hello


@pytest.mark.parametrize("suite", TEACHING_ONLY_SUITES_12, ids=lambda suite: suite.name)
def test_client_teaching_suite_against_s_server(pki: Pki, started: list[Any], suite: CipherSuite12) -> None:
    """A teaching-only suite: with `legacy_suites_for_teaching` we offer all of
    them, so s_server is the side restricted to exactly one."""
    name = openssl_cipher_name(suite.name)
    server = start_www_server(pki, cert_type_for(suite), "-cipher", name + SECLEVEL_0)
    started.append(server)
    recorder = Recorder()
    config = client_config(pki, cipher_suites_12=(), legacy_suites_for_teaching=True, observer=recorder)

    completed, page, _pump = http_get(server.port, config)

    assert completed.version == "TLS 1.2"
    assert completed.cipher_suite == suite.name
    assert page.startswith("HTTP/1.0 200 ok")
    assert negotiated_by_openssl(page) == ("TLSv1.2", name)
    # RFC 7366: we do not offer encrypt_then_mac, so CBC stays MAC-then-encrypt.
    assert "encrypt_then_mac" not in summary_of(recorder, MessageSent, "ClientHello")
    assert "encrypt_then_mac" not in summary_of(recorder, MessageReceived, "ServerHello")


# --- 1b. openssl s_client -tls1_2 -> teachtls server: every suite -------------------------------


@pytest.mark.parametrize(
    "versions", [(TLS1_2,), (ProtocolVersion.TLS1_3, TLS1_2)], ids=["server-1.2", "server-1.3+1.2"]
)
@pytest.mark.parametrize("suite", ALL_SUITES_12, ids=lambda suite: suite.name)
def test_s_client_against_server(pki: Pki, started: list[Any], suite: CipherSuite12, versions: tuple[int, ...]) -> None:
    teaching = SUITES_12[suite].teaching_only
    config = server_config(
        pki,
        cert_type_for(suite),
        versions=versions,
        cipher_suites_12=() if teaching else (suite,),
        legacy_suites_for_teaching=teaching,
    )
    server = start_echo_server(started, config)
    name = openssl_cipher_name(suite.name)

    result = run_s_client(server.port, s_client_args(pki, "-cipher", name + SECLEVEL_0), stdin=LINE)
    served = served_ok(server)

    assert served.completed is not None
    assert served.completed.version == "TLS 1.2"
    assert served.completed.cipher_suite == suite.name
    assert served.received == LINE
    assert result.returncode == 0, result.output
    assert negotiated_by_openssl(result.stdout) == ("TLSv1.2", name)
    assert "Verify return code: 0 (ok)" in result.stdout
    assert "Secure Renegotiation IS supported" in result.stdout
    assert "Extended master secret: yes" in result.stdout
    assert ECHO in result.stdout
    if SUITES_12[suite].cipher_type == "block":
        # openssl offers encrypt-then-MAC (RFC 7366); we leave it out of our
        # answer, and openssl falls back to MAC-then-encrypt as it must.
        assert "encrypt_then_mac" in summary_of(served.recorder, MessageReceived, "ClientHello")
        assert "encrypt_then_mac" not in summary_of(served.recorder, MessageSent, "ServerHello")


# --- 2. resumption -------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["ticket", "session ID"])
def test_s_client_resumes(pki: Pki, started: list[Any], tmp_path: Path, how: str) -> None:
    if how == "ticket":
        store = StatelessTickets(system_random, system_clock)
        config = server_config(pki, session_store=store, session_tickets=1)
        extra: tuple[str, ...] = ()
    else:
        config = server_config(pki, session_id_cache=SessionDatabase(system_random))
        extra = ("-no_ticket",)
    server = start_echo_server(started, config)
    session_file = tmp_path / "session.pem"

    first = run_s_client(server.port, s_client_args(pki, "-sess_out", session_file, *extra), stdin=LINE)
    full = served_ok(server)
    second = run_s_client(server.port, s_client_args(pki, "-sess_in", session_file, *extra), stdin=LINE)
    resumed = served_ok(server)

    assert first.returncode == 0 and second.returncode == 0, first.output + second.output
    assert "New, TLSv1.2" in first.stdout
    assert "Reused, TLSv1.2" in second.stdout
    assert ECHO in second.stdout
    assert full.completed is not None and not full.completed.resumed
    assert resumed.completed is not None and resumed.completed.resumed
    assert resumed.received == LINE
    sent = [e.name for e in resumed.recorder.events if type(e) is MessageSent]
    assert sent == (["ServerHello", "NewSessionTicket", "Finished"] if how == "ticket" else ["ServerHello", "Finished"])


@pytest.mark.parametrize("tickets", [True, False], ids=["ticket", "session-id"])
def test_client_resumes_against_s_server(pki: Pki, started: list[Any], tickets: bool) -> None:
    server = start_www_server(pki, "ecdsa-p256", *([] if tickets else ["-no_ticket"]))
    started.append(server)
    first, page, pump = http_get(server.port, client_config(pki))
    session = client(pump).get_session_data()
    recorder = Recorder()

    completed, page, _pump = http_get(server.port, client_config(pki, observer=recorder), session)

    assert not first.resumed and completed.resumed
    assert completed.version == "TLS 1.2"
    assert page.startswith("HTTP/1.0 200 ok")
    assert "Reused, TLSv1.2" in page
    saved = ClientSession.from_bytes(session)
    assert saved.version == TLS1_2 and saved.master_secret
    # With a ticket we offer it and a fresh session ID, which s_server echoes to
    # accept (RFC 5077 §3.4); without, the session ID itself.
    assert bool(saved.ticket) is tickets
    received = [e.name for e in recorder.events if type(e) is MessageReceived]
    assert received == ["ServerHello", "Finished"]  # s_server renews no ticket that is still good


# --- 3. renegotiation -------------------------------------------------------------------------


def test_s_client_renegotiates_with_r_command(pki: Pki, started: list[Any]) -> None:
    """s_client's "R" starts a new handshake (no -ign_eof: it disables the commands)."""
    server = start_echo_server(started, server_config(pki), lines=2)
    s_client = InteractiveSClient(
        server.port, ["-tls1_2", "-CAfile", pki.ca_file, "-servername", "localhost", "-verify_return_error"]
    )
    started.append(s_client)

    assert s_client.wait_for("Verify return code: 0"), s_client.output
    s_client.type(b"one\n")
    assert s_client.wait_for("teachtls echo: one")
    s_client.type(b"R\n")
    assert s_client.wait_for("RENEGOTIATING")
    assert s_client.wait_for("verify return:1", count=4)  # the chain verified a second time
    s_client.type(b"two\n")
    assert s_client.wait_for("teachtls echo: two"), s_client.output
    returncode = s_client.finish()
    served = served_ok(server)

    assert returncode == 0, s_client.output
    assert served.received == b"one\ntwo\n"
    assert [type(e).__name__ for e in served.events] == [
        "HandshakeCompleted", "ApplicationData", "HandshakeCompleted", "ApplicationData",
    ]  # fmt: skip
    assert len(negotiations(served.recorder, "server")) == 2
    assert [e.name for e in served.recorder.events if type(e) is MessageReceived].count("ClientHello") == 2


def renegotiate_from_server(pump: SocketPump, served: Conversation) -> None:
    """Handshake; echo a line; send a HelloRequest and wait for the new
    handshake (or a refusal); echo another line. Data may arrive at any
    point in between: TLS 1.2 lets it interleave with a re-handshake."""
    served.completed = pump.handshake()
    served.events.append(served.completed)
    unanswered = b""

    def echo_one_line() -> None:
        nonlocal unanswered
        while b"\n" not in unanswered:
            events = next_events(pump, is_data)
            served.events += events
            unanswered += data_of(events)
        line, unanswered = unanswered.split(b"\n", 1)
        served.received += line + b"\n"
        pump.send(b"teachtls echo: " + line + b"\n")

    echo_one_line()
    pump.connection.request_renegotiation()  # type: ignore[attr-defined]
    pump.flush()
    events = next_events(pump, lambda event: is_completed(event) or is_warning(event))
    served.events += events
    unanswered += data_of(events)
    echo_one_line()


@pytest.mark.parametrize("refused", [False, True], ids=["accepted", "no_renegotiation"])
def test_server_requests_renegotiation_from_s_client(pki: Pki, started: list[Any], refused: bool) -> None:
    """Our HelloRequest (RFC 5246 §7.4.1.1): s_client renegotiates, or -- told
    `-no_renegotiation` -- declines with a warning, and the connection goes on."""
    server = ScriptedServer(server_config(pki), renegotiate_from_server)
    started.append(server)
    extra = ["-no_renegotiation"] if refused else []
    s_client = InteractiveSClient(
        server.port, ["-tls1_2", "-CAfile", pki.ca_file, "-servername", "localhost", "-verify_return_error", *extra]
    )
    started.append(s_client)

    assert s_client.wait_for("Verify return code: 0"), s_client.output
    s_client.type(b"one\n")
    assert s_client.wait_for("teachtls echo: one")
    if not refused:
        assert s_client.wait_for("verify return:1", count=4)  # the chain verified a second time
    s_client.type(b"two\n")
    assert s_client.wait_for("teachtls echo: two"), s_client.output
    s_client.finish()
    served = served_ok(server)

    assert served.received == b"one\ntwo\n"
    assert "HelloRequest" in [e.name for e in served.recorder.events if type(e) is MessageSent]
    kinds = [type(e).__name__ for e in served.events]
    if refused:
        assert WarningAlertReceived(description=NO_RENEGOTIATION) in served.events
        assert kinds.count("HandshakeCompleted") == 1
    else:
        assert kinds.count("HandshakeCompleted") == 2
        assert len(negotiations(served.recorder, "server")) == 2


@pytest.mark.parametrize("allowed", [True, False], ids=["client_renegotiation", "refused"])
def test_client_renegotiates_with_s_server(pki: Pki, started: list[Any], allowed: bool) -> None:
    """Our `renegotiate()`. OpenSSL 3 refuses client-initiated renegotiation
    unless told `-client_renegotiation`, with a warning no_renegotiation
    alert; then we carry on with the current session (RFC 5246 §7.2.2)."""
    files = pki.servers["ecdsa-p256"]
    extra = ["-client_renegotiation"] if allowed else []
    server = InteractiveOpenSSLServer(["-tls1_2", "-cert", files.cert_file, "-key", files.key_file, *extra])
    started.append(server)
    recorder = Recorder()
    pump = connect(server.port, client_config(pki, observer=recorder))
    try:
        pump.handshake()
        pump.send(b"before\n")
        assert server.wait_for("before")
        client(pump).renegotiate()
        pump.flush()
        events = next_events(pump, lambda e: is_completed(e) or is_warning(e))
        pump.send(b"after\n")
        assert server.wait_for("after")
        server.type(b"from s_server\n")
        events += next_events(pump, is_data)
    finally:
        pump.close()

    if allowed:
        assert isinstance(events[0], HandshakeCompleted)
        assert len(negotiations(recorder, "client")) == 2
    else:
        assert events[0] == WarningAlertReceived(description=NO_RENEGOTIATION)
        assert len(negotiations(recorder, "client")) == 1
    assert events[-1] == ApplicationData(b"from s_server\n")


def test_s_server_hello_request_is_answered(pki: Pki, started: list[Any]) -> None:
    """s_server's "r" command sends a HelloRequest; we start a new handshake."""
    files = pki.servers["rsa-2048"]
    server = InteractiveOpenSSLServer(["-tls1_2", "-cert", files.cert_file, "-key", files.key_file])
    started.append(server)
    recorder = Recorder()
    pump = connect(server.port, client_config(pki, observer=recorder))
    try:
        pump.handshake()
        server.type(b"r\n")
        events = next_events(pump, is_completed)
        assert server.wait_for("SSL_do_handshake -> 1")
        pump.send(b"after the HelloRequest\n")
        assert server.wait_for("after the HelloRequest")
        server.type(b"from s_server\n")
        events += next_events(pump, is_data)
    finally:
        pump.close()

    assert [e.name for e in recorder.events if type(e) is MessageReceived].count("HelloRequest") == 1
    assert len(negotiations(recorder, "client")) == 2
    assert events[-1] == ApplicationData(b"from s_server\n")


# --- 4. versions and downgrade protection -----------------------------------------------------


def test_default_client_gets_tls12_from_s_server(pki: Pki, www_servers: dict[str, OpenSSLServer]) -> None:
    completed, page, _pump = http_get(www_servers["ecdsa-p256"].port, client_config(pki))
    assert completed.version == "TLS 1.2"
    assert negotiated_by_openssl(page) == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")


def test_default_s_client_gets_tls12_from_a_server_capped_at_12(pki: Pki, started: list[Any]) -> None:
    """s_client offers TLS 1.3 and checks the downgrade sentinel; our 1.2-only
    server must not (and does not) set it."""
    server = start_echo_server(started, server_config(pki))

    result = run_s_client(server.port, s_client_args(pki, tls12_only=False), stdin=LINE)
    served = served_ok(server)

    assert result.returncode == 0, result.output
    assert negotiated_by_openssl(result.stdout) == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert "supported_versions" in summary_of(served.recorder, MessageReceived, "ClientHello")
    assert ECHO in result.stdout


def test_s_client_detects_a_forced_downgrade(pki: Pki, started: list[Any]) -> None:
    """The man in the middle strips TLS 1.3 from s_client's ClientHello; our
    1.3-capable server answers 1.2 with DOWNGRD\\x01 and openssl aborts."""
    server = start_echo_server(started, server_config(pki, versions=(ProtocolVersion.TLS1_3, TLS1_2)))
    proxy = DowngradeProxy(server.port)
    started.append(proxy)

    result = run_s_client(proxy.port, s_client_args(pki, tls12_only=False), stdin=LINE)
    served = server.next_result()

    assert proxy.error is None, proxy.error
    assert result.returncode != 0
    assert "inappropriate fallback" in result.output
    assert isinstance(served.error, RemoteAlert)
    assert served.error.description == AlertDescription.illegal_parameter
    (server_hello,) = [e for e in served.recorder.events if type(e) is MessageSent and e.name == "ServerHello"]
    assert server_hello.raw[6:38].endswith(DOWNGRADE_TLS12)


def test_client_detects_a_forced_downgrade_from_s_server(pki: Pki, started: list[Any]) -> None:
    """The same attack on us: s_server (TLS 1.3 and 1.2) answers the stripped
    ClientHello with TLS 1.2 and the sentinel; we abort with illegal_parameter."""
    files = pki.servers["ecdsa-p256"]
    server = OpenSSLServer(["-www", "-cert", files.cert_file, "-key", files.key_file])
    started.append(server)
    proxy = DowngradeProxy(server.port)
    started.append(proxy)
    recorder = Recorder()

    pump = connect(proxy.port, client_config(pki, observer=recorder))
    try:
        with pytest.raises(IllegalParameter, match="downgrade sentinel"):
            pump.handshake()
    finally:
        pump.close()

    assert proxy.error is None, proxy.error
    alerts = [e for e in recorder.events if isinstance(e, AlertSent)]
    assert [alert.description for alert in alerts] == ["illegal_parameter"]


# --- 5. client authentication and OCSP stapling in TLS 1.2 -------------------------------------


def test_s_client_certificate_in_tls12(pki: Pki, started: list[Any]) -> None:
    config = server_config(pki, client_auth="require", trusted_certificates=(pki.ca.certificate,))
    server = start_echo_server(started, config)
    files = pki.clients["rsa-2048"]

    result = run_s_client(server.port, s_client_args(pki, "-cert", files.cert_file, "-key", files.key_file), LINE)
    served = served_ok(server)

    assert result.returncode == 0, result.output
    assert served.completed is not None
    assert served.completed.peer_certificates[0] == files.issued.certificate  # (s_client adds the CA)
    received = [e.name for e in served.recorder.events if type(e) is MessageReceived]
    assert received == ["ClientHello", "Certificate", "ClientKeyExchange", "CertificateVerify", "Finished"]
    assert ECHO in result.stdout


def test_client_certificate_for_s_server_in_tls12(pki: Pki, started: list[Any]) -> None:
    files = pki.servers["ecdsa-p256"]
    server = OpenSSLServer(
        ["-tls1_2", "-www", "-cert", files.cert_file, "-key", files.key_file, "-Verify", "1", "-CAfile", pki.ca_file]
    )
    started.append(server)
    client_files = pki.clients["ecdsa-p256"]
    recorder = Recorder()
    config = client_config(
        pki,
        certificate_chain=(client_files.issued.certificate,),
        private_key=client_files.issued.private_key,
        observer=recorder,
    )

    completed, page, _pump = http_get(server.port, config)

    assert completed.version == "TLS 1.2"
    assert "CertificateVerify" in [e.name for e in recorder.events if type(e) is MessageSent]
    assert page.startswith("HTTP/1.0 200 ok")
    assert "Client certificate" in page


def test_s_client_reads_our_tls12_staple(pki: Pki, started: list[Any]) -> None:
    leaf = pki.servers["ecdsa-p256"].issued
    now = datetime.datetime.now(datetime.UTC)
    staple = make_ocsp_response(
        certificate=leaf,
        issuer=pki.ca,
        responder=pki.ca,
        this_update=now - datetime.timedelta(hours=1),
        next_update=now + datetime.timedelta(days=1),
    )
    server = start_echo_server(started, server_config(pki, ocsp_response=staple))

    result = run_s_client(server.port, s_client_args(pki, "-status"), stdin=LINE)
    served = served_ok(server)

    assert result.returncode == 0, result.output
    assert "OCSP Response Status: successful" in result.stdout
    assert "Cert Status: good" in result.stdout
    assert "CertificateStatus" in [e.name for e in served.recorder.events if type(e) is MessageSent]
    assert ECHO in result.stdout
