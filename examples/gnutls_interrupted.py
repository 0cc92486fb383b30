"""GNUTLS_E_INTERRUPTED: a system call cut short by a signal (EINTR); call again.

    GNUTLS_E_INTERRUPTED
        OpenSSL:  SSL_ERROR_SYSCALL, errno == EINTR
        teachtls: raise Interrupted
    gnutls_record_get_direction(session)
        OpenSSL:  -
        teachtls: interrupted.direction, session.direction
    gnutls_error_is_fatal(code) -> 0
        OpenSSL:  -
        teachtls: is_fatal(interrupted) -> False
    gnutls_transport_set_push/pull_function
        OpenSSL:  BIO_meth_set_write / _read
        teachtls: any object with send/recv (`Transport`)

Since PEP 475 Python retries a system call interrupted by a signal by
itself, so a real socket hardly ever raises InterruptedError. A session
accepts any socket-like transport, though, and this one -- a socket
wrapped so that its first send() and first recv() fail with EINTR, as a C
socket may -- shows what the session does: it raises `Interrupted`, keeps
everything, and the next call carries on.

Run:  python examples/gnutls_interrupted.py
Not for production: teachtls is for reading, not for protecting data.
"""

import errno
import socket
import threading

from teachtls import ClientConnection, Config, ServerConnection
from teachtls.net.nonblocking import Interrupted, is_fatal
from teachtls.net.session import TLSSession
from teachtls.pki.generate import issue_leaf, make_ca

ca = make_ca()
leaf = issue_leaf(ca, "localhost")
server_config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
client_config = Config(server_name="localhost", trusted_certificates=(ca.certificate,))


class InterruptedOnce:
    """A socket whose first send() and first recv() are interrupted by a "signal"."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = {"send", "recv"}

    def _signal(self, call: str) -> None:
        if call in self.pending:
            self.pending.discard(call)
            raise InterruptedError(errno.EINTR, f"{call}() interrupted by a signal")

    def send(self, data: bytes) -> int:
        self._signal("send")
        return self.sock.send(data)

    def recv(self, size: int) -> bytes:
        self._signal("recv")
        return self.sock.recv(size)

    def __getattr__(self, name: str):  # gettimeout, settimeout, shutdown, close
        return getattr(self.sock, name)


client_sock, server_sock = socket.socketpair()
client_sock.settimeout(10)
server_sock.settimeout(10)


def serve() -> None:
    with TLSSession(server_sock, ServerConnection(server_config)) as server:
        server.handshake()
        server.send(b"made it")


thread = threading.Thread(target=serve)
thread.start()

with TLSSession(InterruptedOnce(client_sock), ClientConnection(client_config)) as client:
    while True:
        try:
            completed = client.handshake()
            break
        except Interrupted as interrupted:
            print(f"client: Interrupted while trying to {interrupted.direction}; fatal: {is_fatal(interrupted)}")
    print(f"client: handshake complete: {completed.version}")
    print(f"client: received {client.recv()!r}")
thread.join()
