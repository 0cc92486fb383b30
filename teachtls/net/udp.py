"""DTLS over UDP sockets: a session with the GnuTLS semantics, and a small server.

The DTLS connections (teachtls.dtls) never touch the network: they take one
datagram at a time (`receive_datagram`), hand out datagrams
(`datagrams_to_send`), and say when they next need attention
(`next_timeout`). This module moves those datagrams over a UDP socket, and
waits for the socket *or* the retransmission timer, whichever comes first.

`DTLSSession` mirrors the calls of a GnuTLS DTLS session:

=================================  =============================================
GnuTLS                             `DTLSSession`
=================================  =============================================
gnutls_handshake                   `handshake()`
gnutls_record_send / _recv         `send(data)` / `recv()`
gnutls_bye                         `close()`
gnutls_dtls_set_mtu / _get_mtu     `set_mtu(mtu)` / `mtu`
gnutls_dtls_get_data_mtu           `get_data_mtu()`
gnutls_dtls_set_timeouts           `set_timeouts(retransmit_ms, total_ms)`
gnutls_dtls_get_timeout            `get_timeout()` (milliseconds)
GNUTLS_E_AGAIN, _INTERRUPTED       `WouldBlock`, `Interrupted` (non-blocking)
GNUTLS_E_LARGE_PACKET              `PacketTooLarge` (not fatal)
GNUTLS_E_TIMEDOUT                  `HandshakeTimeout` (total timeout)
=================================  =============================================

The pump is the TLS session's (teachtls/net/session.py), with time added:

    1. write every datagram the connection has     (datagrams_to_send -> send)
    2. wait for a datagram, at most until next_timeout()
    3. a datagram arrived: receive_datagram(it);  the timer expired: handle_timeout()
    repeat until the goal of the call is reached.

A blocking socket waits in step 2. A non-blocking one raises `WouldBlock`
("read"); the caller waits for the socket -- for at most `get_timeout()`
milliseconds, since a retransmission may be due -- and calls again.

"Large packet". A datagram longer than the path allows is refused by the
operating system with EMSGSIZE. GnuTLS reports GNUTLS_E_LARGE_PACKET, a
non-fatal error telling the caller to lower the MTU (RFC 6347 §4.1.1.1: "If
there is a transport protocol indication ... then the DTLS record layer MUST
inform the upper layer protocol of the error"). So does `PacketTooLarge`:
lower the MTU with `set_mtu` and call again. Handshake datagrams that were
refused are simply lost -- UDP loses datagrams anyway -- and the next
retransmission fragments the flight to the new MTU. Application data that
does not fit a datagram raises `PacketTooLarge` before anything is sent.

`DTLSServer` serves many clients on one UDP socket in one thread, told
apart by their address. A datagram from an unknown address gets the
stateless cookie check first (teachtls.dtls.cookie): only a ClientHello
that returns a valid cookie creates a connection -- nothing is allocated
for a spoofed address (RFC 6347 §4.2.1).

DTLS 1.3 (RFC 9147). `connect_dtls(..., version="1.3")` runs a DTLS 1.3
client. `DTLSServer` speaks DTLS 1.3 and 1.2 by default (`versions`),
choosing per client from its first ClientHello: one that lists DTLS 1.3
(0xFEFC) in supported_versions gets a DTLS 1.3 connection. The DTLS 1.3
cookie travels in a HelloRetryRequest (RFC 9147 §5.1, teachtls.dtls.cookie13),
whose cipher suite and key_share group depend on the server's
configuration: the server answers a cookie-less ClientHello with a
short-lived DTLS 1.3 connection built from `stateless_config`, sends its
HelloRetryRequest, and drops it -- again nothing is kept.

Not for production: see the README.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType

import attrs

from teachtls.config import Config
from teachtls.connection import ApplicationData, CloseNotifyReceived, Event, HandshakeCompleted
from teachtls.dtls import cookie13
from teachtls.dtls.connection import DatagramConnection, DTLSSettings, PacketTooLarge
from teachtls.dtls.cookie import check_datagram
from teachtls.dtls.dtls12 import DTLSClientConnection, DTLSServerConnection
from teachtls.dtls.dtls13 import DTLS13ClientConnection, DTLS13ServerConnection
from teachtls.dtls.messages import DTLSClientHello
from teachtls.handshake.alerts import ConnectionClosed, HandshakeTimeout, LocalAlert, TLSError
from teachtls.handshake.states import State
from teachtls.net.nonblocking import Interrupted, WouldBlock
from teachtls.net.server import REQUEST_LINE, http_response

__all__ = [
    "Answer",
    "DTLSServer",
    "DTLSSession",
    "PacketTooLarge",
    "RunningDTLSServer",
    "connect_dtls",
    "echo_handler",
    "page_or_echo_handler",
    "serve_dtls_in_thread",
]

MAX_DATAGRAM = 65535
"""Bytes asked of `recvfrom`: the largest UDP payload, so nothing is cut off."""

DEFAULT_TIMEOUT = 10.0
"""Seconds any one wait for the peer may last before `TimeoutError`."""

CLOSE_TIMEOUT = 0.5
"""Seconds `close()` waits for the peer's close_notify."""

