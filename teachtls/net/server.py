"""A small threaded TLS server, and the HTTP page behind `teachtls serve`.

A server has one listening socket and, for every client that connects, its
own TCP socket, its own `ServerConnection` and its own thread running a
blocking `TLSSession` (teachtls/net/session.py). One thread per connection
is the easiest concurrency to follow: each thread reads top to bottom like a
single handshake. It is not how a server for many thousands of clients is
built (those multiplex sockets with selectors or asyncio).

Four rules keep one client from hurting the others or the server:

* **Every connection gets its own `Config`.** `config_factory(number)` is
  called for connection 1, 2, 3, ... and returns a context manager that
  yields the Config -- so each connection can have its own trace observer
  (a JSON Lines file per connection, say) that is closed when the
  connection ends:

      @contextlib.contextmanager
      def config_factory(number):
          with JsonlWriter(f"traces/connection-{number}.jsonl") as writer:
              yield attrs.evolve(base_config, observer=writer)

  `fixed_config(config)` is the factory for "the same Config every time".

* **Every wait is bounded, by three clocks.**

  ===================  ==========================================  ==============================
  timeout              what it bounds                              enforced by
  ===================  ==========================================  ==============================
  `timeout`            any one socket operation (10 s)             the socket (settimeout)
  `handshake_timeout`  the whole handshake, from accept (10 s)     the core, as
                                                                   `Config.handshake_timeout_ms`
  `idle_timeout`       everything after the handshake: sending     `ConnectionSocket`'s
                       the request, reading the answer (10 s)      deadline
  ===================  ==========================================  ==============================

  One clock is not enough. A per-operation timeout alone lets a client
  that sends one byte every 9 seconds keep its thread for ever (the
  "slowloris" attack); only a deadline for the whole phase stops it. The
  handshake deadline lives in the sans-I/O core, which knows when the
  handshake is over (its clock is the injected `Config.clock`); the
  deadline after it lives in the socket wrapper below, since the core
  cannot tell when an HTTP request is complete.

* **Every connection's memory is bounded.** What a client can make the
  server hold, and the limit that applies:

  ==========================================  ================================================
  buffer                                      bound
  ==========================================  ================================================
  one socket read                             one maximal record, 2^14 + 261 B (session.py)
  the core's record buffer (`_incoming`)      less than one record once `receive_data` returns;
                                              a header announcing more than 2^14 + 256 bytes
                                              is a record_overflow alert at once (RFC 8446 §5.2)
  the core's handshake reassembly             `MAX_HANDSHAKE_MESSAGE` (256 KiB); a message
                                              header announcing more is an alert at once
  the HTTP request head                       `MAX_REQUEST_HEAD` (16 KiB) plus one record
  everything a client sends                   `receive_limit` (1 MiB): the connection is cut
                                              off after that, which bounds whatever the
                                              session keeps of what it received
  ==========================================  ================================================

  Connections are capped too (`max_connections`, 64). Beyond the cap a new
  client is turned away at once and the refusal is logged; until the
  accept loop gets to it, a new connection waits in the kernel's listen
  queue (`LISTEN_BACKLOG`).

* **Whatever goes wrong in a connection stays there.** The exception is
  logged as one line, the socket is closed, and the server carries on
  accepting. A client sending plaintext HTTP, random bytes or a bad
  Finished costs the server one log line.

**Ending a connection so the peer hears every word.** The session sends
close_notify when the handler returns -- so a client's close_notify is
answered with ours (RFC 8446 §6.1). After a fatal alert the session stops
at once (RFC 8446 §6.2: "Upon transmission or receipt of a fatal alert
message, both parties MUST immediately close the connection"). Closing a
TCP socket naively can lose that alert, though: the server ends every
connection with the "lingering close" of `ConnectionSocket.linger_and_close`.

`serve()` runs a server in the calling thread until Ctrl-C;
`serve_in_thread()` runs one in the background and returns a handle with the
port it listens on and a `shutdown()` that stops it and waits for every
connection thread -- what tests need.

The application is a `handler(session)` called after the handshake.
`http_handler` is the one of `teachtls serve`: it reads one HTTP/1.0 or
HTTP/1.1 request head and answers, in a single TLS record, with a page
describing the connection's parameters; then the session says close_notify.
`explain_handler` is the one of `teachtls serve --explain`: the page it
sends shows the handshake of the very connection that carries it, rendered
from that connection's trace (`explaining(config_factory)` gives each
connection its own `ConnectionRecorder`).

Not for production: one thread per connection is the design that is easiest
to read, not the one that scales.
"""

