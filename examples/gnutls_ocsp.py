"""OCSP stapling: Config.status_request (client) and Config.ocsp_response (server).

    gnutls_ocsp_status_request_enable_client(s, ...)
        OpenSSL:  SSL_set_tlsext_status_type(ssl, OCSP)
        teachtls: Config(status_request=True), the default
    gnutls_certificate_set_ocsp_status_request_file
        OpenSSL:  SSL_set_tlsext_status_ocsp_resp (server)
        teachtls: Config(ocsp_response=der)
    gnutls_ocsp_status_request_get(s, &resp)
        OpenSSL:  SSL_get_tlsext_status_ocsp_resp(ssl, &p)
        teachtls: session.connection.peer_staple
    gnutls_ocsp_status_request_is_checked(s, 0)
        OpenSSL:  a status callback checks it
        teachtls: checked in the handshake; failure = alert
    GNUTLS_CERT_REVOKED in verify_peers3's status
        OpenSSL:  OCSP_basic_verify + OCSP_resp_find_status
        teachtls: CertificateRevoked (certificate_revoked)

The server staples a CA-signed OCSP response to its leaf (RFC 6066 §8, in
TLS 1.3 inside the leaf's CertificateEntry, RFC 8446 §4.4.2.1). The client
checks it during the handshake (RFC 6960 §3.2): signature, freshness, which
certificate it is about, and the status itself.

Run:  python examples/gnutls_ocsp.py
Not for production: teachtls is for reading, not for protecting data.
"""

import datetime

import attrs

from teachtls import Config, LocalAlert
from teachtls.net.server import fixed_config, serve_in_thread
from teachtls.net.session import TLSSession, connect
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.pki.ocsp import make_ocsp_response

ca = make_ca()
leaf = issue_leaf(ca, "localhost")
now = datetime.datetime.now(datetime.UTC)
client_config = Config(server_name="localhost", trusted_certificates=(ca.certificate,))  # status_request=True


def ocsp_says(status: str) -> bytes:
    """The CA's signed statement about the leaf, valid from an hour ago for a day."""
    return make_ocsp_response(
        certificate=leaf,
        issuer=ca,
        responder=ca,
        status=status,
        this_update=now - datetime.timedelta(hours=1),
        next_update=now + datetime.timedelta(days=1),
    )


def say_hello(session: TLSSession) -> None:
    session.send(b"hello")


for status in ("good", "revoked"):
    server_config = Config(
        certificate_chain=(leaf.certificate,), private_key=leaf.private_key, ocsp_response=ocsp_says(status)
    )
    server = serve_in_thread("127.0.0.1", 0, fixed_config(server_config), say_hello, log=lambda line: None)
    try:
        with connect("127.0.0.1", server.port, client_config) as session:
            staple = session.connection.peer_staple
            print(f"{status}: stapled OCSP response of {len(staple)} bytes accepted; server says {session.recv()!r}")
        with connect("127.0.0.1", server.port, attrs.evolve(client_config, status_request=False)) as session:
            print(f"{status}: without status_request the server staples nothing: {session.connection.peer_staple}")
    except LocalAlert as failure:
        print(f"{status}: refused, sent {failure.description.name}: {failure.reason}")
    finally:
        server.shutdown()