Address = tuple[str, int]


def address_bytes(address: Address) -> bytes:
    """The client address as the cookie MACs it: "host:port"."""
    return f"{address[0]}:{address[1]}".encode()


# --- one association over a socket ---------------------------------------------------


class DTLSSession:
    """A DTLS connection over a UDP socket, blocking or non-blocking.

        with connect_dtls("127.0.0.1", 4433, config) as session:
            session.send(b"hello")
            print(session.recv())

    `peer` is where datagrams go; None for a connected socket. Datagrams
    from any other address are ignored. The session owns `sock`."""

    def __init__(self, sock: socket.socket, connection: DatagramConnection, peer: Address | None = None) -> None:
        self.sock = sock
        self.connection = connection
        self.peer = peer
        self.completed: HandshakeCompleted | None = None
        self.events: list[Event] = []
        self._received: list[bytes] = []
        self.peer_closed = False
        self.closed = False

    # --- the GnuTLS knobs ------------------------------------------------------------

    @property
    def mtu(self) -> int:
        return self.connection.mtu

    def set_mtu(self, mtu: int) -> None:
        """gnutls_dtls_set_mtu: the largest datagram to send."""
        self.connection.set_mtu(mtu)

    def get_data_mtu(self) -> int:
        """gnutls_dtls_get_data_mtu: the most application data one `send` may carry."""
        return self.connection.get_data_mtu()

    def set_timeouts(self, retransmit_ms: int, total_ms: int) -> None:
        """gnutls_dtls_set_timeouts: first retransmission, and the whole handshake's limit."""
        self.connection.set_timeouts(retransmit_ms, total_ms)

    def get_timeout(self) -> int:
        """gnutls_dtls_get_timeout: milliseconds until the connection needs `handle_timeout`."""
        deadline = self.connection.next_timeout()
        if deadline is None:
            return 0
        return max(0, int((deadline - self.connection.config.clock()) * 1000))

    # --- the handshake, data, closing ----------------------------------------------------

    def handshake(self) -> HandshakeCompleted:
        """gnutls_handshake: run the handshake to the end; return what was negotiated.

        Raises `WouldBlock`/`Interrupted` on a non-blocking socket (call
        again), `PacketTooLarge` (lower the MTU, call again), `TimeoutError`
        when the peer is silent for the socket timeout (call again), and --
        fatally, the socket closed -- `LocalAlert`, `RemoteAlert`,
        `HandshakeTimeout`."""
        self._check_open()
        connection = self.connection
        start = getattr(connection, "start_handshake", None)
        if start is not None and connection.state is State.START and connection.handshake_started_at is None:
            start()
        elif connection.handshake_started_at is None:
            connection.handshake_started_at = connection.config.clock()
        while True:
            self._write_pending()  # the flight the last datagram (or the timer) caused
            if self.completed is not None:
                return self.completed
            self._wait_and_read()

    def send(self, data: bytes) -> int:
        """gnutls_record_send: `data` in one record, one datagram. Returns len(data).

        Raises `PacketTooLarge` (nothing sent) when `data` exceeds
        `get_data_mtu()`."""
        self._check_open()
        self.connection.send_application_data(data)
        self._write_pending()
        return len(data)

    def recv(self) -> bytes:
        """gnutls_record_recv: the next record's application data; b"" once the peer closed.

        Each call returns the contents of one record: datagram boundaries
        are message boundaries in DTLS."""
        while True:
            self._write_pending()
            if self._received:
                return self._received.pop(0)
            if self.peer_closed:
                return b""
            self._wait_and_read()

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """gnutls_bye: send close_notify, wait briefly for the peer's, close the socket."""
        if self.closed:
            return
        with contextlib.suppress(OSError, TLSError):
            self.connection.close()
            self._write_pending()
            if self.completed is not None and not self.peer_closed and timeout > 0:
                own = self.sock.gettimeout()
                self.sock.settimeout(timeout)
                try:
                    while not self.peer_closed:
                        self._wait_and_read()
                finally:
                    self.sock.settimeout(own)
        self._hang_up()

    def __enter__(self) -> DTLSSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # --- moving datagrams ---------------------------------------------------------------

    def _write_pending(self) -> None:
        """Send every datagram the connection has. EMSGSIZE -> `PacketTooLarge`."""
        for datagram in self.connection.datagrams_to_send():
            try:
                if self.peer is None:
                    self.sock.send(datagram)
                else:
                    self.sock.sendto(datagram, self.peer)
            except BlockingIOError:
                continue  # a full socket buffer drops the datagram, as the network might
            except InterruptedError as error:
                raise Interrupted("write") from error
            except OSError as error:
                if error.errno == errno.EMSGSIZE:
                    raise PacketTooLarge(
                        len(datagram),
                        self.connection.mtu,
                        f"the operating system refused a {len(datagram)}-byte datagram as too long (EMSGSIZE): "
                        "lower the MTU with set_mtu() and call again",
                    ) from error
                raise

    def _wait_and_read(self) -> None:
        """Wait for one datagram or the connection's timer; act on whichever came."""
        connection = self.connection
        deadline = connection.next_timeout()
        clock = connection.config.clock
        if deadline is not None and clock() >= deadline:
            self._on_timer()
            return
        own_timeout = self.sock.gettimeout()
        if own_timeout == 0.0:  # non-blocking
            data = self._receive(non_blocking=True)
        else:
            wait = own_timeout
            if deadline is not None:
                left = max(deadline - clock(), 0.001)
                wait = left if wait is None else min(wait, left)
            self.sock.settimeout(wait)
            try:
                data = self._receive(non_blocking=False)
            except TimeoutError:
                if deadline is not None and clock() >= deadline - 0.002:
                    self._on_timer()
                    return
                raise
            finally:
                if not self.closed:
                    self.sock.settimeout(own_timeout)
        if data is not None:
            self._feed(data)

    def _receive(self, *, non_blocking: bool) -> bytes | None:
        """One datagram from the peer; None for one from elsewhere."""
        try:
            data, address = self.sock.recvfrom(MAX_DATAGRAM)
        except BlockingIOError as error:
            deadline = self.connection.next_timeout()
            if deadline is not None and self.connection.config.clock() >= deadline:
                self._on_timer()
                return None
            raise WouldBlock("read") from error
        except InterruptedError as error:
            raise Interrupted("read") from error
        if self.peer is not None and address != self.peer:
            return None
        return data

    def _on_timer(self) -> None:
        try:
            self.connection.handle_timeout()
        except HandshakeTimeout:
            self._hang_up()
            raise

    def _feed(self, datagram: bytes) -> None:
        try:
            events = self.connection.receive_datagram(datagram)
        except LocalAlert:
            with contextlib.suppress(OSError):
                self._write_pending()
            self._hang_up()
            raise
        except TLSError:
            self._hang_up()
            raise
        for event in events:
            self.events.append(event)
            if isinstance(event, HandshakeCompleted):
                self.completed = event
            elif isinstance(event, ApplicationData):
                self._received.append(event.data)
            elif isinstance(event, CloseNotifyReceived):
                self.peer_closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise ConnectionClosed("the session is closed")

    def _hang_up(self) -> None:
        self.closed = True
        self.sock.close()