from __future__ import annotations

import contextlib
import html
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import attrs

from teachtls.config import Config
from teachtls.connection import HandshakeCompleted
from teachtls.crypto.signature import load_certificate_chain, load_private_key
from teachtls.handshake.server13 import ServerConnection
from teachtls.net.session import DEFAULT_TIMEOUT, TLSSession, describe_error
from teachtls.trace.events import TraceEvent
from teachtls.trace.observer import Observer, Recorder, flush_of, ignore
from teachtls.wire.enums import NamedGroup

ConfigFactory = Callable[[int], AbstractContextManager[Config]]
"""`config_factory(connection_number)` -> a context manager yielding that connection's Config."""

Handler = Callable[[TLSSession], None]
"""`handler(session)`: the application, called once the handshake is complete."""

Log = Callable[[str], None]

MAX_CONNECTIONS = 64
"""Connections served at once; one more is refused immediately."""

HANDSHAKE_TIMEOUT = 10.0
"""Seconds a client has for the whole handshake, however it spreads its bytes."""

IDLE_TIMEOUT = 10.0
"""Seconds a client has after the handshake: to send its request and read the answer."""

RECEIVE_LIMIT = 2**20
"""Bytes one connection may receive in all (1 MiB: four times the largest
handshake message teachtls accepts, far more than any HTTP request head)."""

LISTEN_BACKLOG = 128
"""Connections the kernel queues before `accept()` (socketserver's default is 5,
too few for a burst of clients connecting at once)."""

DRAIN_TIMEOUT = 1.0
"""Seconds a closing connection keeps reading what the client still sends (see `ConnectionSocket.linger_and_close`)."""

DRAIN_LIMIT = 2**16
"""Bytes a closing connection reads at most before it closes anyway."""

DRAIN_CHUNK = 2**14
"""Bytes read (and thrown away) at a time while draining."""


_stderr_lock = threading.Lock()


def log_to_stderr(line: str) -> None:
    """One line to stderr. Connection threads log at once; the lock keeps their lines whole
    (`print` writes the text and the newline separately, so two threads could interleave)."""
    with _stderr_lock:
        sys.stderr.write(f"teachtls: {line}\n")
        sys.stderr.flush()


def fixed_config(config: Config) -> ConfigFactory:
    """A factory that gives every connection the same `config`."""
    return lambda number: contextlib.nullcontext(config)


def server_config(certfile: str, keyfile: str, *, observer: Observer = ignore, alpn: Sequence[str] = ()) -> Config:
    """A server `Config` from PEM files: the chain (leaf first) and its private key.

    Raises `OSError` for a file that cannot be read and `ValueError` for
    one that holds no certificate or no usable key."""
    with open(certfile, "rb") as file:
        chain = load_certificate_chain(file.read())
    with open(keyfile, "rb") as file:
        private_key = load_private_key(file.read())
    if not chain:
        raise ValueError(f"{certfile} contains no PEM certificate")
    return Config(
        certificate_chain=tuple(chain),
        private_key=private_key,
        observer=observer,
        alpn_protocols=tuple(protocol.encode("ascii") for protocol in alpn),
    )


# --- one connection's socket ------------------------------------------------------------


class DeadlinePassed(TimeoutError):
    """The client did not finish its part in time (`ConnectionSocket.set_deadline`)."""


