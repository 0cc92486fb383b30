"""OCSP stapling: is the server's certificate still good *today*?

A certificate says "this key belongs to this name until notAfter". When the
key leaks before then, the CA revokes the certificate -- but the certificate
itself cannot change, so a client needs a second, fresher statement from the
CA: "serial number N, issued by me, is (still) good as of this morning". The
Online Certificate Status Protocol (OCSP, RFC 6960) is how a CA makes such
statements: a small response, signed by the CA (or by a responder the CA
delegated to), about one certificate, valid for a short window.

Asking the CA directly costs the client a round trip and tells the CA which
sites the client visits. **Stapling** turns this around: the *server* fetches
the response for its own certificate every few hours and "staples" it to the
handshake. The client asks for it with the status_request extension (RFC 6066
§8); in TLS 1.3 the server puts the response into the status_request
extension of the leaf's CertificateEntry (RFC 8446 §4.4.2.1):

    "the body of the "status_request" extension from the server MUST be a
    CertificateStatus structure as defined in [RFC6066], which is
    interpreted as defined in [RFC6960]."

    struct {
        CertificateStatusType status_type;   /* ocsp(1) */
        select (status_type) {
            case ocsp: OCSPResponse;          /* opaque <1..2^24-1>: DER */
        } response;
    } CertificateStatus;

The server cannot forge the response -- the CA signed it -- so the client can
trust it exactly as if it had asked the CA itself. This module works on the
DER bytes of that `OCSPResponse` (RFC 6960 §4.2.1), whose interesting part is:

    BasicOCSPResponse ::= SEQUENCE {
       tbsResponseData      ResponseData,          -- what is signed
       signatureAlgorithm   AlgorithmIdentifier,
       signature            BIT STRING,
       certs            [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }

    ResponseData ::= SEQUENCE {
       responderID          ResponderID,           -- byName or byKey
       producedAt           GeneralizedTime,
       responses            SEQUENCE OF SingleResponse, ... }

    SingleResponse ::= SEQUENCE {
       certID               CertID,                -- which certificate
       certStatus           CertStatus,            -- good / revoked / unknown
       thisUpdate           GeneralizedTime,       -- known correct at
       nextUpdate       [0] EXPLICIT GeneralizedTime OPTIONAL, ... }

    CertID ::= SEQUENCE {
       hashAlgorithm        AlgorithmIdentifier,
       issuerNameHash       OCTET STRING,          -- hash of the issuer's name
       issuerKeyHash        OCTET STRING,          -- hash of the issuer's key
       serialNumber         CertificateSerialNumber }

Checking a staple (`verify_ocsp_response`) follows RFC 6960 §3.2, which lists
what a client "SHALL confirm" before it accepts a response, in this order:

1. **It parses**, and its responseStatus is ``successful``. Anything else
   (tryLater, internalError, ...) carries no certificate status at all.
2. **It is about this certificate**: exactly one SingleResponse whose CertID
   has our serial number and the hashes of our issuer's name and key. A
   serial number alone is not enough: serials are unique only per issuer.
3. **The right party signed it** (RFC 6960 §4.2.2.2): either the issuer
   itself, or a *delegated responder* -- a certificate that the issuer signed
   directly, whose extendedKeyUsage holds id-kp-OCSPSigning, and which the
   response includes. Any other signer, or a signature that does not verify,
   means the response may be forged. Only tbsResponseData is signed: the
   `certs` beside it could be swapped by anyone, which is why an included
   responder certificate proves nothing until the issuer's signature on it
   is checked.
4. **It is fresh**: thisUpdate is not in the future and nextUpdate (if
   present) not in the past, give or take a few minutes of clock skew; with
   `max_age`, thisUpdate is also no older than that. A stapled response has
   no nonce (the server fetched it long before this handshake), so time is
   the only defence against a server replaying an old "good" after the
   certificate was revoked.
5. **What it says**: ``good`` accepts the certificate; ``revoked`` ends the
   handshake with certificate_revoked; ``unknown`` (the responder has never
   heard of the certificate) is no better than no answer.

Every failure but "revoked" is RFC 6066 §8's bad_certificate_status_response:

    "Clients requesting an OCSP response and receiving an OCSP response in a
    "CertificateStatus" message MUST check the OCSP response and abort the
    handshake if the response is not satisfactory with
    bad_certificate_status_response(113) alert."

=========================================  ===============================
what went wrong                            alert (RFC 8446 §6.2)
=========================================  ===============================
not DER, or responseStatus not successful  bad_certificate_status_response
not about this certificate                 bad_certificate_status_response
unknown or unauthorised signer, bad        bad_certificate_status_response
signature
stale, or from the future                  bad_certificate_status_response
status "unknown"                           bad_certificate_status_response
status "revoked"                           certificate_revoked
must-staple certificate, no staple         bad_certificate_status_response
=========================================  ===============================

**Must-staple** (RFC 7633). A client that gets no staple usually carries on
("soft fail"): otherwise a blocked OCSP responder would break the web. An
attacker holding a stolen, revoked certificate simply leaves the staple out.
A certificate can close that gap by listing the TLS feature status_request
(5) in its TLS Feature extension (OID 1.3.6.1.5.5.7.1.24): the server
promises to always staple, and a client that gets no staple "SHOULD reject
the TLS configuration" (RFC 7633 §4.2.3.1). `requires_staple` reads the
extension; `check_stapling` is the whole client-side decision.

`make_ocsp_response` is the other side -- a tiny CA responder -- for tests,
tutorials and ``teachtls serve --ocsp FILE``. Its output is deterministic:
producedAt defaults to thisUpdate and ECDSA signs with RFC 6979 nonces, so
the same inputs and keys give the same bytes, as golden traces need.

Terms: CertID is RFC 6960's name for the (hash algorithm, issuer name hash,
issuer key hash, serial number) tuple that identifies a certificate; a
"staple" is an OCSP response sent inside the TLS handshake.

Not implemented: fetching responses (no I/O here; the AIA extension names
the responder's URL), OCSP requests and nonces, CRLs, checking the
revocation of a delegated responder's own certificate (id-pkix-ocsp-nocheck),
status_request_v2 (RFC 6961, deprecated by RFC 8446), RSA-PSS and SHA-1
response signatures, and staples for intermediate certificates (TLS 1.3
allows one per CertificateEntry; callers check the leaf).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Literal, TypeAlias

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID

from teachtls.pki.generate import IssuedCertificate, PrivateKey
from teachtls.wire.enums import AlertDescription

CertStatusName: TypeAlias = Literal["good", "revoked", "unknown"]
"""What a SingleResponse says about a certificate (RFC 6960 §4.2.1 CertStatus)."""

DEFAULT_CLOCK_SKEW = datetime.timedelta(minutes=5)
"""How far the client's clock may be from the responder's before a response
counts as from the future or stale. RFC 6960 names no figure; five minutes is
what many clients (e.g. OpenSSL's ``-validity_period`` default, 300 s) allow."""

DEFAULT_CERT_ID_HASH = hashes.SHA256()
"""The hash of a new response's CertID. SHA-1 is still the most common on the
Internet (RFC 5019 once required it); any hash works for checking."""

ResponderIdType: TypeAlias = Literal["key", "name"]
"""How a response names its signer: byKey (SHA-1 of its public key) or byName."""

# The response signatures this module can check, with their RFC 5280 names.
_SIGNATURE_ALGORITHM_NAMES: dict[x509.ObjectIdentifier, str] = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ecdsa-with-SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ecdsa-with-SHA384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ecdsa-with-SHA512",
    SignatureAlgorithmOID.RSA_WITH_SHA256: "sha256WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "sha384WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "sha512WithRSAEncryption",
    SignatureAlgorithmOID.ED25519: "Ed25519",
}

