"""Interop of the session lifecycle: resumption, 0-RTT, KeyUpdate and OCSP
stapling, against the real `openssl` binary.

The handshake interop tests (test_interop_openssl.py) show that teachtls and
openssl agree on a first handshake. A session lives longer than that, and
each later step is tested here in both directions:

1. **Resumption** (RFC 8446 §2.2, §4.6.1): a ticket from one connection
   resumes the next -- `openssl s_client -sess_out` then `-sess_in` against a
   teachtls server whose `StatelessTickets` store outlives the connections,
   and a teachtls client (`get_session_data` / `set_session_data`) against
   `openssl s_server`; with psk_dhe_ke and, where both sides allow it
   (`-allow_no_dhe_kex`), psk_ke.
2. **0-RTT** (§2.3, §4.2.10) and its replay defence (§8): early data is
   accepted once per ticket; the same ticket and data sent again is refused,
   while the handshake still completes.
3. **KeyUpdate** (§4.6.3), started by either side: openssl's "k"/"K" typed
   commands and teachtls's `key_update(request_peer=...)`; data keeps
   flowing under the new keys.
4. **OCSP stapling** (RFC 6066 §8, RFC 8446 §4.4.2.1): `s_client -status`
   reads our staple; the teachtls client checks the one `s_server
   -status_file` sends, and refuses a "revoked" one.

Every test runs on 127.0.0.1 with bounded time; every server and process is
stopped by a fixture finalizer (see tests/interop.py).
"""

from __future__ import annotations

import datetime
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

from teachtls import ApplicationData, ClientConnection, Config, HandshakeCompleted, KeyUpdated
from teachtls.config import system_clock, system_random
from teachtls.connection import Event
from teachtls.handshake.alerts import CertificateRevoked
from teachtls.pki.ocsp import make_ocsp_response
from teachtls.sessions import StatelessTickets
from teachtls.trace.events import (
    AlertSent,
    CertificateChecked,
    ChoiceMade,
    KeyExchangeComputed,
    MessageReceived,
    MessageSent,
    RecordReceived,
)
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import NamedGroup, PskKeyExchangeMode
from tests.interop import (
    HOST,
    OPENSSL,
    TIMEOUT,
    Conversation,
    InteractiveOpenSSLServer,
    InteractiveSClient,
    LineEchoServer,
    OpenSSLProcess,
    OpenSSLServer,
    Pki,
    SocketPump,
    make_pki,
    run_s_client,
)

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed"),
]

LINE = b"hello from openssl s_client\n"
ECHO = "teachtls echo: hello from openssl s_client"
EARLY_DATA = b"0-RTT: sent before the handshake finished\n"
MAX_EARLY_DATA = 16384
NEW_TICKET = "Post-Handshake New Session Ticket arrived"


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("lifecycle-pki"))


@pytest.fixture
def echo_servers() -> Iterator[list[LineEchoServer]]:
    """teachtls servers started by a test; stopped afterwards."""
    servers: list[LineEchoServer] = []
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def processes() -> Iterator[list[OpenSSLProcess]]:
    """openssl processes started by a test; killed afterwards."""
    started: list[OpenSSLProcess] = []
    yield started
    for process in started:
        process.stop()


@pytest.fixture
def openssl_servers() -> Iterator[list[OpenSSLServer]]:
    started: list[OpenSSLServer] = []
    yield started
    for server in started:
        server.stop()


@attrs.frozen
class OcspFiles:
    good: Path
    revoked: Path


