"""A blocking TLS session: a socket driving a sans-I/O connection.

The connections in `teachtls.handshake` never touch the network. They take
bytes in (`receive_data`) and hand bytes out (`data_to_send`); somebody else
has to move those bytes between two machines. `TLSSession` is that somebody,
for the simplest case there is: one blocking TCP socket, one thread.

Everything it does is a variation of one loop, the *pump*:

    1. write whatever the connection wants sent   (data_to_send -> sock.sendall)
    2. read what the peer sent                    (sock.recv -> receive_data)
    3. look at the events that came out, and repeat until the goal is reached

* `handshake()` pumps until `connection.handshake_complete`. The client
  first queues its ClientHello (RFC 8446 §4.1.2); the server just waits for
  one. The `HandshakeCompleted` event is kept as `session.completed`.
* `recv()` pumps until some application data arrives (RFC 8446 §5.1), or
  the stream ends. Post-handshake messages -- a NewSessionTicket (§4.6.1), a
  KeyUpdate (§4.6.3) and the connection's answer to it -- pass through the
  same loop without the caller noticing.
* `send(data)` queues application data and writes the records at once.
* `close()` sends close_notify and closes the socket (RFC 8446 §6.1).

How a session ends, and what the caller sees:

=============================================  =====================================
what happened                                  what the caller gets
=============================================  =====================================
we found a problem (`LocalAlert`)              the fatal alert is sent to the peer,
                                               the socket closed, the alert re-raised
the peer sent a fatal alert (`RemoteAlert`)    the socket closed, the alert re-raised
peer closed (or reset) TCP mid-handshake       `ConnectionClosedDuringHandshake`
close_notify after the handshake               `recv()` returns b""
TCP stream ended without close_notify          `recv()` returns b"", and
                                               `session.truncated` is True
the socket timed out (`TimeoutError`)          re-raised (see below)
=============================================  =====================================

Two of those deserve a word.

*Truncation.* RFC 8446 §6.1 has each side send close_notify before it
closes, so that the receiver can tell "the peer is done" from "an attacker
cut the connection short". Many servers (HTTP/1.0 ones especially) simply
close the socket. Like most TLS libraries we report the end of the stream
either way, and record the difference in `truncated` (and as a warning
`Note` in the trace) for an application that cares -- one that does not
know how long the data should be.

*Timeouts.* A timeout while waiting for the peer (in `recv`) leaves the
connection exactly as it was: every byte received so far was fed to it,
nothing half-processed. So calling the same method again simply continues.
That is the seed of the non-blocking "again / interrupted" semantics of
GnuTLS (`GNUTLS_E_AGAIN`, `GNUTLS_E_INTERRUPTED`: "call me again with the
same arguments"), which this module deliberately does not implement yet. One
piece is missing for it: a write that times out halfway (`sendall`) loses
the rest of its bytes, so a resumable session would keep unsent bytes
around, the way GnuTLS does. Today, treat a timeout while sending as fatal.

Not for production: see the README. In particular a blocking session with
one thread per connection is the easiest design to read, not to scale.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence
from types import TracebackType

from teachtls.config import Config
from teachtls.connection import (
    ApplicationData,
    CloseNotifyReceived,
    Connection,
    Event,
    HandshakeCompleted,
)
from teachtls.handshake.alerts import ConnectionClosed, LocalAlert, RemoteAlert, TLSError
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.states import State
from teachtls.trace import events as trace
from teachtls.trace.observer import Observer, ignore

# How much to ask the socket for at a time: one maximal TLS record (RFC 8446
# §5.2: 5-byte header + 2^14 + 256 bytes of ciphertext).
RECEIVE_SIZE = 5 + 2**14 + 256

DEFAULT_TIMEOUT = 10.0
"""Seconds any one socket operation may wait before `TimeoutError`."""


class ConnectionClosedDuringHandshake(TLSError):
    """The peer closed the connection before the handshake finished.

    No alert explains why: the peer just hung up (or, for a server, the
    "client" never spoke TLS at all)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("connection closed by peer during handshake" + (f" ({detail})" if detail else ""))


