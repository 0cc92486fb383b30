"""teachtls.pki: generated chains verify, and each failure maps to its RFC 8446 §6.2 alert.

All certificates are made around one fixed moment, NOW, and verified at it,
so the tests do not depend on the clock.
"""

from __future__ import annotations

import datetime
import os
import stat
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from teachtls.pki.generate import (
    KEY_TYPES,
    IssuedCertificate,
    generate_private_key,
    issue_leaf,
    make_ca,
)
from teachtls.pki.verify import (
    VerificationResult,
    load_trust_store,
    verify_client_chain,
    verify_server_chain,
)
from teachtls.wire.enums import AlertDescription

NOW = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)

# Key types cryptography's WebPKI policy accepts for signing certificates.
CA_KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048")


@pytest.fixture(scope="module")
def ca() -> IssuedCertificate:
    return make_ca(now=NOW)


@pytest.fixture(scope="module")
def store(ca: IssuedCertificate) -> Store:
    return load_trust_store(certificates=[ca.certificate])


@pytest.fixture(scope="module")
def localhost(ca: IssuedCertificate) -> IssuedCertificate:
    return issue_leaf(ca, "localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1", "::1"], now=NOW)


def assert_failed(result: VerificationResult, alert: AlertDescription, *phrases: str) -> None:
    assert not result.ok, result
    assert result.alert is alert, result.reason
    assert result.reason.startswith("certificate verify failed: ")
    for phrase in phrases:
        assert phrase in result.reason


# --- chains that verify -------------------------------------------------------


@pytest.mark.parametrize("leaf_key_type", KEY_TYPES)
def test_leaf_of_every_key_type_verifies(ca, store, leaf_key_type):
    leaf = issue_leaf(ca, "localhost", key_type=leaf_key_type, now=NOW)
    result = verify_server_chain([leaf.certificate], "localhost", store, NOW)
    assert result.ok, result.reason
    assert result.alert is None
    assert result.chain_subjects == ("CN=localhost", "CN=teachtls demo CA")
    assert result.checked == (
        "valid at 2026-11-27T12:00:00Z",
        "chain to trusted root 'CN=teachtls demo CA'",
        "extendedKeyUsage allows serverAuth",
        "hostname 'localhost' in subjectAltName",
    )
    assert result.reason == "certificate verified: CN=localhost <- CN=teachtls demo CA"


@pytest.mark.parametrize("ca_key_type", CA_KEY_TYPES)
def test_ca_of_every_webpki_key_type_verifies(ca_key_type):
    own_ca = make_ca(key_type=ca_key_type, now=NOW)
    leaf = issue_leaf(own_ca, "example.test", key_type=ca_key_type, now=NOW)
    store = load_trust_store(certificates=[own_ca.certificate])
    assert verify_server_chain([leaf.certificate], "example.test", store, NOW).ok


@pytest.mark.parametrize("ca_key_type", CA_KEY_TYPES)
@pytest.mark.parametrize("leaf_key_type", KEY_TYPES)
def test_generated_chains_pass_cryptography_policy_directly(ca_key_type, leaf_key_type):
    # The same check without teachtls.pki.verify in between: the generator
    # alone must produce what the WebPKI policy wants (SKI/AKI, criticality).
    own_ca = make_ca(key_type=ca_key_type, now=NOW)
    leaf = issue_leaf(own_ca, "localhost", key_type=leaf_key_type, now=NOW)
    verifier = (
        PolicyBuilder().store(Store([own_ca.certificate])).time(NOW).build_server_verifier(x509.DNSName("localhost"))
    )
    assert verifier.verify(leaf.certificate, []) == [leaf.certificate, own_ca.certificate]


def test_ip_address_in_subject_alt_name(localhost, store):
    for address in ("127.0.0.1", "::1"):
        result = verify_server_chain([localhost.certificate], address, store, NOW)
        assert result.ok, result.reason
        assert f"hostname '{address}' in subjectAltName" in result.checked


def test_chain_through_an_intermediate(ca, store):
    intermediate = make_ca("teachtls intermediate", issuer=ca, now=NOW)
    leaf = issue_leaf(intermediate, "www.example.test", now=NOW)
    result = verify_server_chain([leaf.certificate, intermediate.certificate], "www.example.test", store, NOW)
    assert result.ok, result.reason
    assert result.chain_subjects == ("CN=www.example.test", "CN=teachtls intermediate", "CN=teachtls demo CA")


def test_wildcard_name(ca, store):
    leaf = issue_leaf(ca, "example.test", dns_names=["*.example.test"], now=NOW)
    assert verify_server_chain([leaf.certificate], "www.example.test", store, NOW).ok
    assert_failed(
        verify_server_chain([leaf.certificate], "a.b.example.test", store, NOW),
        AlertDescription.bad_certificate,
        "hostname mismatch",
    )


def test_no_server_name_checks_the_chain_but_says_the_name_was_not(localhost, store):
    result = verify_server_chain([localhost.certificate], None, store, NOW)
    assert result.ok, result.reason
    assert "chain to trusted root 'CN=teachtls demo CA'" in result.checked
    assert "hostname NOT checked: no server_name given" in result.checked


