"""A small threaded TLS server, and the HTTP page behind `teachtls serve`.

A server has one listening socket and, for every client that connects, its
own TCP socket, its own `ServerConnection` and its own thread running a
blocking `TLSSession` (teachtls/net/session.py). One thread per connection
is the easiest concurrency to follow: each thread reads top to bottom like a
single handshake. It is not how a server for many thousands of clients is
built (those multiplex sockets with selectors or asyncio).

Three rules keep one client from hurting the others or the server:

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
* **Every socket operation has a timeout** (10 s by default), so a client
  that connects and then says nothing only ties up its own thread, and only
  for a while. The number of simultaneous connections is capped too; beyond
  the cap a new client is turned away at once.
* **Whatever goes wrong in a connection stays there.** The exception is
  logged as one line to stderr, the socket is closed, and the server carries
  on accepting. A client sending plaintext HTTP, random bytes or a bad
  Finished costs the server one log line.

`serve()` runs a server in the calling thread until Ctrl-C;
`serve_in_thread()` runs one in the background and returns a handle with the
port it listens on and a `shutdown()` that stops it and waits for every
connection thread -- what tests need.

The application is a `handler(session)` called after the handshake.
`http_handler` is the one of `teachtls serve`: it reads an HTTP request head
and answers with a page describing the connection's parameters, then says
close_notify.
"""

from __future__ import annotations

import contextlib
import html
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from teachtls.config import Config
from teachtls.connection import HandshakeCompleted
from teachtls.crypto.signature import load_certificate_chain, load_private_key
from teachtls.handshake.server13 import ServerConnection
from teachtls.net.session import DEFAULT_TIMEOUT, TLSSession, describe_error
from teachtls.trace.observer import Observer, ignore

ConfigFactory = Callable[[int], AbstractContextManager[Config]]
"""`config_factory(connection_number)` -> a context manager yielding that connection's Config."""

Handler = Callable[[TLSSession], None]
"""`handler(session)`: the application, called once the handshake is complete."""

Log = Callable[[str], None]

MAX_CONNECTIONS = 64
"""Connections served at once; one more is refused immediately."""


def log_to_stderr(line: str) -> None:
    print(f"teachtls: {line}", file=sys.stderr, flush=True)


def fixed_config(config: Config) -> ConfigFactory:
    """A factory that gives every connection the same `config`."""
    return lambda number: contextlib.nullcontext(config)


def server_config(
    certfile: str, keyfile: str, *, observer: Observer = ignore, alpn: Sequence[str] = ()
) -> Config:
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


# --- the server -------------------------------------------------------------------


class TLSServer(socketserver.TCPServer):
    """Accepts TCP connections and serves each in its own thread.

    `socketserver.TCPServer` provides the listening socket and the accept
    loop (`serve_forever`, stopped by `shutdown`); `process_request` below
    starts the connection threads, and `server_close` waits for them."""

    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        config_factory: ConfigFactory,
        handler: Handler,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        log: Log = log_to_stderr,
    ) -> None:
        self.config_factory = config_factory
        self.handler = handler
        self.connection_timeout = timeout
        self.log = log
        self.connections_accepted = 0
        self._slots = threading.BoundedSemaphore(max_connections)
        self._threads: set[threading.Thread] = set()
        self._threads_lock = threading.Lock()
        super().__init__(address, socketserver.BaseRequestHandler)

    @property
    def port(self) -> int:
        """The port listened on (the real one when 0 was asked for)."""
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        """Called by the accept loop for each new TCP connection."""
        self.connections_accepted += 1
        number = self.connections_accepted
        if not self._slots.acquire(blocking=False):
            self.log(f"connection {number} from {_address(client_address)}: refused, too many connections")
            self.shutdown_request(request)
            return
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address, number),
            name=f"teachtls-connection-{number}",
        )
        with self._threads_lock:
            self._threads.add(thread)
        thread.start()

    def _serve_connection(self, sock: socket.socket, client_address: Any, number: int) -> None:
        """One connection, start to end, in its own thread. Never raises."""
        peer = f"connection {number} from {_address(client_address)}"
        try:
            sock.settimeout(self.connection_timeout)
            with self.config_factory(number) as config, TLSSession(sock, ServerConnection(config)) as session:
                completed = session.handshake()
                self.log(f"{peer}: {completed.version}, {completed.cipher_suite}, {completed.group}")
                self.handler(session)
        except TimeoutError:
            self.log(f"{peer}: the client was silent for {self.connection_timeout:g} s; hung up")
        except Exception as error:
            self.log(f"{peer}: {describe_error(error, peer='client')}")
        finally:
            sock.close()
            self._slots.release()
            with self._threads_lock:
                self._threads.discard(threading.current_thread())

    def server_close(self) -> None:
        """Close the listening socket, then wait for the connections still running.

        Each is bounded by the socket timeout, so this returns."""
        super().server_close()
        with self._threads_lock:
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
    max_connections: int = MAX_CONNECTIONS,
    log: Log = log_to_stderr,
) -> None:
    """Serve on host:port until Ctrl-C. `ready(server)` runs once it is listening."""
    server = TLSServer(
        (host, port), config_factory, handler, timeout=timeout, max_connections=max_connections, log=log
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
    max_connections: int = MAX_CONNECTIONS,
    log: Log = log_to_stderr,
) -> RunningServer:
    """Start serving in the background; returns at once, already listening."""
    server = TLSServer(
        (host, port), config_factory, handler, timeout=timeout, max_connections=max_connections, log=log
    )
    return RunningServer(server)


def _address(client_address: Any) -> str:
    host, port = client_address[0], client_address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- the HTTP page of `teachtls serve` ----------------------------------------------

MAX_REQUEST_HEAD = 16 * 1024
"""The longest request head (request line and headers) we read, in bytes."""


class RequestTooLarge(ValueError):
    """The client sent more than MAX_REQUEST_HEAD bytes without ending its headers."""


def http_handler(session: TLSSession) -> None:
    """Answer one HTTP/1.x request with a page about this TLS connection.

    HTTP/1.0 with "Connection: close" keeps it simple: one request, one
    response, then close_notify (sent by the server when the handler returns)."""
    head = read_request_head(session)
    if not head:
        return  # the client closed without asking anything
    request_line = head.split(b"\n", 1)[0].strip().decode("latin-1")
    assert session.completed is not None
    body = hello_page(session.completed, request_line).encode("utf-8")
    response_head = (
        "HTTP/1.0 200 OK\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode("ascii")
    session.send(response_head + body)


def read_request_head(session: TLSSession) -> bytes:
    """Read until the blank line ending an HTTP head (RFC 9112 §2.1), or the end of the stream.

    Bare "\\n\\n" is accepted too, as typed into `openssl s_client`.
    Raises `RequestTooLarge` after MAX_REQUEST_HEAD bytes without one."""
    head = b""
    while b"\r\n\r\n" not in head and b"\n\n" not in head:
        if len(head) > MAX_REQUEST_HEAD:
            raise RequestTooLarge(f"no end of the HTTP request head within {MAX_REQUEST_HEAD} bytes")
        data = session.recv()
        if not data:
            break
        head += data
    return head


def hello_page(completed: HandshakeCompleted, request_line: str) -> str:
    """The HTML page: what this connection negotiated."""
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
