"""teachtls.net.aio: TLS over asyncio streams, client and server on 127.0.0.1.

Each test runs its own event loop (`asyncio.run`) under a deadline, and
closes every server it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest

from teachtls import Config
from teachtls.handshake.alerts import HandshakeTimeout
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.net.aio import TLSStream, open_connection, start_server
from teachtls.net.nonblocking import WarningAlert, is_fatal
from teachtls.net.server import fixed_config
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.sessions import StatelessTickets
from teachtls.trace import events as trace
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import AlertDescription

pytestmark = pytest.mark.timeout(60)

CA = make_ca()
LEAF = issue_leaf(CA, "localhost", dns_names=["localhost"])
SERVER = Config(certificate_chain=(LEAF.certificate,), private_key=LEAF.private_key)
CLIENT = Config(server_name="localhost", trusted_certificates=(CA.certificate,))
USER_CANCELED_RECORD = bytes.fromhex("1503030002015a")  # warning(1) user_canceled(90), plaintext


def run(coroutine: Callable[[], Awaitable[Any]], deadline: float = 20) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(deadline):
            return await coroutine()

    return asyncio.run(bounded())


@contextlib.asynccontextmanager
async def serving(handler, config: Config = SERVER) -> AsyncIterator[tuple[int, list[str]]]:
    log: list[str] = []
    server = await start_server(handler, "127.0.0.1", 0, fixed_config(config), log=log.append)
    try:
        yield server.sockets[0].getsockname()[1], log
    finally:
        server.close()
        await server.wait_closed()


async def echo_upper(stream: TLSStream) -> None:
    while data := await stream.recv():
        await stream.send(data.upper())


def test_handshake_data_key_update_and_close():
    recorder = Recorder()

    async def scenario() -> None:
        async with serving(echo_upper) as (port, log):
            stream = await open_connection("127.0.0.1", port, attrs.evolve(CLIENT, observer=recorder))
            assert stream.completed is not None and stream.completed.version == "TLS 1.3"
            await stream.send(b"hello")
            assert await stream.recv() == b"HELLO"

            assert await stream.handshake() is stream.completed  # TLS 1.3 client: a KeyUpdate
            assert stream.connection.write_generation == 1
            await stream.send(b"again")
            assert await stream.recv() == b"AGAIN"
            assert stream.connection.read_generation == 1  # the server answered update_requested

            await stream.key_update(request_peer=False)
            await stream.send(b"third")
            assert await stream.recv() == b"THIRD"
            assert (stream.connection.write_generation, stream.connection.read_generation) == (2, 1)

            await stream.close()
            assert stream.closed and stream.peer_closed and not stream.truncated
        assert len(log) == 1 and log[0].endswith("TLS 1.3, TLS_AES_128_GCM_SHA256, x25519")

    run(scenario)
    updates = [e.name for e in recorder.events if isinstance(e, trace.SecretDerived) and e.label == "traffic upd"]
    assert updates == [
        "client_application_traffic_secret_1",
        "server_application_traffic_secret_1",
        "client_application_traffic_secret_2",
    ]


def test_half_close():
    async def reply_after_close(stream: TLSStream) -> None:
        received = b""
        while data := await stream.recv():
            received += data
        await stream.send(b"got " + received)  # the client closed its side; ours is open

    async def scenario() -> None:
        async with serving(reply_after_close) as (port, _):
            stream = await open_connection("127.0.0.1", port, CLIENT)
            await stream.send(b"question")
            await stream.shutdown_write()
            assert await stream.recv() == b"got question"
            assert await stream.recv() == b""
            assert not stream.truncated
            await stream.close()

    run(scenario)


def test_server_handshake_again_is_a_no_op():
    async def handler(stream: TLSStream) -> None:
        completed = stream.completed
        assert await stream.handshake() is completed
        assert stream.connection.write_generation == 0
        await stream.send(b"ok")

    async def scenario() -> None:
        async with serving(handler) as (port, log), await open_connection("127.0.0.1", port, CLIENT) as stream:
            assert await stream.recv() == b"ok"
        assert all("alert" not in line for line in log)

    run(scenario)


def test_resumption_and_early_data():
    server = attrs.evolve(
        SERVER, session_store=StatelessTickets(os.urandom, time.time), session_tickets=1, max_early_data_size=1024
    )
    forgetful = attrs.evolve(server, session_store=StatelessTickets(os.urandom, time.time))  # other ticket keys
    early: list[bool] = []

    async def handler(stream: TLSStream) -> None:
        early.append(stream.completed is not None and stream.completed.early_data_accepted)
        await echo_upper(stream)

    async def scenario() -> None:
        async with serving(handler, server) as (port, _):
            first = await open_connection("127.0.0.1", port, CLIENT)
            await first.send(b"first")
            assert await first.recv() == b"FIRST"  # the ticket arrived before this
            saved = first.get_session_data()
            await first.close()

            second = await open_connection("127.0.0.1", port, CLIENT, session_data=saved, early_data=b"zero rtt")
            assert second.completed is not None
            assert second.completed.resumed and second.completed.early_data_accepted
            assert await second.recv() == b"ZERO RTT"
            await second.close()

        # A server that cannot open the ticket: a full handshake, the 0-RTT
        # data skipped (RFC 8446 §4.2.10), and the application sends it again.
        async with serving(handler, forgetful) as (port, _):
            third = await open_connection("127.0.0.1", port, CLIENT, session_data=saved, early_data=b"zero rtt")
            assert third.completed is not None
            assert not third.completed.resumed and not third.completed.early_data_accepted
            await third.send(b"zero rtt")
            assert await third.recv() == b"ZERO RTT"
            await third.close()

    run(scenario)
    assert early == [False, True, False]


def test_warning_alert_then_the_handshake_continues():
    async def warn_then_serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(USER_CANCELED_RECORD)  # before the ServerHello: a plaintext warning
        async with TLSStream(reader, writer, ServerConnection(SERVER)) as stream:
            await stream.handshake()
            await echo_upper(stream)

    async def scenario() -> None:
        server = await asyncio.start_server(warn_then_serve, "127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
            stream = TLSStream(reader, writer, ClientConnection(CLIENT))
            with pytest.raises(WarningAlert) as caught:
                await stream.handshake()
            assert caught.value.description == AlertDescription.user_canceled
            assert not is_fatal(caught.value)
            completed = await stream.handshake()  # carries on
            assert completed.version == "TLS 1.3"
            await stream.send(b"fine")
            assert await stream.recv() == b"FINE"
            await stream.close()
        finally:
            server.close()
            await server.wait_closed()

    run(scenario)


def test_handshake_timeout():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # says nothing until the client hangs up
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        try:
            config = attrs.evolve(CLIENT, handshake_timeout_ms=200)
            with pytest.raises(HandshakeTimeout) as caught:
                await open_connection("127.0.0.1", server.sockets[0].getsockname()[1], config)
            assert is_fatal(caught.value)
        finally:
            server.close()
            await server.wait_closed()

    run(scenario, deadline=10)


def test_a_failing_connection_is_logged_and_the_server_goes_on():
    async def scenario() -> None:
        async with serving(echo_upper) as (port, log):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\n\r\n")
            assert (await reader.read(100))[:1] == b"\x15"  # a fatal alert record
            writer.close()
            async with await open_connection("127.0.0.1", port, CLIENT) as stream:
                await stream.send(b"x")
                assert await stream.recv() == b"X"
        assert "unexpected_message" in log[0]
        assert log[1].startswith("connection 2: TLS 1.3")

    run(scenario)