class TLSSession:
    """A TLS connection over a blocking socket.

        with connect("example.org", 443, client_config(servername="example.org")) as session:
            session.send(b"GET / HTTP/1.1\\r\\nHost: example.org\\r\\n\\r\\n")
            while data := session.recv():
                print(data)

    The session owns `sock` from now on and closes it when the session ends.
    `connection` must be fresh (nothing sent or received yet)."""

    def __init__(self, sock: socket.socket, connection: Connection) -> None:
        self.sock = sock
        self.connection = connection
        self.completed: HandshakeCompleted | None = None
        # Every event the connection reported, in order, for a curious caller.
        self.events: list[Event] = []
        # Application data that arrived together with something else (say, in
        # the same read as the client's Finished) and is waiting for recv().
        self._received: list[bytes] = []
        self.peer_closed = False  # the stream has ended (close_notify or EOF)
        self.truncated = False  # ... and it ended without close_notify
        self.closed = False

    # --- the handshake (RFC 8446 §4) ----------------------------------------------

    def handshake(self) -> HandshakeCompleted:
        """Run the handshake to the end; return what was negotiated.

        Raises `LocalAlert` (after sending it to the peer), `RemoteAlert`,
        `ConnectionClosedDuringHandshake`, or an `OSError` from the socket
        (`TimeoutError` included). After an alert the socket is closed; after
        a timeout waiting for the peer, calling `handshake()` again continues
        where it stopped."""
        if isinstance(self.connection, ClientConnection) and self.connection.state is State.START:
            self.connection.start_handshake()  # queue the ClientHello
        try:
            self._write_pending()
            while not self.connection.handshake_complete:
                if self.peer_closed:
                    self._close_socket()
                    raise ConnectionClosedDuringHandshake("it sent close_notify")
                self._pump()
        except (BrokenPipeError, ConnectionResetError) as error:
            # The peer's TCP stack told us it is gone: the same story as EOF.
            self._close_socket()
            raise ConnectionClosedDuringHandshake(error.strerror or "connection reset") from error
        assert self.completed is not None
        return self.completed

    # --- application data (RFC 8446 §5.1) ------------------------------------------

    def send(self, data: bytes) -> None:
        """Encrypt `data` into application_data records and write them."""
        self.connection.send_application_data(data)
        self._write_pending()

    def recv(self) -> bytes:
        """The next piece of application data; b"" once the peer has closed.

        Raises as `handshake()` does. Check `truncated` after b"" to learn
        whether the peer said close_notify or just dropped the connection."""
        while not self._received:
            if self.peer_closed:
                return b""
            self._pump()
        return self._received.pop(0)

    def recv_all(self) -> bytes:
        """Everything until the peer closes."""
        chunks = []
        while chunk := self.recv():
            chunks.append(chunk)
        return b"".join(chunks)

    # --- closing (RFC 8446 §6.1) --------------------------------------------------

    def close(self) -> None:
        """Send close_notify (if the connection is still open), then close the socket.

        Errors while saying goodbye are ignored: the peer may be gone already."""
        if self.closed:
            return
        if not self.connection.closed:
            self.connection.close()
            with contextlib.suppress(OSError):
                self._write_pending()
                # Half-close: our FIN follows the close_notify, so the peer reads
                # both before it learns that the stream has ended.
                self.sock.shutdown(socket.SHUT_WR)
        self._close_socket()

    def __enter__(self) -> TLSSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # --- the pump -----------------------------------------------------------------

    def _pump(self) -> None:
        """One round: read from the socket, feed the connection, write its answer."""
        if self.closed:
            raise ConnectionClosed("the session is closed")
        data = self.sock.recv(RECEIVE_SIZE)
        if not data:
            self._on_end_of_stream()
            return
        try:
            events = self.connection.receive_data(data)
        except LocalAlert:
            # The connection queued the fatal alert; deliver it, then hang up
            # (RFC 8446 §6.2: "both parties MUST immediately close the connection").
            with contextlib.suppress(OSError):
                self._write_pending()
            self._close_socket()
            raise
        except RemoteAlert:
            self._close_socket()
            raise
        for event in events:
            self._on_event(event)
        # Answers the connection produced by itself: the client's Finished,
        # a KeyUpdate in response to the peer's (RFC 8446 §4.6.3).
        self._write_pending()

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, HandshakeCompleted):
            self.completed = event
        elif isinstance(event, ApplicationData):
            if event.data:
                self._received.append(event.data)
        elif isinstance(event, CloseNotifyReceived):
            self.peer_closed = True

    def _on_end_of_stream(self) -> None:
        """The peer closed TCP. Fine after close_notify; a truncation otherwise."""
        if self.peer_closed:
            return
        self.peer_closed = True
        self.truncated = True
        if self.connection.handshake_complete:
            self.connection.observe(
                trace.Note(
                    role=self.connection.role,
                    level="warning",
                    text="the peer closed the TCP connection without sending close_notify: "
                    "the data cannot be told apart from a truncated stream",
                    rfc="RFC 8446 §6.1",
                )
            )
        else:
            self._close_socket()
            raise ConnectionClosedDuringHandshake()

    def _write_pending(self) -> None:
        data = self.connection.data_to_send()
        if data:
            self.sock.sendall(data)

    def _close_socket(self) -> None:
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


def connect(host: str, port: int, config: Config, timeout: float = DEFAULT_TIMEOUT) -> TLSSession:
    """Open a TCP connection to host:port and run a TLS 1.3 handshake over it.

    `timeout` bounds every socket operation, this one and later ones. Raises
    what `socket.create_connection` raises (`ConnectionRefusedError`,
    `TimeoutError`, `socket.gaierror`, ...) and what `TLSSession.handshake`
    raises; the socket is closed in every case."""
    sock = socket.create_connection((host, port), timeout=timeout)
    session = TLSSession(sock, ClientConnection(config))
    try:
        session.handshake()
    except BaseException:
        session._close_socket()
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
