"""What the TLS 1.3 client and server do alike: the key schedule steps,
Finished, CertificateVerify and certificate checking.

RFC 8446 §7.1 key schedule, as each side walks it (names as in the RFC;
the two unnamed "derived" salts are called `early_secret_derived` and
`handshake_secret_derived` here):

              0
              |
              v
    PSK ->  HKDF-Extract = Early Secret
              |
              v
        Derive-Secret(., "derived", "")
              |
              v
    (EC)DHE -> HKDF-Extract = Handshake Secret
              |
              +-----> Derive-Secret(., "c hs traffic", ClientHello...ServerHello)
              |                     = client_handshake_traffic_secret
              +-----> Derive-Secret(., "s hs traffic", ClientHello...ServerHello)
              |                     = server_handshake_traffic_secret
              v
        Derive-Secret(., "derived", "")
              |
              v
    0 -> HKDF-Extract = Master Secret
              |
              +-----> Derive-Secret(., "c ap traffic", ClientHello...server Finished)
              +-----> Derive-Secret(., "s ap traffic", ClientHello...server Finished)
              +-----> Derive-Secret(., "exp master",   ClientHello...server Finished)
              +-----> Derive-Secret(., "res master",   ClientHello...client Finished)

Authentication (RFC 8446 §4.4): the certificate chain is checked against the
trust store and the peer's name (`teachtls.pki.verify`); CertificateVerify
proves possession of the certificate's private key by signing the transcript
hash; Finished is an HMAC over the transcript with a key derived from the
sender's handshake traffic secret, and is compared in constant time.
"""

from __future__ import annotations

import datetime
from typing import ClassVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from teachtls.connection import Connection
from teachtls.crypto import signature
from teachtls.crypto.hashes import constant_time_equal
from teachtls.handshake import alerts
from teachtls.keyschedule import tls13 as keyschedule
from teachtls.pki import ocsp
from teachtls.pki import verify as pki
from teachtls.trace import events as trace
from teachtls.wire.enums import AlertDescription, ExtensionType, SignatureScheme, name_of, to_enum
from teachtls.wire.extensions import CERTIFICATE, CertificateStatus, find_extension, make_extension
from teachtls.wire.messages import Certificate, CertificateEntry, CertificateVerify, Finished

# RFC 8446 §4.4.3: "RSA signatures MUST use an RSASSA-PSS algorithm,
# regardless of whether RSASSA-PKCS1-v1_5 algorithms appear in
# "signature_algorithms"." SHA-1 schemes are legacy-only (§4.2.3).
CERTIFICATE_VERIFY_SCHEMES = frozenset(
    {
        SignatureScheme.ecdsa_secp256r1_sha256,
        SignatureScheme.ecdsa_secp384r1_sha384,
        SignatureScheme.ecdsa_secp521r1_sha512,
        SignatureScheme.rsa_pss_rsae_sha256,
        SignatureScheme.rsa_pss_rsae_sha384,
        SignatureScheme.rsa_pss_rsae_sha512,
        SignatureScheme.rsa_pss_pss_sha256,
        SignatureScheme.rsa_pss_pss_sha384,
        SignatureScheme.rsa_pss_pss_sha512,
        SignatureScheme.ed25519,
        SignatureScheme.ed448,
    }
)

ALERT_CLASSES: dict[AlertDescription, type[alerts.LocalAlert]] = dict(alerts.LOCAL_ALERTS)


# What cryptography raises for a certificate whose DER is sound but whose contents are not.
CORRUPT_CERTIFICATE = (ValueError, x509.InvalidVersion, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)


def load_certificate(der: bytes) -> x509.Certificate:
    """Parse one DER certificate completely; a corrupt one raises ValueError here.

    cryptography decodes names, extensions and the public key only when first
    asked for them, so a certificate whose outer structure is sound but whose
    insides are not would otherwise fail deep inside chain verification (and
    become internal_error). A public key of an unknown algorithm is an
    unsupported_certificate (RFC 8446 §6.2)."""
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.subject, certificate.issuer, certificate.extensions  # noqa: B018 (forces the lazy parse)
    except CORRUPT_CERTIFICATE as error:  # cryptography's own exceptions are not all ValueErrors
        raise ValueError(f"{type(error).__name__}: {error}") from None
    try:
        certificate.public_key()
    except UnsupportedAlgorithm as error:
        raise alerts.UnsupportedCertificate(
            f"certificate key of an unsupported type: {error}", rfc="RFC 8446 §6.2"
        ) from None
    return certificate


