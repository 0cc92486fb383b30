"""A TLS session over a socket, blocking or non-blocking: a socket driving a sans-I/O connection.

The connections in `teachtls.handshake` never touch the network. They take
bytes in (`receive_data`) and hand bytes out (`data_to_send`); somebody else
has to move those bytes between two machines. `TLSSession` is that somebody,
for one socket and one thread. Its methods are the calls of a GnuTLS
session, with Pythonic names:

=================================  =============================================
GnuTLS                             `TLSSession`
=================================  =============================================
gnutls_handshake                   `handshake(early_data=None)`
gnutls_record_send / _recv         `send(data)` / `recv()`
gnutls_bye(GNUTLS_SHUT_WR)         `shutdown_write()`
gnutls_bye(GNUTLS_SHUT_RDWR)       `close(timeout=...)`
gnutls_session_key_update          `key_update(request_peer=True)`
gnutls_rehandshake (TLS 1.2)       `rehandshake()`, then `handshake()`
gnutls_record_get_direction        `direction`
gnutls_session_get_data / _set_    `get_session_data()` / `set_session_data()`
=================================  =============================================

Everything it does is a variation of one loop, the *pump*:

    1. look at the events the connection reported   (HandshakeCompleted, ...)
    2. write whatever the connection wants sent     (data_to_send -> sock.send)
    3. read what the peer sent                      (sock.recv -> receive_data)
    and repeat until the goal of the call is reached.

* `handshake()` pumps until the `HandshakeCompleted` event (kept as
  `session.completed`) has been seen and our last flight is written. The
  client first queues its ClientHello (RFC 8446 §4.1.2); the server just
  waits for one.
* `recv()` pumps until some application data arrives (RFC 8446 §5.1), or
  the stream ends. Post-handshake messages -- a NewSessionTicket (§4.6.1), a
  KeyUpdate (§4.6.3) and the connection's answer to it -- pass through the
  same loop without the caller noticing.
* `send(data)` queues application data and writes the records.
* `rehandshake()` (TLS 1.2, RFC 5746) queues a new ClientHello or a
  HelloRequest, and `handshake()` pumps the new handshake to its end. The
  peer's application data may arrive meanwhile: it is queued for `recv()`
  and reported as `ApplicationDataPending` (GNUTLS_E_GOT_APPLICATION_DATA).
  A re-handshake the peer starts runs inside `recv()`.

**Blocking and non-blocking sockets.** The same code serves both. On a
blocking socket each step simply waits. On a non-blocking one
(`sock.setblocking(False)`) a step that cannot proceed raises `WouldBlock`
with the direction it waited for, or `Interrupted` on EINTR (see
teachtls/net/nonblocking.py, GNUTLS_E_AGAIN and GNUTLS_E_INTERRUPTED). The
caller waits for the socket and calls *the same method again*, which
continues exactly where it stopped, because the session never loses a byte:

* bytes the socket refused (`send()` may take only part, or raise
  EAGAIN) stay in `_unsent` and go first next time;
* bytes received are handed to the connection at once, and the connection
  buffers a partial record until the rest arrives;
* events not yet looked at wait in `_unseen`. That is what lets a warning
  alert interrupt a call (`WarningAlert`, GNUTLS_E_WARNING_ALERT_RECEIVED)
  and the next call carry on with the events behind it.

`send()` and `key_update()` follow the GnuTLS rule for interrupted writes:
"call the function again with the exact same parameters". The data was
encrypted the first time; the repeated call only finishes writing it, so
nothing is sent twice.

How a session ends, and what the caller sees:

=============================================  =====================================
what happened                                  what the caller gets
=============================================  =====================================
we found a problem (`LocalAlert`)              the fatal alert is sent to the peer,
                                               the socket closed, the alert re-raised
the peer sent a fatal alert (`RemoteAlert`)    the socket closed, the alert re-raised
the handshake took longer than                 `HandshakeTimeout`, the socket closed
`Config.handshake_timeout_ms`
peer closed (or reset) TCP mid-handshake       `ConnectionClosedDuringHandshake`
close_notify after the handshake               `recv()` returns b""
TCP stream ended without close_notify          `recv()` returns b"", and
                                               `session.truncated` is True
the socket timed out (`TimeoutError`)          re-raised; not fatal (see below)
=============================================  =====================================

*Truncation.* RFC 8446 §6.1 has each side send close_notify before it
closes, so that the receiver can tell "the peer is done" from "an attacker
cut the connection short". Many servers (HTTP/1.0 ones especially) simply
close the socket. Like most TLS libraries we report the end of the stream
either way, and record the difference in `truncated` (and as a warning
`Note` in the trace) for an application that cares.

*Timeouts.* Two different clocks are involved. A socket timeout
(`sock.settimeout`) bounds one wait for the peer; when it expires the
session is intact -- every byte received so far was fed to the connection,
unsent bytes are kept -- so calling the same method again continues
(GnuTLS sees this as EAGAIN from a socket with SO_RCVTIMEO: non-fatal). The
*handshake* timeout (`Config.handshake_timeout_ms`, gnutls_handshake_set_timeout)
bounds the whole handshake, measured on the connection's injected clock
from the first `handshake()` call; every call checks it, and a blocking
socket never waits past it. When it expires the session is over
(`HandshakeTimeout`, GNUTLS_E_TIMEDOUT).

*Closing.* `shutdown_write()` sends close_notify and ends our half of the
TCP stream; we may go on reading ("half-close", RFC 8446 §6.1: "Each party
MUST send a 'close_notify' alert before closing its write side of the
connection"). `close()` does that, waits (briefly) for the peer's
close_notify, and closes the socket.

Not for production: see the README. In particular a session with one
thread per connection is the easiest design to read, not to scale.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import Literal, Protocol

from teachtls.config import Config
from teachtls.connection import (
    ApplicationData,
    CloseNotifyReceived,
    Connection,
    Event,
    HandshakeCompleted,
    HelloRequestReceived,
    WarningAlertReceived,
)
from teachtls.handshake.alerts import ConnectionClosed, HandshakeTimeout, LocalAlert, RemoteAlert, TLSError
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.common12 import Handshake12
from teachtls.handshake.server13 import ServerConnection
from teachtls.handshake.states import State
from teachtls.net.nonblocking import (
    ApplicationDataPending,
    Direction,
    Interrupted,
    RehandshakeRequested,
    WarningAlert,
    WouldBlock,
)
from teachtls.trace import events as trace
from teachtls.trace.observer import Observer, ignore
from teachtls.wire.enums import AlertDescription, ProtocolVersion, to_enum

# How much to ask the socket for at a time: one maximal TLS record (RFC 8446
# §5.2: 5-byte header + 2^14 + 256 bytes of ciphertext).
RECEIVE_SIZE = 5 + 2**14 + 256

HelloRequestHandling = Literal["report", "hold", "take"]
"""What `_look_at_events` does with a HelloRequest left to the application."""

DEFAULT_TIMEOUT = 10.0
"""Seconds any one socket operation may wait before `TimeoutError`."""

CLOSE_TIMEOUT = 1.0
"""Seconds `close()` waits for the peer's close_notify before closing anyway."""