# RFC 6960 §4.2.1 spells the response statuses in camelCase; `cryptography`
# in CAPITALS. The comments there say what each means.
_RESPONSE_STATUS_MEANINGS: dict[ocsp.OCSPResponseStatus, str] = {
    ocsp.OCSPResponseStatus.MALFORMED_REQUEST: "malformedRequest (illegal confirmation request)",
    ocsp.OCSPResponseStatus.INTERNAL_ERROR: "internalError (internal error in issuer)",
    ocsp.OCSPResponseStatus.TRY_LATER: "tryLater (try again later)",
    ocsp.OCSPResponseStatus.SIG_REQUIRED: "sigRequired (must sign the request)",
    ocsp.OCSPResponseStatus.UNAUTHORIZED: "unauthorized (request unauthorized)",
}


@attrs.frozen(kw_only=True)
class OcspResult:
    """The outcome of checking a stapled OCSP response.

    `ok` is true exactly when `alert` is `None`. On failure `alert` is the
    alert to send (RFC 8446 §6.2) and `reason` a sentence starting
    ``"OCSP staple rejected: "`` that names the certificate and what was
    wrong. `checked` lists the steps that passed, in order. `cert_status` is
    what the response says ("good", "revoked" or "unknown") once it has
    passed every other check, and "" when there was no trustworthy response
    to read it from."""

    ok: bool
    alert: AlertDescription | None
    reason: str
    checked: tuple[str, ...] = ()
    cert_status: CertStatusName | Literal[""] = ""


