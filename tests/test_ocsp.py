"""teachtls.pki.ocsp: stapled OCSP responses are accepted only when genuine, fresh and "good".

Each negative test makes one thing wrong and expects one alert (RFC 8446
§6.2): certificate_revoked for a revoked certificate,
bad_certificate_status_response (RFC 6066 §8) for everything else. All
certificates and responses are made around one fixed moment, NOW, and
checked at it, so the tests do not depend on the clock.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from teachtls.pki.generate import (
    KEY_TYPES,
    IssuedCertificate,
    KeyType,
    issue_leaf,
    issue_ocsp_responder,
    make_ca,
)
from teachtls.pki.ocsp import (
    CertStatusName,
    OcspResult,
    check_stapling,
    make_ocsp_response,
    requires_staple,
    verify_ocsp_response,
)
from teachtls.wire.enums import AlertDescription

NOW = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)

CA_NAME = "CN=teachtls demo CA"
RESPONDER_NAME = "CN=teachtls demo OCSP responder"


@pytest.fixture(scope="module")
def ca() -> IssuedCertificate:
    return make_ca(now=NOW)


@pytest.fixture(scope="module")
def leaf(ca: IssuedCertificate) -> IssuedCertificate:
    return issue_leaf(ca, "localhost", now=NOW)


@pytest.fixture(scope="module")
def must_staple_leaf(ca: IssuedCertificate) -> IssuedCertificate:
    return issue_leaf(ca, "staple.example", now=NOW, must_staple=True)


@pytest.fixture(scope="module")
def responder(ca: IssuedCertificate) -> IssuedCertificate:
    return issue_ocsp_responder(ca, now=NOW)


@pytest.fixture(scope="module")
def other_ca() -> IssuedCertificate:
    return make_ca("some other CA", now=NOW)


@pytest.fixture(scope="module")
def impostor_ca() -> IssuedCertificate:
    """A CA with our CA's name but its own key: what a forger can make."""
    return make_ca(now=NOW)


def respond(leaf: IssuedCertificate, ca: IssuedCertificate, responder: IssuedCertificate, **changes) -> bytes:
    """A response that is fine unless `changes` say otherwise."""
    arguments = {"this_update": NOW - HOUR, "next_update": NOW + DAY, **changes}
    return make_ocsp_response(certificate=leaf, issuer=ca, responder=responder, **arguments)


def verify(response: bytes, leaf: IssuedCertificate, ca: IssuedCertificate, **options) -> OcspResult:
    return verify_ocsp_response(response, certificate=leaf.certificate, issuer=ca.certificate, now=NOW, **options)


def assert_accepted(result: OcspResult) -> None:
    assert result.ok, result.reason
    assert result.alert is None
    assert result.cert_status == "good"
    assert result.reason.startswith("OCSP staple accepted: the certificate for CN=localhost")
    assert result.checked[-1] == "status: good"


def assert_rejected(
    result: OcspResult,
    *phrases: str,
    alert: AlertDescription = AlertDescription.bad_certificate_status_response,
) -> None:
    assert not result.ok, result
    assert result.alert is alert, result.reason
    assert result.reason.startswith("OCSP staple rejected: "), result.reason
    for phrase in phrases:
        assert phrase in result.reason, result.reason


# --- good responses ----------------------------------------------------------------


def test_good_response_signed_by_the_issuer(leaf, ca):
    result = verify(respond(leaf, ca, ca), leaf, ca)

    assert_accepted(result)
    serial = f"0x{leaf.certificate.serial_number:x}"
    assert serial in result.reason
    assert len(result.checked) == 5
    status, certificate_id, signer, fresh, good = result.checked
    assert status == "OCSP response status: successful"
    assert certificate_id.startswith(f"certificate ID matches serial {serial}, issuer name hash ")
    assert certificate_id.endswith("(SHA256)")
    assert signer == f"signed by the issuer {CA_NAME!r}"
    assert (
        fresh == "fresh: thisUpdate 2026-11-27T11:00:00Z <= now 2026-11-27T12:00:00Z <= nextUpdate 2026-11-28T12:00:00Z"
    )
    assert good == "status: good"