def connect_dtls(
    host: str,
    port: int,
    config: Config,
    settings: DTLSSettings | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    version: str = "1.2",
) -> DTLSSession:
    """A connected UDP socket to host:port and a DTLS handshake over it: DTLS 1.2,
    or with `version="1.3"` DTLS 1.3 (RFC 9147).

    `timeout` bounds each wait for a datagram; the handshake as a whole is
    bounded by `settings.total_timeout_ms`. Raises what
    `DTLSSession.handshake` raises (and `ConnectionRefusedError` when the
    host answers with ICMP port unreachable); the socket is closed then."""
    family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family, kind, protocol)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        client_class = DTLS13ClientConnection if version == "1.3" else DTLSClientConnection
        session = DTLSSession(sock, client_class(config, settings))
        session.handshake()
    except BaseException:
        sock.close()
        raise
    return session


# --- a server for many clients on one socket -------------------------------------------


@attrs.frozen
class Answer:
    """What a `DatagramHandler` sends back: `data` (in as many records as it
    needs), then, with `close`, close_notify."""

    data: bytes
    close: bool = False


DatagramHandler = Callable[[HandshakeCompleted, bytes], "Answer | bytes | None"]
"""`handler(completed, data) -> answer`: the application, called for each
record of application data. Bytes are sent back as they are; None sends
nothing."""

