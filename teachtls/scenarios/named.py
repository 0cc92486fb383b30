"""Named deterministic scenarios: a whole traced conversation, by name.

The documentation (`teachtls.sphinxext`), the command line
(`teachtls diagram --scenario NAME`) and notebooks (`Trace.from_scenario`)
all need "the RFC 8448 handshake, traced" without wiring two connections
together themselves. This module gives each such conversation a name:

    rfc8448-simple        RFC 8448 §3: a full 1-RTT handshake, then a session ticket
    rfc8448-resumed-0rtt  §4: resumption with a PSK and 0-RTT early data
    rfc8448-hrr           §5: a HelloRetryRequest asks for a P-256 key share
    rfc8448-client-auth   §6: the server asks for, and gets, a client certificate
    rfc8448-compat        §7: middlebox compatibility mode (RFC 8446 §D.4)
    bad-certificate       §3's handshake with certificate checking turned on:
                          the client rejects the server's certificate
    rfc8448-key-update    §3's handshake, then a KeyUpdate each way (RFC 8446
                          §4.6.3) before the application data
    tls13-ecdhe           teachtls's own fixed-key PKI (`fixed_pki`), a default
                          client and server: TLS 1.3, verification on
    tls12-ecdhe           the same client and PKI against a TLS 1.2-only
                          server: ECDHE, extended master secret (RFC 7627)
    tls12-rfc8448-simple  rfc8448-simple's server (RFC 8448's RSA certificate,
                          x25519 keys, clock, data) speaking TLS 1.2: ECDHE_RSA
                          and a session ticket; its counterpart for `compare`

The rfc8448-* ones are a client and a server (`teachtls.scenarios.rfc8448`)
run against each other in memory (`teachtls.scenarios.memory`), both reporting to one
`Recorder`, so the trace holds both roles in the order things happened.
The RFC fixes every random input, so every run produces the same trace, byte
for byte -- that is what lets a documentation build redraw its figures
without the figures changing.

Why "bad-certificate" fails. RFC 8448's server certificate (CN=rsa) has no
subjectAltName at all, while its client asks for "server": with
verification on, RFC 8446 §4.4.2.4 has the client abort with
bad_certificate ("hostname mismatch"). The client trusts exactly that
certificate, so the result never depends on the machine's CA bundle, and its
clock is fixed an hour after the RFC's: RFC 8448's handshakes are dated
00:36:40 UTC on 2016-07-30, 47 minutes before its certificates become valid,
so at the RFC's own clock the certificate would be refused as not yet valid
(certificate_expired) before its name is even looked at.

The two ecdhe scenarios show one client meeting a TLS 1.3 and a TLS 1.2 server,
for putting the two versions side by side. Everything that could vary is
fixed: the random source (`counter_random`), the clock, the x25519 private
keys, and the certificates themselves (`fixed_pki`: a P-256 CA signing with
deterministic ECDSA, RFC 6979, and an Ed25519 leaf, whose signatures are
deterministic by design, RFC 8032). tls12-ecdhe is the conversation of the
golden trace tests/golden/traces/tls12-ecdhe.jsonl.

tls12-rfc8448-simple is the TLS 1.2 half of `teachtls compare`, whose TLS
1.3 half is rfc8448-simple, so it changes as little as possible from RFC
8448 §3: the same server certificate and RSA key (RFC 8448 §2), the same
x25519 private keys on both sides, the same clock, the same 50 bytes of
application data each way, and a session ticket (RFC 5077) where §3 has its
NewSessionTicket. The client offers only TLS 1.2. What RFC 8448 does not
give comes from fixed seeds (`counter_random`): the randoms and the
ticket-sealing key. The server signs its ServerKeyExchange with
rsa_pkcs1_sha256 (through `Config.signer`), as most TLS 1.2 servers did:
PKCS#1 v1.5 signatures are deterministic (RSA-PSS salts are random, RFC 8017
§9.1), so the trace repeats byte for byte -- and TLS 1.3 forbids exactly
that scheme in handshake signatures (RFC 8446 §4.2.3), one more difference
to point at.

Abbreviations: hrr (HelloRetryRequest), psk (pre-shared key), 0-RTT (early
data, sent before the handshake completes).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import itertools
from collections.abc import Callable

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from teachtls.config import Config
from teachtls.handshake.alerts import AlertError
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.scenarios import memory, rfc8448
from teachtls.sessions import StatelessTickets
from teachtls.trace.events import TraceEvent
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import NamedGroup, ProtocolVersion, SignatureScheme

# An hour after RFC 8448's clock: inside its certificates' validity (see above).
BAD_CERTIFICATE_CLOCK = rfc8448.TIMESTAMP + 3600


def rfc8448_run(scenario: str) -> list[TraceEvent]:
    """RFC 8448's `scenario` ("simple_1rtt", ...), both roles traced into one Recorder.

    The RFC's script: the handshake (with 0-RTT data in §4), the 50 bytes of
    application data each side sends in §3 and §4, then close_notify both
    ways."""
    recorder = Recorder()
    client = ClientConnection(rfc8448.client_config(scenario, recorder))
    server = ServerConnection(rfc8448.server_config(scenario, recorder))
    memory.run(
        client,
        server,
        client_data=rfc8448.application_data(scenario, "client"),
        server_data=rfc8448.application_data(scenario, "server"),
        early_data=rfc8448.early_data(scenario),
    )
    return list(recorder.events)


def bad_certificate() -> list[TraceEvent]:
    """RFC 8448 §3 with the client checking the server's certificate: bad_certificate.

    The client sends a fatal alert and closes; the server reads the alert and
    closes too. Both sides' view is in the trace."""
    recorder = Recorder()
    server_config = rfc8448.server_config("simple_1rtt", recorder)
    client_config = attrs.evolve(
        rfc8448.client_config("simple_1rtt", recorder),
        verify_peer=True,
        trusted_certificates=server_config.certificate_chain[-1:],
        clock=lambda: BAD_CERTIFICATE_CLOCK,
    )
    client = ClientConnection(client_config)
    server = ServerConnection(server_config)
    try:
        memory.run(client, server)
    except AlertError:
        pass  # the client refused the certificate: the point of the scenario
    else:
        raise AssertionError("the bad-certificate scenario completed its handshake")
    # Deliver the client's alert, so the trace shows the server learning why
    # (it raises RemoteAlert: told, it closes).
    with contextlib.suppress(AlertError):
        server.receive_data(client.data_to_send())
    return list(recorder.events)


