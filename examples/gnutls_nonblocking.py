"""GNUTLS_E_AGAIN, GNUTLS_E_INTERRUPTED, gnutls_record_get_direction, gnutls_error_is_fatal.

    GNUTLS_E_AGAIN
        OpenSSL:  SSL_ERROR_WANT_READ / _WANT_WRITE
        teachtls: raise WouldBlock (alias Again)
    GNUTLS_E_INTERRUPTED
        OpenSSL:  errno EINTR (SSL_ERROR_SYSCALL)
        teachtls: raise Interrupted
    gnutls_record_get_direction(session)
        OpenSSL:  the WANT_ that SSL_get_error says
        teachtls: session.direction, error.direction
    gnutls_error_is_fatal(code)
        OpenSSL:  -
        teachtls: is_fatal(error)

Both ends use non-blocking sockets and run in ONE thread. A call that
cannot finish raises a non-fatal condition; the little event loop below
waits until a socket can move in the direction asked for (select/poll,
here `selectors`) and calls the same method again, which continues exactly
where it stopped.

Run:  python examples/gnutls_nonblocking.py
Not for production: teachtls is for reading, not for protecting data.
"""

import selectors
import socket
from collections import Counter

from teachtls import ClientConnection, Config, ServerConnection
from teachtls.net.nonblocking import Interrupted, WouldBlock, is_fatal
from teachtls.net.session import TLSSession
from teachtls.pki.generate import issue_leaf, make_ca

ca = make_ca()
leaf = issue_leaf(ca, "localhost")
server_config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
client_config = Config(server_name="localhost", trusted_certificates=(ca.certificate,))

client_sock, server_sock = socket.socketpair()
client_sock.setblocking(False)  # recv/send raise BlockingIOError instead of waiting
server_sock.setblocking(False)
client = TLSSession(client_sock, ClientConnection(client_config))
server = TLSSession(server_sock, ServerConnection(server_config))


def run(operations):
    """An event loop in miniature: {name: (session, operation)} -> {name: result}."""
    results = {}
    conditions = Counter()
    while len(results) < len(operations):
        waits = {}
        for name, (session, operation) in operations.items():
            if name in results:
                continue
            try:
                results[name] = operation()
            except WouldBlock as again:  # GNUTLS_E_AGAIN: not fatal
                assert not is_fatal(again) and session.direction == again.direction
                conditions[name, again.direction] += 1
                waits[session.sock] = again.direction
            except Interrupted as interrupted:  # GNUTLS_E_INTERRUPTED (EINTR): just call again
                conditions[name, "interrupted " + interrupted.direction] += 1
        if waits:  # select(): sleep until one of the sockets is ready as asked
            with selectors.DefaultSelector() as selector:
                for sock, direction in waits.items():
                    selector.register(sock, selectors.EVENT_READ if direction == "read" else selectors.EVENT_WRITE)
                selector.select(timeout=10)
    for (name, direction), count in sorted(conditions.items()):
        print(f"  {name}: WouldBlock, direction {direction!r} (WANT_{direction.upper()}), {count} time(s)")
    return results


def receive(session, size):
    """A resumable operation: recv() until `size` bytes have arrived."""
    received = bytearray()

    def operation():
        while len(received) < size:
            received.extend(session.recv())
        return bytes(received)

    return operation


print("handshake:")
done = run({"client": (client, client.handshake), "server": (server, server.handshake)})
print(f"client: handshake complete: {done['client'].version}, {done['client'].cipher_suite}")
print(f"server: handshake complete: {done['server'].version}, {done['server'].cipher_suite}")

print("a 2 MB send, more than the socket buffer holds:")
big = bytes(range(256)) * 8192
done = run({"client": (client, lambda: client.send(big)), "server": (server, receive(server, len(big)))})
print(f"server: received {len(done['server'])} bytes, intact: {done['server'] == big}")

print("a recv() with nothing to read:")
try:
    client.recv()
except WouldBlock as again:
    print(f"client: {type(again).__name__}, session.direction = {client.direction!r}, fatal: {is_fatal(again)}")

for session in (client, server):
    session.close(timeout=0)  # non-blocking: do not wait for the peer's close_notify