ConfigFactory = Callable[[int], AbstractContextManager[Config]]
"""`config_factory(association_number)` -> a context manager yielding its Config."""


def echo_handler(completed: HandshakeCompleted, data: bytes) -> bytes:
    """Send back what arrived."""
    return data


def page_or_echo_handler(completed: HandshakeCompleted, data: bytes) -> Answer:
    """`teachtls serve --dtls`: an HTTP request line gets a short page about the
    association (then close_notify); anything else is echoed."""
    request_line = data.split(b"\r\n", 1)[0].decode("latin-1")
    if not REQUEST_LINE.fullmatch(request_line):
        return Answer(data)
    text = (
        f"Hello from teachtls over {completed.version}.\n"
        f"cipher suite: {completed.cipher_suite}\n"
        f"group: {completed.group}\n"
        f"signature scheme: {completed.signature_scheme}\n"
        f"server name: {completed.server_name or '(none)'}\n"
        f"your request: {request_line[:100]}\n"
        "Not for production: teachtls is written to be read, not to protect data.\n"
    )
    return Answer(http_response(200, "OK", text), close=True)


@attrs.define
class _Association:
    """One client of the server: its connection and bookkeeping."""

    number: int
    address: Address
    connection: DTLSServerConnection | DTLS13ServerConnection
    resources: ExitStack
    completed: HandshakeCompleted | None = None
    last_heard: float = 0.0