def test_good_response_signed_by_a_delegated_responder(leaf, ca, responder):
    result = verify(respond(leaf, ca, responder), leaf, ca)

    assert_accepted(result)
    assert f"signed by delegated responder {RESPONDER_NAME!r} (issued by the issuer, id-kp-OCSPSigning)" in (
        result.checked
    )


@pytest.mark.parametrize("responder_id", ["key", "name"])
@pytest.mark.parametrize("delegated", [False, True], ids=["issuer", "delegated"])
def test_responder_named_by_key_or_by_name(leaf, ca, responder, responder_id, delegated):
    signer = responder if delegated else ca
    assert_accepted(verify(respond(leaf, ca, signer, responder_id=responder_id), leaf, ca))


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_every_key_type_signs_verifiably(key_type: KeyType):
    # ECDSA P-256/P-384, RSA PKCS#1 v1.5 and Ed25519, as CA and as responder
    ca = make_ca(key_type=key_type, now=NOW)
    leaf = issue_leaf(ca, "localhost", now=NOW)
    responder = issue_ocsp_responder(ca, key_type=key_type, now=NOW)

    assert_accepted(verify(respond(leaf, ca, ca), leaf, ca))
    assert_accepted(verify(respond(leaf, ca, responder), leaf, ca))


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256(), hashes.SHA384(), hashes.SHA512()], ids=str)
def test_certificate_id_hashes_match_cryptography(leaf, ca, algorithm):
    # The CertID hashes we compute are the ones an OCSP request would carry.
    request = x509_ocsp.OCSPRequestBuilder().add_certificate(leaf.certificate, ca.certificate, algorithm).build()

    result = verify(respond(leaf, ca, ca, hash_algorithm=algorithm), leaf, ca)

    assert_accepted(result)
    certificate_id = result.checked[1]
    assert f"issuer name hash {request.issuer_name_hash.hex()}" in certificate_id
    assert f"issuer key hash {request.issuer_key_hash.hex()}" in certificate_id
    assert certificate_id.endswith(f"({algorithm.name.upper()})")


def test_response_without_next_update_is_fresh_unless_too_old(leaf, ca):
    response = respond(leaf, ca, ca, this_update=NOW - 3 * DAY, next_update=None)

    result = verify(response, leaf, ca)
    assert_accepted(result)
    assert "no nextUpdate, its age is not limited" in result.checked[3]

    assert_rejected(verify(response, leaf, ca, max_age=DAY), "stale", "more than 1 day old")


def test_small_clock_differences_are_tolerated(leaf, ca):
    # the responder's clock is 2 minutes ahead; the response expired 2 minutes ago
    assert_accepted(verify(respond(leaf, ca, ca, this_update=NOW + 2 * datetime.timedelta(minutes=1)), leaf, ca))
    expired_just_now = respond(leaf, ca, ca, this_update=NOW - DAY, next_update=NOW - datetime.timedelta(minutes=2))
    assert_accepted(verify(expired_just_now, leaf, ca))
    assert_rejected(verify(expired_just_now, leaf, ca, clock_skew=datetime.timedelta(0)), "stale")


def test_naive_now_means_utc(leaf, ca):
    result = verify_ocsp_response(
        respond(leaf, ca, ca),
        certificate=leaf.certificate,
        issuer=ca.certificate,
        now=NOW.replace(tzinfo=None),
    )
    assert_accepted(result)


# --- what the response says --------------------------------------------------------


def test_revoked_certificate(leaf, ca):
    response = respond(
        leaf,
        ca,
        ca,
        status="revoked",
        revocation_time=NOW - 2 * DAY,
        revocation_reason=x509.ReasonFlags.key_compromise,
    )

    result = verify(response, leaf, ca)

    assert_rejected(
        result,
        "the certificate for CN=localhost",
        f"0x{leaf.certificate.serial_number:x}",
        "was revoked at 2026-11-25T12:00:00Z",
        "(reason: keyCompromise)",
        alert=AlertDescription.certificate_revoked,
    )
    assert result.cert_status == "revoked"
    # every check before the status passed
    assert result.checked[0] == "OCSP response status: successful"
    assert result.checked[-1].startswith("fresh: ")