class ReceiveLimitReached(ConnectionAbortedError):
    """The client sent more than the server accepts on one connection."""


class ConnectionSocket:
    """The socket of one connection, as the server hands it to its `TLSSession`.

    To the session it looks like the socket itself (it has the methods of
    the session's `Transport`), with three additions, each a rule of the server:

    * a **deadline** for a whole phase of the connection: once it has
      passed, a read raises `DeadlinePassed`, however busy the client kept
      the socket (the per-operation `timeout` still bounds each read);
    * a **receive limit**: after `receive_limit` bytes a read raises
      `ReceiveLimitReached`;
    * a **lingering close** (`linger_and_close`): the last bytes we wrote --
      a fatal alert, a close_notify -- are not lost to a TCP reset.

    When the session is done with the socket it calls `close()`, which here
    only takes note: the server closes the socket itself, lingering, once it
    has logged how the connection ended. Writes are bounded only by
    `timeout`, never by the deadline: when the deadline has passed the
    session can still say close_notify."""

    def __init__(self, sock: socket.socket, *, timeout: float | None, receive_limit: int = RECEIVE_LIMIT) -> None:
        self.sock = sock
        self.received = 0  # bytes read for the session, in all
        self.receive_limit = receive_limit
        self.deadline: float | None = None  # time.monotonic() value
        self.deadline_reason = ""
        self._timeout = timeout  # what the session set: one operation's limit
        self._write_shut = False
        self._closed = False
        self.released_by_session = False

    def set_deadline(self, seconds: float, reason: str) -> None:
        """From now on, reads fail `seconds` from now with `DeadlinePassed(reason)`."""
        self.deadline = time.monotonic() + seconds
        self.deadline_reason = reason

    # --- what the session calls (its Transport protocol) --------------------------------

    def gettimeout(self) -> float | None:
        return self._timeout

    def settimeout(self, value: float | None, /) -> None:
        self._timeout = value

    def send(self, data: bytes, /) -> int:
        self.sock.settimeout(self._timeout)
        return self.sock.send(data)

    def recv(self, bufsize: int, /) -> bytes:
        room = self.receive_limit - self.received
        if room <= 0:
            raise ReceiveLimitReached(f"the client sent more than {self.receive_limit} bytes")
        self.sock.settimeout(self._timeout_until_deadline())
        try:
            data = self.sock.recv(min(bufsize, room))
        except TimeoutError:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise DeadlinePassed(self.deadline_reason) from None
            raise
        self.received += len(data)
        return data

    def _timeout_until_deadline(self) -> float | None:
        """The socket timeout for the next read: the smaller of `timeout` and the time left."""
        if self.deadline is None or self._timeout == 0.0:
            return self._timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed(self.deadline_reason)
        return left if self._timeout is None else min(self._timeout, left)

    def shutdown(self, how: int, /) -> None:
        self.sock.shutdown(how)
        if how in (socket.SHUT_WR, socket.SHUT_RDWR):
            self._write_shut = True

    def close(self) -> None:
        """The session is done with the socket; `linger_and_close` will really close it."""
        self.released_by_session = True

    def linger_and_close(self) -> None:
        """Half-close, drain, close: the "lingering close" (Apache httpd's name for it).

        Why not just `sock.close()`? If the client has sent bytes we have not
        read -- the rest of its flight after the ClientHello we rejected, the
        request behind a bad record -- the kernel does not end the
        connection with a FIN but with a reset (RST), RFC 1122 §4.2.2.13:
        "If such a host issues a CLOSE call while received data is still
        pending in TCP, or if new data is received after CLOSE is called,
        its TCP SHOULD send a RST to show that data was lost." A reset is
        worse than rude: the client's kernel may throw away data it has
        received but the client has not read yet -- our alert -- and the
        client sees ECONNRESET instead of the reason we took care to send
        (Linux also discards our own not-yet-transmitted bytes on a reset).

        So, like Apache and nginx (`lingering_close`):

        1. `shutdown(SHUT_WR)`: our FIN goes out behind the alert (or
           close_notify); the client reads both, then end-of-stream;
        2. read and discard what the client still sends, until it closes
           too, for at most `DRAIN_TIMEOUT` seconds and `DRAIN_LIMIT` bytes;
        3. close -- with nothing unread, so the kernel sends no RST.

        SO_LINGER, despite its name, is no help here. With a linger time,
        `close()` only waits for our unsent bytes to be acknowledged; the
        reset for unread data goes out all the same. With a zero linger
        time, `close()` resets every connection on purpose (the load test's
        rude clients do that). We never set it.

        A client that keeps sending past the drain limit does get a reset;
        it has been told twice by then. Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._write_shut:
                self.sock.shutdown(socket.SHUT_WR)
                self._write_shut = True
            self._drain()
        except OSError:
            pass  # the client is gone already (it reset the connection): nothing left to protect
        finally:
            self.sock.close()

    def _drain(self) -> None:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        drained = 0
        while drained <= DRAIN_LIMIT:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            data = self.sock.recv(DRAIN_CHUNK)
            if not data:
                return  # the client closed too: a clean FIN in each direction
            drained += len(data)


# --- the server -------------------------------------------------------------------


class TLSServer(socketserver.TCPServer):
    """Accepts TCP connections and serves each in its own thread.

    `socketserver.TCPServer` provides the listening socket and the accept
    loop (`serve_forever`, stopped by `shutdown`); `process_request` below
    starts the connection threads, and `server_close` waits for them.

    `handshake_timeout=None` keeps the `Config`'s own handshake_timeout_ms;
    a number replaces it for every connection. Counters for tests and
    curious readers: `connections_accepted`, `connections_refused`,
    `handshakes_completed`, and `active_connections` (threads running now)."""

    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        config_factory: ConfigFactory,
        handler: Handler,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        handshake_timeout: float | None = HANDSHAKE_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        receive_limit: int = RECEIVE_LIMIT,
        log: Log = log_to_stderr,
    ) -> None:
        self.config_factory = config_factory
        self.handler = handler
        self.connection_timeout = timeout
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.receive_limit = receive_limit
        self.log = log
        self.connections_accepted = 0
        self.connections_refused = 0
        self.handshakes_completed = 0
        self._slots = threading.BoundedSemaphore(max_connections)
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()  # guards _threads and handshakes_completed
        super().__init__(address, socketserver.BaseRequestHandler)

    @property
    def port(self) -> int:
        """The port listened on (the real one when 0 was asked for)."""
        return int(self.server_address[1])

    @property
    def active_connections(self) -> int:
        """Connections being served right now (each has its thread)."""
        with self._lock:
            return len(self._threads)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Called by the accept loop for each new TCP connection."""
        self.connections_accepted += 1
        number = self.connections_accepted
        if not self._slots.acquire(blocking=False):
            self.connections_refused += 1
            self.log(
                f"connection {number} from {_address(client_address)}: refused, "
                f"too many connections ({self.max_connections} open)"
            )
            # Not a lingering close: the accept loop must not wait for this
            # client. If it already sent something, it gets a reset -- for a
            # refusal that is the right message anyway.
            self.shutdown_request(request)
            return
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address, number),
            name=f"teachtls-connection-{number}",
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _serve_connection(self, sock: socket.socket, client_address: Any, number: int) -> None:
        """One connection, start to end, in its own thread. Never raises."""
        peer = f"connection {number} from {_address(client_address)}"
        transport = ConnectionSocket(sock, timeout=self.connection_timeout, receive_limit=self.receive_limit)
        try:
            # Each write of the session is a whole flight or a whole response,
            # so Nagle's algorithm could only hold back the next one (the
            # close_notify behind a response, say) until the client's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.config_factory(number) as config:
                if self.handshake_timeout is not None:
                    config = attrs.evolve(config, handshake_timeout_ms=round(self.handshake_timeout * 1000))
                with TLSSession(transport, ServerConnection(config)) as session:
                    completed = session.handshake()
                    with self._lock:
                        self.handshakes_completed += 1
                    self.log(f"{peer}: {completed.version}, {completed.cipher_suite}, {completed.group}")
                    transport.set_deadline(
                        self.idle_timeout, f"no complete request within {self.idle_timeout:g} s of the handshake"
                    )
                    self.handler(session)
        except DeadlinePassed as error:
            self.log(f"{peer}: {error}; hung up")
        except TimeoutError:
            self.log(f"{peer}: the client was silent for {self.connection_timeout:g} s; hung up")
        except ReceiveLimitReached as error:
            self.log(f"{peer}: {error}; hung up")
        except Exception as error:
            self.log(f"{peer}: {describe_error(error, peer='client')}")
        finally:
            transport.linger_and_close()  # after the log line: the drain may take a moment
            self._slots.release()
            with self._lock:
                self._threads.discard(threading.current_thread())

    def server_close(self) -> None:
        """Close the listening socket, then wait for the connections still running.

        Each is bounded by its timeouts, so this returns."""
        super().server_close()
        with self._lock:
            running = list(self._threads)
        for thread in running:
            thread.join()


