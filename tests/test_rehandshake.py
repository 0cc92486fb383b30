"""TLS 1.2 re-handshakes through the sessions, with GnuTLS's semantics (teachtls.net).

The in-memory tests of tests/test_tls12.py show that the *connections*
renegotiate (RFC 5746). These show what an application driving a
`TLSSession` or a `TLSStream` sees, as the GnuTLS manual page of
gnutls_handshake describes it:

* `rehandshake()` starts a re-handshake (a client's new ClientHello, a
  server's HelloRequest) and `handshake()` drives it to its end;
* application data the peer had already sent arrives in the middle of it:
  `handshake()` raises `ApplicationDataPending` (GNUTLS_E_GOT_APPLICATION_DATA),
  `recv()` returns the data -- all of it, in order -- and `handshake()` again
  continues where it stopped;
* with `Config.report_hello_request`, a client's `recv()` raises
  `RehandshakeRequested` (GNUTLS_E_REHANDSHAKE) at the server's HelloRequest,
  after the data sent before it;
* a re-handshake the peer starts runs inside `recv()`;
* a declined re-handshake (no_renegotiation) is a `WarningAlert`, after which
  the current session goes on.

They run over a real socket pair (a thread per side), over the deterministic
non-blocking transport of tests/test_nonblocking.py (one byte per read,
refusals at seeded random points), and over asyncio streams.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from teachtls import ClientConnection, Config, HandshakeCompleted, HelloRequestReceived, ServerConnection
from teachtls.handshake.alerts import HandshakeTimeout
from teachtls.handshake.states import State
from teachtls.net.aio import TLSStream
from teachtls.net.nonblocking import (
    NON_FATAL,
    ApplicationDataPending,
    RehandshakeRequested,
    WarningAlert,
    WouldBlock,
    is_fatal,
)
from teachtls.net.session import RECEIVE_SIZE, TLSSession
from teachtls.trace import events as trace
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import AlertDescription, ProtocolVersion
from tests.handshake_pair import HandshakePair
from tests.test_nonblocking import (
    Clock,
    client_config,
    drive,
    flaky,
    recv_exactly,
    server_config,
    session_pair,
)

pytestmark = pytest.mark.timeout(60)

TLS1_2 = ProtocolVersion.TLS1_2
NO_RENEGOTIATION = AlertDescription.no_renegotiation_RESERVED


def tls12_server_config(**overrides: Any) -> Config:
    """The deterministic server of tests/test_nonblocking.py, capped at TLS 1.2."""
    return server_config(versions=(TLS1_2,), **overrides)


def completions(session: TLSSession | TLSStream) -> int:
    return sum(isinstance(event, HandshakeCompleted) for event in session.events)


def negotiated(recorder: Recorder) -> list[trace.ParametersNegotiated]:
    return [event for event in recorder.events if isinstance(event, trace.ParametersNegotiated)]


def master_secrets(recorder: Recorder) -> list[bytes]:
    return [e.value for e in recorder.events if isinstance(e, trace.SecretDerived) and e.name == "master_secret"]


def finish_rehandshake(session: TLSSession, delivered: list[bytes], sizes: list[int]) -> HandshakeCompleted:
    """The GnuTLS loop: handshake() until it returns, reading what it reports.

    `WouldBlock` passes through to `drive`, which calls again later."""
    while True:
        try:
            return session.handshake()
        except ApplicationDataPending as pending:
            sizes.append(pending.size)
            delivered.append(session.recv())  # the data is in: recv() does not wait


# --- the conditions -----------------------------------------------------------------------


def test_the_re_handshake_conditions_are_not_fatal():
    pending = ApplicationDataPending(42)
    assert pending.size == 42 and "recv()" in str(pending)
    for condition in (pending, RehandshakeRequested()):
        assert not is_fatal(condition)
        assert type(condition) in NON_FATAL


def test_report_hello_request_leaves_the_answer_to_the_application():
    """The sans-I/O part: with `report_hello_request` the client reports, and sends nothing."""
    pair = HandshakePair(
        ClientConnection(client_config(report_hello_request=True)), ServerConnection(tls12_server_config())
    )
    pair.handshake()
    pair.server.request_renegotiation()
    assert pair.client.receive_data(pair.server.data_to_send()) == [HelloRequestReceived()]
    assert pair.client.data_to_send() == b""
    assert pair.client.state is State.CONNECTED and not pair.client.renegotiating
    pair.client.renegotiate()  # the application accepts
    client_events, server_events = pair.pump()
    assert [type(e) for e in client_events] == [type(e) for e in server_events] == [HandshakeCompleted]


# --- over a real socket pair ---------------------------------------------------------------------


def socket_sessions(client_cfg: Config, server_cfg: Config) -> tuple[TLSSession, TLSSession]:
    client_sock, server_sock = socket.socketpair()
    for sock in (client_sock, server_sock):
        sock.settimeout(10)
    return TLSSession(client_sock, ClientConnection(client_cfg)), TLSSession(server_sock, ServerConnection(server_cfg))


def run_in_thread(target: Callable[[], None]) -> Callable[[], None]:
    """Start `target` in a thread; return a join() that re-raises what it raised."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as error:  # handed to the test's thread
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()

    def join() -> None:
        thread.join(20)
        assert not thread.is_alive()
        if failures:
            raise failures[0]

    return join


