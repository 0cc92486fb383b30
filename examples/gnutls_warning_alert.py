"""GNUTLS_E_WARNING_ALERT_RECEIVED: a warning alert is reported, then the handshake goes on.

    GNUTLS_E_WARNING_ALERT_RECEIVED
        OpenSSL:  info callback, SSL_CB_READ_ALERT
        teachtls: raise WarningAlert
    gnutls_alert_get(session)
        OpenSSL:  SSL_alert_desc_string_long(value)
        teachtls: warning.description
    (implied by the error code)
        OpenSSL:  SSL_alert_type_string_long(value)
        teachtls: warning.level
    gnutls_error_is_fatal(code)
        OpenSSL:  -
        teachtls: is_fatal(warning) -> False
    GNUTLS_E_FATAL_ALERT_RECEIVED
        OpenSSL:  SSL_ERROR_SSL, an SSL_R_..._ALERT_ reason
        teachtls: raise RemoteAlert

RFC 8446 §6: in TLS 1.3 every alert is fatal except close_notify and
user_canceled, so user_canceled is the one warning a peer can send. Here a
"server" first writes a raw user_canceled record (plaintext: no keys yet),
then runs an ordinary TLS server on the same socket. The client sees the
warning, decides to carry on, and calls handshake() again.

Run:  python examples/gnutls_warning_alert.py
Not for production: teachtls is for reading, not for protecting data.
"""

import socket
import threading

from teachtls import ClientConnection, Config, ServerConnection
from teachtls.net.nonblocking import WarningAlert, is_fatal
from teachtls.net.session import TLSSession
from teachtls.pki.generate import issue_leaf, make_ca

ca = make_ca()
leaf = issue_leaf(ca, "localhost")
server_config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
client_config = Config(server_name="localhost", trusted_certificates=(ca.certificate,))

# type alert (21), legacy_record_version 3.3, length 2, level warning (1), user_canceled (90)
USER_CANCELED = bytes.fromhex("15 03 03 00 02 01 5a")

client_sock, server_sock = socket.socketpair()
client_sock.settimeout(10)
server_sock.settimeout(10)


def serve() -> None:
    server_sock.sendall(USER_CANCELED)
    with TLSSession(server_sock, ServerConnection(server_config)) as server:
        server.handshake()
        server.send(b"welcome")


thread = threading.Thread(target=serve)
thread.start()

with TLSSession(client_sock, ClientConnection(client_config)) as client:
    while True:
        try:
            completed = client.handshake()
            break
        except WarningAlert as warning:  # not fatal: inspect it, then call again
            print(f"client: warning alert: level={warning.level.name} description={warning.description.name}")
            print(f"client: fatal? {is_fatal(warning)} -- calling handshake() again")
    print(f"client: handshake complete: {completed.version}")
    print(f"client: received {client.recv()!r}")
thread.join()