def test_revoked_without_a_reason(leaf, ca):
    result = verify(respond(leaf, ca, ca, status="revoked"), leaf, ca)

    assert_rejected(result, "was revoked at 2026-11-27T11:00:00Z", alert=AlertDescription.certificate_revoked)
    assert "reason" not in result.reason


def test_unknown_status(leaf, ca, responder):
    result = verify(respond(leaf, ca, responder, status="unknown"), leaf, ca)

    assert_rejected(result, "does not know the certificate for CN=localhost", "status unknown")
    assert result.cert_status == "unknown"


# --- stale and premature ------------------------------------------------------------


def test_stale_response(leaf, ca):
    result = verify(respond(leaf, ca, ca, this_update=NOW - 3 * DAY, next_update=NOW - DAY), leaf, ca)

    assert_rejected(result, "stale", "expired", "nextUpdate 2026-11-26T12:00:00Z", "CN=localhost")
    assert result.cert_status == ""
    # it was genuine: parsed, about this certificate and properly signed
    assert result.checked[-1] == f"signed by the issuer {CA_NAME!r}"


def test_response_older_than_max_age(leaf, ca):
    response = respond(leaf, ca, ca, this_update=NOW - 2 * DAY, next_update=NOW + DAY)

    assert_accepted(verify(response, leaf, ca))
    assert_rejected(verify(response, leaf, ca, max_age=DAY), "stale", "more than 1 day old")


def test_response_from_the_future(leaf, ca):
    result = verify(respond(leaf, ca, ca, this_update=NOW + HOUR, next_update=NOW + DAY), leaf, ca)

    assert_rejected(result, "not yet valid", "thisUpdate 2026-11-27T13:00:00Z is in the future")


# --- not about this certificate ----------------------------------------------------


def test_response_for_another_certificate(leaf, ca):
    other_leaf = issue_leaf(ca, "other.example", now=NOW)

    result = verify(respond(other_leaf, ca, ca), leaf, ca)

    assert_rejected(
        result,
        "not about the certificate for CN=localhost",
        f"0x{leaf.certificate.serial_number:x}",
        f"it is about serial 0x{other_leaf.certificate.serial_number:x}",
    )
    assert result.checked == ("OCSP response status: successful",)


def test_same_serial_but_another_issuers_key(leaf, ca, impostor_ca):
    # The CertID hashes the impostor's key: the serial matches, the issuer does not.
    response = make_ocsp_response(
        certificate=leaf, issuer=impostor_ca, responder=ca, this_update=NOW - HOUR, next_update=NOW + DAY
    )

    assert_rejected(verify(response, leaf, ca), "from a different issuer")


# --- forged and unauthorised signers -----------------------------------------------


def test_signed_by_another_ca(leaf, ca, other_ca):
    result = verify(respond(leaf, ca, other_ca), leaf, ca)

    assert_rejected(result, "signed by 'CN=some other CA', which was not issued by the issuer", CA_NAME)


def test_signed_by_an_impostor_using_the_issuers_name(leaf, ca, impostor_ca):
    # byName points at the real CA, whose key did not make this signature
    response = respond(leaf, ca, impostor_ca, responder_id="name", certificates=[])

    assert_rejected(verify(response, leaf, ca), f"names the issuer {CA_NAME!r} as its signer", "does not verify")


def test_signed_by_an_unknown_key(leaf, ca, impostor_ca):
    response = respond(leaf, ca, impostor_ca, responder_id="key", certificates=[])

    assert_rejected(verify(response, leaf, ca), "neither the issuer", "nor a certificate included in the response")


def test_responder_without_ocsp_signing_purpose(leaf, ca):
    # a server certificate from the same CA: issued by the issuer, but not as a responder
    server = issue_leaf(ca, "www.example", now=NOW)

    result = verify(respond(leaf, ca, server), leaf, ca)

    assert_rejected(result, "'CN=www.example'", "lacks id-kp-OCSPSigning")


def test_responder_of_another_ca(leaf, ca, other_ca):
    foreign_responder = issue_ocsp_responder(other_ca, "other responder", now=NOW)

    result = verify(respond(leaf, ca, foreign_responder), leaf, ca)

    assert_rejected(result, "'CN=other responder', which was not issued by the issuer", "CN=some other CA")