def test_server_hello_request_with_data_behind_it_over_a_socket_pair():
    """GnuTLS from end to end: RehandshakeRequested, then ApplicationDataPending, nothing lost."""
    recorders = {"client": Recorder(), "server": Recorder()}
    client, server = socket_sessions(
        client_config(report_hello_request=True, observer=recorders["client"]),
        tls12_server_config(observer=recorders["server"]),
    )
    server_received: list[bytes] = []

    def serve() -> None:
        server.handshake()
        server.send(b"one")
        server.rehandshake()  # a HelloRequest, written with the next data
        server.send(b"two")
        server.handshake()  # waits for the client's ClientHello, completes
        server_received.append(server.recv())
        server.send(b"reply")
        server.close()

    join = run_in_thread(serve)
    first = client.handshake()
    assert first.version == "TLS 1.2"
    assert client.recv() == b"one"  # the data sent before the request comes first
    with pytest.raises(RehandshakeRequested) as requested:
        client.recv()
    assert not is_fatal(requested.value)

    with pytest.raises(ApplicationDataPending) as pending:
        client.handshake()  # accepts: a ClientHello goes out; "two" was sent before it was read
    assert pending.value.size == 3 and not is_fatal(pending.value)
    assert client.recv() == b"two"
    second = client.handshake()  # continues where it stopped

    assert second is not first and second.version == "TLS 1.2"
    client.send(b"after")
    assert client.recv() == b"reply"
    client.close()
    join()
    assert server_received == [b"after"]
    assert completions(client) == completions(server) == 2
    for role in ("client", "server"):
        assert len(negotiated(recorders[role])) == 2
        first_secret, second_secret = master_secrets(recorders[role])
        assert first_secret != second_secret
    assert "HelloRequest" in [e.name for e in recorders["client"].events if isinstance(e, trace.MessageReceived)]


def test_client_rehandshake_while_the_servers_data_is_in_flight_over_a_socket_pair():
    """Several records in flight: ApplicationDataPending until all are read, in order."""
    recorders = {"client": Recorder(), "server": Recorder()}
    client, server = socket_sessions(
        client_config(observer=recorders["client"]), tls12_server_config(observer=recorders["server"])
    )
    chunks = [bytes([n]) * 1000 for n in range(5)]
    sent = threading.Event()
    server_received: list[bytes] = []

    def serve() -> None:
        server.handshake()
        for chunk in chunks:
            server.send(chunk)
        sent.set()
        # The client's ClientHello is answered inside recv(), unseen here.
        server_received.append(server.recv())
        server.send(b"reply")
        server.close()

    join = run_in_thread(serve)
    client.handshake()
    assert sent.wait(10)
    client.rehandshake()
    delivered: list[bytes] = []
    sizes: list[int] = []
    completed = finish_rehandshake(client, delivered, sizes)

    assert delivered == chunks  # all of it, in order
    assert len(sizes) == len(chunks) and sizes[0] >= 1000
    assert completed is client.completed and completions(client) == 2
    client.send(b"after")
    assert client.recv() == b"reply"
    client.close()
    join()
    assert server_received == [b"after"]
    assert completions(server) == 2
    assert len(negotiated(recorders["client"])) == len(negotiated(recorders["server"])) == 2