class DTLSServer:
    """DTLS 1.3 and 1.2 on one UDP socket, one thread, many clients (by address).

    `serve_forever()` runs until `stop()`. Each association gets a
    `DTLS13ServerConnection` or `DTLSServerConnection` (by its ClientHello,
    within `versions`) built from `config_factory(number)`, and the same
    cookie secret (RFC 6347 §4.2.1, RFC 9147 §5.1: cookies are checked
    statelessly, before an association exists). `stateless_config` decides a
    DTLS 1.3 HelloRetryRequest's cipher suite and group: it should offer what
    the factory's configs offer. `handler` answers application data. `log`
    receives one line per event worth telling."""

    def __init__(
        self,
        address: Address,
        config_factory: ConfigFactory,
        handler: DatagramHandler = echo_handler,
        *,
        settings: DTLSSettings | None = None,
        idle_timeout: float = 30.0,
        max_associations: int = 64,
        log: Callable[[str], None] = lambda line: None,
        versions: tuple[str, ...] = ("1.3", "1.2"),
        stateless_config: Config | None = None,
    ) -> None:
        self.versions = versions
        self.stateless_config = stateless_config or Config()
        self.sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.config_factory = config_factory
        self.handler = handler
        self.settings = settings or DTLSSettings()
        self.cookie_secret = self.settings.cookie_secret or os.urandom(32)
        self.idle_timeout = idle_timeout
        self.max_associations = max_associations
        self.log = log
        self.associations: dict[Address, _Association] = {}
        self.completed: list[HandshakeCompleted] = []  # every handshake so far, for tests
        self.count = 0
        self._stop = threading.Event()
        # The write end of a pipe wakes the loop up for stop().
        self._wake_read, self._wake_write = socket.socketpair()

    def serve_forever(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ)
        selector.register(self._wake_read, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                ready = selector.select(self._wait_time())
                if any(key.fileobj is self.sock for key, _ in ready):
                    self._read_datagrams()
                self._fire_timers()
        finally:
            selector.close()
            for association in list(self.associations.values()):
                self._end(association, "server stopping", close=True)
            self.sock.close()
            self._wake_read.close()
            self._wake_write.close()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")

    def _wait_time(self) -> float:
        now = time.time()
        deadlines = [now + 1.0]
        for association in self.associations.values():
            deadline = association.connection.next_timeout()
            if deadline is not None:
                deadlines.append(deadline)
        return max(0.0, min(deadlines) - now)

    def _read_datagrams(self) -> None:
        while True:
            try:
                data, address = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. ICMP port unreachable for an earlier datagram
            self._on_datagram(data, (address[0], address[1]))

    def _on_datagram(self, data: bytes, address: Address) -> None:
        association = self.associations.get(address)
        if association is not None and association.completed is not None and self._new_client_hello(data, association):
            return
        association = self.associations.get(address)
        if association is None:
            association = self._new_association(data, address)
            if association is None:
                return
        association.last_heard = time.time()
        try:
            events = association.connection.receive_datagram(data)
            self._on_events(association, events)
        except Exception as error:  # a TLS failure, or the handler's own
            self._flush(association)  # the fatal alert, if there is one
            self._end(association, f"failed: {error}")
            return
        self._flush(association)

    def _new_client_hello(self, data: bytes, association: _Association) -> bool:
        """RFC 6347 §4.2.8: a client at the address of an established association
        starts again (after a reboot, say) with a new epoch-0 ClientHello.

        The old association stays until the client "has demonstrated
        reachability ... by completing a cookie exchange": a ClientHello
        without a valid cookie gets a HelloVerifyRequest (True: handled); one
        with a valid cookie replaces the association (False: handle it as
        new). A copy of the association's own ClientHello -- same random --
        is just a late retransmission, for the association."""
        if not self.settings.cookie_exchange:
            return False
        if isinstance(association.connection, DTLS13ServerConnection):
            return self._new_client_hello_13(data, association)
        answer = check_datagram(data, address_bytes(association.address), self.cookie_secret)
        hello = association.connection.client_hello
        if answer.hello is None or (hello is not None and answer.hello.random == hello.random):
            return False
        if answer.action == "verify":
            with contextlib.suppress(OSError):
                self.sock.sendto(answer.reply, association.address)
            return True
        self._end(association, "the client started a new handshake (RFC 6347 §4.2.8)", close=False)
        return False

    def _new_client_hello_13(self, data: bytes, association: _Association) -> bool:
        """RFC 9147 §5.11, as `_new_client_hello` for DTLS 1.2: the old association
        stays until the client completes a cookie exchange."""
        found = cookie13.peek_client_hello(data)
        hello = association.connection.client_hello
        if found is None or (hello is not None and found[0].random == hello.random):
            return False
        if not self._cookie_is_valid(found[0], association.address):
            self._answer_statelessly(data, association.address)
            return True
        self._end(association, "the client started a new handshake (RFC 9147 §5.11)", close=False)
        return False

    def _cookie_is_valid(self, hello: DTLSClientHello, address: Address) -> bool:
        cookie = cookie13.returned_cookie(hello)
        return (
            cookie is not None and cookie13.open_cookie(self.cookie_secret, address_bytes(address), cookie) is not None
        )

    def _answer_statelessly(self, data: bytes, address: Address) -> None:
        """A DTLS 1.3 ClientHello without a valid cookie: a throwaway connection answers it
        (a HelloRetryRequest with a cookie, or illegal_parameter for a bad cookie) and is dropped."""
        settings = attrs.evolve(self.settings, cookie_secret=self.cookie_secret, client_address=address_bytes(address))
        throwaway = DTLS13ServerConnection(self.stateless_config, settings)
        with contextlib.suppress(TLSError):
            throwaway.receive_datagram(data)
        for datagram in throwaway.datagrams_to_send():
            with contextlib.suppress(OSError):
                self.sock.sendto(datagram, address)

    def _new_association(self, data: bytes, address: Address) -> _Association | None:
        """The stateless cookie check, then (only for a valid cookie) a connection."""
        found = cookie13.peek_client_hello(data)
        dtls13 = "1.3" in self.versions and found is not None and cookie13.offers_dtls13(found[0])
        if dtls13 and self.settings.cookie_exchange:
            assert found is not None
            if not self._cookie_is_valid(found[0], address):
                self._answer_statelessly(data, address)
                return None
        elif "1.2" not in self.versions and not dtls13:
            return None
        elif self.settings.cookie_exchange:
            answer = check_datagram(data, address_bytes(address), self.cookie_secret)
            if answer.action == "verify":
                with contextlib.suppress(OSError):
                    self.sock.sendto(answer.reply, address)
                return None
            if answer.action == "ignore":
                return None
        if len(self.associations) >= self.max_associations:
            self.log(f"refusing {address[0]}:{address[1]}: {self.max_associations} associations already")
            return None
        self.count += 1
        resources = ExitStack()
        try:
            config = resources.enter_context(self.config_factory(self.count))
        except BaseException:
            resources.close()
            raise
        settings = attrs.evolve(self.settings, cookie_secret=self.cookie_secret, client_address=address_bytes(address))
        server_class = DTLS13ServerConnection if dtls13 else DTLSServerConnection
        association = _Association(self.count, address, server_class(config, settings), resources)
        self.associations[address] = association
        return association

    def _on_events(self, association: _Association, events: list[Event]) -> None:
        connection = association.connection
        for event in events:
            if isinstance(event, HandshakeCompleted):
                association.completed = event
                self.completed.append(event)
                self.log(
                    f"association {association.number} ({association.address[0]}): {event.version}, "
                    f"{event.cipher_suite}"
                )
            elif isinstance(event, ApplicationData) and association.completed is not None:
                answer = self.handler(association.completed, event.data)
                if isinstance(answer, bytes):
                    answer = Answer(answer)
                if answer is None:
                    continue
                # One record per datagram: a long answer goes out in pieces.
                limit = max(connection.get_data_mtu(), 1)
                for start in range(0, len(answer.data), limit):
                    connection.send_application_data(answer.data[start : start + limit])
                if answer.close:
                    connection.close()
            elif isinstance(event, CloseNotifyReceived):
                connection.close()
                self._flush(association)
                self._end(association, "closed by the client")
                return

    def _fire_timers(self) -> None:
        now = time.time()
        for association in list(self.associations.values()):
            connection = association.connection
            deadline = connection.next_timeout()
            try:
                if deadline is not None and now >= deadline:
                    connection.handle_timeout()
            except TLSError as error:
                self._end(association, f"failed: {error}")
                continue
            self._flush(association)
            if now - association.last_heard > self.idle_timeout:
                self._end(association, "idle", close=True)

    def _flush(self, association: _Association) -> None:
        for datagram in association.connection.datagrams_to_send():
            with contextlib.suppress(OSError):
                self.sock.sendto(datagram, association.address)

    def _end(self, association: _Association, why: str, *, close: bool = False) -> None:
        if close and not association.connection.closed:
            with contextlib.suppress(TLSError):
                association.connection.close()
            self._flush(association)
        self.associations.pop(association.address, None)
        association.resources.close()
        self.log(f"association {association.number} ended: {why}")


@attrs.define
class RunningDTLSServer:
    """A `DTLSServer` serving in a background thread (`serve_dtls_in_thread`)."""

    server: DTLSServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.port

    def shutdown(self) -> None:
        self.server.stop()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningDTLSServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def serve_dtls_in_thread(
    host: str,
    port: int,
    config: Config | ConfigFactory,
    handler: DatagramHandler = echo_handler,
    *,
    settings: DTLSSettings | None = None,
    log: Callable[[str], None] = lambda line: None,
    versions: tuple[str, ...] = ("1.3", "1.2"),
) -> RunningDTLSServer:
    """Start a `DTLSServer` in the background; returns at once, already bound."""
    factory: ConfigFactory
    stateless_config = config if isinstance(config, Config) else None
    if isinstance(config, Config):
        fixed = config

        def factory(number: int) -> AbstractContextManager[Config]:
            return contextlib.nullcontext(fixed)

    else:
        factory = config
    server = DTLSServer(
        (host, port), factory, handler, settings=settings, log=log, versions=versions, stateless_config=stateless_config
    )
    thread = threading.Thread(target=server.serve_forever, name="teachtls-dtls-server", daemon=True)
    thread.start()
    return RunningDTLSServer(server, thread)