# --- the responder's side ------------------------------------------------------


def make_ocsp_response(
    *,
    certificate: x509.Certificate | IssuedCertificate,
    issuer: x509.Certificate | IssuedCertificate,
    responder: IssuedCertificate,
    status: CertStatusName = "good",
    this_update: datetime.datetime,
    next_update: datetime.datetime | None,
    revocation_time: datetime.datetime | None = None,
    revocation_reason: x509.ReasonFlags | None = None,
    produced_at: datetime.datetime | None = None,
    hash_algorithm: hashes.HashAlgorithm = DEFAULT_CERT_ID_HASH,
    responder_id: ResponderIdType = "key",
    certificates: Sequence[x509.Certificate] | None = None,
) -> bytes:
    """Make a signed OCSP response about `certificate`, as a CA's responder would.

    `issuer` is the CA that issued `certificate`; the CertID names it by the
    hashes (`hash_algorithm`, SHA-256 by default) of its name and key.
    `responder` signs: the issuer itself, or a delegated responder from
    `teachtls.pki.generate.issue_ocsp_responder` (or, for negative tests,
    anyone else). `responder_id` chooses how the response names it: ``"key"``
    (byKey, the SHA-1 hash of its public key) or ``"name"`` (byName).

    `certificates` go into the response's `certs` field; by default that is
    the responder's certificate when the responder is not the issuer, which
    is what a client needs to check the delegation (RFC 6960 §4.2.2.2).

    `status` is "good", "revoked" or "unknown". A revoked status carries
    `revocation_time` (default: `this_update`) and optionally a
    `revocation_reason` (RFC 5280 §5.3.1 CRLReason). `produced_at`, the
    moment of signing, defaults to `this_update`, so that the result is
    deterministic. Naive datetimes are taken as UTC; fractions of a second
    are dropped (GeneralizedTime here has whole seconds).

    Returns the DER bytes of the OCSPResponse, ready to staple. Raises
    `ValueError` for contradictory arguments (revocation details on a status
    other than "revoked", nextUpdate before thisUpdate)."""
    certificate = _certificate_of(certificate)
    issuer = _certificate_of(issuer)
    this_update = _whole_seconds(this_update)
    next_update = _whole_seconds(next_update) if next_update is not None else None
    produced_at = _whole_seconds(produced_at) if produced_at is not None else this_update
    if next_update is not None and next_update < this_update:
        raise ValueError(f"next_update ({next_update}) must not be before this_update ({this_update})")
    if status != "revoked" and (revocation_time is not None or revocation_reason is not None):
        raise ValueError(f"revocation_time and revocation_reason belong to status 'revoked', not {status!r}")
    if status == "revoked":
        revocation_time = _whole_seconds(revocation_time) if revocation_time is not None else this_update

    cert_status = {
        "good": ocsp.OCSPCertStatus.GOOD,
        "revoked": ocsp.OCSPCertStatus.REVOKED,
        "unknown": ocsp.OCSPCertStatus.UNKNOWN,
    }[status]
    encoding = ocsp.OCSPResponderEncoding.HASH if responder_id == "key" else ocsp.OCSPResponderEncoding.NAME
    if certificates is None:
        certificates = [] if responder.certificate == issuer else [responder.certificate]

    # cryptography encodes the structure (CertID hashes, responderID, times) ...
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=certificate,
            issuer=issuer,
            algorithm=hash_algorithm,
            cert_status=cert_status,
            this_update=this_update,
            next_update=next_update,
            revocation_time=revocation_time,
            revocation_reason=revocation_reason,
        )
        .responder_id(encoding, responder.certificate)
    )
    if certificates:
        builder = builder.certificates(certificates)
    signature_hash = _signature_hash(responder.private_key)
    response = builder.sign(responder.private_key, signature_hash)

    # ... but stamps producedAt with the current time and signs ECDSA with a
    # random nonce. Set producedAt ourselves and sign again, deterministically.
    return _restamp(
        response.public_bytes(serialization.Encoding.DER), produced_at, responder.private_key, signature_hash
    )


