"""Configuration: what a connection offers, accepts, and where its randomness
and time come from.

A `Config` is frozen; derive variants with `attrs.evolve(config, ...)`.

Determinism. The sans-I/O core owns no clock and no randomness source. Both
come in through the config (`random`, `clock`), together with the private
halves of the ephemeral key shares (`key_share_private_keys`) and, when the
private key of a certificate is not available or its signatures are
randomised (RSA-PSS salts, RFC 8017 §9.1; ECDSA nonces), a `signer`. With all
four injected, a handshake is a pure function of its inputs, which is how the
tests reproduce RFC 8448 byte for byte.

Defaults follow modern practice: TLS 1.3 only, the three mandatory-to-offer
AEAD suites (RFC 8446 §9.1), x25519 first, middlebox compatibility mode on
(RFC 8446 §D.4) and certificate verification ON -- it is never silently
skipped; turning it off (`verify_peer=False`) is traced as a warning.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding

from teachtls.crypto.suites12 import DEFAULT_SUITES_12
from teachtls.pki.verify import VerificationResult
from teachtls.sessions import ClientSession, SessionDatabase, SessionStore
from teachtls.trace.observer import Observer, ignore
from teachtls.wire.enums import CipherSuite, NamedGroup, ProtocolVersion, PskKeyExchangeMode, SignatureScheme

Signer = Callable[[SignatureScheme, bytes], bytes]
"""`signer(scheme, content) -> signature`: overrides signing with the private key."""

VerifyCallback = Callable[[tuple[x509.Certificate, ...], VerificationResult], "bool | VerificationResult"]
"""`verify_callback(chain, built_in_result)`: True/False, or a result with a reason."""

CookieMaker = Callable[[bytes], bytes]
"""`make_cookie(hash_of_client_hello1) -> cookie` for a HelloRetryRequest (RFC 8446 §4.2.2)."""

DEFAULT_CIPHER_SUITES = (
    CipherSuite.TLS_AES_128_GCM_SHA256,
    CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    CipherSuite.TLS_AES_256_GCM_SHA384,
)

DEFAULT_GROUPS = (
    NamedGroup.x25519,
    NamedGroup.secp256r1,
    NamedGroup.secp384r1,
    NamedGroup.x448,
    NamedGroup.X25519MLKEM768,
)

DEFAULT_SIGNATURE_ALGORITHMS = (
    SignatureScheme.ecdsa_secp256r1_sha256,
    SignatureScheme.ecdsa_secp384r1_sha384,
    SignatureScheme.rsa_pss_rsae_sha256,
    SignatureScheme.rsa_pss_rsae_sha384,
    SignatureScheme.rsa_pss_rsae_sha512,
    SignatureScheme.ed25519,
    # RFC 8446 §4.2.3: rsa_pkcs1 may appear for signatures *in certificates*.
    SignatureScheme.rsa_pkcs1_sha256,
    SignatureScheme.rsa_pkcs1_sha384,
    SignatureScheme.rsa_pkcs1_sha512,
)


def system_random(n: int) -> bytes:
    return os.urandom(n)


def system_clock() -> float:
    return time.time()


@attrs.frozen(kw_only=True)
class Config:
    """Everything a `ClientConnection` or `ServerConnection` is configured with."""

    # --- what to offer / accept -------------------------------------------
    # Protocol versions, most preferred first (RFC 8446 §4.2.1).
    versions: tuple[int, ...] = (ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2)
    cipher_suites: tuple[int, ...] = DEFAULT_CIPHER_SUITES
    # TLS 1.2 suites (teachtls.crypto.suites12): ECDHE with AEADs by default.
    cipher_suites_12: tuple[int, ...] = DEFAULT_SUITES_12
    # TEACHING ONLY, off by default: also offer/accept static RSA key transport
    # and AES-CBC with HMAC (MAC-then-encrypt) in TLS 1.2, so a lesson can show
    # why TLS 1.3 removed them (no forward secrecy; padding oracles).
    legacy_suites_for_teaching: bool = False
    # TLS 1.2: use the extended master secret (RFC 7627) when the peer agrees.
    extended_master_secret: bool = True
    # TLS 1.2: accept re-handshakes (only ever with RFC 5746 secure renegotiation).
    allow_renegotiation: bool = True
    # TLS 1.2 client: answer a server's HelloRequest at once (False, as OpenSSL's
    # SSL_read does), or report it as a `HelloRequestReceived` event and let the
    # application decide (True, as GnuTLS's GNUTLS_E_REHANDSHAKE does).
    report_hello_request: bool = False
    supported_groups: tuple[int, ...] = DEFAULT_GROUPS
    # Client: the groups to send a key share for in the first ClientHello.
    key_share_groups: tuple[int, ...] = (NamedGroup.x25519,)
    signature_algorithms: tuple[int, ...] = DEFAULT_SIGNATURE_ALGORITHMS
    alpn_protocols: tuple[bytes, ...] = ()
    # RFC 8449: the largest record (inner plaintext) we accept; None = don't offer.
    record_size_limit: int | None = None

    # --- identity ------------------------------------------------------------
    # Client: the name sent in server_name and checked in the certificate.
    server_name: str | None = None
    certificate_chain: tuple[x509.Certificate, ...] = ()
    private_key: CertificateIssuerPrivateKeyTypes | None = None
    signer: Signer | None = None

    # --- peer verification ------------------------------------------------
    # Client: verify the server's chain and name. Server: verify client certs.
    verify_peer: bool = True
    cafile: str | None = None
    trusted_certificates: tuple[x509.Certificate, ...] = ()
    # Server: "none", "request" or "require" a client certificate (RFC 8446 §4.3.2).
    client_auth: str = "none"
    # Client: ask for a stapled OCSP response (status_request, RFC 6066 §8).
    status_request: bool = True
    # Server: the DER OCSP response to staple to our certificate, if asked.
    ocsp_response: bytes | None = None
    # `verify_callback(chain, built_in_result) -> bool | VerificationResult`:
    # the application's own verdict after the built-in checks
    # (gnutls_certificate_set_verify_function).
    verify_callback: VerifyCallback | None = None

    # --- wire-format choices -------------------------------------------------
    middlebox_compatibility: bool = True  # RFC 8446 §D.4
    pad_client_hello: bool = True  # RFC 7685 padding to 512 bytes, as NSS and BoringSSL do
    # Client extras that RFC 8448's NSS client sends; off by default.
    send_renegotiation_info: bool = False  # RFC 5746 §3.4 (empty in an initial handshake)
    send_session_ticket_extension: bool = False  # RFC 5077 (TLS 1.2 tickets)
    # RFC 8446 §4.2.9. Client: what it offers. Server: what it accepts.
    psk_key_exchange_modes: tuple[int, ...] = (PskKeyExchangeMode.psk_dhe_ke,)
    # Server: put a cookie in HelloRetryRequests (RFC 8446 §4.2.2).
    hello_retry_cookie: bool = True
    make_cookie: CookieMaker | None = None
    max_fragment_length: int = 2**14  # RFC 8446 §5.1
    # The whole handshake must finish within this many milliseconds of the
    # injected clock (0: no limit). 40 s, GnuTLS's default for gnutls_handshake.
    handshake_timeout_ms: int = 40_000
    # At most this many KeyUpdates from the peer within one second (RFC 8446
    # §4.6.3 sets no limit; a flood of them is a cheap way to burn our CPU).
    key_update_limit: int = 16

    # --- session tickets (server, RFC 8446 §4.6.1) ---------------------------
    session_tickets: int = 0  # NewSessionTickets sent after the handshake
    ticket_lifetime: int = 7200  # seconds; at most 604800 (7 days)
    # Server: > 0 announces 0-RTT in tickets and accepts that much early data.
    max_early_data_size: int = 0
    # Where ticket state lives: StatelessTickets or SessionDatabase (sessions.py).
    # Tickets are only issued when a store is configured.
    session_store: SessionStore | None = None
    # Server, TLS 1.2: cache sessions under session IDs (RFC 5246 §7.4.1.2).
    session_id_cache: SessionDatabase | None = None
    # Client: a session from an earlier connection to resume (set_session_data).
    session: ClientSession | None = None

    # --- injected sources (determinism) -------------------------------------
    random: Callable[[int], bytes] = system_random
    clock: Callable[[], float] = system_clock
    key_share_private_keys: Mapping[int, bytes] = attrs.field(factory=dict)

    # --- tracing ---------------------------------------------------------------
    observer: Observer = ignore

    # --- worked out once ----------------------------------------------------------

    @property
    def certificate_chain_der(self) -> tuple[bytes, ...]:
        """`certificate_chain` encoded as DER, as the Certificate message carries it
        (RFC 8446 §4.4.2, RFC 5246 §7.4.2)."""
        return _der_encoded(self.certificate_chain)


# Encoded once per chain, the way OpenSSL's SSL_CTX keeps its chain ready to
# send, rather than once per handshake -- and per chain rather than per Config,
# because a server typically copies its Config for every connection
# (`attrs.evolve(config, observer=...)`).
@functools.lru_cache(maxsize=64)
def _der_encoded(chain: tuple[x509.Certificate, ...]) -> tuple[bytes, ...]:
    return tuple(certificate.public_bytes(Encoding.DER) for certificate in chain)
