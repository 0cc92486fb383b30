"""The thin I/O layer: sockets around the sans-I/O connections.

* `session`: `TLSSession`, a TLS session over one socket, blocking or
  non-blocking, `connect()` and `client_config()`.
* `nonblocking`: the non-fatal conditions of a session (`WouldBlock` alias
  `Again`, `Interrupted`, `WarningAlert`), `is_fatal()`, and `wait_for()` /
  `retry()` for the wait between two calls.
* `aio`: the same session over asyncio streams (`TLSStream`,
  `open_connection`, `start_server`).
* `server`: a threaded TLS server (`serve`, `serve_in_thread`) and the HTTP
  page of `teachtls serve`.

Nothing below this package opens a socket; nothing here decides anything
about TLS.
"""

from teachtls.net.nonblocking import Again, Interrupted, WarningAlert, WouldBlock, is_fatal, retry, wait_for
from teachtls.net.server import RunningServer, TLSServer, http_handler, serve, serve_in_thread, server_config
from teachtls.net.session import (
    ConnectionClosedDuringHandshake,
    TLSSession,
    client_config,
    connect,
    describe_error,
)

__all__ = [
    "Again",
    "Interrupted",
    "WarningAlert",
    "WouldBlock",
    "is_fatal",
    "retry",
    "wait_for",
    "ConnectionClosedDuringHandshake",
    "TLSSession",
    "client_config",
    "connect",
    "describe_error",
    "RunningServer",
    "TLSServer",
    "http_handler",
    "serve",
    "serve_in_thread",
    "server_config",
]