def test_a_hello_request_is_answered_by_the_client_itself_by_default():
    """OpenSSL's way, the default: the HelloRequest is answered inside recv(),
    and a later handshake() drives the re-handshake the server started."""
    client, server = socket_sessions(client_config(), tls12_server_config())

    def serve() -> None:
        server.handshake()
        server.send(b"one")
        server.rehandshake()
        server.send(b"two")
        server.handshake()
        server.send(b"three")

    join = run_in_thread(serve)
    first = client.handshake()
    assert [client.recv(), client.recv()] == [b"one", b"two"]
    delivered: list[bytes] = []
    second = finish_rehandshake(client, delivered, [])  # drives the re-handshake the server asked for
    assert second is not first
    # "three" may come in the same read as the server's Finished: then
    # handshake() reports it too, rather than return with data unread.
    if not delivered:
        delivered.append(client.recv())
    assert delivered == [b"three"]
    join()
    assert completions(client) == completions(server) == 2
    client.close(timeout=0)
    server.close(timeout=0)


# --- over a non-blocking transport that delivers one byte at a time ---------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_client_rehandshake_with_data_in_flight_over_a_flaky_transport(seed):
    recorders = {"client": Recorder(), "server": Recorder()}
    client, server = session_pair(
        seed, client_config(observer=recorders["client"]), tls12_server_config(observer=recorders["server"])
    )
    drive(client.handshake, server.handshake)
    message = bytes(range(256)) * 80  # 20480 bytes: two records
    drive(lambda: server.send(message))  # all of it on the wire, none of it read

    client.rehandshake()
    delivered: list[bytes] = []
    sizes: list[int] = []
    completed: list[HandshakeCompleted] = []

    def client_side() -> None:
        if not completed:
            completed.append(finish_rehandshake(client, delivered, sizes))
        client.send(b"after")  # after a WouldBlock: called again with the same data

    drive(client_side, recv_exactly(server, 5))

    assert b"".join(delivered) == message  # not lost, in order
    assert sizes == [len(chunk) for chunk in delivered]  # one record at a time, one byte per read
    assert len(delivered) == 2
    assert flaky(client).refused > 10 and flaky(server).refused > 10  # "again" happened, many times
    assert completions(client) == completions(server) == 2
    assert len(negotiated(recorders["client"])) == len(negotiated(recorders["server"])) == 2
    # Data still flows both ways, under the new keys.
    assert drive(lambda: server.send(b"reply"), recv_exactly(client, 5))[1] == b"reply"
    assert drive(lambda: client.send(b"again"), recv_exactly(server, 5))[1] == b"again"


@pytest.mark.parametrize("seed", range(4))
def test_server_hello_request_over_a_flaky_transport(seed):
    client, server = session_pair(seed, client_config(report_hello_request=True), tls12_server_config())
    first, _ = drive(client.handshake, server.handshake)
    drive(lambda: server.send(b"one"))
    server.rehandshake()
    drive(lambda: server.send(b"two"))

    assert drive(recv_exactly(client, 3)) == [b"one"]
    with pytest.raises(RehandshakeRequested):
        drive(client.recv)
    delivered: list[bytes] = []
    sizes: list[int] = []
    second, server_completed = drive(lambda: finish_rehandshake(client, delivered, sizes), server.handshake)

    assert delivered == [b"two"] and sizes == [3]
    assert second is not first and server_completed is server.completed
    assert completions(client) == completions(server) == 2
    assert drive(lambda: client.send(b"after"), recv_exactly(server, 5))[1] == b"after"
    assert drive(lambda: server.send(b"reply"), recv_exactly(client, 5))[1] == b"reply"


def test_a_reported_hello_request_may_be_ignored():
    """RFC 5246 §7.4.1.1: "This message MAY be ignored by the client if it does
    not wish to renegotiate a session." recv() again ignores it."""
    client, server = session_pair(6, client_config(report_hello_request=True), tls12_server_config())
    drive(client.handshake, server.handshake)
    server.rehandshake()
    drive(lambda: server.send(b"one"))
    with pytest.raises(RehandshakeRequested):
        drive(client.recv)
    assert drive(recv_exactly(client, 3)) == [b"one"]
    assert drive(lambda: client.send(b"two"), recv_exactly(server, 3))[1] == b"two"
    assert completions(client) == completions(server) == 1