def serve(
    host: str,
    port: int,
    config_factory: ConfigFactory,
    handler: Handler,
    *,
    ready: Callable[[TLSServer], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    handshake_timeout: float | None = HANDSHAKE_TIMEOUT,
    idle_timeout: float = IDLE_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    receive_limit: int = RECEIVE_LIMIT,
    log: Log = log_to_stderr,
) -> None:
    """Serve on host:port until Ctrl-C. `ready(server)` runs once it is listening.

    The keyword arguments are those of `TLSServer`."""
    server = TLSServer(
        (host, port),
        config_factory,
        handler,
        timeout=timeout,
        handshake_timeout=handshake_timeout,
        idle_timeout=idle_timeout,
        max_connections=max_connections,
        receive_limit=receive_limit,
        log=log,
    )
    try:
        if ready is not None:
            ready(server)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class RunningServer:
    """A `TLSServer` serving in a background thread (see `serve_in_thread`)."""

    def __init__(self, server: TLSServer) -> None:
        self.server = server
        self.port = server.port
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="teachtls-accept"
        )
        self._thread.start()

    def shutdown(self) -> None:
        """Stop accepting, wait for open connections to end, close the socket.

        Calling it again does nothing."""
        if not self._thread.is_alive():
            return
        self.server.shutdown()
        self._thread.join()
        self.server.server_close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def serve_in_thread(
    host: str,
    port: int,
    config_factory: ConfigFactory,
    handler: Handler,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    handshake_timeout: float | None = HANDSHAKE_TIMEOUT,
    idle_timeout: float = IDLE_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    receive_limit: int = RECEIVE_LIMIT,
    log: Log = log_to_stderr,
) -> RunningServer:
    """Start serving in the background; returns at once, already listening.

    The keyword arguments are those of `TLSServer`."""
    server = TLSServer(
        (host, port),
        config_factory,
        handler,
        timeout=timeout,
        handshake_timeout=handshake_timeout,
        idle_timeout=idle_timeout,
        max_connections=max_connections,
        receive_limit=receive_limit,
        log=log,
    )
    return RunningServer(server)


