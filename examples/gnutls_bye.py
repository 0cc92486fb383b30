"""gnutls_bye: close_notify, half-close (GNUTLS_SHUT_WR) and full close (GNUTLS_SHUT_RDWR).

    gnutls_bye(s, GNUTLS_SHUT_WR)
        OpenSSL:  SSL_shutdown(ssl) once, then keep reading (SSL_read)
        teachtls: session.shutdown_write()
    gnutls_bye(s, GNUTLS_SHUT_RDWR)
        OpenSSL:  SSL_shutdown(ssl) until it returns 1
        teachtls: session.close(timeout=...)
    GNUTLS_E_PREMATURE_TERMINATION
        OpenSSL:  SSL_R_UNEXPECTED_EOF_WHILE_READING
        teachtls: recv() == b"" and session.truncated
    gnutls_record_recv() == 0
        OpenSSL:  SSL_read: SSL_ERROR_ZERO_RETURN
        teachtls: recv() == b"" (close_notify)

RFC 8446 §6.1: "Each party MUST send a 'close_notify' alert before closing
its write side of the connection" -- and only its write side: in TLS 1.3 the
peer may go on sending. Here the client asks a question, says close_notify
(it will send nothing more), and still reads the answer.

Run:  python examples/gnutls_bye.py
Not for production: teachtls is for reading, not for protecting data.
"""

import socket
import threading

from teachtls import ClientConnection, Config, ServerConnection
from teachtls.net.session import TLSSession
from teachtls.pki.generate import issue_leaf, make_ca

ca = make_ca()
leaf = issue_leaf(ca, "localhost")
server_config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
client_config = Config(server_name="localhost", trusted_certificates=(ca.certificate,))

printing = threading.Lock()


def say(line: str) -> None:
    """print() from two threads, one whole line at a time."""
    with printing:
        print(line)


client_sock, server_sock = socket.socketpair()
client_sock.settimeout(10)
server_sock.settimeout(10)


def serve() -> None:
    server = TLSSession(server_sock, ServerConnection(server_config))
    server.handshake()
    question = server.recv_all()  # until the client's close_notify
    say(f"server: the client closed its side (truncated: {server.truncated}) after {question!r}")
    server.send(b"42")  # our side is still open
    server.close()  # GNUTLS_SHUT_RDWR: the client already said goodbye, so no waiting


thread = threading.Thread(target=serve)
thread.start()

client = TLSSession(client_sock, ClientConnection(client_config))
client.handshake()
client.send(b"the answer?")
client.shutdown_write()  # GNUTLS_SHUT_WR: close_notify, then TCP FIN
say("client: sent close_notify; still reading")
say(f"client: received {client.recv()!r}")
say(f"client: then {client.recv()!r}: the server's close_notify (truncated: {client.truncated})")
client.close()
say(f"client: closed: {client.closed}")
thread.join()