def leaf_subject(chain: list[x509.Certificate]) -> str:
    """The leaf certificate's subject as an RFC 4514 string ("CN=localhost"), for traces and errors."""
    return chain[0].subject.rfc4514_string() if chain else ""


class Handshake13(Connection):
    """Shared TLS 1.3 handshake steps; subclassed by the client and the server."""

    peer_role: ClassVar[str] = ""
    own_context: ClassVar[bytes] = b""
    peer_context: ClassVar[bytes] = b""

    # --- key schedule (RFC 8446 §7.1) -----------------------------------------

    def compute_early_secret(self, psk: bytes | None = None) -> None:
        zeros = bytes(self.hash_alg.digest_size)
        self.extract("early_secret", "0 (no salt)", b"", "PSK" if psk else "0 (no PSK)", psk or zeros)

    def psk_binder(self, truncated_transcript_hash: bytes) -> tuple[bytes, bytes]:
        """(binder_key, binder) for a resumption PSK, RFC 8446 §4.2.11.2:

        binder_key = Derive-Secret(Early Secret, "res binder", "")
        binder = HMAC(finished_key(binder_key), Transcript-Hash(Truncated(ClientHello)))"""
        self.derive("binder_key", keyschedule.LABEL_RESUMPTION_BINDER, "early_secret", empty_transcript=True)
        binder_key = self.secrets["binder_key"]
        binder = keyschedule.finished_verify_data(
            self.hash_alg, binder_key, truncated_transcript_hash, self.label_prefix
        )
        return binder_key, binder

    def compute_early_traffic_secrets(self, client_hello_hash: bytes) -> None:
        """0-RTT secrets from the early secret and Hash(ClientHello), RFC 8446 §7.1."""
        self.derive(
            "client_early_traffic_secret",
            keyschedule.LABEL_CLIENT_EARLY_TRAFFIC,
            "early_secret",
            transcript_hash=client_hello_hash,
            through="ClientHello",
        )
        self.derive(
            "early_exporter_master_secret",
            keyschedule.LABEL_EARLY_EXPORTER_MASTER,
            "early_secret",
            transcript_hash=client_hello_hash,
            through="ClientHello",
        )

    def compute_handshake_secrets(
        self, shared_secret: bytes, *, install_write: bool = True, install_read: bool = True
    ) -> None:
        """From the (EC)DHE secret to both handshake traffic secrets; install keys.

        With psk_ke there is no (EC)DHE: "If a given secret is not available,
        then the 0-value consisting of a string of Hash.length bytes set to
        zeros is used" (RFC 8446 §7.1)."""
        if "early_secret" not in self.secrets:
            self.compute_early_secret()
        self.derive("early_secret_derived", keyschedule.LABEL_DERIVED, "early_secret", empty_transcript=True)
        self.extract(
            "handshake_secret",
            "early_secret_derived",
            self.secrets["early_secret_derived"],
            "(EC)DHE shared secret",
            shared_secret,
        )
        self.transcript_hash()
        self.derive("client_handshake_traffic_secret", keyschedule.LABEL_CLIENT_HANDSHAKE_TRAFFIC, "handshake_secret")
        self.derive("server_handshake_traffic_secret", keyschedule.LABEL_SERVER_HANDSHAKE_TRAFFIC, "handshake_secret")
        self.derive("handshake_secret_derived", keyschedule.LABEL_DERIVED, "handshake_secret", empty_transcript=True)
        self.extract(
            "master_secret",
            "handshake_secret_derived",
            self.secrets["handshake_secret_derived"],
            "0",
            bytes(self.hash_alg.digest_size),
        )
        if install_write:
            self.install_keys("write", f"{self.role}_handshake_traffic_secret", "handshake")
        if install_read:
            self.install_keys("read", f"{self.peer_role}_handshake_traffic_secret", "handshake")

    def compute_application_secrets(self) -> None:
        """After the server Finished is in the transcript (RFC 8446 §7.1)."""
        self.transcript_hash()
        self.derive(
            "client_application_traffic_secret_0", keyschedule.LABEL_CLIENT_APPLICATION_TRAFFIC, "master_secret"
        )
        self.derive(
            "server_application_traffic_secret_0", keyschedule.LABEL_SERVER_APPLICATION_TRAFFIC, "master_secret"
        )
        self.derive("exporter_master_secret", keyschedule.LABEL_EXPORTER_MASTER, "master_secret")

    def compute_resumption_master_secret(self) -> None:
        """After the client Finished is in the transcript (RFC 8446 §7.1)."""
        self.derive("resumption_master_secret", keyschedule.LABEL_RESUMPTION_MASTER, "master_secret")

    def derive_resumption_psk(self, ticket_nonce: bytes) -> bytes:
        """PSK of one ticket: HKDF-Expand-Label(resumption_master_secret, "resumption", nonce), §4.6.1."""
        value = keyschedule.resumption_psk(
            self.hash_alg, self.secrets["resumption_master_secret"], ticket_nonce, self.label_prefix
        )
        self.observe(
            trace.SecretDerived(
                role=self.role,
                name=f"resumption_psk[{ticket_nonce.hex()}]",
                operation="HKDF-Expand-Label",
                label=keyschedule.LABEL_RESUMPTION.decode(),
                parent="resumption_master_secret",
                inputs=(f"ticket_nonce={ticket_nonce.hex()}",),
                value=value,
                rfc="RFC 8446 §4.6.1",
            )
        )
        return value

    def export_keying_material(self, label: bytes, context: bytes, length: int) -> bytes:
        """TLS-Exporter(label, context_value, key_length), RFC 8446 §7.5."""
        return keyschedule.exporter(
            self.hash_alg, self.secrets["exporter_master_secret"], label, context, length, self.label_prefix
        )

    # --- Finished (RFC 8446 §4.4.4) -----------------------------------------------

    def finished_verify_data(self, sender: str) -> tuple[bytes, bytes, bytes]:
        """(finished_key, transcript hash, verify_data) for `sender`'s Finished."""
        base_key = self.secrets[f"{sender}_handshake_traffic_secret"]
        transcript_hash = self.transcript_hash()
        finished_key = keyschedule.finished_key(self.hash_alg, base_key, self.label_prefix)
        verify_data = keyschedule.finished_mac(self.hash_alg, finished_key, transcript_hash)
        return finished_key, transcript_hash, verify_data

    def send_finished(self) -> None:
        finished_key, transcript_hash, verify_data = self.finished_verify_data(self.role)
        if self.tracing:
            self.observe(
                trace.FinishedComputed(
                    role=self.role,
                    sender=self.role,
                    transcript_hash=transcript_hash,
                    finished_key=finished_key,
                    verify_data=verify_data,
                )
            )
        self.send_handshake(Finished(verify_data=verify_data))

    def check_finished(self, message: Finished, raw: bytes) -> None:
        """RFC 8446 §4.4.4: "Recipients of Finished messages MUST verify that
        the contents are correct and if incorrect MUST terminate the connection
        with a 'decrypt_error' alert." """
        finished_key, transcript_hash, expected = self.finished_verify_data(self.peer_role)
        if len(message.verify_data) != len(expected):
            raise alerts.DecodeError(
                f"Finished.verify_data has {len(message.verify_data)} bytes, not Hash.length = {len(expected)}",
                rfc="RFC 8446 §4.4.4",
            )
        ok = constant_time_equal(message.verify_data, expected)
        if self.tracing:
            self.observe(
                trace.FinishedVerified(
                    role=self.role,
                    sender=self.peer_role,
                    transcript_hash=transcript_hash,
                    finished_key=finished_key,
                    verify_data=expected,
                    received=message.verify_data,
                    ok=ok,
                )
            )
        self.check(
            ok,
            f"{self.peer_role}_finished",
            alerts.DecryptError,
            f"the {self.peer_role} Finished verify_data does not match the transcript",
            "RFC 8446 §4.4.4",
        )
        self.received(raw, "Finished")

    # --- our certificate and CertificateVerify (RFC 8446 §4.4.2, §4.4.3) ------------

    def choose_signature_scheme(self, peer_schemes: tuple[int, ...]) -> SignatureScheme | None:
        """The first scheme the peer offered that fits our key and that we allow."""
        if not self.config.certificate_chain:
            return None
        usable = signature.schemes_for_key(self.config.certificate_chain[0].public_key())  # type: ignore[arg-type]
        allowed = set(self.config.signature_algorithms) & CERTIFICATE_VERIFY_SCHEMES
        for scheme in peer_schemes:
            if scheme in usable and scheme in allowed:
                return SignatureScheme(scheme)
        return None

    def send_certificate(self, context: bytes = b"", *, staple: bytes | None = None) -> None:
        """Our chain; `staple` is an OCSP response for the leaf (RFC 8446 §4.4.2.1)."""
        entries = [CertificateEntry(cert_data=der) for der in self.config.certificate_chain_der]
        if staple is not None and entries:
            status = make_extension(ExtensionType.status_request, CertificateStatus(ocsp_response=staple))
            entries[0] = CertificateEntry(cert_data=entries[0].cert_data, extensions=(status,))
        self.send_handshake(Certificate(certificate_request_context=context, certificate_list=tuple(entries)))

    def send_certificate_verify(self, scheme: SignatureScheme) -> None:
        content = signature.certificate_verify_content(self.own_context, self.transcript_hash())
        if self.config.signer is not None:
            signed = self.config.signer(scheme, content)
        else:
            if self.config.private_key is None:
                raise alerts.InternalError("no private key to sign CertificateVerify", rfc="RFC 8446 §4.4.3")
            signed = signature.sign(self.config.private_key, scheme, content)  # type: ignore[arg-type]
        self.signature_scheme = scheme
        if self.tracing:
            self.observe(trace.SignatureCreated(role=self.role, scheme=scheme.name, content=content, signature=signed))
        self.send_handshake(CertificateVerify(algorithm=scheme, signature=signed))

    # --- the peer's certificate and CertificateVerify --------------------------------

    def parse_peer_certificates(self, message: Certificate, offered: set[int] | None) -> None:
        """Decode the peer's chain (RFC 8446 §4.4.2) and check each entry's extensions."""
        chain = []
        self.peer_staple = None
        for index, entry in enumerate(message.certificate_list):
            self.check_extensions(entry.extensions, CERTIFICATE, "CertificateEntry", solicited=offered)
            try:
                chain.append(load_certificate(entry.cert_data))
            except ValueError as error:
                raise alerts.BadCertificate(
                    f"certificate {index} of the {self.peer_role}'s chain is not valid DER X.509: {error}",
                    rfc="RFC 8446 §4.4.2",
                ) from None
            status = find_extension(entry.extensions, ExtensionType.status_request)
            if index == 0 and isinstance(status, CertificateStatus):
                self.peer_staple = status.ocsp_response
        self.peer_certificates = tuple(chain)

    def verify_peer_chain(self, server_name: str | None) -> None:
        """Check the peer's chain against the trust store (and the server's name)."""
        chain = list(self.peer_certificates)
        if not self.config.verify_peer:
            self.observe(
                trace.Note(
                    role=self.role,
                    level="warning",
                    text=f"certificate verification is DISABLED: the {self.peer_role}'s chain ({leaf_subject(chain)}) "
                    "was not checked; anyone could have sent it",
                    rfc="RFC 8446 §4.4.2.4",
                )
            )
            return
        store = pki.load_trust_store(self.config.cafile, self.config.trusted_certificates)
        now = datetime.datetime.fromtimestamp(self.config.clock(), tz=datetime.UTC)
        if self.role == "client":
            result = pki.verify_server_chain(chain, server_name, store, now)
        else:
            result = pki.verify_client_chain(chain, store, now)
        self.report_certificate_check(chain, server_name, result.checked, result.ok, result.alert, result.reason)
        if self.role == "client":
            self.check_ocsp_staple(chain, now)
        if self.config.verify_callback is not None:
            self.run_verify_callback(chain, result, server_name)

    def report_certificate_check(
        self,
        chain: list[x509.Certificate],
        server_name: str | None,
        checked: tuple[str, ...],
        ok: bool,
        alert: AlertDescription | None,
        reason: str,
        rfc: str = "RFC 8446 §4.4.2.4",
    ) -> None:
        """Trace one verification step; raise its alert if it failed."""
        if self.tracing:  # naming the subject (RFC 4514) costs more than the check's bookkeeping
            self.observe(
                trace.CertificateChecked(
                    role=self.role,
                    subject=leaf_subject(chain),
                    server_name=server_name or "",
                    checked=tuple(checked),
                    ok=ok,
                    reason=reason,
                    rfc=rfc,
                )
            )
        if not ok:
            alert_class = ALERT_CLASSES.get(alert or AlertDescription.bad_certificate, alerts.BadCertificate)
            raise alert_class(reason, rfc=rfc)

    def check_ocsp_staple(self, chain: list[x509.Certificate], now: datetime.datetime) -> None:
        """RFC 6066 §8 / RFC 8446 §4.4.2.1: a stapled OCSP response must be
        genuine, fresh and say "good"; a must-staple certificate needs one."""
        issuer = self.find_issuer(chain)
        if issuer is None:
            return
        result = ocsp.check_stapling(chain[0], issuer, self.peer_staple, now)
        self.report_certificate_check(
            chain,
            self.server_name,
            result.checked,
            result.ok,
            result.alert,
            result.reason,
            rfc="RFC 6066 §8",
        )

    def find_issuer(self, chain: list[x509.Certificate]) -> x509.Certificate | None:
        """The leaf's issuer: next in the chain, or a trusted certificate."""
        leaf = chain[0]
        candidates = [*chain[1:], *self.config.trusted_certificates]
        if self.config.cafile:
            candidates += pki.read_ca_bundle(self.config.cafile)
        for candidate in candidates:
            if candidate.subject == leaf.issuer:
                return candidate
        return None

    def run_verify_callback(
        self, chain: list[x509.Certificate], result: pki.VerificationResult, server_name: str | None
    ) -> None:
        """The application's own verdict (gnutls_certificate_set_verify_function)."""
        callback = self.config.verify_callback
        assert callback is not None
        verdict = callback(tuple(chain), result)
        accepted = verdict if isinstance(verdict, bool) else verdict.ok
        reason = "" if isinstance(verdict, bool) else verdict.reason
        if not accepted and not reason:
            subject = leaf_subject(chain)
            reason = f"certificate verify failed: rejected by the application's verification callback ({subject})"
        self.report_certificate_check(
            chain,
            server_name,
            ("the application's verification callback",),
            accepted,
            AlertDescription.bad_certificate,
            reason,
        )

    def verify_peer_signature(
        self, scheme: int, content: bytes, signed: bytes, *, check: str, reason: str, rfc: str
    ) -> None:
        """Verify `signed` over `content` with the peer's certificate key, trace
        it, and end the handshake with decrypt_error if it does not verify
        (RFC 8446 §4.4.3, RFC 5246 §7.4.3 and §7.4.8 alike)."""
        try:
            signature.verify(self.peer_certificates[0].public_key(), scheme, content, signed)  # type: ignore[arg-type]
            ok = True
        except signature.SignatureError:
            ok = False
        if self.tracing:
            self.observe(
                trace.SignatureVerified(
                    role=self.role,
                    scheme=name_of(to_enum(SignatureScheme, scheme)),
                    content=content,
                    signature=signed,
                    ok=ok,
                    rfc=rfc,
                )
            )
        self.check(ok, check, alerts.DecryptError, reason, rfc)

    def check_certificate_verify(self, message: CertificateVerify, raw: bytes, offered: tuple[int, ...]) -> None:
        """RFC 8446 §4.4.3: the signature must use an offered scheme and verify."""
        scheme = message.algorithm
        self.check(
            scheme in offered and scheme in CERTIFICATE_VERIFY_SCHEMES,
            "certificate_verify_algorithm",
            alerts.IllegalParameter,
            f"CertificateVerify uses {name_of(scheme)}, which was not offered or is not allowed in TLS 1.3",
            "RFC 8446 §4.4.3",
        )
        content = signature.certificate_verify_content(self.peer_context, self.transcript_hash())
        self.verify_peer_signature(
            scheme,
            content,
            message.signature,
            check="certificate_verify_signature",
            reason=f"the {self.peer_role}'s CertificateVerify signature ({name_of(scheme)}) does not verify "
            "with its certificate's public key",
            rfc="RFC 8446 §4.4.3",
        )
        if self.role == "client":
            self.signature_scheme = scheme
        self.received(raw, "CertificateVerify")