# --- the client's side -----------------------------------------------------------


def verify_ocsp_response(
    response_der: bytes,
    *,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime.datetime,
    max_age: datetime.timedelta | None = None,
    clock_skew: datetime.timedelta = DEFAULT_CLOCK_SKEW,
) -> OcspResult:
    """Check a stapled OCSP response for `certificate`, issued by `issuer`.

    The steps of RFC 6960 §3.2, in the order of the module docstring: parse
    and responseStatus, CertID, signer and signature, freshness at `now`
    (naive means UTC) within `clock_skew`, and at most `max_age` old if
    given, then the certificate status. The caller must already trust
    `issuer` (it verified the chain); this function trusts nothing else.

    Returns an `OcspResult`. Its alert on failure is certificate_revoked for
    a revoked certificate and bad_certificate_status_response otherwise."""
    now = _as_utc(now)
    subject = _subject(certificate)
    checked: list[str] = []

    # 1. parse, and the response status (RFC 6960 §4.2.1)
    try:
        response = ocsp.load_der_ocsp_response(response_der)
    except ValueError as error:
        return _rejected(f"the staple for {subject} is not a DER-encoded OCSPResponse ({error})", checked)
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        meaning = _RESPONSE_STATUS_MEANINGS.get(response.response_status, response.response_status.name)
        return _rejected(
            f"the responder answered {meaning} instead of a status for the certificate for {subject}", checked
        )
    checked.append("OCSP response status: successful")

    # 2. the response is about this certificate (RFC 6960 §3.2 item 1, §4.1.1)
    found = _find_single_response(response, certificate, issuer)
    if isinstance(found, _Rejection):
        return _rejected(found.explanation, checked)
    single, matched = found
    checked.append(matched)

    # 3. signed by the issuer or its delegated responder (§3.2 items 2-4, §4.2.2.2)
    signed_by = _check_signer(response, issuer, now, clock_skew)
    if isinstance(signed_by, _Rejection):
        return _rejected(signed_by.explanation, checked)
    checked.append(signed_by)

    # 4. fresh (§3.2 items 5 and 6, §4.2.2.1)
    freshness = _check_freshness(single, subject, now, max_age, clock_skew)
    if isinstance(freshness, _Rejection):
        return _rejected(freshness.explanation, checked)
    checked.append(freshness)

    # 5. what the response says
    serial = _serial(certificate)
    if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        # RFC 8446 §6.2: "certificate_revoked: A certificate was revoked by its signer."
        revoked_at = single.revocation_time_utc
        when = f" at {_timestamp(revoked_at)}" if revoked_at is not None else ""
        why = f" (reason: {single.revocation_reason.value})" if single.revocation_reason is not None else ""
        return _rejected(
            f"the certificate for {subject} (serial {serial}) was revoked{when}{why}",
            checked,
            alert=AlertDescription.certificate_revoked,
            cert_status="revoked",
        )
    if single.certificate_status is ocsp.OCSPCertStatus.UNKNOWN:
        # RFC 6960 §2.2: "The "unknown" state indicates that the responder
        # doesn't know about the certificate being requested"
        return _rejected(
            f"the responder does not know the certificate for {subject} (serial {serial}): status unknown",
            checked,
            cert_status="unknown",
        )
    checked.append("status: good")
    return OcspResult(
        ok=True,
        alert=None,
        reason=f"OCSP staple accepted: the certificate for {subject} (serial {serial}) is good"
        f" as of {_timestamp(single.this_update_utc)}",
        checked=tuple(checked),
        cert_status="good",
    )


def requires_staple(certificate: x509.Certificate) -> bool:
    """Whether `certificate` is "must-staple" (RFC 7633).

    True when its TLS Feature extension (id-pe-tlsfeature,
    1.3.6.1.5.5.7.1.24) lists status_request (5): the server promised to
    staple an OCSP response to every handshake with this certificate."""
    try:
        features = certificate.extensions.get_extension_for_class(x509.TLSFeature).value
    except x509.ExtensionNotFound:
        return False
    return x509.TLSFeatureType.status_request in features


