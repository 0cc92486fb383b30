"""TLS over asyncio streams: the session of teachtls/net/session.py, with `await`.

asyncio already does what a non-blocking TLSSession asks its caller to do:
wait until the socket is ready, then continue. So `TLSStream` has no
"again" or "interrupted" conditions; where `TLSSession` raises `WouldBlock`,
a `TLSStream` simply awaits. Everything else is the same pump, driving the
sans-I/O connection the same way (and sharing its bookkeeping, `BaseSession`):

    1. look at the events the connection reported
    2. write what it wants sent      (data_to_send -> writer.write, await drain)
    3. read what the peer sent       (await reader.read -> receive_data)

    stream = await open_connection("127.0.0.1", 8443, config)   # handshake done
    await stream.send(b"hello")
    print(await stream.recv())
    await stream.handshake()        # TLS 1.3, client: KeyUpdate (update_requested)
    await stream.close()

A warning alert still surfaces, as `WarningAlert` from `handshake()` or
`recv()`, and calling again continues; the handshake timeout
(`Config.handshake_timeout_ms`) bounds every wait of the handshake, and
expires with `HandshakeTimeout`. So do the TLS 1.2 re-handshake's
conditions: `await stream.rehandshake()`, then `await stream.handshake()`,
which raises `ApplicationDataPending` while the peer's data waits for
`await stream.recv()` (GNUTLS_E_GOT_APPLICATION_DATA).

`start_server(handler, host, port, config_factory)` serves each client with
`await handler(stream)` after the handshake, like the threaded server of
teachtls/net/server.py but in one thread and one event loop.

Not for production: see the README.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable

from teachtls.config import Config
from teachtls.connection import Connection, HandshakeCompleted
from teachtls.handshake.alerts import ConnectionClosed, LocalAlert, TLSError
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.net.nonblocking import ApplicationDataPending
from teachtls.net.server import ConfigFactory, Log, log_to_stderr
from teachtls.net.session import (
    CLOSE_TIMEOUT,
    RECEIVE_SIZE,
    TIMER_SLACK,
    BaseSession,
    ConnectionClosedDuringHandshake,
    describe_error,
)
from teachtls.wire.enums import ProtocolVersion

StreamHandler = Callable[["TLSStream"], Awaitable[None]]
"""`await handler(stream)`: the application, called once the handshake is complete."""


class TLSStream(BaseSession):
    """A TLS connection over an asyncio (reader, writer) pair.

    The stream owns the writer and closes it when the stream ends.
    `connection` must be fresh (nothing sent or received yet)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: Connection) -> None:
        super().__init__(connection)
        self.reader = reader
        self.writer = writer
        self._write_shut = False

    # --- the handshake (RFC 8446 §4) ----------------------------------------------------

    async def handshake(self, early_data: bytes | None = None) -> HandshakeCompleted:
        """Run the handshake to the end; return what was negotiated.

        As `TLSSession.handshake`: `early_data` for a resuming client;
        `WarningAlert` is not fatal (call again); after a TLS 1.3 handshake a
        client sends a KeyUpdate with update_requested, a server does nothing.
        TLS 1.2: drives a re-handshake, raising `ApplicationDataPending` while
        the peer's data waits for `recv()`; a TLS 1.2 client starts one."""
        if not self._handshake_to_continue():
            if not self._handshake_again_renegotiates():
                if isinstance(self.connection, ClientConnection):
                    await self.key_update(request_peer=True)
                assert self.completed is not None
                return self.completed
            self._check_open()
            self._start_rehandshake()
        self._check_open()
        if not self._handshake_done:
            self._begin_handshake(early_data)
        self._handshake_interrupted = True  # until this call returns
        try:
            while True:
                self._check_handshake_timeout()
                self._look_at_events(hello_request="take" if self._handshake_done else "hold")
                if waiting := self._data_waiting_during_rehandshake():
                    await self._write_pending()
                    raise ApplicationDataPending(waiting)
                await self._write_pending()
                if self._handshake_finished():
                    break
                if self.peer_closed:
                    self._hang_up()
                    raise ConnectionClosedDuringHandshake("it sent close_notify")
                await self._read()
        except (BrokenPipeError, ConnectionResetError) as error:
            self._hang_up()
            raise ConnectionClosedDuringHandshake(error.strerror or "connection reset") from error
        self._handshake_done = True
        self._handshake_interrupted = False
        assert self.completed is not None
        return self.completed

    async def key_update(self, request_peer: bool = True) -> None:
        """Send a KeyUpdate and switch to new write keys (RFC 8446 §4.6.3)."""
        self._check_open()
        self.connection.key_update(request_peer=request_peer)
        await self._write_pending()

    async def rehandshake(self) -> None:
        """Start a TLS 1.2 re-handshake (a KeyUpdate under TLS 1.3), as `TLSSession.rehandshake`.

        Then `await stream.handshake()` drives it to its end."""
        self._check_open()
        if self.connection.version != ProtocolVersion.TLS1_2:
            await self.key_update(request_peer=True)
        elif not self._rehandshake_wanted():
            self._start_rehandshake()

    # --- application data (RFC 8446 §5.1) ------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Encrypt `data` into application_data records and write them."""
        self._check_open()
        self.connection.send_application_data(data)
        await self._write_pending()

    async def recv(self) -> bytes:
        """The next piece of application data; b"" once the peer has closed.

        As `TLSSession.recv`: a re-handshake the peer started runs inside it,
        or surfaces as `RehandshakeRequested` (`Config.report_hello_request`)."""
        while True:
            self._look_at_events(hello_request="report")
            if self._received:
                return self._received.pop(0)
            if self.peer_closed:
                return b""
            await self._read()
            await self._write_pending()  # e.g. the answer to the peer's KeyUpdate

    # --- closing (RFC 8446 §6.1) ---------------------------------------------------------

    async def shutdown_write(self) -> None:
        """Send close_notify and end our half of the stream; reading goes on (half-close)."""
        self._check_open()
        self.connection.close()
        await self._write_pending()
        if not self._write_shut and self.writer.can_write_eof():
            self._write_shut = True
            self.writer.write_eof()

    async def close(self, timeout: float | None = CLOSE_TIMEOUT) -> None:
        """close_notify, wait up to `timeout` seconds for the peer's, close the stream.

        Errors from a peer that has gone already are ignored."""
        if self.closed:
            return
        try:
            await self.shutdown_write()
            if self.completed is not None and not self.peer_closed and timeout != 0:
                async with asyncio.timeout(timeout):
                    await self._wait_for_close_notify()
        except OSError:
            pass  # the peer is gone (TimeoutError included: it stayed silent)
        finally:
            self._hang_up()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def _wait_for_close_notify(self) -> None:
        while True:
            self._look_at_events(stop_at_warning=False)
            self._received.clear()  # nobody will recv() it any more
            if self.peer_closed:
                return
            await self._read()

    async def __aenter__(self) -> TLSStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- moving bytes --------------------------------------------------------------------

    async def _write_pending(self) -> None:
        data = self.connection.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def _read(self) -> None:
        """One read from the stream, fed to the connection; its events are queued."""
        self._check_open()
        left = self.connection.handshake_time_left()
        try:
            async with asyncio.timeout(None if left is None else max(left, 0.0) + TIMER_SLACK):
                data = await self.reader.read(RECEIVE_SIZE)
        except TimeoutError:
            self._check_handshake_timeout()  # HandshakeTimeout, if the connection's clock agrees
            raise
        if not data:
            self._stream_ended()
            return
        try:
            self._feed(data)
        except LocalAlert:
            # Deliver the fatal alert the connection queued, then hang up (RFC 8446 §6.2).
            with contextlib.suppress(OSError):
                await self._write_pending()
            self._hang_up()
            raise
        except TLSError:
            self._hang_up()
            raise

    def _check_open(self) -> None:
        if self.closed:
            raise ConnectionClosed("the stream is closed")

    def _hang_up(self) -> None:
        self.closed = True
        self.writer.close()