def test_delegated_responder_must_be_included(leaf, ca, responder):
    result = verify(respond(leaf, ca, responder, certificates=[]), leaf, ca)

    assert_rejected(result, "neither the issuer", "nor a certificate included")


def test_expired_delegated_responder(leaf, ca):
    old_responder = issue_ocsp_responder(ca, now=NOW - 60 * DAY)

    result = verify(respond(leaf, ca, old_responder), leaf, ca)

    assert_rejected(result, "delegated responder certificate", "is valid only from")


# --- damaged responses --------------------------------------------------------------


def test_extended_next_update_breaks_the_signature(leaf, ca):
    # the attack a replaying server would try: make an old response last longer
    response = respond(leaf, ca, ca)
    assert response.count(b"20261128120000Z") == 1
    tampered = response.replace(b"20261128120000Z", b"20271128120000Z")

    result = verify(tampered, leaf, ca)

    assert_rejected(result, "signature does not verify", "forged or altered")


def test_no_flipped_byte_changes_what_is_signed(leaf, ca):
    # Only tbsResponseData is signed. A flip elsewhere may survive when it
    # changes nothing that matters: e.g. the signature BIT STRING's "unused
    # bits" octet 0x00 -> 0x01 is still valid DER when the signature's last
    # bit is 0, and leaves the signature bytes as they were.
    response = respond(leaf, ca, ca)
    original = x509_ocsp.load_der_ocsp_response(response)
    for index in range(len(response)):
        tampered = bytearray(response)
        tampered[index] ^= 0x01
        result = verify(bytes(tampered), leaf, ca)
        if result.ok:
            survivor = x509_ocsp.load_der_ocsp_response(bytes(tampered))
            assert survivor.tbs_response_bytes == original.tbs_response_bytes, f"byte {index}"
            assert survivor.signature == original.signature, f"byte {index}"
        else:
            assert result.alert is AlertDescription.bad_certificate_status_response, (index, result.reason)


@pytest.mark.parametrize("garbage", [b"", b"\x30", b"not DER at all", bytes(64)], ids=repr)
def test_unparseable_staple(leaf, ca, garbage):
    result = verify(garbage, leaf, ca)

    assert_rejected(result, "not a DER-encoded OCSPResponse", "CN=localhost")
    assert result.checked == ()


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "malformedRequest"),
        (x509_ocsp.OCSPResponseStatus.INTERNAL_ERROR, "internalError"),
        (x509_ocsp.OCSPResponseStatus.TRY_LATER, "tryLater"),
        (x509_ocsp.OCSPResponseStatus.SIG_REQUIRED, "sigRequired"),
        (x509_ocsp.OCSPResponseStatus.UNAUTHORIZED, "unauthorized"),
    ],
)
def test_unsuccessful_response_status(leaf, ca, status, phrase):
    response = x509_ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)

    result = verify(response, leaf, ca)

    assert_rejected(result, f"the responder answered {phrase}", "instead of a status for the certificate for")
    assert result.checked == ()


# --- must-staple and check_stapling -------------------------------------------------


def test_requires_staple(leaf, must_staple_leaf):
    assert requires_staple(must_staple_leaf.certificate)
    assert not requires_staple(leaf.certificate)
    features = must_staple_leaf.certificate.extensions.get_extension_for_class(x509.TLSFeature)
    assert not features.critical
    assert list(features.value) == [x509.TLSFeatureType.status_request]


def test_no_staple_is_fine_without_must_staple(leaf, ca):
    result = check_stapling(leaf.certificate, ca.certificate, None, NOW)

    assert result.ok
    assert result.alert is None
    assert result.checked == ("no OCSP staple; the certificate does not require one",)
    assert result.cert_status == ""


def test_no_staple_for_a_must_staple_certificate(must_staple_leaf, ca):
    result = check_stapling(must_staple_leaf.certificate, ca.certificate, None, NOW)

    assert_rejected(result, "CN=staple.example", "requires OCSP stapling (must-staple) but none was sent")


