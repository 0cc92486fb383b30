"""gnutls_handshake_set_timeout: the whole handshake must finish in time.

    gnutls_handshake_set_timeout(session, ms)
        OpenSSL:  (none: socket timeouts)
        teachtls: Config(handshake_timeout_ms=ms)
    GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT (40 s)
        OpenSSL:  -
        teachtls: the default, 40_000
    GNUTLS_E_TIMEDOUT (fatal)
        OpenSSL:  -
        teachtls: raise HandshakeTimeout
    GNUTLS_E_AGAIN after SO_RCVTIMEO (not fatal)
        OpenSSL:  SSL_ERROR_WANT_READ
        teachtls: TimeoutError from sock.settimeout

The timer runs on the connection's injected clock (`Config.clock`) from the
first handshake() call. A blocking socket never waits past it; on a
non-blocking socket every handshake() call checks it. Two runs:

1. blocking: a client whose server never answers, with 300 ms to finish;
2. non-blocking, with an injected clock that this script moves by hand.

Run:  python examples/gnutls_handshake_timeout.py
Not for production: teachtls is for reading, not for protecting data.
"""

import socket
import time

from teachtls import ClientConnection, Config
from teachtls.handshake.alerts import HandshakeTimeout
from teachtls.net.nonblocking import WouldBlock, is_fatal
from teachtls.net.session import TLSSession

# --- 1. a blocking socket -------------------------------------------------------------
client_sock, silent_peer = socket.socketpair()
client_sock.settimeout(30)  # the socket alone would wait 30 s
session = TLSSession(client_sock, ClientConnection(Config(server_name="localhost", handshake_timeout_ms=300)))
started = time.monotonic()
try:
    session.handshake()
except HandshakeTimeout as error:
    waited = time.monotonic() - started
    print(f"blocking: {type(error).__name__} after about {round(waited, 1)} s (limit 0.3 s); fatal: {is_fatal(error)}")
    print(f"blocking: session closed: {session.closed}")
silent_peer.close()


# --- 2. a non-blocking socket and an injected clock ---------------------------------------
class Clock:
    now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


clock = Clock()
client_sock, silent_peer = socket.socketpair()
client_sock.setblocking(False)
config = Config(server_name="localhost", handshake_timeout_ms=5000, clock=clock)
session = TLSSession(client_sock, ClientConnection(config))
for seconds in (0, 3, 3):
    clock.now += seconds
    try:
        session.handshake()
    except WouldBlock as again:
        left = session.connection.handshake_time_left()
        print(f"non-blocking: +{seconds} s: again ({again.direction}), {left:.0f} s of the handshake left")
    except HandshakeTimeout as error:
        print(f"non-blocking: +{seconds} s: {type(error).__name__}: {error}; fatal: {is_fatal(error)}")
silent_peer.close()