def _address(client_address: Any) -> str:
    host, port = client_address[0], client_address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- the HTTP page of `teachtls serve` ----------------------------------------------

MAX_REQUEST_HEAD = 16 * 1024
"""The longest request head (request line and headers) we read, in bytes."""

MAX_SHOWN_REQUEST_LINE = 200
"""Characters of the request line the page repeats; the rest becomes "…"."""

# RFC 9112 §2.2: "Although the line terminator for the start-line and fields
# is the sequence CRLF, a recipient MAY recognize a single LF as a line
# terminator and ignore any preceding CR." So the blank line that ends a head
# is any of \r\n\r\n, \n\n, \r\n\n, \n\r\n -- bare LF is what a person types
# into `openssl s_client`.
END_OF_HEAD = re.compile(rb"\r?\n\r?\n")

# RFC 9112 §3: request-line = method SP request-target SP HTTP-version, the
# method a token (RFC 9110 §5.6.2). Only HTTP/1.x: the page is an HTTP/1.0 response.
REQUEST_LINE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP/1\.[0-9]")


class RequestTooLarge(ValueError):
    """The client sent more than MAX_REQUEST_HEAD bytes without ending its headers."""


def http_handler(session: TLSSession) -> None:
    """Answer one HTTP/1.0 or HTTP/1.1 request with a page about this TLS connection.

    * 200 and the page for a request line like "GET / HTTP/1.1";
    * 400 for anything else ("hello", "GET /" without a version);
    * 431 when no blank line ends the head within MAX_REQUEST_HEAD bytes
      (RFC 6585 §5);
    * nothing when the client closes without asking (its close_notify is
      answered with ours as the session closes).

    The answer is HTTP/1.0 with "Connection: close" whatever the request's
    version (RFC 9110 §6.2 lets a server answer with a lower minor
    version): one request, one response, then close_notify, sent by the
    session when the handler returns.

    The whole response goes to `session.send` at once, and it is smaller
    than 2^14 bytes, so it travels in one TLS record (RFC 8446 §5.1: the
    record layer fragments only data larger than that). A client that reads
    one record -- as many first programs do -- gets all of it."""
    try:
        head = read_request_head(session)
    except RequestTooLarge as error:
        session.send(http_response(431, "Request Header Fields Too Large", str(error)))
        return
    if not head:
        return  # the client closed without asking anything
    request_line = re.split(rb"\r?\n", head, maxsplit=1)[0].decode("latin-1")
    if not REQUEST_LINE.fullmatch(request_line):
        explanation = f"not an HTTP/1.x request line: {shorten(request_line)!r}; try GET / HTTP/1.0 and an empty line"
        session.send(http_response(400, "Bad Request", explanation))
        return
    assert session.completed is not None
    session.send(http_response(200, "OK", hello_page(session.completed, shorten(request_line))))


