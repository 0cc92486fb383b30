"""Making a small PKI for demos and tests: one CA, and leaves it issues.

A TLS server proves who it is with a certificate chain (RFC 8446 §4.4.2): its
own "leaf" certificate, binding its public key to its host names, signed by a
certificate authority (CA) that the client already trusts. This module makes
such chains with `cryptography.x509`, so every demo, test and interop run can
make its own CA on the spot instead of shipping key files.

The extensions are the ones a modern verifier insists on, each for a reason
(RFC 5280 §4.2 defines them; the CA/Browser Forum Baseline Requirements and
`cryptography.x509.verification`'s WebPKI policy enforce them):

=========================  ===================================================
extension                  why
=========================  ===================================================
BasicConstraints           CA: `cA=TRUE`, critical -- RFC 5280 §4.2.1.9 "MUST
                           appear as a critical extension in all CA
                           certificates". Leaf: `cA=FALSE`, so the leaf cannot
                           mint certificates of its own.
KeyUsage                   CA: keyCertSign + cRLSign. Leaf: digitalSignature
                           (TLS 1.3 signs CertificateVerify), plus
                           keyEncipherment for RSA so the same certificate
                           also serves TLS 1.2 RSA key exchange.
ExtendedKeyUsage           Leaf only: serverAuth or clientAuth, the purpose
                           the certificate may be used for.
SubjectAlternativeName     Leaf only: the DNS names and IP addresses the
                           certificate is valid for. Verifiers ignore the
                           subject's common name for this (RFC 9525 §6.3).
SubjectKeyIdentifier       A hash of the public key (RFC 5280 §4.2.1.2) ...
AuthorityKeyIdentifier     ... which the issued certificate repeats, so a
                           verifier can find the issuer by key, not only by
                           name (RFC 5280 §4.2.1.1).
=========================  ===================================================

Key types (`KeyType`):

* ``"ecdsa-p256"`` (the default), ``"ecdsa-p384"`` -- ECDSA on the NIST curves,
  signing with SHA-256 / SHA-384 (RFC 8446 §4.2.3
  `ecdsa_secp256r1_sha256`, `ecdsa_secp384r1_sha384`);
* ``"rsa-2048"`` -- RSA with e = 65537, certificates signed with
  PKCS#1 v1.5 and SHA-256;
* ``"ed25519"`` -- EdDSA (RFC 8032, RFC 8410). Fine as a *leaf* key. As a *CA*
  key it makes chains that `cryptography.x509.verification` refuses: its
  WebPKI policy permits only RSA and ECDSA signatures on certificates, so
  `teachtls.pki.verify` reports `unsupported_certificate` for them.

Validity: unless told otherwise a certificate is valid from one day before
`now` (tolerating a peer's slow clock) to 30 days after it. Pass `now` to make
the dates reproducible. Keys and serial numbers are random on every call.

Not for production: these CAs exist for a few minutes on a test machine, and
their private keys are written unencrypted.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import typing
from collections.abc import Iterable
from typing import Literal, TypeAlias

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["ecdsa-p256", "ecdsa-p384", "rsa-2048", "ed25519"]
"""The kinds of key pair this module can make; see the module docstring."""

KEY_TYPES: tuple[KeyType, ...] = typing.get_args(KeyType)
"""Every `KeyType`, in order: handy for `pytest.mark.parametrize` and CLIs."""

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
"""A private key made by `generate_private_key`."""

IPAddressLike: TypeAlias = str | ipaddress.IPv4Address | ipaddress.IPv6Address
"""An IP address for a subjectAltName: ``"127.0.0.1"``, ``"::1"`` or an `ipaddress` object."""

DEFAULT_CA_NAME = "teachtls demo CA"

# One day of slack before `now`, so a peer whose clock runs a little behind
# still accepts a certificate made a moment ago.
DEFAULT_BACKDATE = datetime.timedelta(days=1)
DEFAULT_LIFETIME = datetime.timedelta(days=30)


@attrs.frozen(kw_only=True)
class IssuedCertificate:
    """A certificate together with the private key of the public key it certifies."""

    certificate: x509.Certificate
    # The private key is what the whole PKI protects: keep it out of reprs.
    private_key: PrivateKey = attrs.field(repr=False)

    @property
    def subject(self) -> str:
        """The subject as an RFC 4514 string, e.g. ``"CN=teachtls demo CA"``."""
        return self.certificate.subject.rfc4514_string()

    def certificate_pem(self) -> bytes:
        """The certificate, PEM-encoded (``-----BEGIN CERTIFICATE-----``)."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def private_key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``).

        This is the form `openssl s_server -key` and Python's
        `ssl.SSLContext.load_cert_chain` read."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def write(self, cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str]) -> None:
        """Write the certificate and the private key as PEM files.

        The key file is created readable by its owner only (mode 0600), as
        `openssl genpkey` does."""
        with open(cert_path, "wb") as cert_file:
            cert_file.write(self.certificate_pem())
        key_fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(key_fd, "wb") as key_file:
            key_file.write(self.private_key_pem())


