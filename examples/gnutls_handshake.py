"""gnutls_handshake / SSL_do_handshake: a blocking handshake, data, goodbye.

    gnutls_handshake(session)
        OpenSSL:  SSL_do_handshake(ssl)
        teachtls: session.handshake()
    gnutls_record_send / _recv
        OpenSSL:  SSL_write / SSL_read
        teachtls: session.send(data) / session.recv()
    gnutls_bye(GNUTLS_SHUT_RDWR)
        OpenSSL:  SSL_shutdown(ssl)
        teachtls: session.close()

A client and a server run over a socket pair, the server in a thread.
Run:  python examples/gnutls_handshake.py
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
    with TLSSession(server_sock, ServerConnection(server_config)) as server:
        server.handshake()
        request = server.recv()
        say(f"server: received {request!r}")
        server.send(request.upper())
    # leaving the block: close_notify, wait for the client's, close the socket


thread = threading.Thread(target=serve)
thread.start()

with TLSSession(client_sock, ClientConnection(client_config)) as client:
    completed = client.handshake()  # gnutls_handshake: returns once both Finished are through
    say(f"client: handshake complete: {completed.version} {completed.cipher_suite} {completed.group}")
    say(f"client: server certificate: {completed.peer_certificates[0].subject.rfc4514_string()}")
    client.send(b"hello")
    say(f"client: received {client.recv()!r}")
    say(f"client: the server closed (close_notify): {client.recv() == b'' and not client.truncated}")
thread.join()