@pytest.fixture(scope="module")
def ocsp_files(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> OcspFiles:
    """DER OCSP responses about the ECDSA server leaf, signed by the CA itself."""
    directory = tmp_path_factory.mktemp("ocsp")
    now = datetime.datetime.now(datetime.UTC)

    def write(status: Literal["good", "revoked"]) -> Path:
        response = make_ocsp_response(
            certificate=pki.servers["ecdsa-p256"].issued,
            issuer=pki.ca,
            responder=pki.ca,
            status=status,
            this_update=now - datetime.timedelta(hours=1),
            next_update=now + datetime.timedelta(days=1),
        )
        path = directory / f"{status}.der"
        path.write_bytes(response)
        return path

    return OcspFiles(good=write("good"), revoked=write("revoked"))


# --- helpers --------------------------------------------------------------------------


def client_config(pki: Pki, **changes: Any) -> Config:
    config = Config(server_name="localhost", trusted_certificates=(pki.ca.certificate,))
    return attrs.evolve(config, **changes)


def server_config(pki: Pki, **changes: Any) -> Config:
    leaf = pki.servers["ecdsa-p256"].issued
    config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
    return attrs.evolve(config, **changes)


def resuming_server_config(pki: Pki, **changes: Any) -> Config:
    """Two tickets per handshake, sealed by one store that outlives every connection."""
    store = StatelessTickets(system_random, system_clock)
    return server_config(pki, session_tickets=2, session_store=store, **changes)


def start_echo_server(echo_servers: list[LineEchoServer], config: Config, lines: int = 1) -> LineEchoServer:
    server = LineEchoServer(config, lines=lines)
    echo_servers.append(server)
    return server


def s_client_args(pki: Pki, *extra: str | Path) -> list[str | Path]:
    """Verify the teachtls server's chain and name; keep reading after stdin ends."""
    return ["-CAfile", pki.ca_file, "-servername", "localhost", "-verify_return_error", "-ign_eof", *extra]


def openssl_early_data_server(pki: Pki, *extra: str) -> InteractiveOpenSSLServer:
    """`s_server` in its default mode (which prints what it reads, early data
    included) with 0-RTT on, anti-replay on (openssl's default) and 2 tickets."""
    files = pki.servers["ecdsa-p256"]
    return InteractiveOpenSSLServer(
        [
            "-cert", files.cert_file, "-key", files.key_file,
            "-early_data", "-max_early_data", str(MAX_EARLY_DATA), "-num_tickets", "2", *extra,
        ]
    )  # fmt: skip


def open_client(port: int, config: Config, session: bytes | None = None, early_data: bytes | None = None) -> SocketPump:
    """A teachtls client on 127.0.0.1:`port`, offering `session` (and 0-RTT `early_data`)."""
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    connection = ClientConnection(config)
    if session is not None:
        connection.set_session_data(session)
    connection.start_handshake(early_data=early_data)
    return SocketPump(connection, sock)


def client(pump: SocketPump) -> ClientConnection:
    assert isinstance(pump.connection, ClientConnection)
    return pump.connection


def collect_tickets(pump: SocketPump, count: int) -> bytes:
    """Read until `count` NewSessionTickets have arrived; the newest, saved."""
    pump.receive_until(lambda _data: len(client(pump).sessions) >= count)
    assert len(client(pump).sessions) >= count
    return client(pump).get_session_data()


def receive_event(pump: SocketPump, wanted: Callable[[Event], bool]) -> list[Event]:
    """Events (pending, then newly received) up to and including the first `wanted` one."""
    seen: list[Event] = []
    while True:
        events, pump.pending = pump.pending, []
        for index, event in enumerate(events):
            seen.append(event)
            if wanted(event):
                pump.pending = events[index + 1 :]
                return seen
        pump.pending = pump.receive()


def data_of(events: Sequence[object]) -> bytes:
    return b"".join(event.data for event in events if isinstance(event, ApplicationData))


def key_updates(events: list[Event]) -> list[tuple[str, int]]:
    return [(event.direction, event.generation) for event in events if isinstance(event, KeyUpdated)]


def received_messages(recorder: Recorder) -> list[str]:
    return [e.name for e in recorder.events if type(e) is MessageReceived]


def choices(recorder: Recorder, subject: str) -> list[ChoiceMade]:
    return [e for e in recorder.events if isinstance(e, ChoiceMade) and e.subject == subject]


def serve_once(server: LineEchoServer) -> Conversation:
    served = server.next_conversation()
    assert served.error is None, served.error
    assert served.completed is not None
    return served


# --- 1. openssl s_client -> teachtls server: -sess_out / -sess_in -----------------------------


def test_s_client_resumes_with_a_saved_session(pki: Pki, echo_servers: list[LineEchoServer], tmp_path: Path) -> None:
    server = start_echo_server(echo_servers, resuming_server_config(pki))
    session_file = tmp_path / "session.pem"

    first = run_s_client(server.port, s_client_args(pki, "-sess_out", session_file), stdin=LINE)
    full = serve_once(server)
    second = run_s_client(server.port, s_client_args(pki, "-sess_in", session_file), stdin=LINE)
    resumed = serve_once(server)

    assert first.returncode == 0, first.output
    assert "New, TLSv1.3" in first.stdout
    assert first.stdout.count(NEW_TICKET) == 2
    assert full.completed is not None and full.completed.resumed is False
    assert session_file.read_text().startswith("-----BEGIN SSL SESSION PARAMETERS-----")

    assert second.returncode == 0, second.output
    assert "Reused, TLSv1.3" in second.stdout
    assert ECHO in second.stdout
    assert resumed.completed is not None and resumed.completed.resumed is True
    # RFC 8446 §2.2: the PSK authenticates; no certificate this time
    sent = [e.name for e in resumed.recorder.events if type(e) is MessageSent]
    assert "Certificate" not in sent and "CertificateVerify" not in sent
    assert resumed.received == LINE


def test_s_client_early_data_is_accepted_once(pki: Pki, echo_servers: list[LineEchoServer], tmp_path: Path) -> None:
    """0-RTT with a saved session; the same ticket and data again is a replay (RFC 8446 §8)."""
    server = start_echo_server(echo_servers, resuming_server_config(pki, max_early_data_size=MAX_EARLY_DATA))
    session_file, early_file = tmp_path / "session.pem", tmp_path / "early.txt"
    early_file.write_bytes(EARLY_DATA)
    run_s_client(server.port, s_client_args(pki, "-sess_out", session_file), stdin=LINE)
    serve_once(server)
    zero_rtt = s_client_args(pki, "-sess_in", session_file, "-early_data", early_file)

    accepted = run_s_client(server.port, zero_rtt, stdin=LINE)
    first = serve_once(server)
    replayed = run_s_client(server.port, zero_rtt, stdin=LINE)
    replay = serve_once(server)

    # the first use of the ticket: 0-RTT data accepted, then 1-RTT data as usual
    assert accepted.returncode == 0, accepted.output
    assert "Reused, TLSv1.3" in accepted.stdout
    assert "Early data was accepted" in accepted.stdout
    assert f"Max Early Data: {MAX_EARLY_DATA}" in accepted.stdout
    assert first.completed is not None
    assert first.completed.resumed and first.completed.early_data_accepted
    assert first.early_data == EARLY_DATA
    early_events = [e for e in first.events if isinstance(e, ApplicationData) and e.early]
    assert data_of(early_events) == EARLY_DATA
    # 0-RTT data arrives before the handshake completes
    completed_at = next(i for i, e in enumerate(first.events) if isinstance(e, HandshakeCompleted))
    assert first.events.index(early_events[0]) < completed_at
    assert first.received == LINE and ECHO in accepted.stdout

    # the replay: still resumed, but the early data is refused and dropped
    assert replayed.returncode == 0, replayed.output
    assert "Reused, TLSv1.3" in replayed.stdout
    assert "Early data was rejected" in replayed.stdout
    assert replay.completed is not None
    assert replay.completed.resumed and not replay.completed.early_data_accepted
    assert replay.early_data == b""
    [early_choice] = choices(replay.recorder, "early_data")
    assert early_choice.choice == "rejected" and "replay" in early_choice.reason
    assert replay.received == LINE and ECHO in replayed.stdout


def test_s_client_resumes_with_psk_ke(pki: Pki, echo_servers: list[LineEchoServer], tmp_path: Path) -> None:
    """A server accepting only psk_ke resumes without any (EC)DHE (RFC 8446 §4.2.9)."""
    config = resuming_server_config(pki, psk_key_exchange_modes=(PskKeyExchangeMode.psk_ke,))
    server = start_echo_server(echo_servers, config)
    session_file = tmp_path / "session.pem"
    run_s_client(server.port, s_client_args(pki, "-sess_out", session_file), stdin=LINE)
    serve_once(server)

    result = run_s_client(server.port, s_client_args(pki, "-sess_in", session_file, "-allow_no_dhe_kex"), stdin=LINE)
    served = serve_once(server)

    assert result.returncode == 0, result.output
    assert "Reused, TLSv1.3" in result.stdout
    assert served.completed is not None and served.completed.resumed
    assert served.completed.group == ""  # no key exchange at all
    assert not [e for e in served.recorder.events if isinstance(e, KeyExchangeComputed)]
    assert ECHO in result.stdout


def test_s_client_early_data_after_hello_retry_request(
    pki: Pki, echo_servers: list[LineEchoServer], tmp_path: Path
) -> None:
    """RFC 8446 §4.2.10: a HelloRetryRequest rejects 0-RTT; the server skips
    the early data records and still resumes with the second ClientHello."""
    config = resuming_server_config(pki, max_early_data_size=MAX_EARLY_DATA, supported_groups=(NamedGroup.x25519,))
    server = start_echo_server(echo_servers, config)
    session_file, early_file = tmp_path / "session.pem", tmp_path / "early.txt"
    early_file.write_bytes(EARLY_DATA)
    run_s_client(server.port, s_client_args(pki, "-sess_out", session_file), stdin=LINE)
    serve_once(server)

    # openssl's first key share is for P-384, which this server does not take
    extra: list[str | Path] = ["-sess_in", session_file, "-early_data", early_file, "-groups", "P-384:x25519"]
    result = run_s_client(server.port, s_client_args(pki, *extra), stdin=LINE)
    served = serve_once(server)

    assert result.returncode == 0, result.output
    assert "Reused, TLSv1.3" in result.stdout
    assert "Early data was rejected" in result.stdout
    assert served.completed is not None
    assert served.completed.hello_retry and served.completed.resumed
    assert not served.completed.early_data_accepted
    assert served.early_data == b""
    assert [choice.reason for choice in choices(served.recorder, "early_data")] == ["a HelloRetryRequest was sent"]
    assert any(type(e) is RecordReceived and e.protection == "skipped 0-RTT" for e in served.recorder.events)
    assert ECHO in result.stdout


# --- 2. teachtls client -> openssl s_server: tickets, resumption, 0-RTT -----------------------


def first_session(pki: Pki, server: InteractiveOpenSSLServer) -> bytes:
    """A full handshake that collects s_server's two tickets; the newest, saved."""
    pump = open_client(server.port, client_config(pki))
    try:
        completed = pump.handshake()
        session = collect_tickets(pump, 2)
    finally:
        pump.close()
    assert completed.resumed is False
    return session


def test_client_resumes_against_s_server(pki: Pki, processes: list[OpenSSLProcess]) -> None:
    server = openssl_early_data_server(pki)
    processes.append(server)
    session = first_session(pki, server)
    recorder = Recorder()

    pump = open_client(server.port, client_config(pki, observer=recorder), session)
    try:
        completed = pump.handshake()
        pump.send(b"resumed line\n")
        assert server.wait_for("resumed line")
        # RFC 8446 §4.6.1: after a resumption openssl sends one new ticket
        collect_tickets(pump, 1)
    finally:
        pump.close()

    assert completed.resumed is True
    assert completed.early_data_accepted is False
    assert completed.peer_certificates == ()
    assert received_messages(recorder)[:3] == ["ServerHello", "EncryptedExtensions", "Finished"]
    assert "Certificate" not in received_messages(recorder)
    assert server.output.count("Reused session-id") == 1


def test_client_early_data_against_s_server(pki: Pki, processes: list[OpenSSLProcess]) -> None:
    """0-RTT data accepted by s_server; the same ticket again is refused (openssl's anti-replay)."""
    server = openssl_early_data_server(pki)
    processes.append(server)
    session = first_session(pki, server)

    pump = open_client(server.port, client_config(pki), session, early_data=EARLY_DATA)
    try:
        accepted = pump.handshake()
        pump.send(b"after 0-RTT\n")
        assert server.wait_for("after 0-RTT")
    finally:
        pump.close()

    assert accepted.resumed and accepted.early_data_accepted
    # s_server writes the data itself straight to stdout and its headers
    # through a buffer, so the two may come out in either order.
    assert server.wait_for("Early data received:") and server.wait_for("End of early data")
    assert server.output.count(EARLY_DATA.decode()) == 1

    # Replay: openssl's tickets are single-use when 0-RTT is on, so it does not
    # resume at all; teachtls must fall back to a full handshake cleanly.
    recorder = Recorder()
    pump = open_client(server.port, client_config(pki, observer=recorder), session, early_data=EARLY_DATA)
    try:
        replay = pump.handshake()
        pump.send(b"after the replay\n")
        assert server.wait_for("after the replay")
    finally:
        pump.close()

    assert not replay.resumed and not replay.early_data_accepted
    assert replay.peer_certificates[0] == pki.servers["ecdsa-p256"].issued.certificate
    assert [choice.choice for choice in choices(recorder, "early_data")] == ["rejected"]
    assert server.wait_for("Early data was rejected")
    assert server.output.count("Early data received:") == 1
    assert server.output.count(EARLY_DATA.decode()) == 1


def test_client_resumes_after_hello_retry_request(pki: Pki, processes: list[OpenSSLProcess]) -> None:
    """The binder of the second ClientHello covers message_hash(ClientHello1)
    and the HelloRetryRequest (RFC 8446 §4.2.11.2); the offered 0-RTT data is
    rejected by the retry. (`-no_anti_replay`: with anti-replay on, openssl
    spends the single-use ticket on the first ClientHello already.)"""
    server = openssl_early_data_server(pki, "-groups", "P-256", "-no_anti_replay")
    processes.append(server)
    session = first_session(pki, server)
    recorder = Recorder()
    config = client_config(pki, key_share_groups=(NamedGroup.x25519,), observer=recorder)

    pump = open_client(server.port, config, session, early_data=EARLY_DATA)
    try:
        completed = pump.handshake()
        pump.send(b"after the retry\n")
        assert server.wait_for("after the retry")
    finally:
        pump.close()

    assert completed.hello_retry and completed.resumed
    assert not completed.early_data_accepted
    assert completed.group == "secp256r1"
    assert received_messages(recorder) == ["HelloRetryRequest", "ServerHello", "EncryptedExtensions", "Finished"]
    assert EARLY_DATA.decode() not in server.output


@pytest.mark.parametrize("allow_no_dhe_kex", [True, False], ids=["allowed", "refused"])
def test_client_psk_ke_against_s_server(pki: Pki, processes: list[OpenSSLProcess], allow_no_dhe_kex: bool) -> None:
    """A client offering only psk_ke: s_server resumes with it only when told
    `-allow_no_dhe_kex`; otherwise it falls back to a full (EC)DHE handshake."""
    server = openssl_early_data_server(pki, *(["-allow_no_dhe_kex"] if allow_no_dhe_kex else []))
    processes.append(server)
    session = first_session(pki, server)
    recorder = Recorder()
    config = client_config(pki, psk_key_exchange_modes=(PskKeyExchangeMode.psk_ke,), observer=recorder)

    pump = open_client(server.port, config, session)
    try:
        completed = pump.handshake()
        pump.send(b"psk_ke line\n")
        assert server.wait_for("psk_ke line")
    finally:
        pump.close()

    key_exchanges = [e for e in recorder.events if isinstance(e, KeyExchangeComputed)]
    if allow_no_dhe_kex:
        assert completed.resumed and completed.group == ""
        assert key_exchanges == []
    else:
        assert not completed.resumed and completed.group == "x25519"
        assert len(key_exchanges) == 1


# --- 3. KeyUpdate in both directions (RFC 8446 §4.6.3) ---------------------------------------


def test_s_client_key_update_commands(
    pki: Pki, echo_servers: list[LineEchoServer], processes: list[OpenSSLProcess]
) -> None:
    """s_client's "k" (update_not_requested) and "K" (update_requested) commands.

    They work only without -ign_eof, and only as the first byte of one read
    of stdin, so each line is typed after the previous one took effect."""
    server = start_echo_server(echo_servers, server_config(pki), lines=2)
    s_client = InteractiveSClient(
        server.port, ["-CAfile", pki.ca_file, "-servername", "localhost", "-verify_return_error"]
    )
    processes.append(s_client)

    assert s_client.wait_for("Verify return code: 0"), s_client.output
    s_client.type(b"k\n")
    assert s_client.wait_for("KEYUPDATE")
    s_client.type(b"one\n")
    assert s_client.wait_for("teachtls echo: one")
    s_client.type(b"K\n")
    assert s_client.wait_for("KEYUPDATE", count=2)
    s_client.type(b"two\n")
    assert s_client.wait_for("teachtls echo: two"), s_client.output
    returncode = s_client.finish()
    served = serve_once(server)

    assert returncode == 0, s_client.output
    assert served.received == b"one\ntwo\n"
    # "k": we follow openssl to its next keys; "K": we update ours as well,
    # and openssl reads "teachtls echo: two" under them.
    assert key_updates(served.events) == [("read", 1), ("read", 2), ("write", 1)]


def test_client_key_updates_with_s_server(pki: Pki, processes: list[OpenSSLProcess]) -> None:
    """teachtls asks for a KeyUpdate, then s_server sends "K" and "k" ones."""
    files = pki.servers["ecdsa-p256"]
    server = InteractiveOpenSSLServer(["-cert", files.cert_file, "-key", files.key_file, "-num_tickets", "0"])
    processes.append(server)
    pump = open_client(server.port, client_config(pki))
    events: list[Event] = []
    try:
        pump.handshake()
        connection = client(pump)

        # ours, update_requested: openssl answers with its own KeyUpdate
        connection.key_update(request_peer=True)
        pump.send(b"after our update\n")
        assert server.wait_for("after our update")
        server.type(b"from s_server 1\n")
        events += receive_event(pump, lambda e: isinstance(e, ApplicationData))

        # s_server's "K": we follow, and answer with our own KeyUpdate
        server.type(b"K\n")
        events += receive_event(pump, lambda e: isinstance(e, KeyUpdated))
        server.type(b"from s_server 2\n")
        events += receive_event(pump, lambda e: isinstance(e, ApplicationData))
        pump.send(b"after their update\n")
        assert server.wait_for("after their update")

        # s_server's "k": we follow, our write keys stay
        server.type(b"k\n")
        events += receive_event(pump, lambda e: isinstance(e, KeyUpdated))
        server.type(b"from s_server 3\n")
        events += receive_event(pump, lambda e: isinstance(e, ApplicationData))
    finally:
        pump.close()

    assert data_of(events) == b"from s_server 1\nfrom s_server 2\nfrom s_server 3\n"
    # Our own update (write 1) is reported with the next events, then openssl's answers.
    assert key_updates(events) == [("write", 1), ("read", 1), ("read", 2), ("write", 2), ("read", 3)]
    assert (connection.read_generation, connection.write_generation) == (3, 2)


# --- 4. OCSP stapling (RFC 6066 §8, RFC 8446 §4.4.2.1) --------------------------------------


@pytest.mark.parametrize("ask", [True, False], ids=["status", "no-status"])
def test_s_client_status_reads_our_staple(
    pki: Pki, echo_servers: list[LineEchoServer], ocsp_files: OcspFiles, ask: bool
) -> None:
    config = server_config(pki, ocsp_response=ocsp_files.good.read_bytes())
    server = start_echo_server(echo_servers, config)

    extra: list[str | Path] = ["-status"] if ask else []
    result = run_s_client(server.port, s_client_args(pki, *extra), stdin=LINE)
    serve_once(server)

    assert result.returncode == 0, result.output
    assert ECHO in result.stdout
    if ask:
        assert "OCSP Response Status: successful" in result.stdout
        assert "Cert Status: good" in result.stdout
    else:
        # RFC 6066 §8: a staple only for a client that sent status_request
        assert "OCSP response" not in result.stdout


def test_client_verifies_s_server_staple(pki: Pki, ocsp_files: OcspFiles, openssl_servers: list[OpenSSLServer]) -> None:
    files = pki.servers["ecdsa-p256"]
    server = OpenSSLServer(["-cert", files.cert_file, "-key", files.key_file, "-www", "-status_file", ocsp_files.good])
    openssl_servers.append(server)
    recorder = Recorder()

    pump = open_client(server.port, client_config(pki, observer=recorder))
    try:
        completed = pump.handshake()
    finally:
        pump.close()

    assert completed.peer_certificates[0] == files.issued.certificate
    [staple_check] = [e for e in recorder.events if isinstance(e, CertificateChecked) and e.rfc == "RFC 6066 §8"]
    assert staple_check.ok is True
    assert staple_check.checked[-1] == "status: good"


def test_client_refuses_a_revoked_staple(pki: Pki, ocsp_files: OcspFiles, openssl_servers: list[OpenSSLServer]) -> None:
    files = pki.servers["ecdsa-p256"]
    server = OpenSSLServer(
        ["-cert", files.cert_file, "-key", files.key_file, "-www", "-status_file", ocsp_files.revoked]
    )
    openssl_servers.append(server)
    recorder = Recorder()

    pump = open_client(server.port, client_config(pki, observer=recorder))
    try:
        with pytest.raises(CertificateRevoked, match="revoked"):
            pump.handshake()
    finally:
        pump.close()

    [staple_check] = [e for e in recorder.events if isinstance(e, CertificateChecked) and e.rfc == "RFC 6066 §8"]
    assert staple_check.ok is False
    alerts_sent = [e for e in recorder.events if type(e) is AlertSent]
    assert [alert.description for alert in alerts_sent] == ["certificate_revoked"]
    assert server.wait_for("alert certificate revoked") is not None