TIMER_SLACK = 0.01
"""Seconds added to a wait bounded by the handshake timeout, so that the
timer has surely expired when the wait ends."""


class ConnectionClosedDuringHandshake(TLSError):
    """The peer closed the connection before the handshake finished.

    No alert explains why: the peer just hung up (or, for a server, the
    "client" never spoke TLS at all)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("connection closed by peer during handshake" + (f" ({detail})" if detail else ""))


class Transport(Protocol):
    """What a session needs of its socket. A `socket.socket` is one; tests use doubles.

    A non-blocking transport raises `BlockingIOError` when it cannot move
    bytes now; `send` may take fewer bytes than offered. `gettimeout()`
    returns 0.0 for a non-blocking transport, None or seconds otherwise."""

    def send(self, data: bytes, /) -> int: ...

    def recv(self, bufsize: int, /) -> bytes: ...

    def gettimeout(self) -> float | None: ...

    def settimeout(self, value: float | None, /) -> None: ...

    def shutdown(self, how: int, /) -> None: ...

    def close(self) -> None: ...


# --- what every driver of a connection keeps track of ------------------------------------


class BaseSession:
    """The bookkeeping shared by `TLSSession` (sockets) and `aio.TLSStream` (asyncio).

    None of it does I/O: it turns the connection's events into what the
    methods of a session return, and holds what the next call needs."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.completed: HandshakeCompleted | None = None
        # The events the connection reported and the session looked at, in
        # order -- all but application data, whose bytes recv() hands out
        # (keeping them too would let a long connection grow without bound).
        self.events: list[Event] = []
        # Events reported but not looked at yet: a warning alert stops the
        # line, and the next call goes on with the ones behind it.
        self._unseen: deque[Event] = deque()
        # Application data waiting for recv(): it may arrive together with
        # something else, say in the same read as the client's Finished.
        self._received: list[bytes] = []
        self.peer_closed = False  # the stream has ended (close_notify or EOF)
        self.truncated = False  # ... and it ended without close_notify
        self.closed = False  # the transport is closed
        self._handshake_done = False  # handshake() has returned once
        # Re-handshakes (TLS 1.2). handshake() is finished once it has seen
        # `_handshakes_wanted` HandshakeCompleted events: 1 for the first
        # handshake, one more for each re-handshake.
        self._handshakes_completed = 0
        self._handshakes_wanted = 1
        # A handshake() call stopped by a non-fatal condition: the next call
        # continues it -- even if the handshake completed meanwhile, inside a
        # recv() -- rather than start a new one.
        self._handshake_interrupted = False

    # --- resumption (RFC 8446 §2.2) ----------------------------------------------------

    def get_session_data(self) -> bytes:
        """gnutls_session_get_data: the newest ticket, to resume with later (clients only).

        Tickets arrive after the handshake (RFC 8446 §4.6.1), so call this
        after some `recv()` (or after `close()`, which reads to the end).
        Raises `TLSError` if none has arrived."""
        return self._client().get_session_data()

    def set_session_data(self, data: bytes) -> None:
        """gnutls_session_set_data: offer a saved session in the coming handshake (clients only)."""
        self._client().set_session_data(data)

    def _client(self) -> ClientConnection:
        if not isinstance(self.connection, ClientConnection):
            raise TLSError("session data belong to clients; a server resumes through Config.session_store")
        return self.connection

    # --- steps of the pump that do no I/O ------------------------------------------------

    def _begin_handshake(self, early_data: bytes | None) -> None:
        """The first handshake() call: the client queues its ClientHello; the timer starts."""
        connection = self.connection
        if isinstance(connection, ClientConnection):
            if connection.state is State.START:
                connection.start_handshake(early_data=early_data)  # sets handshake_started_at
        elif early_data is not None:
            raise TLSError("early data is sent by a client (RFC 8446 §2.3)")
        elif connection.handshake_started_at is None:
            # As gnutls_handshake_set_timeout: the clock runs from the first
            # call, not from the first byte -- a silent client times out too.
            connection.handshake_started_at = connection.config.clock()

    def _check_handshake_timeout(self) -> None:
        """Raise `HandshakeTimeout` (and hang up) if the handshake ran out of time."""
        try:
            self.connection.check_timeout()
        except HandshakeTimeout:
            self._hang_up()
            raise

    def _feed(self, data: bytes) -> None:
        """Give received bytes to the connection; queue the events that come out.

        Raises what `receive_data` raises; the caller cleans up the transport."""
        self._unseen.extend(self.connection.receive_data(data))

    def _look_at_events(self, *, stop_at_warning: bool = True, hello_request: HelloRequestHandling = "take") -> None:
        """Take in the queued events, in order; raise `WarningAlert` at a warning.

        A HelloRequest left to the application (`Config.report_hello_request`)
        is for recv() to report, as `RehandshakeRequested` ("report"), once the
        data that arrived before it has been handed out; until then it waits
        at the head of the line, as it does after the first handshake
        ("hold"). A re-handshake of ours answers it, and close() ignores it
        ("take")."""
        while self._unseen:
            event = self._unseen[0]
            if isinstance(event, HelloRequestReceived) and (
                hello_request == "hold" or (hello_request == "report" and self._received)
            ):
                return
            self._unseen.popleft()
            if not isinstance(event, ApplicationData):
                self.events.append(event)
            if isinstance(event, HandshakeCompleted):
                self.completed = event
                self._handshakes_completed += 1
            elif isinstance(event, ApplicationData):
                if event.data:  # early (0-RTT) data too: it arrives before HandshakeCompleted
                    self._received.append(event.data)
            elif isinstance(event, CloseNotifyReceived):
                self.peer_closed = True
            elif isinstance(event, WarningAlertReceived):
                if event.description == AlertDescription.no_renegotiation_RESERVED and self._rehandshake_wanted():
                    # RFC 5246 §7.2.2: the peer declines our re-handshake. It is
                    # over; the current session goes on.
                    self._handshakes_wanted = self._handshakes_completed
                if stop_at_warning:
                    raise WarningAlert(to_enum(AlertDescription, event.description))
            elif isinstance(event, HelloRequestReceived) and hello_request == "report":
                raise RehandshakeRequested()

    # --- re-handshakes (TLS 1.2, RFC 5746) ------------------------------------------------
    #
    # GnuTLS's model, which the socket session and the asyncio stream share:
    #
    #   rehandshake()   a client sends a new ClientHello, a server a HelloRequest
    #                   (gnutls_handshake again / gnutls_rehandshake)
    #   handshake()     drives it to its HandshakeCompleted; raises
    #                   ApplicationDataPending (GNUTLS_E_GOT_APPLICATION_DATA)
    #                   whenever the peer's data is waiting: recv() it, call again
    #
    # A re-handshake the *peer* starts is taken up by the connection itself (a
    # server answers a ClientHello, a client a HelloRequest unless
    # Config.report_hello_request leaves that to the application); it then runs
    # inside recv(), or handshake() drives it like one of ours.

    def _start_rehandshake(self) -> None:
        """Ask the connection for a new handshake; `handshake()` drives it."""
        if not self._handshake_done:
            raise TLSError("a re-handshake needs a completed handshake: call handshake() first")
        connection = self.connection
        if isinstance(connection, ClientConnection):
            connection.renegotiate()  # a ClientHello under the current keys (RFC 5746 §3.5)
        elif isinstance(connection, ServerConnection):
            connection.request_renegotiation()  # a HelloRequest (RFC 5246 §7.4.1.1)
        self._handshakes_wanted = self._handshakes_completed + 1

    def _rehandshake_wanted(self) -> bool:
        """Is a re-handshake under way that handshake() should drive to its end?

        Ours, or one the peer started and the connection took up by itself."""
        connection = self.connection
        if isinstance(connection, Handshake12) and connection.renegotiating:
            self._handshakes_wanted = max(self._handshakes_wanted, self._handshakes_completed + 1)
        return self._handshakes_wanted > self._handshakes_completed

    def _handshake_again_renegotiates(self) -> bool:
        """GnuTLS: gnutls_handshake() on an established TLS 1.2 client renegotiates."""
        return isinstance(self.connection, ClientConnection) and self.connection.version == ProtocolVersion.TLS1_2

    def _handshake_to_continue(self) -> bool:
        """Does this handshake() call drive a handshake -- the first, an interrupted one, a re-handshake?"""
        return not self._handshake_done or self._handshake_interrupted or self._rehandshake_wanted()

    def _handshake_finished(self) -> bool:
        return self._handshakes_completed >= self._handshakes_wanted

    def _data_waiting_during_rehandshake(self) -> int:
        """Bytes of application data waiting for recv() while a re-handshake runs (else 0).

        During the first handshake only 0-RTT data can arrive, and recv()
        hands it out after the handshake, as always."""
        if not self._handshake_done:
            return 0
        return sum(len(chunk) for chunk in self._received)

    def _stream_ended(self) -> None:
        """The peer closed TCP. Fine after close_notify; a truncation otherwise."""
        if self.peer_closed:
            return
        self.peer_closed = True
        self.truncated = True
        if not self.connection.handshake_complete:
            self._hang_up()
            raise ConnectionClosedDuringHandshake()
        self.connection.observe(
            trace.Note(
                role=self.connection.role,
                level="warning",
                text="the peer closed the TCP connection without sending close_notify: "
                "the data cannot be told apart from a truncated stream",
                rfc="RFC 8446 §6.1",
            )
        )

    def _hang_up(self) -> None:
        """Close the transport, without a word to the peer."""
        raise NotImplementedError