def test_data_before_a_hello_request_in_one_read_comes_out_first():
    """One read brings the server's Finished, data, the HelloRequest and more data.

    The first handshake() holds the HelloRequest back for recv(); recv() hands
    out the data before it, then reports the request; handshake() accepts it
    and reports the data behind it."""
    client, server = session_pair(
        0, client_config(report_hello_request=True), tls12_server_config(), refusal=0.0, max_read=RECEIVE_SIZE
    )

    def until_blocked(step: Callable[[], Any]) -> Any:
        try:
            return step()
        except WouldBlock:
            return None

    assert until_blocked(client.handshake) is None  # ClientHello sent
    assert until_blocked(server.handshake) is None  # ServerHello ... ServerHelloDone
    assert until_blocked(client.handshake) is None  # ClientKeyExchange ... Finished
    assert until_blocked(server.handshake) is not None  # ChangeCipherSpec, Finished: done
    server.send(b"one")
    server.rehandshake()
    server.send(b"two")
    assert until_blocked(client.handshake) is not None  # all of the above, in one read

    assert client.recv() == b"one"
    with pytest.raises(RehandshakeRequested):
        client.recv()
    with pytest.raises(ApplicationDataPending):
        client.handshake()
    assert client.recv() == b"two"
    drive(client.handshake, server.handshake)
    assert completions(client) == completions(server) == 2


def test_handshake_again_on_a_tls12_client_renegotiates():
    """gnutls_handshake() on an established TLS 1.2 client starts a re-handshake
    (under TLS 1.3 it would be a KeyUpdate, which TLS 1.2 does not have)."""
    recorder = Recorder()
    client, server = session_pair(1, client_config(observer=recorder), tls12_server_config())
    first, _ = drive(client.handshake, server.handshake)

    completed: list[HandshakeCompleted] = []

    def client_side() -> HandshakeCompleted:
        if not completed:
            completed.append(client.handshake())  # a re-handshake; after WouldBlock, it goes on
        client.send(b"ok")  # (handshake() once more would start another one)
        return completed[0]

    second, data = drive(client_side, recv_exactly(server, 2))
    assert second is not first and data == b"ok"
    assert completions(client) == completions(server) == 2
    assert not [e for e in recorder.events if isinstance(e, trace.MessageSent) and e.name == "KeyUpdate"]
    assert client.connection.write_generation == 0


def test_rehandshake_under_tls13_is_a_key_update():
    """gnutls_rehandshake under TLS 1.3 is gnutls_session_key_update(GNUTLS_KU_PEER)."""
    client, server = session_pair(2)
    drive(client.handshake, server.handshake)
    drive(server.rehandshake)
    assert server.connection.write_generation == 1
    drive(lambda: server.send(b"new keys"), recv_exactly(client, 8))
    drive(lambda: client.send(b"mine too"), recv_exactly(server, 8))
    assert (client.connection.write_generation, client.connection.read_generation) == (1, 1)
    assert completions(client) == completions(server) == 1


# --- declined re-handshakes (RFC 5746 §4.2, RFC 5246 §7.2.2) ------------------------------------


def test_a_declined_client_rehandshake_is_a_warning_and_the_session_goes_on():
    client, server = session_pair(3, client_config(), tls12_server_config(allow_renegotiation=False))
    first, _ = drive(client.handshake, server.handshake)
    client.rehandshake()
    with pytest.raises(WarningAlert) as caught:
        drive(client.handshake, recv_exactly(server, 1))  # the server answers inside recv()
    assert caught.value.description == NO_RENEGOTIATION and not is_fatal(caught.value)
    assert drive(client.handshake) == [first]  # "call again": the current session, unchanged
    assert drive(lambda: client.send(b"still here"), recv_exactly(server, 10))[1] == b"still here"
    assert drive(lambda: server.send(b"and here"), recv_exactly(client, 8))[1] == b"and here"
    assert completions(client) == completions(server) == 1


