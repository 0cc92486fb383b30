"""The session calls with `await`: teachtls.net.aio over 127.0.0.1.

    GnuTLS (non-blocking, in an event loop)       teachtls.net.aio
    gnutls_handshake until it stops saying AGAIN  await stream.handshake()
    gnutls_record_send / gnutls_record_recv       await stream.send(data) / await stream.recv()
    gnutls_session_key_update(s, GNUTLS_KU_PEER)  await stream.key_update() or await stream.handshake() again
    gnutls_bye(s, GNUTLS_SHUT_RDWR)               await stream.close()

asyncio waits for the socket itself, so a stream never raises WouldBlock or
Interrupted; it drives the sans-I/O connection exactly as TLSSession does.
(A WarningAlert still surfaces, and calling again continues.)

Run:  python examples/gnutls_asyncio.py
Not for production: teachtls is for reading, not for protecting data.
"""

import asyncio

from teachtls import Config
from teachtls.net.aio import TLSStream, open_connection, start_server
from teachtls.net.server import fixed_config
from teachtls.pki.generate import issue_leaf, make_ca

ca = make_ca()
leaf = issue_leaf(ca, "localhost")
server_config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
client_config = Config(server_name="localhost", trusted_certificates=(ca.certificate,))


async def shout(stream: TLSStream) -> None:
    """The server's application: answer every message in capitals."""
    while data := await stream.recv():
        await stream.send(data.upper())


async def main() -> None:
    server = await start_server(shout, "127.0.0.1", 0, fixed_config(server_config), log=print)
    port = server.sockets[0].getsockname()[1]
    try:
        stream = await open_connection("127.0.0.1", port, client_config)  # the handshake is done
        print(f"client: {stream.completed.version} with {stream.completed.cipher_suite}")
        await stream.send(b"hello")
        print(f"client: received {await stream.recv()!r}")
        await stream.handshake()  # TLS 1.3 client: KeyUpdate, update_requested
        await stream.send(b"new keys")
        print(f"client: received {await stream.recv()!r}")
        generations = (stream.connection.write_generation, stream.connection.read_generation)
        print(f"client: key generations (write, read) = {generations}")
        await stream.close()
        print(f"client: closed after the server's close_notify: {stream.peer_closed and not stream.truncated}")
    finally:
        server.close()
        await server.wait_closed()


asyncio.run(main())