# --- sockets ---------------------------------------------------------------------------


class TLSSession(BaseSession):
    """A TLS connection over a socket, blocking or non-blocking.

        with connect("example.org", 443, client_config(servername="example.org")) as session:
            session.send(b"GET / HTTP/1.1\\r\\nHost: example.org\\r\\n\\r\\n")
            while data := session.recv():
                print(data)

    The session owns `sock` from now on and closes it when the session ends.
    `connection` must be fresh (nothing sent or received yet)."""

    def __init__(self, sock: Transport, connection: Connection) -> None:
        super().__init__(connection)
        self.sock = sock
        # gnutls_record_get_direction: which way the last WouldBlock/Interrupted waited.
        self.direction: Direction = "read"
        self._unsent = b""  # taken from the connection, not yet accepted by the socket
        self._unfinished_send: bytes | None = None  # a send() interrupted before all was written
        self._unfinished_key_update = False  # likewise for key_update()
        self._write_shut = False  # TCP SHUT_WR done

    @property
    def wants_write(self) -> bool:
        """Bytes are waiting for the socket to accept them.

        An event loop watches the socket for writability while this is true,
        even when the last condition said "read" (recv() writes opportunistically)."""
        return bool(self._unsent)

    # --- the handshake (RFC 8446 §4) ----------------------------------------------------

    def handshake(self, early_data: bytes | None = None) -> HandshakeCompleted:
        """gnutls_handshake: run the handshake to the end; return what was negotiated.

        A client with a saved session (`set_session_data`) may pass
        `early_data`, sent as 0-RTT data right after the ClientHello (RFC
        8446 §2.3); `completed.early_data_accepted` says whether the server
        took it, and if not, the application must send it again.

        Non-blocking: raises `WouldBlock` / `Interrupted` / `WarningAlert`;
        call `handshake()` again to continue (`early_data` counts only on the
        first call). Fatal: `LocalAlert` (after sending it), `RemoteAlert`,
        `HandshakeTimeout`, `ConnectionClosedDuringHandshake`; the socket is
        then closed. A socket `TimeoutError` is re-raised and not fatal.

        Called again after the handshake, as the GnuTLS manual says of TLS
        1.3: a client sends a KeyUpdate asking the server to update too
        (gnutls_session_key_update with GNUTLS_KU_PEER); a server does nothing.

        TLS 1.2: drives a re-handshake (RFC 5746) to its end -- one started
        by `rehandshake()`, or by the peer -- and returns its parameters.
        Called again on an established TLS 1.2 client, it starts one, as
        gnutls_handshake does. While it runs, the peer's application data
        keeps arriving: then it raises `ApplicationDataPending`
        (GNUTLS_E_GOT_APPLICATION_DATA, not fatal); read the data with
        `recv()` and call `handshake()` again. If the peer declines with a
        no_renegotiation warning, it raises `WarningAlert`, and the next call
        returns the current parameters."""
        if not self._handshake_to_continue():
            if not self._handshake_again_renegotiates():
                return self._handshake_after_handshake()
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
                    self._write_what_fits()  # our part of the re-handshake need not wait for the reader
                    raise ApplicationDataPending(waiting)
                self._write_pending()
                if self._handshake_finished():
                    break
                if self.peer_closed:
                    self._hang_up()
                    raise ConnectionClosedDuringHandshake("it sent close_notify")
                self._read()
        except (BrokenPipeError, ConnectionResetError) as error:
            # The peer's TCP stack told us it is gone: the same story as EOF.
            self._hang_up()
            raise ConnectionClosedDuringHandshake(error.strerror or "connection reset") from error
        self._handshake_done = True
        self._handshake_interrupted = False
        assert self.completed is not None
        return self.completed

    def _handshake_after_handshake(self) -> HandshakeCompleted:
        """RFC 8446 has no renegotiation; GnuTLS gives handshake() this meaning instead.

        The manual: "Under TLS 1.3 this function when called after a
        successful handshake, is a no-op and always succeeds in server side.
        In client side this function is equivalent to
        gnutls_session_key_update() with GNUTLS_KU_PEER flag." (A TLS 1.2
        server with no re-handshake under way has nothing to do either.)"""
        if isinstance(self.connection, ClientConnection):
            self.key_update(request_peer=True)
        assert self.completed is not None
        return self.completed

    def rehandshake(self) -> None:
        """gnutls_rehandshake (server) / gnutls_handshake again (client): start a re-handshake.

        TLS 1.2 (RFC 5746 secure renegotiation only): a client queues a new
        ClientHello, a server a HelloRequest (RFC 5246 §7.4.1.1); then call
        `handshake()`, which writes it and drives the new handshake to its
        end (see there for `ApplicationDataPending`). Until it completes,
        `send()` is refused: teachtls sends no application data in the
        middle of its own handshake. A client may ignore a HelloRequest, so
        a server waits in `handshake()` only as long as its socket timeout.
        Does nothing while a re-handshake is already under way.

        TLS 1.3 has no re-handshake: as gnutls_rehandshake does there, this
        is `key_update(request_peer=True)`. Raises `TLSError` before the
        first handshake, or when the peer lacks RFC 5746."""
        self._check_open()
        if self.connection.version != ProtocolVersion.TLS1_2:
            self.key_update(request_peer=True)
        elif not self._rehandshake_wanted():
            self._start_rehandshake()

    def key_update(self, request_peer: bool = True) -> None:
        """gnutls_session_key_update: send a KeyUpdate, switch to new write keys (RFC 8446 §4.6.3).

        With `request_peer` (GNUTLS_KU_PEER) the peer is asked to update its
        keys too; its answer arrives during a later `recv()`. Each step is
        traced (SecretDerived "traffic upd", KeysInstalled). If interrupted,
        call again: the same KeyUpdate is finished, no second one is made."""
        self._check_open()
        if not self._unfinished_key_update:
            self.connection.key_update(request_peer=request_peer)
            self._unfinished_key_update = True
        self._write_pending()
        self._unfinished_key_update = False

    # --- application data (RFC 8446 §5.1) ------------------------------------------------

    def send(self, data: bytes) -> int:
        """gnutls_record_send: encrypt `data` into application_data records and write them.

        Returns len(data). If it raises `WouldBlock` or `Interrupted`, the
        data is already encrypted and partly written: call `send()` again
        with the same data (or b"") to finish; other data raises `TLSError`."""
        self._check_open()
        if self._unfinished_send is None:
            self.connection.send_application_data(data)
            self._unfinished_send = data
        elif data and data != self._unfinished_send:
            raise TLSError('the previous send() was interrupted: call send() again with the same data (or b"") first')
        self._write_pending()
        sent, self._unfinished_send = self._unfinished_send, None
        return len(sent)

    def recv(self) -> bytes:
        """gnutls_record_recv: the next piece of application data; b"" once the peer has closed.

        Raises as `handshake()` does (`WouldBlock("read")` when nothing has
        arrived yet). Check `truncated` after b"" to learn whether the peer
        said close_notify or just dropped the connection.

        A TLS 1.2 re-handshake the peer started runs inside recv(), unseen,
        with one exception: a client whose `Config.report_hello_request` is
        set gets `RehandshakeRequested` (GNUTLS_E_REHANDSHAKE, not fatal) when
        the server's HelloRequest comes up; `handshake()` accepts it, another
        `recv()` ignores it."""
        while True:
            # Answers the connection produced by itself (a KeyUpdate in response
            # to the peer's, RFC 8446 §4.6.3, a re-handshake's flight) go out as
            # far as the socket takes them. Never block a reader on writing: the
            # peer may be waiting for us to read before it can read in turn.
            self._write_what_fits()
            self._look_at_events(hello_request="report")
            if self._received:
                return self._received.pop(0)
            if self.peer_closed:
                return b""
            self._read()

    def recv_all(self) -> bytes:
        """Everything until the peer closes (blocking sockets)."""
        chunks = []
        while chunk := self.recv():
            chunks.append(chunk)
        return b"".join(chunks)

    # --- closing (RFC 8446 §6.1) ---------------------------------------------------------

    def shutdown_write(self) -> None:
        """gnutls_bye(GNUTLS_SHUT_WR): send close_notify, then end our half of TCP.

        The session can still `recv()` the peer's remaining data and its own
        close_notify (half-close). Non-blocking: call again if interrupted."""
        self._check_open()
        self.connection.close()  # nothing happens if close_notify was sent already
        self._write_pending()
        if not self._write_shut:
            self._write_shut = True
            # Our FIN follows the close_notify, so the peer reads both before
            # it learns that the stream has ended.
            self.sock.shutdown(socket.SHUT_WR)

    def close(self, timeout: float | None = CLOSE_TIMEOUT) -> None:
        """gnutls_bye(GNUTLS_SHUT_RDWR): close_notify, wait for the peer's, close the socket.

        After a completed handshake we wait up to `timeout` seconds (None:
        only the socket's own timeout; 0: not at all) for the peer's
        close_notify or the end of the stream; data arriving meanwhile is
        discarded. A client may receive its session tickets while it waits.
        On a non-blocking socket `WouldBlock` / `Interrupted` mean "call
        close() again"; the socket stays open until then. Errors from a peer
        that has gone already are ignored. Calling it again does nothing."""
        if self.closed:
            return
        try:
            self.shutdown_write()
            if self.completed is not None and not self.peer_closed and timeout != 0:
                self._wait_for_close_notify(timeout)
        except (WouldBlock, Interrupted):
            raise
        except OSError:
            pass  # the peer is gone, or stayed silent for `timeout` seconds
        except BaseException:
            self._hang_up()
            raise
        self._hang_up()

    def _wait_for_close_notify(self, timeout: float | None) -> None:
        own_timeout = self.sock.gettimeout()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                self._look_at_events(stop_at_warning=False)
                self._received.clear()  # nobody will recv() it any more
                if self.peer_closed:
                    return
                if own_timeout != 0.0 and deadline is not None:  # a blocking socket: wait no longer
                    left = max(deadline - time.monotonic(), 0.001)
                    self.sock.settimeout(left if own_timeout is None else min(own_timeout, left))
                self._read()
        finally:
            if own_timeout != 0.0 and not self.closed:
                self.sock.settimeout(own_timeout)

    def __enter__(self) -> TLSSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            self.close()
        except (WouldBlock, Interrupted):
            self._hang_up()  # a non-blocking socket: no waiting when leaving a with block

    # --- moving bytes --------------------------------------------------------------------

    def _write_pending(self) -> None:
        """Write everything the connection wants sent; keep whatever the socket refuses."""
        self._unsent += self.connection.data_to_send()
        while self._unsent:
            try:
                written = self.sock.send(self._unsent)
            except BlockingIOError as error:
                raise self._stopped(WouldBlock("write")) from error
            except InterruptedError as error:
                raise self._stopped(Interrupted("write")) from error
            self._unsent = self._unsent[written:]

    def _write_what_fits(self) -> None:
        """Like `_write_pending`, but leave what the socket refuses for later."""
        with contextlib.suppress(WouldBlock, Interrupted):
            self._write_pending()

    def _read(self) -> None:
        """One read from the socket, fed to the connection; its events are queued."""
        if self.closed:
            raise ConnectionClosed("the session is closed")
        try:
            data = self._recv_within_handshake_timeout()
        except BlockingIOError as error:
            raise self._stopped(WouldBlock("read")) from error
        except InterruptedError as error:
            raise self._stopped(Interrupted("read")) from error
        if not data:
            self._stream_ended()
            return
        try:
            self._feed(data)
        except LocalAlert:
            # The connection queued the fatal alert; deliver it if the socket
            # takes it now, then hang up (RFC 8446 §6.2: "Upon transmission or
            # receipt of a fatal alert message, both parties MUST immediately
            # close the connection").
            with contextlib.suppress(OSError, WouldBlock, Interrupted):
                self._write_pending()
            self._hang_up()
            raise
        except TLSError:  # RemoteAlert, HandshakeTimeout
            self._hang_up()
            raise

    def _recv_within_handshake_timeout(self) -> bytes:
        """sock.recv, but a blocking socket waits no longer than the handshake has left."""
        left = self.connection.handshake_time_left()
        own_timeout = self.sock.gettimeout()
        if left is None or own_timeout == 0.0 or (own_timeout is not None and own_timeout <= left):
            return self.sock.recv(RECEIVE_SIZE)
        self.sock.settimeout(max(left, 0.0) + TIMER_SLACK)
        try:
            return self.sock.recv(RECEIVE_SIZE)
        except TimeoutError:
            self._check_handshake_timeout()  # HandshakeTimeout, if the connection's clock agrees
            raise
        finally:
            if not self.closed:
                self.sock.settimeout(own_timeout)

    def _stopped(self, condition: WouldBlock | Interrupted) -> WouldBlock | Interrupted:
        """Remember which way we waited (gnutls_record_get_direction)."""
        self.direction = condition.direction
        return condition

    def _check_open(self) -> None:
        if self.closed:
            raise ConnectionClosed("the session is closed")

    def _hang_up(self) -> None:
        self.closed = True
        self.sock.close()