def test_staple_for_a_must_staple_certificate(must_staple_leaf, ca, responder):
    response = respond(must_staple_leaf, ca, responder)

    result = check_stapling(must_staple_leaf.certificate, ca.certificate, response, NOW)

    assert result.ok, result.reason
    assert result.checked[0].startswith("must-staple: ")
    assert result.checked[1:] == verify(response, must_staple_leaf, ca).checked


def test_a_staple_is_checked_even_when_not_required(leaf, ca):
    revoked = respond(leaf, ca, ca, status="revoked")

    result = check_stapling(leaf.certificate, ca.certificate, revoked, NOW)

    assert_rejected(result, alert=AlertDescription.certificate_revoked)


def test_check_stapling_passes_max_age_on(leaf, ca):
    old = respond(leaf, ca, ca, this_update=NOW - 2 * DAY)

    assert check_stapling(leaf.certificate, ca.certificate, old, NOW).ok
    assert_rejected(check_stapling(leaf.certificate, ca.certificate, old, NOW, max_age=DAY), "stale")


# --- making responses ----------------------------------------------------------------


def test_responses_are_deterministic(leaf, ca, responder):
    # ECDSA signs with RFC 6979 nonces and producedAt defaults to thisUpdate
    for signer in (ca, responder):
        assert respond(leaf, ca, signer) == respond(leaf, ca, signer)


def test_produced_at(leaf, ca):
    default = x509_ocsp.load_der_ocsp_response(respond(leaf, ca, ca))
    assert default.produced_at_utc == NOW - HOUR

    moment = NOW - datetime.timedelta(minutes=30, microseconds=250)
    response = x509_ocsp.load_der_ocsp_response(respond(leaf, ca, ca, produced_at=moment))
    assert response.produced_at_utc == moment.replace(microsecond=0)
    assert_accepted(verify(response.public_bytes(serialization.Encoding.DER), leaf, ca))


def test_delegated_response_carries_the_responder_certificate(leaf, ca, responder):
    assert x509_ocsp.load_der_ocsp_response(respond(leaf, ca, ca)).certificates == []
    assert x509_ocsp.load_der_ocsp_response(respond(leaf, ca, responder)).certificates == [responder.certificate]


def test_contradictory_arguments(leaf, ca):
    with pytest.raises(ValueError, match="must not be before"):
        respond(leaf, ca, ca, this_update=NOW, next_update=NOW - DAY)
    with pytest.raises(ValueError, match="belong to status 'revoked'"):
        respond(leaf, ca, ca, status="good", revocation_time=NOW)


def test_issue_ocsp_responder(ca, responder):
    certificate = responder.certificate
    certificate.verify_directly_issued_by(ca.certificate)
    assert responder.subject == RESPONDER_NAME
    purposes = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(purposes) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    certificate.extensions.get_extension_for_class(x509.OCSPNoCheck)


# --- interop: OpenSSL accepts what we make -------------------------------------------

OPENSSL = shutil.which("openssl")


@pytest.mark.interop
@pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed")
@pytest.mark.parametrize("status", ["good", "revoked"])
@pytest.mark.parametrize("delegated", [False, True], ids=["issuer", "delegated"])
def test_openssl_verifies_our_responses(tmp_path: Path, status: CertStatusName, delegated: bool):
    # openssl checks against the real clock, so this test uses it too
    assert OPENSSL is not None
    now = datetime.datetime.now(datetime.UTC)
    ca = make_ca(now=now)
    leaf = issue_leaf(ca, "localhost", now=now)
    signer = issue_ocsp_responder(ca, now=now) if delegated else ca
    response = make_ocsp_response(
        certificate=leaf,
        issuer=ca,
        responder=signer,
        status=status,
        this_update=now - datetime.timedelta(minutes=1),
        next_update=now + DAY,
        hash_algorithm=hashes.SHA1(),  # what OpenSSL's CertID uses by default
    )
    (tmp_path / "ca.pem").write_bytes(ca.certificate_pem())
    (tmp_path / "leaf.pem").write_bytes(leaf.certificate_pem())
    (tmp_path / "response.der").write_bytes(response)

    completed = subprocess.run(
        [OPENSSL, "ocsp", "-respin", "response.der", "-issuer", "ca.pem", "-cert", "leaf.pem", "-CAfile", "ca.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "Response verify OK" in output
    assert f"leaf.pem: {status}" in output