def rfc8448_key_update() -> list[TraceEvent]:
    """RFC 8448 §3, then each side updates its keys once before the data (RFC 8446 §4.6.3).

    The client sends KeyUpdate(update_requested): it moves to
    client_application_traffic_secret_1, and the server answers with its own
    KeyUpdate(update_not_requested) and moves to
    server_application_traffic_secret_1. The §3 application data then
    travels under generation 1 keys, so its records differ from the RFC's."""
    recorder = Recorder()
    client = ClientConnection(rfc8448.client_config("simple_1rtt", recorder))
    server = ServerConnection(rfc8448.server_config("simple_1rtt", recorder))
    exchange = memory.run(client, server, close=False)
    client.key_update(request_peer=True)
    memory.pump(client, server, exchange)
    client_data = rfc8448.application_data("simple_1rtt", "client")
    server_data = rfc8448.application_data("simple_1rtt", "server")
    assert client_data is not None and server_data is not None
    client.send_application_data(client_data)
    memory.pump(client, server, exchange)
    server.send_application_data(server_data)
    memory.pump(client, server, exchange)
    client.close()
    memory.pump(client, server, exchange)
    server.close()
    memory.pump(client, server, exchange)
    return list(recorder.events)


# --- teachtls's own fixed-key handshakes: TLS 1.3 and TLS 1.2 side by side ---------------

FIXED_NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)
"""The clock of the fixed-key scenarios; their certificates are valid around it."""

