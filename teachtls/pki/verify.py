"""Certificate chain and host name verification, with TLS alerts as answers.

When a TLS 1.3 client receives the server's Certificate message (RFC 8446
§4.4.2) it has a list of certificates: the server's own "leaf" first, then,
usually, intermediates. Before the handshake may go on, the client must be
convinced of two things, neither of which TLS itself defines ("detailed
certificate validation procedures are out of scope for TLS", §4.4.2.4):

1. **The chain reaches a trust anchor** (RFC 5280 §6): each certificate is
   signed by the next, every certificate is valid at this moment, each CA is
   allowed to be a CA (basicConstraints, keyUsage), and the last one is signed
   by a root in the client's trust store.
2. **The leaf names the server we meant to reach** (RFC 9525, formerly
   RFC 6125): the host name the client asked for (the one it sent in
   server_name, RFC 6066 §3) or the IP address it dialled appears in the
   leaf's subjectAltName. Without this step any certificate from any trusted
   CA would do, and a network attacker could simply present their own.

A server that asked for a client certificate (CertificateRequest, §4.3.2)
does the first step on the client's chain, and checks that the leaf may be
used for client authentication; a client has no host name to match.

The hard parts -- path building, signature checks, extension rules -- are
done by `cryptography.x509.verification`, which implements the CA/Browser
Forum "WebPKI" profile. This module adds what a teacher wants around it: the
steps are named, each failure becomes the RFC 8446 §6.2 alert a TLS endpoint
would send, and the reason is a sentence naming the certificate.

=====================================  ==================================
what went wrong                        alert (RFC 8446 §6.2)
=====================================  ==================================
server sent no certificate             decode_error (§4.4.2.4)
client sent no certificate             certificate_required (§4.4.2.4)
a certificate is expired or not yet    certificate_expired
valid
no path to a trusted root              unknown_ca
host name not in subjectAltName        bad_certificate ("hostname mismatch")
key or signature algorithm the policy  unsupported_certificate
forbids; wrong extendedKeyUsage
anything else                          bad_certificate
=====================================  ==================================

Three choices worth knowing about:

* **Validity is checked here first.** `cryptography` reports an expired
  certificate in an English sentence, not a code. Checking notBefore /
  notAfter of each received certificate ourselves lets us name the
  certificate and the dates precisely; `cryptography` still checks them (and
  those of the trust anchor) again.
* **Chain before host name.** When verification fails, we ask a second
  question -- would the chain be fine for a name the leaf does carry? -- so
  that an untrusted chain is reported as `unknown_ca` even if the name is
  wrong too, the order OpenSSL reports in.
* **`server_name=None` verifies the chain without a host name.**
  `cryptography` has no verifier without a subject, so we verify against a
  name taken from the leaf's own subjectAltName, which proves the chain and
  the leaf's policy (serverAuth, ...) but says nothing about *which* server
  this is. The result says so in `checked` ("hostname NOT checked"). This
  exists for teaching and for clients that dial a bare IP without knowing
  what to expect; a real client must always pass the name it meant.

Not implemented: revocation (OCSP, CRLs), the signature_algorithms_cert
extension (§4.2.3), certificate_authorities (§4.2.4), raw public keys
(RFC 7250).
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import os
import re
import ssl
import warnings
from collections.abc import Iterable, Sequence

import attrs
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import (
    PolicyBuilder,
    ServerVerifier,
    Store,
    Subject,
    VerificationError,
)

from teachtls.wire.enums import AlertDescription

# Debian's bundle; used when Python's ssl module knows of no cafile.
DEBIAN_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@attrs.frozen(kw_only=True)
class VerificationResult:
    """The outcome of verifying a certificate chain.

    `ok` is true exactly when `alert` is `None`. On failure `alert` is the
    alert to send (RFC 8446 §6.2) and `reason` says, in a sentence, which
    certificate failed and why. `checked` lists the steps that passed, in
    order; `chain_subjects` the subjects of the chain, leaf first (the
    verified path up to the trusted root on success, the received
    certificates on failure)."""

    ok: bool
    alert: AlertDescription | None
    reason: str
    checked: tuple[str, ...] = ()
    chain_subjects: tuple[str, ...] = ()


def load_trust_store(
    cafile: str | os.PathLike[str] | None = None,
    certificates: Iterable[x509.Certificate] = (),
) -> Store:
    """Build the set of trusted root certificates ("trust anchors").

    `cafile` is a PEM bundle (one or more ``-----BEGIN CERTIFICATE-----``
    blocks); `certificates` are certificate objects, e.g. a CA made by
    `teachtls.pki.generate.make_ca`. Both may be given. With neither, the
    system's bundle is loaded: `ssl.get_default_verify_paths().cafile`, or
    Debian's `/etc/ssl/certs/ca-certificates.crt`.

    A store is built once and then reused, for as long as `cafile` is not
    modified: a client calls this for every handshake, and parsing a system
    bundle of some 150 roots takes longer than the handshake itself.

    Raises `FileNotFoundError` when no bundle can be found and `ValueError`
    when the result would hold no certificate at all."""
    trusted = tuple(certificates)
    if cafile is None and not trusted:
        cafile = ssl.get_default_verify_paths().cafile or DEBIAN_CA_BUNDLE
        if not os.path.exists(cafile):
            raise FileNotFoundError(f"no system CA bundle at {cafile}; pass cafile= or certificates=")
    if cafile is None:
        return _build_trust_store(None, None, trusted)
    return _build_trust_store(os.fspath(cafile), os.stat(cafile).st_mtime_ns, trusted)


def read_ca_bundle(cafile: str | os.PathLike[str]) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM bundle; read once, and again only when the file changes."""
    return _read_ca_bundle(os.fspath(cafile), os.stat(cafile).st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _build_trust_store(cafile: str | None, modified: int | None, certificates: tuple[x509.Certificate, ...]) -> Store:
    """`load_trust_store`'s work, cached per (bundle, its modification time, certificates)."""
    trusted = list(certificates)
    if cafile is not None and modified is not None:
        trusted += _read_ca_bundle(cafile, modified)
    if not trusted:
        raise ValueError("a trust store needs at least one certificate")
    return Store(trusted)


@functools.lru_cache(maxsize=32)
def _read_ca_bundle(cafile: str, modified: int) -> tuple[x509.Certificate, ...]:
    with open(cafile, "rb") as bundle:
        pem = bundle.read()
    # Some long-lived roots in system bundles have a negative serial
    # number, which RFC 5280 §4.1.2.2 forbids and cryptography warns
    # about; they are still valid trust anchors today.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return tuple(x509.load_pem_x509_certificates(pem))


def verify_server_chain(
    chain: Sequence[x509.Certificate],
    server_name: str | None,
    store: Store,
    now: datetime.datetime,
) -> VerificationResult:
    """Verify a server's certificate chain (leaf first) for `server_name`.

    `server_name` is the DNS name the client meant to reach, or an IP address
    string (``"127.0.0.1"``, ``"::1"``), matched against the leaf's
    subjectAltName. `None` skips the host name check; see the module
    docstring. `now` is the time to check validity at (naive means UTC).

    Returns a `VerificationResult`; its alert on failure is one of
    decode_error (empty chain), certificate_expired, unknown_ca,
    bad_certificate (incl. "hostname mismatch") or unsupported_certificate."""
    if not chain:
        # RFC 8446 §4.4.2.4: "If the server supplies an empty Certificate
        # message, the client MUST abort the handshake with a "decode_error"
        # alert."
        return _failure(AlertDescription.decode_error, "the server sent no certificate", chain)
    now = _as_utc(now)
    leaf, intermediates = chain[0], list(chain[1:])
    checked: list[str] = []

    expired = _check_validity(chain, now)
    if expired is not None:
        return _failure(AlertDescription.certificate_expired, expired, chain)
    checked.append(f"valid at {_timestamp(now)}")

    # verify the chain, and the host name if we have one (RFC 5280 §6, RFC 9525 §6)
    builder = PolicyBuilder().store(store).time(now)
    verifier: ServerVerifier | None
    if server_name is None:
        verifier = _chain_only_verifier(builder, leaf)
        if verifier is None:
            return _failure(AlertDescription.bad_certificate, _no_names(leaf), chain, checked)
    else:
        try:
            verifier = builder.build_server_verifier(_subject_for(server_name))
        except ValueError:  # cryptography: "invalid domain name"
            return _failure(
                AlertDescription.bad_certificate,
                f"hostname mismatch: {server_name!r} is neither a valid DNS name nor an IP address,"
                f" so no certificate can be valid for it",
                chain,
                checked,
            )
    try:
        verified = verifier.verify(leaf, intermediates)
    except VerificationError as error:
        return _diagnose_server_failure(error, chain, server_name, builder, checked)

    checked.append(f"chain to trusted root {_subject(verified[-1])!r}")
    checked.append("extendedKeyUsage allows serverAuth")
    if server_name is None:
        checked.append("hostname NOT checked: no server_name given")
    else:
        checked.append(f"hostname {server_name!r} in subjectAltName")
    return _success(verified, checked)


def verify_client_chain(
    chain: Sequence[x509.Certificate],
    store: Store,
    now: datetime.datetime,
) -> VerificationResult:
    """Verify a client's certificate chain (leaf first), as a server does.

    There is no name to match: the chain must reach a trusted root and the
    leaf must allow TLS client authentication (extendedKeyUsage clientAuth).

    Returns a `VerificationResult`; its alert on failure is one of
    certificate_required (empty chain), certificate_expired, unknown_ca,
    bad_certificate or unsupported_certificate."""
    if not chain:
        # RFC 8446 §4.4.2.4: "If the client does not send any certificates
        # [...], the server MAY at its discretion either continue the
        # handshake without client authentication or abort the handshake
        # with a "certificate_required" alert." Callers that choose to go on
        # simply do not call this function.
        return _failure(AlertDescription.certificate_required, "the client sent no certificate", chain)
    now = _as_utc(now)
    leaf, intermediates = chain[0], list(chain[1:])
    checked: list[str] = []

    expired = _check_validity(chain, now)
    if expired is not None:
        return _failure(AlertDescription.certificate_expired, expired, chain)
    checked.append(f"valid at {_timestamp(now)}")

    verifier = PolicyBuilder().store(store).time(now).build_client_verifier()
    try:
        verified = verifier.verify(leaf, intermediates).chain
    except VerificationError as error:
        alert, explanation = _classify(error, leaf, purpose="clientAuth")
        return _failure(alert, explanation, chain)

    checked.append(f"chain to trusted root {_subject(verified[-1])!r}")
    checked.append("extendedKeyUsage allows clientAuth")
    return _success(verified, checked)


# --- diagnosis ---------------------------------------------------------------


def _diagnose_server_failure(
    error: VerificationError,
    chain: Sequence[x509.Certificate],
    server_name: str | None,
    builder: PolicyBuilder,
    checked: list[str],
) -> VerificationResult:
    """Turn a failed server verification into the right alert.

    cryptography checks the host name and the chain in one go. To tell "wrong
    name" from "untrusted chain" we verify once more against a name the leaf
    itself carries: if *that* passes, the chain is fine and only the host
    name was wrong."""
    leaf, intermediates = chain[0], list(chain[1:])
    if server_name is not None:
        chain_verifier = _chain_only_verifier(builder, leaf)
        if chain_verifier is None:
            return _failure(AlertDescription.bad_certificate, _hostname_mismatch(leaf, server_name), chain)
        try:
            verified = chain_verifier.verify(leaf, intermediates)
        except VerificationError as chain_error:
            error = chain_error
        else:
            checked.append(f"chain to trusted root {_subject(verified[-1])!r}")
            return _failure(
                AlertDescription.bad_certificate,
                _hostname_mismatch(leaf, server_name),
                chain,
                checked,
            )
    alert, explanation = _classify(error, leaf, purpose="serverAuth")
    return _failure(alert, explanation, chain, checked)


def _classify(error: VerificationError, leaf: x509.Certificate, *, purpose: str) -> tuple[AlertDescription, str]:
    """Map one of cryptography's VerificationError messages to an alert.

    cryptography describes failures only in English, so this reads the
    message. Its phrases (cryptography 46-50) are matched loosely, and
    anything unrecognised falls back to bad_certificate with the original
    text, so a new wording degrades the alert, never the explanation."""
    detail = _clean(str(error))
    subject = _subject(leaf)
    if "Forbidden public key algorithm" in detail or "Forbidden signature algorithm" in detail:
        # RFC 8446 §6.2: "unsupported_certificate: A certificate was of an
        # unsupported type."
        algorithm = _algorithm_name(detail)
        return AlertDescription.unsupported_certificate, (
            f"unsupported certificate: the path from the certificate for {subject} to the trust store uses"
            f" {algorithm}, which the WebPKI policy of cryptography.x509.verification does not allow on"
            f" certificates (it allows RSA >= 2048 bits and ECDSA on P-256, P-384 and P-521)"
        )
    if "RSA key" in detail and "weak" in detail:
        return AlertDescription.unsupported_certificate, f"unsupported certificate: {detail}"
    if "EKU" in detail:
        # OpenSSL answers "unsuitable certificate purpose" the same way.
        return AlertDescription.unsupported_certificate, (
            f"unsupported certificate: the certificate for {subject} is not allowed for"
            f" TLS {'server' if purpose == 'serverAuth' else 'client'} authentication"
            f" (its extendedKeyUsage lacks {purpose})"
        )
    if "not valid at validation time" in detail:
        # The received certificates were checked already, so this is the
        # trust anchor (or a stored intermediate) that has run out.
        return AlertDescription.certificate_expired, (
            f"certificate expired: the trusted root that the certificate for {subject} chains to is not valid now"
        )
    if "candidates exhausted" in detail:
        # RFC 8446 §6.2: "unknown_ca: A valid certificate chain or partial
        # chain was received, but the certificate was not accepted because
        # the CA certificate could not be located or could not be matched
        # with a known trust anchor."
        issuer = leaf.issuer.rfc4514_string() or "(empty name)"
        why = detail.split("candidates exhausted:", 1)[-1].strip()
        if "no interior errors" in why:
            explained = ""  # no certificate with the issuer's name was found at all
        elif why == "signature does not match":
            explained = f" (a trusted root is named {issuer}, but its key did not sign this certificate)"
        else:
            explained = f" ({why})"
        return AlertDescription.unknown_ca, (
            f"unknown CA: no chain from the certificate for {subject} (issued by {issuer}) to a trusted root{explained}"
        )
    return AlertDescription.bad_certificate, f"bad certificate: the certificate for {subject}: {detail}"


def _check_validity(chain: Sequence[x509.Certificate], now: datetime.datetime) -> str | None:
    """Explain the first certificate in `chain` not valid at `now`, or `None`.

    RFC 5280 §4.1.2.5: a certificate is valid from notBefore to notAfter,
    both inclusive."""
    for certificate in chain:
        not_before = certificate.not_valid_before_utc
        not_after = certificate.not_valid_after_utc
        if now > not_after:
            return (
                f"certificate expired: certificate for {_subject(certificate)} expired at"
                f" {_timestamp(not_after)} (checked at {_timestamp(now)})"
            )
        if now < not_before:
            return (
                f"certificate not yet valid: certificate for {_subject(certificate)} is not valid before"
                f" {_timestamp(not_before)} (checked at {_timestamp(now)})"
            )
    return None


def _hostname_mismatch(leaf: x509.Certificate, server_name: str) -> str:
    names = ", ".join(_names_in(leaf)) or "no names"
    return (
        f"hostname mismatch: certificate for {_subject(leaf)} is not valid for {server_name!r}"
        f" (its subjectAltName lists {names})"
    )


def _no_names(leaf: x509.Certificate) -> str:
    return (
        f"bad certificate: the certificate for {_subject(leaf)} has no DNS name or IP address in"
        f" subjectAltName, so it names no server (RFC 9525 §6.3: the common name is not used)"
    )


# --- helpers -----------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # a client checks the same few names again and again
def _subject_for(server_name: str) -> Subject:
    """The verifier's subject for a name: an IP address if it parses as one.

    RFC 6066 §3 forbids IP addresses in server_name, so a client that dialled
    an address has only the address to match (an iPAddress entry in
    subjectAltName, RFC 5280 §4.2.1.6)."""
    try:
        return x509.IPAddress(ipaddress.ip_address(server_name))
    except ValueError:
        return x509.DNSName(server_name)


def _chain_only_verifier(builder: PolicyBuilder, leaf: x509.Certificate) -> ServerVerifier | None:
    """A server verifier whose subject is a name the leaf itself carries.

    It checks everything except *which* server the certificate is for. A
    wildcard name ``*.example.com`` is represented by ``x.example.com``,
    which it covers. Returns `None` when the leaf has no usable name."""
    for name in _claimed_subjects(leaf):
        try:
            return builder.build_server_verifier(name)
        except ValueError:
            continue
    return None


def _claimed_subjects(leaf: x509.Certificate) -> list[Subject]:
    try:
        alt_names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    claimed: list[Subject] = []
    for address in alt_names.get_values_for_type(x509.IPAddress):
        if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            claimed.append(x509.IPAddress(address))
    for dns_name in alt_names.get_values_for_type(x509.DNSName):
        claimed.append(x509.DNSName("x" + dns_name[1:] if dns_name.startswith("*.") else dns_name))
    return claimed


def _names_in(leaf: x509.Certificate) -> list[str]:
    """The leaf's subjectAltName entries as ``DNS:...`` / ``IP:...`` strings."""
    try:
        alt_names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = [f"DNS:{name}" for name in alt_names.get_values_for_type(x509.DNSName)]
    names += [f"IP:{address}" for address in alt_names.get_values_for_type(x509.IPAddress)]
    return names


def _subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string() or "(empty subject)"


def _clean(message: str) -> str:
    """cryptography's message without its prefix and its object repr."""
    message = message.removeprefix("validation failed: ")
    return re.sub(r" \(encountered processing <Certificate\(.*\)>\)$", "", message)


def _algorithm_name(detail: str) -> str:
    """``Ed25519`` out of ``... AlgorithmIdentifier { oid: ..., params: Ed25519 }``."""
    match = re.search(r"params: (\w+)", detail)
    return match.group(1) if match else "an algorithm"


def _as_utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(tzinfo=datetime.UTC) if moment.tzinfo is None else moment.astimezone(datetime.UTC)


def _timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _failure(
    alert: AlertDescription,
    explanation: str,
    chain: Sequence[x509.Certificate],
    checked: Iterable[str] = (),
) -> VerificationResult:
    return VerificationResult(
        ok=False,
        alert=alert,
        reason=f"certificate verify failed: {explanation}",
        checked=tuple(checked),
        chain_subjects=tuple(_subject(certificate) for certificate in chain),
    )


def _success(verified: Sequence[x509.Certificate], checked: Iterable[str]) -> VerificationResult:
    subjects = tuple(_subject(certificate) for certificate in verified)
    return VerificationResult(
        ok=True,
        alert=None,
        reason="certificate verified: " + " <- ".join(subjects),
        checked=tuple(checked),
        chain_subjects=subjects,
    )
