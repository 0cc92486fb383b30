"""The thin I/O layer: sockets around the sans-I/O connections.

* `session`: `TLSSession`, a blocking TLS session over one socket, `connect()`
  and `client_config()`.
* `server`: a threaded TLS server (`serve`, `serve_in_thread`) and the HTTP
  page of `teachtls serve`.

Nothing below this package opens a socket; nothing here decides anything
about TLS.
"""

from teachtls.net.server import RunningServer, TLSServer, http_handler, serve, serve_in_thread, server_config
from teachtls.net.session import (
    ConnectionClosedDuringHandshake,
    TLSSession,
    client_config,
    connect,
    describe_error,
)

__all__ = [
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