def test_a_hello_request_declined_by_the_client_is_a_warning_for_the_server():
    client, server = session_pair(4, client_config(allow_renegotiation=False), tls12_server_config())
    first_client, first_server = drive(client.handshake, server.handshake)
    server.rehandshake()
    with pytest.raises(WarningAlert) as caught:
        drive(server.handshake, recv_exactly(client, 1))  # the client declines inside recv()
    assert caught.value.description == NO_RENEGOTIATION
    assert drive(server.handshake) == [first_server]
    assert drive(lambda: server.send(b"fine"), recv_exactly(client, 4))[1] == b"fine"
    assert client.completed is first_client


# --- the handshake timeout bounds each re-handshake on its own ------------------------------------


def test_a_re_handshake_long_after_the_first_gets_its_own_timeout():
    client_clock, server_clock = Clock(), Clock()
    client, server = session_pair(
        5,
        client_config(clock=client_clock, handshake_timeout_ms=5000),
        tls12_server_config(clock=server_clock, handshake_timeout_ms=5000),
    )
    drive(client.handshake, server.handshake)
    for clock in (client_clock, server_clock):
        clock.now += 3600  # an hour later: far beyond the first handshake's 5 s

    client.rehandshake()
    done: list[HandshakeCompleted] = []

    def client_side() -> None:
        if not done:
            done.append(client.handshake())
        client.send(b"x")

    drive(client_side, recv_exactly(server, 1))  # the server's part runs inside recv()
    assert completions(client) == completions(server) == 2

    # A re-handshake that stalls is bounded like any handshake.
    client.rehandshake()
    with pytest.raises(WouldBlock):
        client.handshake()  # the server does not answer: it is not reading
    client_clock.now += 6
    with pytest.raises(HandshakeTimeout):
        client.handshake()
    assert client.closed and is_fatal(HandshakeTimeout("x"))


# --- asyncio streams -----------------------------------------------------------------------------------


async def stream_pair(client_cfg: Config, server_cfg: Config) -> tuple[TLSStream, TLSStream]:
    client_sock, server_sock = socket.socketpair()
    client_reader, client_writer = await asyncio.open_connection(sock=client_sock)
    server_reader, server_writer = await asyncio.open_connection(sock=server_sock)
    return (
        TLSStream(client_reader, client_writer, ClientConnection(client_cfg)),
        TLSStream(server_reader, server_writer, ServerConnection(server_cfg)),
    )


def run(coroutine: Callable[[], Any]) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(20):
            return await coroutine()

    return asyncio.run(bounded())


def test_asyncio_client_rehandshake_with_data_in_flight():
    async def main() -> None:
        client, server = await stream_pair(client_config(), tls12_server_config())
        first, _ = await asyncio.gather(client.handshake(), server.handshake())
        await server.send(b"in flight")

        await client.rehandshake()
        with pytest.raises(ApplicationDataPending) as pending:
            await client.handshake()  # the server is not reading: its data is all that comes
        assert pending.value.size == 9
        assert await client.recv() == b"in flight"
        server_reads = asyncio.create_task(server.recv())  # answers the ClientHello inside
        second = await client.handshake()
        await client.send(b"after")
        assert await server_reads == b"after"

        assert second is not first and completions(client) == completions(server) == 2
        await server.send(b"reply")
        assert await client.recv() == b"reply"
        await asyncio.gather(client.close(), server.close())

    run(main)


def test_asyncio_server_hello_request_reported_to_the_client():
    async def main() -> None:
        client, server = await stream_pair(client_config(report_hello_request=True), tls12_server_config())
        await asyncio.gather(client.handshake(), server.handshake())
        await server.send(b"one")
        await server.rehandshake()
        await server.send(b"two")

        assert await client.recv() == b"one"
        with pytest.raises(RehandshakeRequested):
            await client.recv()
        server_side = asyncio.create_task(server.handshake())
        with pytest.raises(ApplicationDataPending):
            await client.handshake()
        assert await client.recv() == b"two"
        await client.handshake()
        await server_side
        assert completions(client) == completions(server) == 2
        await asyncio.gather(client.close(), server.close())

    run(main)