def check_stapling(
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    response_der: bytes | None,
    now: datetime.datetime,
    *,
    max_age: datetime.timedelta | None = None,
    clock_skew: datetime.timedelta = DEFAULT_CLOCK_SKEW,
) -> OcspResult:
    """The client's whole decision about the staple (or its absence) for `certificate`.

    `response_der` is the OCSPResponse from the leaf's status_request
    extension, or `None` when the server stapled nothing.

    * no staple, not must-staple: ok (soft fail, as browsers do);
    * no staple, must-staple: bad_certificate_status_response (RFC 7633
      §4.2.3.1: the client "SHOULD reject the TLS configuration");
    * a staple: `verify_ocsp_response`, whatever the certificate requires --
      a client that asked for a staple must check the one it gets
      (RFC 6066 §8).

    Returns an `OcspResult`."""
    must_staple = requires_staple(certificate)
    if response_der is None:
        if must_staple:
            return _rejected(
                f"the certificate for {_subject(certificate)} requires OCSP stapling (must-staple) but none was sent",
                [],
            )
        note = "no OCSP staple; the certificate does not require one"
        return OcspResult(ok=True, alert=None, reason=note, checked=(note,))
    result = verify_ocsp_response(
        response_der, certificate=certificate, issuer=issuer, now=now, max_age=max_age, clock_skew=clock_skew
    )
    if must_staple:
        note = "must-staple: the TLS Feature extension lists status_request, and a staple was sent"
        result = attrs.evolve(result, checked=(note, *result.checked))
    return result


# --- the steps -----------------------------------------------------------------


@attrs.frozen
class _Rejection:
    """A step's verdict that the response must not be trusted, and why."""

    explanation: str


def _find_single_response(
    response: ocsp.OCSPResponse, certificate: x509.Certificate, issuer: x509.Certificate
) -> tuple[ocsp.OCSPSingleResponse, str] | _Rejection:
    """The one SingleResponse about `certificate`, and a note saying so; or why not.

    RFC 6960 §4.1.1: "issuerNameHash is the hash of the issuer's
    distinguished name (DN). The hash shall be calculated over the DER
    encoding of the issuer's name field in the certificate being checked.
    issuerKeyHash is the hash of the issuer's public key." Each CertID may
    use its own hash, so we hash with whichever it names."""
    subject = _subject(certificate)
    serial = _serial(certificate)
    matches: list[tuple[ocsp.OCSPSingleResponse, str]] = []
    seen: list[str] = []
    for single in response.responses:
        try:
            algorithm = single.hash_algorithm
        except UnsupportedAlgorithm:
            seen.append("a CertID with an unsupported hash algorithm")
            continue
        name_hash = _hash(algorithm, certificate.issuer.public_bytes())
        key_hash = _hash(algorithm, _public_key_bits(issuer))
        if (single.serial_number, single.issuer_name_hash, single.issuer_key_hash) == (
            certificate.serial_number,
            name_hash,
            key_hash,
        ):
            matches.append(
                (
                    single,
                    f"certificate ID matches serial {serial}, issuer name hash {name_hash.hex()}"
                    f" and issuer key hash {key_hash.hex()} ({algorithm.name.upper()})",
                )
            )
        elif single.serial_number != certificate.serial_number:
            seen.append(f"serial 0x{single.serial_number:x}")
        else:
            seen.append(f"serial {serial} from a different issuer (issuer name or key hash differs)")
    if len(matches) == 1:
        return matches[0]
    if matches:
        return _Rejection(
            f"the response holds {len(matches)} statuses for the certificate for {subject} (serial {serial})"
        )
    return _Rejection(
        f"the response is not about the certificate for {subject} (serial {serial}, issued by"
        f" {_subject(issuer)}): it is about {', '.join(seen) or 'no certificate at all'}"
    )


