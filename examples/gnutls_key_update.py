"""gnutls_session_key_update, and gnutls_handshake() after the handshake (TLS 1.3).

    gnutls_session_key_update(s, GNUTLS_KU_PEER)
        OpenSSL:  SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED)
        teachtls: session.key_update(request_peer=True)
    gnutls_session_key_update(s, 0)
        OpenSSL:  SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED)
        teachtls: session.key_update(request_peer=False)
    gnutls_handshake() again, client (TLS 1.3)
        OpenSSL:  SSL_renegotiate: not in TLS 1.3
        teachtls: session.handshake(): a KeyUpdate, update_requested
    gnutls_handshake() again, server (TLS 1.3)
        OpenSSL:  -
        teachtls: session.handshake(): does nothing

RFC 8446 §4.6.3: each KeyUpdate moves its sender to the next traffic secret,

    application_traffic_secret_N+1 = HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "", Hash.length)

and every step is in the trace (SecretDerived, KeysInstalled).

Run:  python examples/gnutls_key_update.py
Not for production: teachtls is for reading, not for protecting data.
"""

import socket
import threading

from teachtls import ClientConnection, Config, ServerConnection
from teachtls.net.session import TLSSession
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.trace.events import SecretDerived
from teachtls.trace.observer import Recorder

ca = make_ca()
leaf = issue_leaf(ca, "localhost")
server_config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
recorder = Recorder()
client_config = Config(server_name="localhost", trusted_certificates=(ca.certificate,), observer=recorder)

printing = threading.Lock()


def say(line: str) -> None:
    """print() from two threads, one whole line at a time."""
    with printing:
        print(line)


client_sock, server_sock = socket.socketpair()
client_sock.settimeout(10)
server_sock.settimeout(10)


def generations(session: TLSSession) -> str:
    connection = session.connection
    return f"write generation {connection.write_generation}, read generation {connection.read_generation}"


def serve() -> None:
    with TLSSession(server_sock, ServerConnection(server_config)) as server:
        server.handshake()
        before = generations(server)
        server.handshake()  # TLS 1.3, server side: a no-op
        say(f"server: handshake() again changed nothing: {generations(server) == before}")
        while data := server.recv():  # reading the client's KeyUpdate(update_requested) ...
            server.send(data.upper())  # ... made it answer with its own
        say(f"server: {generations(server)}")


thread = threading.Thread(target=serve)
thread.start()

with TLSSession(client_sock, ClientConnection(client_config)) as client:
    client.handshake()
    client.handshake()  # TLS 1.3, client side: KeyUpdate with update_requested
    say(f"client: after handshake() again: {generations(client)}")
    client.send(b"ping")
    say(f"client: received {client.recv()!r}: {generations(client)}")
    client.key_update(request_peer=False)  # only our own keys
    client.send(b"pong")
    say(f"client: received {client.recv()!r}: {generations(client)}")
thread.join()

for event in recorder.events:
    if isinstance(event, SecretDerived) and event.label == "traffic upd":
        say(f'client trace: {event.name} = HKDF-Expand-Label({event.parent}, "traffic upd", "", 32)')