def test_naive_now_is_utc(localhost, store):
    assert verify_server_chain([localhost.certificate], "localhost", store, NOW.replace(tzinfo=None)).ok


# --- failures and their alerts --------------------------------------------------


def test_wrong_hostname_is_bad_certificate(localhost, store):
    result = verify_server_chain([localhost.certificate], "other.test", store, NOW)
    assert_failed(
        result,
        AlertDescription.bad_certificate,
        "hostname mismatch: certificate for CN=localhost is not valid for 'other.test'",
        "DNS:localhost, IP:127.0.0.1, IP:::1",
    )
    # the chain itself was fine, and the result says so
    assert "chain to trusted root 'CN=teachtls demo CA'" in result.checked


def test_wrong_ip_address_is_bad_certificate(localhost, store):
    result = verify_server_chain([localhost.certificate], "127.0.0.2", store, NOW)
    assert_failed(result, AlertDescription.bad_certificate, "hostname mismatch", "'127.0.0.2'")


def test_invalid_server_name_is_a_hostname_mismatch(localhost, store):
    result = verify_server_chain([localhost.certificate], "not a host name", store, NOW)
    assert_failed(result, AlertDescription.bad_certificate, "hostname mismatch", "neither a valid DNS name")


@pytest.mark.parametrize("ca_name", ["teachtls demo CA", "someone else's CA"])
def test_untrusted_ca_is_unknown_ca(localhost, ca_name):
    # Same name as the real CA (so path building finds it and the signature
    # fails) or another name (so no issuer is found at all): both unknown_ca.
    stranger = make_ca(ca_name, now=NOW)
    result = verify_server_chain(
        [localhost.certificate], "localhost", load_trust_store(certificates=[stranger.certificate]), NOW
    )
    assert_failed(result, AlertDescription.unknown_ca, "unknown CA: no chain from the certificate for CN=localhost")


def test_untrusted_ca_is_reported_before_a_wrong_hostname(localhost):
    stranger = load_trust_store(certificates=[make_ca("someone else's CA", now=NOW).certificate])
    result = verify_server_chain([localhost.certificate], "other.test", stranger, NOW)
    assert_failed(result, AlertDescription.unknown_ca)


def test_missing_intermediate_is_unknown_ca(ca, store):
    intermediate = make_ca("teachtls intermediate", issuer=ca, now=NOW)
    leaf = issue_leaf(intermediate, "www.example.test", now=NOW)
    result = verify_server_chain([leaf.certificate], "www.example.test", store, NOW)
    assert_failed(result, AlertDescription.unknown_ca, "issued by CN=teachtls intermediate")


def test_expired_leaf_is_certificate_expired(ca, store):
    leaf = issue_leaf(ca, "localhost", not_before=NOW - 60 * DAY, not_after=NOW - 30 * DAY, now=NOW)
    result = verify_server_chain([leaf.certificate], "localhost", store, NOW)
    assert_failed(
        result,
        AlertDescription.certificate_expired,
        "certificate for CN=localhost expired at 2026-10-28T12:00:00Z (checked at 2026-11-27T12:00:00Z)",
    )


def test_not_yet_valid_leaf_is_certificate_expired(ca, store):
    leaf = issue_leaf(ca, "localhost", not_before=NOW + DAY, not_after=NOW + 30 * DAY, now=NOW)
    result = verify_server_chain([leaf.certificate], "localhost", store, NOW)
    assert_failed(result, AlertDescription.certificate_expired, "not valid before 2026-11-28T12:00:00Z")


def test_expired_root_is_certificate_expired():
    old_ca = make_ca(now=NOW - 100 * DAY, not_after=NOW - DAY)
    leaf = issue_leaf(old_ca, "localhost", now=NOW)
    store = load_trust_store(certificates=[old_ca.certificate])
    result = verify_server_chain([leaf.certificate], "localhost", store, NOW)
    assert_failed(result, AlertDescription.certificate_expired, "trusted root")


def test_ed25519_ca_is_unsupported_certificate():
    # cryptography's WebPKI policy signs certificates with RSA and ECDSA only.
    ed25519_ca = make_ca(key_type="ed25519", now=NOW)
    leaf = issue_leaf(ed25519_ca, "localhost", now=NOW)
    store = load_trust_store(certificates=[ed25519_ca.certificate])
    result = verify_server_chain([leaf.certificate], "localhost", store, NOW)
    assert_failed(result, AlertDescription.unsupported_certificate, "Ed25519")


def test_client_certificate_is_not_a_server_certificate(ca, store):
    client = issue_leaf(ca, "alice", server=False, now=NOW)
    result = verify_server_chain([client.certificate], "alice", store, NOW)
    assert_failed(result, AlertDescription.unsupported_certificate, "lacks serverAuth")


def test_empty_server_chain_is_decode_error(store):
    # RFC 8446 §4.4.2.4: an empty server Certificate message -> decode_error.
    assert_failed(verify_server_chain([], "localhost", store, NOW), AlertDescription.decode_error)


