"""GNUTLS_E_GOT_APPLICATION_DATA: data that arrives during a TLS 1.2 re-handshake is not lost.

    gnutls_rehandshake(session)                 (server)
        OpenSSL:  SSL_renegotiate(ssl), then SSL_do_handshake(ssl)
        teachtls: session.rehandshake()  -- sends a HelloRequest
    gnutls_handshake(session), again            (client)
        OpenSSL:  SSL_renegotiate(ssl), then SSL_do_handshake(ssl)
        teachtls: session.rehandshake() + session.handshake(), or just handshake()
    GNUTLS_E_REHANDSHAKE from gnutls_record_recv (client)
        OpenSSL:  none: SSL_read answers a HelloRequest by itself
        teachtls: raise RehandshakeRequested  (with Config(report_hello_request=True))
    GNUTLS_E_GOT_APPLICATION_DATA from gnutls_handshake
        OpenSSL:  none: SSL_do_handshake buffers it for SSL_read
        teachtls: raise ApplicationDataPending, with .size
    gnutls_error_is_fatal(code)
        teachtls: is_fatal(error) -> False for both

A TLS 1.2 re-handshake (RFC 5746 secure renegotiation) is a whole new
handshake inside a connection that keeps carrying data. The peer does not
stop sending because we want new keys: its records already on the way
arrive in the middle of the new handshake. GnuTLS neither drops nor hides
them: gnutls_handshake() returns GNUTLS_E_GOT_APPLICATION_DATA, the
application reads them with gnutls_record_recv(), then calls
gnutls_handshake() again, which carries on where it stopped.

Two rounds, over a socket pair, the server in a thread:

1. The server asks (HelloRequest) and sends more data right behind its
   request. The client, which leaves that decision to the application
   (`report_hello_request`), gets RehandshakeRequested from recv(), accepts
   with handshake() -- and that raises ApplicationDataPending for the data.
2. The client renegotiates on its own while the server's data is in flight.

Run:  python examples/gnutls_got_application_data.py
Not for production: teachtls is for reading, not for protecting data.
"""

import socket
import threading

from teachtls import ClientConnection, Config, HandshakeCompleted, ServerConnection
from teachtls.net.nonblocking import ApplicationDataPending, RehandshakeRequested, is_fatal
from teachtls.net.session import TLSSession
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.trace import events as trace
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import ProtocolVersion

ca = make_ca()
leaf = issue_leaf(ca, "localhost")
# Re-handshakes exist only up to TLS 1.2 (RFC 8446 has KeyUpdate instead), so the server stops there.
server_config = Config(
    certificate_chain=(leaf.certificate,), private_key=leaf.private_key, versions=(ProtocolVersion.TLS1_2,)
)
recorder = Recorder()
client_config = Config(
    server_name="localhost", trusted_certificates=(ca.certificate,), report_hello_request=True, observer=recorder
)

client_sock, server_sock = socket.socketpair()
client_sock.settimeout(10)
server_sock.settimeout(10)
server_log: list[str] = []
# Only to make the output the same on every run: round 2 starts when the
# server's data is surely on its way and not yet read by the client.
client_ready, data_sent = threading.Event(), threading.Event()


def serve() -> None:
    with TLSSession(server_sock, ServerConnection(server_config)) as server:
        server.handshake()
        # Round 1: data, the HelloRequest, and more data right behind it.
        server.send(b"before the request")
        server.rehandshake()  # queues a HelloRequest (RFC 5246 §7.4.1.1) ...
        server.send(b"right behind it")  # ... which goes out first, with this data
        completed = server.handshake()  # waits for the client's ClientHello, answers, completes
        server_log.append(f"server: re-handshake complete, {completed.cipher_suite}")
        # Round 2: data in flight while the client renegotiates on its own.
        client_ready.wait(10)
        server.send(b"in flight")
        data_sent.set()
        server_log.append(f"server: received {server.recv()!r}")
        # The client's new ClientHello is answered inside recv(), unseen by this code.
        server_log.append(f"server: received {server.recv()!r}")
        completions = [event for event in server.events if isinstance(event, HandshakeCompleted)]
        server_log.append(f"server: handshakes completed: {len(completions)}")


def rehandshake_and_read(client: TLSSession) -> None:
    """The GnuTLS loop: call handshake() until it returns; read whatever it reports."""
    while True:
        try:
            completed = client.handshake()
            break
        except ApplicationDataPending as pending:
            print(f"client: handshake() -> ApplicationDataPending, {pending.size} bytes; fatal: {is_fatal(pending)}")
            print(f"client: recv() -> {client.recv()!r}; calling handshake() again")
    number = sum(isinstance(event, HandshakeCompleted) for event in client.events)
    print(f"client: re-handshake complete (handshake {number}): {completed.version} {completed.cipher_suite}")


thread = threading.Thread(target=serve)
thread.start()

with TLSSession(client_sock, ClientConnection(client_config)) as client:
    first = client.handshake()
    print(f"client: handshake complete: {first.version} {first.cipher_suite}")

    print("-- round 1: the server asks for a re-handshake")
    print(f"client: recv() -> {client.recv()!r}")
    try:
        print(f"client: recv() -> {client.recv()!r} (RehandshakeRequested was expected)")
    except RehandshakeRequested as request:
        # Not fatal. handshake() accepts; recv() again would ignore the request.
        print(f"client: recv() -> RehandshakeRequested; fatal: {is_fatal(request)} -- accepting")
    rehandshake_and_read(client)
    client.send(b"thanks")

    print("-- round 2: the client renegotiates while the server's data is in flight")
    client_ready.set()
    data_sent.wait(10)
    client.rehandshake()  # a new ClientHello, written by handshake()
    rehandshake_and_read(client)
    client.send(b"thanks again")

    # Each handshake, the first and the two re-handshakes, made its own master secret.
    negotiated = [e for e in recorder.events if isinstance(e, trace.ParametersNegotiated)]
    master_secrets = {
        e.value for e in recorder.events if isinstance(e, trace.SecretDerived) and e.name == "master_secret"
    }
    print(f"client trace: {len(negotiated)} ParametersNegotiated, {len(master_secrets)} different master secrets")
thread.join()
for line in server_log:
    print(line)