def _check_signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime.datetime, clock_skew: datetime.timedelta
) -> str | _Rejection:
    """Who signed, whether they may, and whether the signature holds.

    Returns the `checked` note, or the `_Rejection` saying why not.

    RFC 6960 §2.2: "The key used to sign the response MUST belong to one of
    the following: the CA who issued the certificate in question; a Trusted
    Responder whose public key is trusted by the requestor; a CA Designated
    Responder (Authorized Responder, defined in Section 4.2.2.2) who holds a
    specially marked certificate issued directly by the CA, indicating that
    the responder may issue OCSP responses for that CA" (list punctuation
    ours). teachtls has no Trusted Responders: the issuer, or its designated
    responder."""
    issuer_name = _subject(issuer)
    # which certificate does the responderID name? The issuer first: a
    # designated responder never needs the CA's own name or key.
    if _is_named_by_responder_id(response, issuer):
        problem = _verify_signature(response, issuer)
        if problem is not None:
            return _Rejection(f"the response names the issuer {issuer_name!r} as its signer, but {problem}")
        return f"signed by the issuer {issuer_name!r}"

    candidates = [included for included in response.certificates if _is_named_by_responder_id(response, included)]
    if not candidates:
        return _Rejection(
            f"the response is signed by {_describe_responder_id(response)}, which is neither"
            f" the issuer {issuer_name!r} nor a certificate included in the response"
        )
    responder = candidates[0]
    responder_name = _subject(responder)
    problem = _verify_signature(response, responder)
    if problem is not None:
        return _Rejection(f"the response names {responder_name!r} as its signer, but {problem}")

    # RFC 6960 §4.2.2.2: "This certificate MUST be issued directly by the CA
    # that is identified in the request."
    try:
        responder.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return _Rejection(
            f"the response is signed by {responder_name!r}, which was not issued by the"
            f" issuer {issuer_name!r} (issued by {responder.issuer.rfc4514_string() or '(empty name)'}),"
            f" so it may not speak for that CA's certificates"
        )
    # "OCSP signing delegation SHALL be designated by the inclusion of
    # id-kp-OCSPSigning in an extended key usage certificate extension
    # included in the OCSP response signer's certificate."
    try:
        purposes = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        purposes = x509.ExtendedKeyUsage([])
    if ExtendedKeyUsageOID.OCSP_SIGNING not in purposes:
        return _Rejection(
            f"the response is signed by {responder_name!r}, issued by the issuer but not as"
            f" an OCSP responder (its extendedKeyUsage lacks id-kp-OCSPSigning)"
        )
    # RFC 6960 §3.2 item 4: the signer must be "currently authorized".
    if not (responder.not_valid_before_utc - clock_skew <= now <= responder.not_valid_after_utc + clock_skew):
        return _Rejection(
            f"the delegated responder certificate {responder_name!r} is valid only from"
            f" {_timestamp(responder.not_valid_before_utc)} to {_timestamp(responder.not_valid_after_utc)}"
            f" (checked at {_timestamp(now)})"
        )
    return f"signed by delegated responder {responder_name!r} (issued by the issuer, id-kp-OCSPSigning)"


def _verify_signature(response: ocsp.OCSPResponse, signer: x509.Certificate) -> str | None:
    """Check the response's signature over tbsResponseData with `signer`'s key.

    Returns `None` when it holds, else what is wrong (a clause to follow
    "but ...")."""
    algorithm_name = _SIGNATURE_ALGORITHM_NAMES.get(response.signature_algorithm_oid)
    if algorithm_name is None:
        return f"its signature algorithm {response.signature_algorithm_oid.dotted_string} is not supported here"
    public_key = signer.public_key()
    hash_algorithm = response.signature_hash_algorithm
    signature, signed_bytes = response.signature, response.tbs_response_bytes
    try:
        if algorithm_name.startswith("ecdsa") and isinstance(public_key, ec.EllipticCurvePublicKey):
            assert hash_algorithm is not None  # every ecdsa-with-SHA* names its hash
            public_key.verify(signature, signed_bytes, ec.ECDSA(hash_algorithm))
        elif algorithm_name.endswith("WithRSAEncryption") and isinstance(public_key, rsa.RSAPublicKey):
            assert hash_algorithm is not None
            public_key.verify(signature, signed_bytes, padding.PKCS1v15(), hash_algorithm)
        elif algorithm_name == "Ed25519" and isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, signed_bytes)
        else:
            return f"the response is signed with {algorithm_name}, which does not fit its {_key_kind(public_key)} key"
    except InvalidSignature:
        return f"the {algorithm_name} signature does not verify with its public key (forged or altered)"
    return None