def generate_private_key(key_type: KeyType) -> PrivateKey:
    """Make a fresh key pair of the given type.

    Raises `ValueError` for a name that is not one of `KEY_TYPES`."""
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type == "rsa-2048":
        # 65537 is the public exponent everyone uses (RFC 8017 leaves it free).
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key type {key_type!r}; choose one of {', '.join(KEY_TYPES)}")


def make_ca(
    common_name: str = DEFAULT_CA_NAME,
    key_type: KeyType = "ecdsa-p256",
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    *,
    issuer: IssuedCertificate | None = None,
    now: datetime.datetime | None = None,
) -> IssuedCertificate:
    """Make a CA certificate named ``CN=<common_name>``.

    Without `issuer` this is a self-signed root: put its `certificate` into
    the verifier's trust store. With `issuer` it is an intermediate CA signed
    by that CA, which a server sends after its leaf (RFC 8446 §4.4.2: "each
    following certificate SHOULD directly certify the one immediately
    preceding it").

    `not_before` / `not_after` default to `now` minus one day / plus 30 days;
    `now` defaults to the current time. Naive datetimes are taken as UTC.

    Returns the CA certificate with its private key, ready for `issue_leaf`."""
    private_key = generate_private_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    valid_from, valid_until = _validity(now, not_before, not_after)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        # a root vouches for itself: its issuer is its own name
        .issuer_name(issuer.certificate.subject if issuer is not None else name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_until)
        # RFC 5280 §4.2.1.9: a CA "MUST" mark basicConstraints critical.
        # No pathLenConstraint, so tests may add intermediates below it.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
    )
    if issuer is None:
        certificate = builder.sign(private_key, _signature_hash(private_key))
    else:
        builder = builder.add_extension(_authority_key_identifier(issuer.certificate), critical=False)
        certificate = builder.sign(issuer.private_key, _signature_hash(issuer.private_key))
    return IssuedCertificate(certificate=certificate, private_key=private_key)


def issue_leaf(
    ca: IssuedCertificate,
    common_name: str,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[IPAddressLike] = (),
    key_type: KeyType = "ecdsa-p256",
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    server: bool = True,
    *,
    now: datetime.datetime | None = None,
    must_staple: bool = False,
) -> IssuedCertificate:
    """Make a fresh key pair and a certificate for it, signed by `ca`.

    `dns_names` and `ip_addresses` go into subjectAltName, the only place
    verifiers look for names (RFC 9525 §6.3). When both are empty,
    `common_name` becomes the one DNS name, so ``issue_leaf(ca, "localhost")``
    does what one expects.

    `server=True` makes a certificate for TLS server authentication
    (extendedKeyUsage serverAuth); `server=False` one for a TLS client
    (clientAuth), as sent after a CertificateRequest (RFC 8446 §4.3.2).

    `must_staple=True` adds the TLS Feature extension listing status_request
    (RFC 7633, "OCSP must-staple"): clients then reject a handshake that
    carries no stapled OCSP response (see `teachtls.pki.ocsp`).

    Validity defaults as for `make_ca`. Returns the leaf certificate with its
    private key."""
    private_key = generate_private_key(key_type)
    valid_from, valid_until = _validity(now, not_before, not_after)

    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    if not alt_names:
        alt_names = [x509.DNSName(common_name)]

    # RFC 5246 §7.4.7.1: TLS 1.2's RSA key exchange encrypts the premaster
    # secret to the certificate's key, which keyEncipherment must allow.
    is_rsa = isinstance(private_key, rsa.RSAPrivateKey)
    purpose = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH

    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_until)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=is_rsa), critical=True)
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(ca.certificate), critical=False)
    )
    if must_staple:
        # Not critical, as RFC 7633 asks: a client that does not know the
        # extension must still accept the certificate (RFC 5280 §4.2 makes
        # unknown *critical* extensions fatal).
        builder = builder.add_extension(x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False)
    certificate = builder.sign(ca.private_key, _signature_hash(ca.private_key))
    return IssuedCertificate(certificate=certificate, private_key=private_key)