FIXED_CLIENT_X25519_PRIVATE_KEY = hashlib.sha256(b"teachtls test client x25519").digest()
FIXED_SERVER_X25519_PRIVATE_KEY = hashlib.sha256(b"teachtls test server x25519").digest()


def counter_random(seed: bytes) -> Callable[[int], bytes]:
    """A reproducible `Config.random`: SHA-256(seed || counter) blocks. One per connection."""
    counter = itertools.count()

    def random(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + next(counter).to_bytes(8, "big")).digest()
        return out[:n]

    return random


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@functools.cache
def fixed_pki() -> tuple[x509.Certificate, x509.Certificate, ed25519.Ed25519PrivateKey]:
    """(CA certificate, leaf for "localhost", the leaf's private key): the same bytes on every run.

    The CA key is a fixed P-256 scalar signing with deterministic ECDSA
    (RFC 6979); the leaf key an Ed25519 key from a fixed seed. Serial numbers
    and validity (a day before `FIXED_NOW` to a year after) are fixed too."""
    ca_key = ec.derive_private_key(
        int.from_bytes(hashlib.sha256(b"teachtls golden CA").digest(), "big"), ec.SECP256R1()
    )
    leaf_key = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"teachtls golden leaf").digest())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "teachtls golden CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())

    def builder() -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .not_valid_before(FIXED_NOW - datetime.timedelta(days=1))
            .not_valid_after(FIXED_NOW + datetime.timedelta(days=365))
        )

    ca_certificate = (
        builder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    leaf_certificate = (
        builder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(2)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    return ca_certificate, leaf_certificate, leaf_key


def fixed_handshake(server_versions: tuple[int, ...]) -> list[TraceEvent]:
    """A default client (offering TLS 1.3 and 1.2) and a server speaking `server_versions`.

    The client verifies the server's chain against `fixed_pki`'s CA. One
    message each way, then close_notify both ways."""
    ca_certificate, leaf_certificate, leaf_key = fixed_pki()
    recorder = Recorder()

    def clock() -> float:
        return FIXED_NOW.timestamp()

    client = ClientConnection(
        Config(
            server_name="localhost",
            trusted_certificates=(ca_certificate,),
            random=counter_random(b"golden client"),
            clock=clock,
            key_share_private_keys={NamedGroup.x25519: FIXED_CLIENT_X25519_PRIVATE_KEY},
            observer=recorder,
        )
    )
    server = ServerConnection(
        Config(
            versions=server_versions,
            certificate_chain=(leaf_certificate,),
            private_key=leaf_key,
            random=counter_random(b"golden server"),
            clock=clock,
            key_share_private_keys={NamedGroup.x25519: FIXED_SERVER_X25519_PRIVATE_KEY},
            observer=recorder,
        )
    )
    exchange = memory.run(client, server, client_data=b"GET / HTTP/1.1\r\n\r\n", server_data=b"HTTP/1.1 200 OK\r\n\r\n")
    assert exchange.completed
    return list(recorder.events)


# --- rfc8448-simple's server, speaking TLS 1.2 (the other half of `teachtls compare`) ---------


def rfc8448_rsa_private_key() -> rsa.RSAPrivateKey:
    """The server's RSA private key, as RFC 8448 §2 prints it."""
    parts = {item["label"]: int(item["hex"], 16) for item in rfc8448.vectors()["private_keys"]["items"]}
    return rsa.RSAPrivateNumbers(
        p=parts["prime1"],
        q=parts["prime2"],
        d=parts["private exponent"],
        dmp1=parts["exponent1"],
        dmq1=parts["exponent2"],
        iqmp=parts["coefficient"],
        public_numbers=rsa.RSAPublicNumbers(parts["public exponent"], parts["modulus (public)"]),
    ).private_key()


def tls12_rfc8448_simple() -> list[TraceEvent]:
    """RFC 8448 §3's server and keys, speaking TLS 1.2 (see the module docstring).

    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 over x25519, the extended master
    secret (RFC 7627), a NewSessionTicket (RFC 5077), §3's 50 bytes each
    way, then close_notify both ways."""
    recorder = Recorder()

    def clock() -> float:
        return rfc8448.TIMESTAMP

    private_key = rfc8448_rsa_private_key()

    def sign_pkcs1(scheme: SignatureScheme, content: bytes) -> bytes:
        # RFC 5246 §7.4.1.4.1 still allows RSASSA-PKCS1-v1_5; deterministic, unlike PSS.
        assert scheme == SignatureScheme.rsa_pkcs1_sha256
        return private_key.sign(content, padding.PKCS1v15(), hashes.SHA256())

    def x25519_private_key(actor: str) -> dict[int, bytes]:
        return {
            NamedGroup.x25519: rfc8448.item("simple_1rtt", actor, "create an ephemeral x25519 key pair", "private key")
        }

    client = ClientConnection(
        Config(
            versions=(ProtocolVersion.TLS1_2,),
            server_name="server",
            verify_peer=False,  # as in RFC 8448: its certificate names "rsa", not "server"
            send_session_ticket_extension=True,
            random=counter_random(b"teachtls tls12-rfc8448-simple client"),
            clock=clock,
            key_share_private_keys=x25519_private_key("client"),
            observer=recorder,
        )
    )
    server = ServerConnection(
        Config(
            versions=(ProtocolVersion.TLS1_2,),
            certificate_chain=rfc8448.server_config("simple_1rtt").certificate_chain,
            private_key=private_key,
            signer=sign_pkcs1,
            signature_algorithms=(SignatureScheme.rsa_pkcs1_sha256,),
            session_tickets=1,
            session_store=StatelessTickets(counter_random(b"teachtls tls12-rfc8448-simple tickets"), clock),
            random=counter_random(b"teachtls tls12-rfc8448-simple server"),
            clock=clock,
            key_share_private_keys=x25519_private_key("server"),
            observer=recorder,
        )
    )
    exchange = memory.run(
        client,
        server,
        client_data=rfc8448.application_data("simple_1rtt", "client"),
        server_data=rfc8448.application_data("simple_1rtt", "server"),
    )
    assert exchange.completed
    return list(recorder.events)


SCENARIOS: dict[str, Callable[[], list[TraceEvent]]] = {
    "rfc8448-simple": functools.partial(rfc8448_run, "simple_1rtt"),
    "rfc8448-resumed-0rtt": functools.partial(rfc8448_run, "resumed_0rtt"),
    "rfc8448-hrr": functools.partial(rfc8448_run, "hello_retry_request"),
    "rfc8448-client-auth": functools.partial(rfc8448_run, "client_authentication"),
    "rfc8448-compat": functools.partial(rfc8448_run, "compatibility_mode"),
    "bad-certificate": bad_certificate,
    "rfc8448-key-update": rfc8448_key_update,
    "tls13-ecdhe": functools.partial(fixed_handshake, (ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2)),
    "tls12-ecdhe": functools.partial(fixed_handshake, (ProtocolVersion.TLS1_2,)),
    "tls12-rfc8448-simple": tls12_rfc8448_simple,
}
"""Every named scenario: name -> a function that runs it and returns its trace."""


@functools.cache
def _cached_run(name: str) -> tuple[TraceEvent, ...]:
    return tuple(SCENARIOS[name]())


def run_scenario(name: str) -> list[TraceEvent]:
    """The trace of the scenario called `name` (see `SCENARIOS`).

    Runs once per process and is cached: every call returns a new list of the
    same (frozen) events, so a caller may change its list freely.
    Raises `KeyError` for an unknown name, listing the known ones."""
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    return list(_cached_run(name))


__all__ = [
    "SCENARIOS",
    "BAD_CERTIFICATE_CLOCK",
    "FIXED_NOW",
    "bad_certificate",
    "counter_random",
    "fixed_handshake",
    "fixed_pki",
    "rfc8448_key_update",
    "rfc8448_rsa_private_key",
    "rfc8448_run",
    "run_scenario",
    "tls12_rfc8448_simple",
]