def _check_freshness(
    single: ocsp.OCSPSingleResponse,
    subject: str,
    now: datetime.datetime,
    max_age: datetime.timedelta | None,
    clock_skew: datetime.timedelta,
) -> str | _Rejection:
    """Whether the status was recent enough at `now`: the `checked` note, or a `_Rejection`.

    RFC 6960 §4.2.2.1: "Responses whose nextUpdate value is earlier than the
    local system time value SHOULD be considered unreliable. Responses whose
    thisUpdate time is later than the local system time SHOULD be considered
    unreliable." Both are allowed `clock_skew`."""
    this_update, next_update = single.this_update_utc, single.next_update_utc
    checked_at = f"(checked at {_timestamp(now)}, allowing {_duration(clock_skew)} of clock skew)"
    if this_update > now + clock_skew:
        return _Rejection(
            f"the response for {subject} is not yet valid: its thisUpdate"
            f" {_timestamp(this_update)} is in the future {checked_at}"
        )
    if next_update is not None and next_update < now - clock_skew:
        return _Rejection(
            f"the response for {subject} is stale: it expired at its nextUpdate {_timestamp(next_update)} {checked_at}"
        )
    if max_age is not None and now - this_update > max_age:
        return _Rejection(
            f"the response for {subject} is stale: its thisUpdate {_timestamp(this_update)}"
            f" is more than {_duration(max_age)} old (checked at {_timestamp(now)})"
        )
    if next_update is None:
        # RFC 6960 §4.2.2.1: "If nextUpdate is not set, the responder is
        # indicating that newer revocation information is available all the time."
        limit = f"at most {_duration(max_age)} old" if max_age is not None else "its age is not limited"
        return f"fresh: thisUpdate {_timestamp(this_update)} <= now {_timestamp(now)}; no nextUpdate, {limit}"
    return (
        f"fresh: thisUpdate {_timestamp(this_update)} <= now {_timestamp(now)} <= nextUpdate {_timestamp(next_update)}"
    )


# --- identifying keys and names ---------------------------------------------------


def _public_key_bits(certificate: x509.Certificate) -> bytes:
    """The bits of the certificate's subjectPublicKey BIT STRING.

    This is what CertID's issuerKeyHash and ResponderID's byKey hash (RFC
    6960 §4.1.1, §4.2.1: "excluding the tag and length fields"), the same
    bytes as a SHA-1 SubjectKeyIdentifier (RFC 5280 §4.2.1.2). Everyone,
    OpenSSL and cryptography included, also leaves out the BIT STRING's
    leading "unused bits" octet, so we do too.

        SubjectPublicKeyInfo ::= SEQUENCE {
            algorithm            AlgorithmIdentifier,
            subjectPublicKey     BIT STRING }"""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _algorithm, subject_public_key = _elements(_contents(spki))
    return _contents(subject_public_key)[1:]


def _is_named_by_responder_id(response: ocsp.OCSPResponse, certificate: x509.Certificate) -> bool:
    """Whether the response's responderID (RFC 6960 §4.2.1) names `certificate`.

    ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash }, where
    "KeyHash ::= OCTET STRING -- SHA-1 hash of responder's public key"."""
    if response.responder_key_hash is not None:
        return response.responder_key_hash == _hash(hashes.SHA1(), _public_key_bits(certificate))
    return response.responder_name == certificate.subject


def _describe_responder_id(response: ocsp.OCSPResponse) -> str:
    if response.responder_key_hash is not None:
        return f"the responder with key hash {response.responder_key_hash.hex()}"
    name = response.responder_name
    return f"{name.rfc4514_string() if name is not None else '(no name)'!r}"