# --- clients ------------------------------------------------------------------------


def client_config(
    *,
    servername: str | None,
    cafile: str | None = None,
    insecure: bool = False,
    observer: Observer = ignore,
    alpn: Sequence[str] = (),
) -> Config:
    """A client `Config` from the choices a command line offers.

    `servername` is sent in server_name (RFC 6066 §3) and must appear in the
    server's certificate. `cafile` is a PEM bundle of trusted roots; None
    means the system's trust store. `insecure` turns certificate
    verification off, which the trace records as a warning."""
    return Config(
        server_name=servername,
        cafile=cafile,
        verify_peer=not insecure,
        observer=observer,
        alpn_protocols=tuple(protocol.encode("ascii") for protocol in alpn),
    )


def connect(
    host: str,
    port: int,
    config: Config,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    session_data: bytes | None = None,
    early_data: bytes | None = None,
) -> TLSSession:
    """Open a TCP connection to host:port and run a TLS 1.3 handshake over it.

    `timeout` bounds every socket operation, this one and later ones.
    `session_data` (from an earlier session's `get_session_data()`) asks to
    resume, and `early_data` is then sent as 0-RTT data. Raises what
    `socket.create_connection` raises (`ConnectionRefusedError`,
    `TimeoutError`, `socket.gaierror`, ...) and what `TLSSession.handshake`
    raises; the socket is closed in every case."""
    sock = socket.create_connection((host, port), timeout=timeout)
    # Send each flight at once: without this, Nagle's algorithm holds a small
    # write (our GET) back until the ACK of the previous one (our Finished).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    session = TLSSession(sock, ClientConnection(config))
    try:
        if session_data is not None:
            session.set_session_data(session_data)
        session.handshake(early_data=early_data)
    except BaseException:
        session._hang_up()
        raise
    return session


# --- explaining failures -------------------------------------------------------------


def describe_error(error: BaseException, peer: str = "peer") -> str:
    """One line for a person: why a session failed. `peer` is "server" or "client".

    A `LocalAlert`'s reason already says what check failed ("certificate
    verify failed: hostname mismatch: ..."); we add which alert went out."""
    if isinstance(error, LocalAlert):
        text = f"{error.reason} (sent a fatal {error.description.name} alert"
        text += f", {error.rfc})" if error.rfc else ")"
    elif isinstance(error, RemoteAlert):
        raw = error.raw_description
        name = error.description.name if raw == error.description else f"unknown ({raw})"
        text = f"the {peer} sent a fatal {name} alert"
    elif isinstance(error, TLSError):
        text = str(error)
    elif isinstance(error, ConnectionRefusedError):
        text = "connection refused (is a server listening there?)"
    elif isinstance(error, TimeoutError):
        text = f"timed out waiting for the {peer}"
    elif isinstance(error, socket.gaierror):
        text = f"cannot resolve the host name: {error.strerror or error}"
    elif isinstance(error, OSError):
        text = f"network error: {error.strerror or error}"
    else:
        text = f"{type(error).__name__}: {error}"
    return " ".join(text.split())  # exactly one line
