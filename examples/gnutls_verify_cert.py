"""gnutls_session_set_verify_cert, gnutls_certificate_verify_peers3, and a verify callback.

    gnutls_certificate_set_x509_trust_file(cred, f)
        OpenSSL:  SSL_CTX_load_verify_locations(ctx, f)
        teachtls: Config(cafile=f)
    gnutls_certificate_set_x509_trust(cred, certs)
        OpenSSL:  X509_STORE_add_cert
        teachtls: Config(trusted_certificates=certs)
    gnutls_server_name_set(s, GNUTLS_NAME_DNS, host)
        OpenSSL:  SSL_set_tlsext_host_name(ssl, host)
        teachtls: Config(server_name=host)
    gnutls_session_set_verify_cert(s, host, 0)
        OpenSSL:  SSL_set1_host + SSL_set_verify(PEER)
        teachtls: Config(server_name=host, verify_peer=True)
    gnutls_certificate_verify_peers3(s, host, &status)
        OpenSSL:  SSL_get_verify_result(ssl)
        teachtls: the handshake fails with the alert
    gnutls_certificate_set_verify_function(cred, f)
        OpenSSL:  SSL_CTX_set_verify(ctx, mode, cb)
        teachtls: Config(verify_callback=f)
    gnutls_certificate_get_peers(s, &n)
        OpenSSL:  SSL_get_peer_cert_chain(ssl)
        teachtls: completed.peer_certificates
    GNUTLS_E_FATAL_ALERT_RECEIVED (the server's side)
        OpenSSL:  SSL_ERROR_SSL, SSL_R_..._ALERT_...
        teachtls: raise RemoteAlert

teachtls verifies during the handshake, always (`verify_peer=False` turns it
off, loudly, in the trace). A failure is a `LocalAlert`: the alert named in
RFC 8446 §6.2 has been sent, and `reason` says, in a sentence, what failed --
what gnutls_certificate_verify_status_print would print.

Run:  python examples/gnutls_verify_cert.py
Not for production: teachtls is for reading, not for protecting data.
"""

import attrs

from teachtls import Config, LocalAlert
from teachtls.net.server import fixed_config, serve_in_thread
from teachtls.net.session import TLSSession, connect
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.pki.verify import VerificationResult

ca = make_ca()
leaf = issue_leaf(ca, "www.example.test")
server_config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
trusting = Config(trusted_certificates=(ca.certificate,))  # gnutls_certificate_set_x509_trust


def say_hello(session: TLSSession) -> None:
    session.send(b"hello")


def try_connect(label: str, config: Config) -> None:
    try:
        with connect("127.0.0.1", server.port, config) as session:
            subject = session.completed.peer_certificates[0].subject.rfc4514_string()
            print(f"{label}: verified {subject}; server says {session.recv().decode()}")
    except LocalAlert as failure:  # what gnutls_certificate_verify_peers3 would have reported
        print(f"{label}: refused, sent {failure.description.name}: {failure.reason}")


def only_our_leaf(chain, built_in: VerificationResult) -> bool | VerificationResult:
    """A verify callback: pin the leaf on top of the built-in checks."""
    if not built_in.ok:
        return built_in
    if chain[0] != leaf.certificate:
        return VerificationResult(ok=False, alert=None, reason="certificate verify failed: not the pinned leaf")
    return True


def pin_something_else(chain, built_in: VerificationResult) -> VerificationResult:
    return VerificationResult(ok=False, alert=None, reason="certificate verify failed: not the pinned leaf")


server_log: list[str] = []
server = serve_in_thread("127.0.0.1", 0, fixed_config(server_config), say_hello, log=server_log.append)
try:
    try_connect("right name", attrs.evolve(trusting, server_name="www.example.test"))
    try_connect("wrong name", attrs.evolve(trusting, server_name="mail.example.test"))
    try_connect("unknown CA", Config(server_name="www.example.test", trusted_certificates=(make_ca().certificate,)))
    try_connect(
        "callback accepts", attrs.evolve(trusting, server_name="www.example.test", verify_callback=only_our_leaf)
    )
    try_connect(
        "callback refuses", attrs.evolve(trusting, server_name="www.example.test", verify_callback=pin_something_else)
    )
finally:
    server.shutdown()

# The other side of each refusal: the server got the client's fatal alert
# (GNUTLS_E_FATAL_ALERT_RECEIVED; a `RemoteAlert` in teachtls).
for line in server_log:
    if "sent a fatal" in line:
        connection, _, what = line.partition(": ")
        print(f"server log: {connection.split(' from ')[0]}: {what}")