def http_response(
    status: int, reason: str, body: str, *, version: str = "HTTP/1.0", headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """An HTTP/1.0 response (RFC 9112 §4): status line, headers, blank line, body.

    A `body` that does not start with "<!DOCTYPE" is sent as an explanation
    in plain text. `version` "HTTP/1.1" makes it an HTTP/1.1 response (still
    with "Connection: close"); `headers` are added after the usual ones."""
    content_type = "text/html" if body.startswith("<!DOCTYPE") else "text/plain"
    content = body.encode("utf-8")
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    head = (
        f"{version} {status} {reason}\r\n"
        f"Content-Type: {content_type}; charset=utf-8\r\n"
        f"Content-Length: {len(content)}\r\n"
        "Connection: close\r\n"
        f"{extra}"
        "\r\n"
    )
    return head.encode("ascii") + content


def read_request_head(session: TLSSession) -> bytes:
    """Read until the blank line ending an HTTP head (RFC 9112 §2.1), or the end of the stream.

    Returns the head up to that blank line (without it), b"" if the client
    closed without sending anything, or what arrived before the stream ended.
    Raises `RequestTooLarge` after MAX_REQUEST_HEAD bytes without a blank
    line; at most one record more than that is ever held."""
    head = b""
    searched = 0  # head[:searched] was searched already (a blank line is at most 4 bytes long)
    while True:
        end = END_OF_HEAD.search(head, max(searched - 3, 0))
        if end is not None:
            return head[: end.start()]
        if len(head) > MAX_REQUEST_HEAD:
            raise RequestTooLarge(f"no end of the HTTP request head within {MAX_REQUEST_HEAD} bytes")
        data = session.recv()
        if not data:
            return head
        searched = len(head)
        head += data


def shorten(text: str, limit: int = MAX_SHOWN_REQUEST_LINE) -> str:
    """`text`, cut to `limit` characters with "…" -- what the client sent is echoed, but not all of it."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hello_page(completed: HandshakeCompleted, request_line: str) -> str:
    """The HTML page: what this connection negotiated.

    Every value is bounded (a server name by 255 bytes, RFC 6066 §3; an ALPN
    protocol by 255, RFC 7301 §3.1; the request line by the caller), so the
    page fits in one TLS record even when every character is escaped."""
    rows = [
        ("version", completed.version),
        ("cipher suite", completed.cipher_suite),
        ("group (key exchange)", completed.group),
        ("signature scheme", completed.signature_scheme),
        ("ALPN protocol", (completed.alpn_protocol or b"(none)").decode("ascii", "replace")),
        ("server name (SNI)", completed.server_name or "(none)"),
        ("hello retry request", "yes" if completed.hello_retry else "no"),
        ("your request", request_line),
    ]
    table = "\n".join(
        f"  <tr><th>{html.escape(name)}</th><td><code>{html.escape(value)}</code></td></tr>" for name, value in rows
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        '<head><meta charset="utf-8"><title>teachtls</title></head>\n'
        "<body>\n"
        "<h1>Hello from teachtls</h1>\n"
        f"<p>This page reached you over {html.escape(completed.version)}, "
        "spoken by teachtls, a teaching implementation of TLS in Python.</p>\n"
        "<table>\n"
        f"{table}\n"
        "</table>\n"
        "<p>Not for production: teachtls is written to be read, not to protect data.</p>\n"
        "</body>\n"
        "</html>\n"
    )


# --- `teachtls serve --explain`: a page about the connection that carries it -----------------
#
# A browser that opens the page receives its own handshake: its ClientHello
# taken apart, the sequence diagram, the server's key schedule and every byte
# annotated (teachtls.render.explain_page). Two pieces make that work:
#
# * `explaining(config_factory)` gives every connection a `ConnectionRecorder`
#   as its observer, so the trace of that connection is in memory when the
#   handler runs (the factory's own observer -- a trace file, a key log --
#   still gets every event);
# * `explain_handler(session)` reads the request, then renders the trace so
#   far: the handshake is complete, the request has arrived, and the response
#   being written cannot be part of its own trace (the page says so).

EXPLAIN_ALPN = (b"http/1.1",)
"""The one ALPN protocol `--explain` selects. `explain_handler` speaks HTTP/1.1; a
browser offering h2 as well then speaks HTTP/1.1 (RFC 7301 §3.2: the server picks)."""

EXPLAIN_PAGE_PATH = "/"


class ConnectionRecorder(Recorder):
    """One connection's trace in memory (`events`), every event also passed on to `also`."""

    def __init__(self, also: Observer = ignore) -> None:
        super().__init__()
        self.also = also
        self.flush_also = flush_of(also)

    def __call__(self, event: TraceEvent) -> None:
        super().__call__(event)
        self.also(event)

    def flush(self) -> None:
        """Flush `also`, should it buffer (a trace file does: trace/observer.py)."""
        self.flush_also()


def hybrid_first(groups: Sequence[int]) -> tuple[int, ...]:
    """`groups` with X25519MLKEM768 moved to the front, if it is there at all."""
    hybrid = NamedGroup.X25519MLKEM768
    return tuple(sorted(groups, key=lambda group: group != hybrid))


def explaining(config_factory: ConfigFactory) -> ConfigFactory:
    """`config_factory`, with what `explain_handler` needs for each connection:

    * a fresh `ConnectionRecorder` as the observer, wrapping the factory's own;
    * ALPN http/1.1 only (`EXPLAIN_ALPN`), whatever the factory's Config says;
    * the hybrid X25519MLKEM768 first among the server's groups, so that a
      browser sending a hybrid key share (Chromium, Firefox) gets the hybrid,
      and the page shows it. The server takes its first group that the
      client supports (RFC 8446 §4.2.7 leaves the choice to it); a client
      that supports the hybrid but sent no share for it -- `teachtls
      connect` sends only x25519 -- is asked for one with a
      HelloRetryRequest (RFC 8446 §4.1.4), which its page then shows."""

    @contextlib.contextmanager
    def factory(number: int) -> Iterator[Config]:
        with config_factory(number) as config:
            yield attrs.evolve(
                config,
                observer=ConnectionRecorder(config.observer),
                alpn_protocols=EXPLAIN_ALPN,
                supported_groups=hybrid_first(config.supported_groups),
            )

    return factory


def explain_handler(session: TLSSession) -> None:
    """Answer `GET /` with a page about this very connection (teachtls.render.explain_page).

    The connection's observer must be a `Recorder` (`explaining` arranges
    that); its events so far become the page. Answers, all HTTP/1.1 with
    Content-Length and "Connection: close":

    * 200 and the page (text/html) for GET / -- and for HEAD /, without the body;
    * 404 for any other path, /favicon.ico included: a browser asks for
      it on a new connection, and it is not worth drawing a page for;
    * 405 for other methods; 400 and 431 as `http_handler`;
    * 500 if the connection has no Recorder, or the page cannot be
      rendered (the error is raised again, so the server logs it).

    The page is hundreds of kilobytes: `session.send` cuts it into records
    of at most 2^14 bytes (RFC 8446 §5.1), and the client reads until
    Content-Length bytes have arrived."""

    def answer(status: int, reason: str, body: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        session.send(http_response(status, reason, body, version="HTTP/1.1", headers=headers))

    try:
        head = read_request_head(session)
    except RequestTooLarge as error:
        answer(431, "Request Header Fields Too Large", str(error))
        return
    if not head:
        return  # the client closed without asking anything
    request_line, *header_lines = (line.decode("latin-1") for line in re.split(rb"\r?\n", head))
    if not REQUEST_LINE.fullmatch(request_line):
        answer(400, "Bad Request", f"not an HTTP/1.x request line: {shorten(request_line)!r}; try GET / HTTP/1.1")
        return
    method, target, _ = request_line.split(" ")
    if target.split("?", 1)[0] != EXPLAIN_PAGE_PATH:
        answer(404, "Not Found", f"nothing here; the page about your handshake is at {EXPLAIN_PAGE_PATH}")
        return
    if method not in ("GET", "HEAD"):
        answer(
            405, "Method Not Allowed", f"{method} is not served here; GET {EXPLAIN_PAGE_PATH}", [("Allow", "GET, HEAD")]
        )
        return
    recorder = session.connection.config.observer
    if not isinstance(recorder, Recorder):
        answer(500, "Internal Server Error", "this connection has no Recorder to explain (see explaining())")
        return
    from teachtls.render.explain_page import render_explain_page  # Graphviz: loaded for the first page only

    try:
        page = render_explain_page(
            list(recorder.events),
            request_line=shorten(request_line),
            user_agent=shorten(request_header(header_lines, "User-Agent")),
        )
    except Exception as error:
        answer(500, "Internal Server Error", f"the page could not be rendered: {error}")
        raise
    response = http_response(200, "OK", page, version="HTTP/1.1", headers=[("Cache-Control", "no-store")])
    if method == "HEAD":  # RFC 9110 §9.3.2: the same header fields as GET, and no content
        response = response[: response.index(b"\r\n\r\n") + 4]
    session.send(response)


def request_header(lines: Sequence[str], name: str) -> str:
    """The value of the first header field `name` (any case) among `lines`, or "" (RFC 9112 §5)."""
    for line in lines:
        field, colon, value = line.partition(":")
        if colon and field.strip().lower() == name.lower():
            return value.strip()
    return ""