# --- clients and servers -------------------------------------------------------------------


async def open_connection(
    host: str,
    port: int,
    config: Config,
    *,
    session_data: bytes | None = None,
    early_data: bytes | None = None,
) -> TLSStream:
    """Connect to host:port and run the handshake; return the stream, ready for data.

    `session_data` resumes an earlier session (`get_session_data()`), and
    `early_data` is then sent as 0-RTT data. Raises what
    `asyncio.open_connection` and `TLSStream.handshake` raise; the stream is
    closed in every case."""
    reader, writer = await asyncio.open_connection(host, port)
    stream = TLSStream(reader, writer, ClientConnection(config))
    try:
        if session_data is not None:
            stream.set_session_data(session_data)
        await stream.handshake(early_data=early_data)
    except BaseException:
        stream._hang_up()
        raise
    return stream


async def start_server(
    handler: StreamHandler,
    host: str,
    port: int,
    config_factory: ConfigFactory,
    *,
    log: Log = log_to_stderr,
) -> asyncio.Server:
    """Listen on host:port; serve each client with `await handler(stream)` after the handshake.

    `config_factory(number)` gives connection 1, 2, 3, ... its Config, as
    for the threaded server (`fixed_config(config)` for the same one every
    time). Whatever goes wrong in one connection is logged as one line and
    stays there. Returns the `asyncio.Server`; `server.sockets[0]` tells
    the port, and `server.close()` stops it."""
    numbers = itertools.count(1)

    async def serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = next(numbers)
        peer = f"connection {number}"
        try:
            with config_factory(number) as config:
                async with TLSStream(reader, writer, ServerConnection(config)) as stream:
                    completed = await stream.handshake()
                    log(f"{peer}: {completed.version}, {completed.cipher_suite}, {completed.group}")
                    await handler(stream)
        except Exception as error:
            log(f"{peer}: {describe_error(error, peer='client')}")
        finally:
            writer.close()

    return await asyncio.start_server(serve_one, host, port)