# --- client certificates ----------------------------------------------------------


def test_client_chain_verifies(ca, store):
    client = issue_leaf(ca, "alice", server=False, now=NOW)
    result = verify_client_chain([client.certificate], store, NOW)
    assert result.ok, result.reason
    assert result.chain_subjects == ("CN=alice", "CN=teachtls demo CA")
    assert "extendedKeyUsage allows clientAuth" in result.checked


def test_server_certificate_is_not_a_client_certificate(localhost, store):
    result = verify_client_chain([localhost.certificate], store, NOW)
    assert_failed(result, AlertDescription.unsupported_certificate, "lacks clientAuth")


def test_untrusted_client_is_unknown_ca(ca):
    client = issue_leaf(ca, "alice", server=False, now=NOW)
    stranger = load_trust_store(certificates=[make_ca("someone else's CA", now=NOW).certificate])
    assert_failed(verify_client_chain([client.certificate], stranger, NOW), AlertDescription.unknown_ca)


def test_expired_client_is_certificate_expired(ca, store):
    client = issue_leaf(ca, "alice", server=False, not_before=NOW - 9 * DAY, not_after=NOW - 8 * DAY, now=NOW)
    assert_failed(verify_client_chain([client.certificate], store, NOW), AlertDescription.certificate_expired)


def test_empty_client_chain_is_certificate_required(store):
    assert_failed(verify_client_chain([], store, NOW), AlertDescription.certificate_required)


# --- the generator's output ----------------------------------------------------------


E = TypeVar("E", bound=x509.ExtensionType)


def extension(certificate: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return certificate.extensions.get_extension_for_class(kind)


def test_ca_extensions(ca):
    certificate = ca.certificate
    assert certificate.subject == certificate.issuer
    assert extension(certificate, x509.BasicConstraints).critical
    assert extension(certificate, x509.BasicConstraints).value.ca
    key_usage = extension(certificate, x509.KeyUsage).value
    assert key_usage.key_cert_sign and key_usage.crl_sign and not key_usage.digital_signature
    assert extension(certificate, x509.SubjectKeyIdentifier)
    assert certificate.not_valid_before_utc == NOW - DAY
    assert certificate.not_valid_after_utc == NOW + 30 * DAY


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_leaf_extensions(ca, key_type):
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"], key_type=key_type, now=NOW)
    certificate = leaf.certificate
    assert certificate.issuer == ca.certificate.subject
    assert not extension(certificate, x509.BasicConstraints).value.ca
    key_usage = extension(certificate, x509.KeyUsage).value
    assert key_usage.digital_signature
    assert key_usage.key_encipherment == (key_type == "rsa-2048")
    assert list(extension(certificate, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    alt_names = extension(certificate, x509.SubjectAlternativeName).value
    assert alt_names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(address) for address in alt_names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    authority_key_id = extension(certificate, x509.AuthorityKeyIdentifier).value.key_identifier
    assert authority_key_id == extension(ca.certificate, x509.SubjectKeyIdentifier).value.digest


def test_common_name_is_the_default_dns_name(ca):
    leaf = issue_leaf(ca, "server.example.test", now=NOW)
    alt_names = extension(leaf.certificate, x509.SubjectAlternativeName).value
    assert alt_names.get_values_for_type(x509.DNSName) == ["server.example.test"]


def test_client_leaf_has_client_auth(ca):
    client = issue_leaf(ca, "alice", server=False, now=NOW)
    assert list(extension(client.certificate, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_unknown_key_type_is_rejected():
    with pytest.raises(ValueError, match="unknown key type 'dsa-1024'"):
        generate_private_key("dsa-1024")  # type: ignore[arg-type]


def test_inverted_validity_is_rejected(ca):
    with pytest.raises(ValueError, match="must be later than"):
        issue_leaf(ca, "localhost", not_before=NOW, not_after=NOW - DAY)


def test_private_key_is_not_in_the_repr(localhost):
    assert "private_key" not in repr(localhost)


def test_write_and_load_back(tmp_path, ca, localhost):
    cert_path, key_path, ca_path = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    localhost.write(cert_path, key_path)
    ca.write(ca_path, tmp_path / "ca.key")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600

    assert x509.load_pem_x509_certificate(cert_path.read_bytes()) == localhost.certificate
    loaded_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert loaded_key.public_key() == localhost.private_key.public_key()

    # a trust store read from the PEM file works like one built from objects
    store = load_trust_store(ca_path)
    assert verify_server_chain([localhost.certificate], "localhost", store, NOW).ok


def test_empty_cafile_is_rejected(tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(ValueError):
        load_trust_store(empty)


def test_system_trust_store_loads_and_does_not_trust_the_demo_ca(localhost):
    try:
        system = load_trust_store()
    except FileNotFoundError:
        pytest.skip("no system CA bundle on this machine")
    result = verify_server_chain([localhost.certificate], "localhost", system, NOW)
    assert_failed(result, AlertDescription.unknown_ca)