def _validity(
    now: datetime.datetime | None,
    not_before: datetime.datetime | None,
    not_after: datetime.datetime | None,
) -> tuple[datetime.datetime, datetime.datetime]:
    """The (notBefore, notAfter) pair, filling in the defaults around `now`."""
    if now is None:
        now = datetime.datetime.now(datetime.UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=datetime.UTC)
    valid_from = not_before if not_before is not None else now - DEFAULT_BACKDATE
    valid_until = not_after if not_after is not None else now + DEFAULT_LIFETIME
    if valid_until <= valid_from:
        raise ValueError(f"not_after ({valid_until}) must be later than not_before ({valid_from})")
    return valid_from, valid_until


def _signature_hash(signing_key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    """The hash a CA with this key signs certificates with.

    ECDSA pairs each curve with the hash of matching strength (RFC 8446
    §4.2.3: P-256 with SHA-256, P-384 with SHA-384). Ed25519 hashes
    internally and takes no separate hash (RFC 8410 §6), hence `None`."""
    if isinstance(signing_key, ec.EllipticCurvePrivateKey):
        return hashes.SHA384() if isinstance(signing_key.curve, ec.SECP384R1) else hashes.SHA256()
    if isinstance(signing_key, rsa.RSAPrivateKey):
        return hashes.SHA256()
    return None


def _key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """A KeyUsage extension (RFC 5280 §4.2.1.3) with only the named bits set."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """AuthorityKeyIdentifier pointing at `issuer` (RFC 5280 §4.2.1.1).

    It copies the issuer's SubjectKeyIdentifier when there is one, and
    otherwise derives the same hash from the issuer's public key."""
    try:
        issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        public_key = issuer.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
            raise ValueError(f"cannot issue certificates with a {type(public_key).__name__} CA key") from None
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key)
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski)


# --- OCSP responders ---------------------------------------------------------------

DEFAULT_OCSP_RESPONDER_NAME = "teachtls demo OCSP responder"


def issue_ocsp_responder(
    ca: IssuedCertificate,
    common_name: str = DEFAULT_OCSP_RESPONDER_NAME,
    key_type: KeyType = "ecdsa-p256",
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    *,
    now: datetime.datetime | None = None,
) -> IssuedCertificate:
    """Make a delegated OCSP responder for `ca`: a key that may sign OCSP
    responses about the certificates `ca` issued, so the CA's own key can
    stay offline.

    RFC 6960 §4.2.2.2: "OCSP signing delegation SHALL be designated by the
    inclusion of id-kp-OCSPSigning in an extended key usage certificate
    extension included in the OCSP response signer's certificate. This
    certificate MUST be issued directly by the CA that is identified in the
    request." Besides that extendedKeyUsage the certificate carries
    keyUsage digitalSignature, `cA=FALSE`, and id-pkix-ocsp-nocheck
    (§4.2.2.2.1), which tells clients not to ask about the responder's own
    revocation -- the usual companion of a short lifetime.

    Validity defaults as for `make_ca`. Returns the responder certificate
    with its private key, ready for `teachtls.pki.ocsp.make_ocsp_response`."""
    private_key = generate_private_key(key_type)
    valid_from, valid_until = _validity(now, not_before, not_after)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(ca.certificate), critical=False)
    )
    certificate = builder.sign(ca.private_key, _signature_hash(ca.private_key))
    return IssuedCertificate(certificate=certificate, private_key=private_key)