def _hash(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


# --- signing, deterministically ----------------------------------------------------


def _signature_hash(signing_key: PrivateKey) -> hashes.HashAlgorithm | None:
    """The hash to sign a response with: as strong as the key (RFC 8446
    §4.2.3 pairs P-256/SHA-256, P-384/SHA-384, P-521/SHA-512); none for
    Ed25519, which hashes internally (RFC 8032)."""
    if isinstance(signing_key, ec.EllipticCurvePrivateKey):
        return {384: hashes.SHA384(), 521: hashes.SHA512()}.get(signing_key.curve.key_size, hashes.SHA256())
    if isinstance(signing_key, rsa.RSAPrivateKey):
        return hashes.SHA256()
    return None


def _sign(signing_key: PrivateKey, signature_hash: hashes.HashAlgorithm | None, data: bytes) -> bytes:
    """Sign `data` reproducibly: ECDSA with RFC 6979 nonces, RSA with PKCS#1
    v1.5 and Ed25519 are deterministic by nature."""
    if isinstance(signing_key, ec.EllipticCurvePrivateKey):
        assert signature_hash is not None
        return signing_key.sign(data, ec.ECDSA(signature_hash, deterministic_signing=True))
    if isinstance(signing_key, rsa.RSAPrivateKey):
        assert signature_hash is not None
        return signing_key.sign(data, padding.PKCS1v15(), signature_hash)
    return signing_key.sign(data)


def _restamp(
    response_der: bytes,
    produced_at: datetime.datetime,
    signing_key: PrivateKey,
    signature_hash: hashes.HashAlgorithm | None,
) -> bytes:
    """`response_der` with producedAt set to `produced_at` and signed again.

    Takes the OCSPResponse apart down to ResponseData (RFC 6960 §4.2.1),
    replaces producedAt, signs the new tbsResponseData with the same key and
    algorithm, and puts it back together:

        OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED,
                                    responseBytes [0] EXPLICIT ResponseBytes }
        ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER,
                                     response OCTET STRING }  -- BasicOCSPResponse
    """
    response_status, explicit_response_bytes = _elements(_contents(response_der))
    response_type, octet_string = _elements(_contents(_contents(explicit_response_bytes)))
    tbs_response_data, signature_algorithm, _old_signature, *certs = _elements(_contents(_contents(octet_string)))
    fields = _elements(_contents(tbs_response_data))
    # version [0] is absent when it is the default v1; responderID comes next
    index = 2 if fields[0][0] == _CONTEXT_0 else 1
    if fields[index][0] != _GENERALIZED_TIME:
        raise ValueError("unexpected ResponseData layout: no producedAt after responderID")
    fields[index] = _encode(_GENERALIZED_TIME, produced_at.strftime("%Y%m%d%H%M%SZ").encode("ascii"))
    tbs_response_data = _encode(_SEQUENCE, b"".join(fields))

    signature = _sign(signing_key, signature_hash, tbs_response_data)
    basic_response = _encode(
        _SEQUENCE,
        tbs_response_data + signature_algorithm + _encode(_BIT_STRING, b"\x00" + signature) + b"".join(certs),
    )
    response_bytes = _encode(_SEQUENCE, response_type + _encode(_OCTET_STRING, basic_response))
    return _encode(_SEQUENCE, response_status + _encode(_CONTEXT_0, response_bytes))


# --- DER, just enough (ITU-T X.690 §8.1, §10) ------------------------------------

_BIT_STRING = 0x03
_OCTET_STRING = 0x04
_GENERALIZED_TIME = 0x18
_SEQUENCE = 0x30
_CONTEXT_0 = 0xA0  # [0], constructed: EXPLICIT tagging


def _header(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of element) of the element at `offset`.

    Lengths below 128 take one octet; longer ones set the top bit and give
    the number of length octets that follow (X.690 §8.1.3)."""
    if offset + 2 > len(data):
        raise ValueError("DER element truncated")
    tag, length = data[offset], data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > len(data):
        raise ValueError("DER element truncated")
    return tag, start, start + length


def _contents(element: bytes) -> bytes:
    """The contents of one DER element (without its tag and length)."""
    _tag, start, end = _header(element, 0)
    return element[start:end]


def _elements(contents: bytes) -> list[bytes]:
    """The complete elements (tag, length, contents) one after another in `contents`."""
    elements, offset = [], 0
    while offset < len(contents):
        _tag, _start, end = _header(contents, offset)
        elements.append(contents[offset:end])
        offset = end
    return elements


def _encode(tag: int, contents: bytes) -> bytes:
    length = len(contents)
    if length < 0x80:
        return bytes([tag, length]) + contents
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + contents


# --- helpers -------------------------------------------------------------------------


def _rejected(
    explanation: str,
    checked: list[str],
    *,
    alert: AlertDescription = AlertDescription.bad_certificate_status_response,
    cert_status: CertStatusName | Literal[""] = "",
) -> OcspResult:
    return OcspResult(
        ok=False,
        alert=alert,
        reason=f"OCSP staple rejected: {explanation}",
        checked=tuple(checked),
        cert_status=cert_status,
    )


def _certificate_of(value: x509.Certificate | IssuedCertificate) -> x509.Certificate:
    return value.certificate if isinstance(value, IssuedCertificate) else value


def _key_kind(public_key: object) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"ECDSA {public_key.curve.name}"
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA-{public_key.key_size}"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(public_key).__name__


def _subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string() or "(empty subject)"


def _serial(certificate: x509.Certificate) -> str:
    return f"0x{certificate.serial_number:x}"


def _as_utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(tzinfo=datetime.UTC) if moment.tzinfo is None else moment.astimezone(datetime.UTC)


def _whole_seconds(moment: datetime.datetime) -> datetime.datetime:
    return _as_utc(moment).replace(microsecond=0)


def _timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _duration(span: datetime.timedelta) -> str:
    """``5 minutes``, ``2 hours``, ``1 day, 0:30:00``: short where it can be."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return str(span)
