"""gnutls_session_get_data / gnutls_session_set_data: resumption, and 0-RTT early data.

    gnutls_session_get_data2(session, &data)
        OpenSSL:  SSL_get1_session(ssl) (an SSL_SESSION)
        teachtls: data = session.get_session_data()
    gnutls_session_set_data(session, data)
        OpenSSL:  SSL_set_session(ssl, sess)
        teachtls: session.set_session_data(data)
    gnutls_session_is_resumed(session)
        OpenSSL:  SSL_session_reused(ssl)
        teachtls: completed.resumed
    gnutls_record_send_early_data
        OpenSSL:  SSL_write_early_data
        teachtls: session.handshake(early_data=...)
    gnutls_session_get_flags & EARLY_DATA
        OpenSSL:  SSL_get_early_data_status
        teachtls: completed.early_data_accepted
    gnutls_session_ticket_enable_server
        OpenSSL:  SSL_CTX_set_num_tickets
        teachtls: Config(session_store=..., session_tickets=N)
    gnutls_db_set_store_function ...
        OpenSSL:  SSL_CTX_sess_set_new_cb ...
        teachtls: Config(session_store=SessionDatabase(...))
    gnutls_record_set_max_early_data_size
        OpenSSL:  SSL_CTX_set_max_early_data
        teachtls: Config(max_early_data_size=N)

The first connection does a full handshake; the server sends a
NewSessionTicket after it (RFC 8446 §4.6.1), which the client keeps as
opaque "session data". The second connection offers it (a PSK, §2.2), skips
the certificate, and sends its request as early data (§2.3) before the
handshake has finished.

Run:  python examples/gnutls_session_data.py
Not for production: teachtls is for reading, not for protecting data.
"""

import os
import time

from teachtls import Config
from teachtls.net.server import fixed_config, serve_in_thread
from teachtls.net.session import TLSSession, connect
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.sessions import StatelessTickets

ca = make_ca()
leaf = issue_leaf(ca, "localhost")
server_config = Config(
    certificate_chain=(leaf.certificate,),
    private_key=leaf.private_key,
    session_store=StatelessTickets(os.urandom, time.time),  # tickets sealed under rotating keys
    session_tickets=1,
    max_early_data_size=4096,
)
client_config = Config(server_name="localhost", trusted_certificates=(ca.certificate,))


def echo(session: TLSSession) -> None:
    request = session.recv()
    early = session.connection.early_data_received > 0  # bytes of 0-RTT data accepted
    session.send(b"you said " + request + (b" (as 0-RTT data)" if early else b""))


server = serve_in_thread("127.0.0.1", 0, fixed_config(server_config), echo, log=lambda line: None)
try:
    with connect("127.0.0.1", server.port, client_config) as first:
        print(f"first:  resumed={first.completed.resumed}")
        first.send(b"hello")
        print(f"first:  {first.recv().decode()}")  # the ticket arrived before the answer
        data = first.get_session_data()  # gnutls_session_get_data
    print(f"saved session data: {len(data)} bytes (keep them secret: they hold the PSK)")

    with connect("127.0.0.1", server.port, client_config, session_data=data, early_data=b"hello again") as second:
        completed = second.completed
        print(f"second: resumed={completed.resumed} early_data_accepted={completed.early_data_accepted}")
        print(f"second: server certificate sent again: {bool(completed.peer_certificates)}")
        if not completed.early_data_accepted:
            second.send(b"hello again")  # rejected 0-RTT data must be sent again
        print(f"second: {second.recv().decode()}")
finally:
    server.shutdown()
