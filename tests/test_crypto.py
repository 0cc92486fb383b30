"""Tests of `teachtls.crypto`: hashes, AEAD, key shares and signatures.

Known answers come from RFC 8448 (the JSON copy in `tests/vectors/`):
the X25519 and P-256 key pairs and shared secrets of every trace, the
records of the simple 1-RTT trace (§3), and every CertificateVerify in
the traces. Round trips cover what RFC 8448 does not use (x448, the other
NIST curves, X25519MLKEM768, the other cipher suites and signature
schemes); negative tests make one corruption each and expect one error.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from teachtls.crypto.aead import CIPHER_SUITES, Aead, AeadError, per_record_nonce
from teachtls.crypto.hashes import SHA256, SHA384, constant_time_equal, hmac
from teachtls.crypto.keyshare import (
    SUPPORTED_GROUPS,
    KeyShareError,
    generate_key_share,
    server_key_exchange,
)
from teachtls.crypto.signature import (
    CLIENT_CONTEXT,
    SERVER_CONTEXT,
    SignatureError,
    certificate_verify_content,
    load_certificate_chain,
    load_private_key,
    schemes_for_key,
    sign,
    verify,
)
from teachtls.wire.enums import CipherSuite, ContentType, NamedGroup, SignatureScheme
from tests.rfc8448 import (
    handshake_messages_before,
    item,
    private_key_item,
    scenarios,
    step_index,
    step_items,
    transcript_hash,
)

AES_128_GCM_SHA256 = CIPHER_SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]


# === hashes ===========================================================================


def test_hash_digests() -> None:
    assert SHA256.digest(b"") == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert SHA384.digest(b"abc") == bytes.fromhex(
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
    )
    assert (SHA256.name, SHA256.digest_size, SHA384.name, SHA384.digest_size) == ("sha256", 32, "sha384", 48)


def test_running_hash_gives_intermediate_digests() -> None:
    running = SHA256.new()
    running.update(b"Client")
    assert running.digest() == SHA256.digest(b"Client")
    # Reading the digest did not end the hash.
    running.update(b"Hello")
    assert running.digest() == SHA256.digest(b"ClientHello")
    fork = running.copy()
    fork.update(b"!")
    assert running.digest() == SHA256.digest(b"ClientHello")
    assert fork.digest() == SHA256.digest(b"ClientHello!")


def test_hmac_rfc4231_test_case_2() -> None:
    key, data = b"Jefe", b"what do ya want for nothing?"
    assert hmac(SHA256, key, data) == bytes.fromhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    assert hmac(SHA384, key, data) == bytes.fromhex(
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"
    )


def test_constant_time_equal() -> None:
    assert constant_time_equal(b"\x01\x02", b"\x01\x02")
    assert not constant_time_equal(b"\x01\x02", b"\x01\x03")
    assert not constant_time_equal(b"\x01\x02", b"\x01")


# === AEAD =============================================================================


def test_cipher_suite_params() -> None:
    assert set(CIPHER_SUITES) == {
        CipherSuite.TLS_AES_128_GCM_SHA256,
        CipherSuite.TLS_AES_256_GCM_SHA384,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    }
    shapes = {suite: (p.key_length, p.iv_length, p.tag_length, p.hash_alg) for suite, p in CIPHER_SUITES.items()}
    assert shapes[CipherSuite.TLS_AES_128_GCM_SHA256] == (16, 12, 16, SHA256)
    assert shapes[CipherSuite.TLS_AES_256_GCM_SHA384] == (32, 12, 16, SHA384)
    assert shapes[CipherSuite.TLS_CHACHA20_POLY1305_SHA256] == (32, 12, 16, SHA256)


def test_per_record_nonce() -> None:
    # RFC 8446 §5.3: the sequence number, padded left to 12 bytes, XOR write_iv.
    iv = item("simple_1rtt", "derive write traffic keys for handshake data", "iv expanded", actor="server")
    assert iv == bytes.fromhex("5d313eb2671276ee13000b30")
    assert per_record_nonce(iv, 0) == iv
    assert per_record_nonce(iv, 1) == bytes.fromhex("5d313eb2671276ee13000b31")
    assert per_record_nonce(iv, 0x0102030405060708) == bytes.fromhex("5d313eb2661075ea16060c38")
    assert per_record_nonce(bytes(12), 2**64 - 1) == bytes(4) + b"\xff" * 8
    with pytest.raises(ValueError):
        per_record_nonce(iv, 2**64)


# The keys of each direction and epoch in RFC 8448 §3, as (step, actor). The
# RFC prints the client's handshake keys only as the server's "read" keys.
SERVER_HANDSHAKE_KEYS = ("derive write traffic keys for handshake data", "server")
CLIENT_HANDSHAKE_KEYS = ("derive read traffic keys for handshake data", "server")
SERVER_APPLICATION_KEYS = ("derive write traffic keys for application data", "server")
CLIENT_APPLICATION_KEYS = ("derive write traffic keys for application data", "client")

# Every protected record of RFC 8448 §3: (record step, actor, occurrence among
# that actor's such steps, keys, sequence number, inner content type).
SIMPLE_1RTT_RECORDS = [
    ("send handshake record", "server", 1, SERVER_HANDSHAKE_KEYS, 0, ContentType.handshake),
    ("send handshake record", "client", 1, CLIENT_HANDSHAKE_KEYS, 0, ContentType.handshake),
    ("send handshake record", "server", 2, SERVER_APPLICATION_KEYS, 0, ContentType.handshake),
    ("send application_data record", "client", 0, CLIENT_APPLICATION_KEYS, 0, ContentType.application_data),
    ("send application_data record", "server", 0, SERVER_APPLICATION_KEYS, 1, ContentType.application_data),
    ("send alert record", "client", 0, CLIENT_APPLICATION_KEYS, 1, ContentType.alert),
    ("send alert record", "server", 0, SERVER_APPLICATION_KEYS, 2, ContentType.alert),
]


@pytest.mark.parametrize(
    ("record_step", "actor", "occurrence", "keys", "sequence_number", "content_type"),
    SIMPLE_1RTT_RECORDS,
    ids=[
        f"{actor}-{content_type.name}-seq{sequence}" for _, actor, _, _, sequence, content_type in SIMPLE_1RTT_RECORDS
    ],
)
def test_rfc8448_simple_1rtt_records(
    record_step: str,
    actor: str,
    occurrence: int,
    keys: tuple[str, str],
    sequence_number: int,
    content_type: ContentType,
) -> None:
    """Open each protected record of RFC 8448 §3 and seal it again, byte for byte."""
    record = item("simple_1rtt", record_step, "complete record", actor=actor, occurrence=occurrence)
    payload = item("simple_1rtt", record_step, "payload", actor=actor, occurrence=occurrence)
    key_step, key_actor = keys
    write_key = item("simple_1rtt", key_step, "key expanded", actor=key_actor)
    write_iv = item("simple_1rtt", key_step, "iv expanded", actor=key_actor)

    # RFC 8446 §5.2: the additional data is the record header itself.
    header, encrypted_record = record[:5], record[5:]
    assert header[0] == ContentType.application_data
    nonce = per_record_nonce(write_iv, sequence_number)
    aead = Aead(AES_128_GCM_SHA256, write_key)

    # TLSInnerPlaintext = content || ContentType (no padding in RFC 8448).
    inner_plaintext = aead.open(nonce, encrypted_record, header)
    assert inner_plaintext == payload + bytes([content_type])
    assert aead.seal(nonce, inner_plaintext, header) == encrypted_record


def test_rfc8448_record_tampering_is_detected() -> None:
    record = item("simple_1rtt", "send handshake record", "complete record", actor="server", occurrence=1)
    key_step = "derive write traffic keys for handshake data"
    aead = Aead(AES_128_GCM_SHA256, item("simple_1rtt", key_step, "key expanded", actor="server"))
    nonce = per_record_nonce(item("simple_1rtt", key_step, "iv expanded", actor="server"), 0)
    header, encrypted_record = record[:5], record[5:]

    flipped = bytearray(encrypted_record)
    flipped[100] ^= 0x01
    with pytest.raises(AeadError):
        aead.open(nonce, bytes(flipped), header)
    with pytest.raises(AeadError):  # the header is authenticated too
        aead.open(nonce, encrypted_record, header[:4] + bytes([header[4] ^ 1]))
    with pytest.raises(AeadError):  # a replayed or reordered record: wrong sequence number
        aead.open(per_record_nonce(nonce, 1), encrypted_record, header)


@pytest.mark.parametrize("suite", list(CIPHER_SUITES), ids=lambda suite: suite.name)
def test_aead_round_trip(suite: CipherSuite) -> None:
    params = CIPHER_SUITES[suite]
    aead = Aead(params, bytes(range(params.key_length)))
    nonce = per_record_nonce(bytes(params.iv_length), 7)
    sealed = aead.seal(nonce, b"hello\x17", b"\x17\x03\x03\x00\x16")
    assert len(sealed) == len(b"hello\x17") + params.tag_length
    assert aead.open(nonce, sealed, b"\x17\x03\x03\x00\x16") == b"hello\x17"
    with pytest.raises(AeadError):
        Aead(params, bytes(params.key_length)).open(nonce, sealed, b"\x17\x03\x03\x00\x16")


def test_aead_rejects_wrong_key_length() -> None:
    with pytest.raises(ValueError):
        Aead(AES_128_GCM_SHA256, bytes(32))


# === key shares =======================================================================

GROUP_OF_DESCRIPTION = {"x25519": NamedGroup.x25519, "P-256": NamedGroup.secp256r1}

# Sizes of the key_exchange fields (client, server) and of the shared secret.
SHARE_SIZES = {
    NamedGroup.x25519: (32, 32, 32),
    NamedGroup.x448: (56, 56, 56),
    NamedGroup.secp256r1: (65, 65, 32),
    NamedGroup.secp384r1: (97, 97, 48),
    NamedGroup.secp521r1: (133, 133, 66),
    NamedGroup.X25519MLKEM768: (1216, 1120, 64),
}


def key_pair_steps() -> list[Any]:
    params = []
    for trace in scenarios():
        for index, step in enumerate(trace["steps"]):
            if step["description"].startswith("create an ephemeral"):
                group_name = step["description"].split()[3]
                test_id = f"s{trace['section']}-{index:02d}-{step['actor']}-{group_name}"
                params.append(pytest.param(GROUP_OF_DESCRIPTION[group_name], step, id=test_id))
    return params


KEY_PAIR_STEPS = key_pair_steps()


def test_key_pair_steps_found() -> None:
    assert len(KEY_PAIR_STEPS) == 11  # 2 per trace, plus the §5 client's second (P-256) key


@pytest.mark.parametrize(("group", "step"), KEY_PAIR_STEPS)
def test_rfc8448_key_pairs(group: NamedGroup, step: dict[str, Any]) -> None:
    items = step_items(step)
    share = generate_key_share(group, items["private key"])
    assert share.group == group
    assert share.public_bytes() == items["public key"]
    assert share.private_bytes() == items["private key"]


@pytest.mark.parametrize("trace", scenarios(), ids=lambda trace: f"s{trace['section']}")
def test_rfc8448_shared_secret(trace: dict[str, Any]) -> None:
    """Both sides' (EC)DHE output is the IKM of the handshake secret."""
    scenario_id = trace["id"]
    client_steps = [s for s in trace["steps"] if s["description"].startswith("create an") and s["actor"] == "client"]
    server_steps = [s for s in trace["steps"] if s["description"].startswith("create an") and s["actor"] == "server"]
    # The last client key pair is the one the server accepted (§5 retries with P-256).
    client_step, server_step = client_steps[-1], server_steps[-1]
    group = GROUP_OF_DESCRIPTION[client_step["description"].split()[3]]
    client_items, server_items = step_items(client_step), step_items(server_step)
    shared_secret = item(scenario_id, 'extract secret "handshake"', "IKM")

    client_share = generate_key_share(group, client_items["private key"])
    assert client_share.exchange(server_items["public key"]) == shared_secret

    server_public, server_secret, server_share = server_key_exchange(
        group, client_items["public key"], server_items["private key"]
    )
    assert server_public == server_items["public key"]
    assert server_secret == shared_secret
    assert server_share is not None
    assert server_share.private_bytes() == server_items["private key"]


@pytest.mark.parametrize("group", SUPPORTED_GROUPS, ids=lambda group: group.name)
def test_key_share_round_trip(group: NamedGroup) -> None:
    client_size, server_size, secret_size = SHARE_SIZES[group]
    client_share = generate_key_share(group)
    assert client_share.group == group
    assert len(client_share.public_bytes()) == client_size

    server_public, server_secret, _ = server_key_exchange(group, client_share.public_bytes())
    assert len(server_public) == server_size
    assert len(server_secret) == secret_size
    assert client_share.exchange(server_public) == server_secret


@pytest.mark.parametrize("group", SUPPORTED_GROUPS, ids=lambda group: group.name)
def test_key_share_is_deterministic_from_private_bytes(group: NamedGroup) -> None:
    original = generate_key_share(group)
    again = generate_key_share(group, original.private_bytes())
    assert again.private_bytes() == original.private_bytes()
    assert again.public_bytes() == original.public_bytes()


def test_hybrid_share_layout() -> None:
    """draft-ietf-tls-ecdhe-mlkem §4: ML-KEM first, then X25519, in every field."""
    client_share = generate_key_share(NamedGroup.X25519MLKEM768)
    private_bytes = client_share.private_bytes()
    assert len(private_bytes) == 64 + 32
    x25519_client = generate_key_share(NamedGroup.x25519, private_bytes[64:])
    assert client_share.public_bytes()[1184:] == x25519_client.public_bytes()

    x25519_server_private = bytes(range(1, 33))
    server_public, shared_secret, server_share = server_key_exchange(
        NamedGroup.X25519MLKEM768, client_share.public_bytes(), x25519_server_private
    )
    assert server_share is None  # the server encapsulates; it has no key pair of this group
    x25519_server = generate_key_share(NamedGroup.x25519, x25519_server_private)
    assert server_public[1088:] == x25519_server.public_bytes()
    # The X25519 half of the secret comes last.
    assert shared_secret[32:] == x25519_client.exchange(x25519_server.public_bytes())


def test_unsupported_group() -> None:
    with pytest.raises(ValueError):
        generate_key_share(NamedGroup.ffdhe2048)
    with pytest.raises(ValueError):
        server_key_exchange(NamedGroup.ffdhe2048, bytes(256))


@pytest.mark.parametrize("group", SUPPORTED_GROUPS, ids=lambda group: group.name)
def test_wrong_length_shares(group: NamedGroup) -> None:
    client_size, server_size, _ = SHARE_SIZES[group]
    valid_client_share = generate_key_share(group).public_bytes()
    with pytest.raises(KeyShareError) as error:
        server_key_exchange(group, valid_client_share + b"\x00")
    assert str(client_size) in error.value.reason
    with pytest.raises(KeyShareError):
        server_key_exchange(group, valid_client_share[:-1])
    with pytest.raises(KeyShareError):
        generate_key_share(group).exchange(bytes(server_size - 1))


def test_p256_point_off_the_curve() -> None:
    valid = generate_key_share(NamedGroup.secp256r1).public_bytes()
    off_curve = valid[:-1] + bytes([valid[-1] ^ 1])  # change y only
    with pytest.raises(KeyShareError):
        server_key_exchange(NamedGroup.secp256r1, off_curve)
    with pytest.raises(KeyShareError):
        generate_key_share(NamedGroup.secp256r1).exchange(off_curve)


def test_p256_compressed_point_is_refused() -> None:
    # RFC 8446 §4.2.8.2: only the uncompressed form (4) exists in TLS 1.3.
    point = generate_key_share(NamedGroup.secp256r1).public_bytes()
    compressed = bytes([2 + (point[-1] & 1)]) + point[1:33]
    with pytest.raises(KeyShareError):
        server_key_exchange(NamedGroup.secp256r1, compressed + bytes(32))
    with pytest.raises(KeyShareError):
        server_key_exchange(NamedGroup.secp256r1, b"\x05" + point[1:])


@pytest.mark.parametrize("group", [NamedGroup.x25519, NamedGroup.x448], ids=lambda group: group.name)
def test_low_order_point_gives_all_zero_secret(group: NamedGroup) -> None:
    # RFC 8446 §7.4.2: the all-zero shared secret MUST be refused. The
    # zero u-coordinate is a point of small order: every result is zero.
    size = SHARE_SIZES[group][0]
    with pytest.raises(KeyShareError) as error:
        server_key_exchange(group, bytes(size))
    assert "zero" in error.value.reason
    with pytest.raises(KeyShareError):
        generate_key_share(group).exchange(bytes(size))


def test_hybrid_bad_parts() -> None:
    valid = generate_key_share(NamedGroup.X25519MLKEM768).public_bytes()
    # FIPS 203 §7.2 encapsulation key check: every 12-bit coefficient < q = 3329.
    with pytest.raises(KeyShareError):
        server_key_exchange(NamedGroup.X25519MLKEM768, b"\xff" * 1152 + valid[1152:])
    # The X25519 half is validated as for x25519 alone.
    with pytest.raises(KeyShareError):
        server_key_exchange(NamedGroup.X25519MLKEM768, valid[:1184] + bytes(32))


def test_deterministic_private_bytes_are_validated() -> None:
    with pytest.raises(ValueError):
        generate_key_share(NamedGroup.secp256r1, bytes(31))
    with pytest.raises(ValueError):  # zero is not a valid private scalar
        generate_key_share(NamedGroup.secp256r1, bytes(32))
    with pytest.raises(ValueError):
        generate_key_share(NamedGroup.X25519MLKEM768, bytes(95))


# === signatures =======================================================================


def rfc8448_rsa_private_key() -> rsa.RSAPrivateKey:
    """The server's RSA key, from the values printed in RFC 8448 §2."""

    def number(label: str) -> int:
        return int.from_bytes(private_key_item(label), "big")

    public_numbers = rsa.RSAPublicNumbers(number("public exponent"), number("modulus"))
    return rsa.RSAPrivateNumbers(
        p=number("prime1"),
        q=number("prime2"),
        d=number("private exponent"),
        dmp1=number("exponent1"),
        dmq1=number("exponent2"),
        iqmp=number("coefficient"),
        public_numbers=public_numbers,
    ).private_key()


def end_entity_certificate(certificate_message: bytes) -> x509.Certificate:
    """The first certificate of a TLS 1.3 Certificate message (RFC 8446 §4.4.2):
    type(1) length(3) certificate_request_context<0..255> certificate_list<0..2^24-1>,
    whose entries start with cert_data<1..2^24-1>."""
    context_length = certificate_message[4]
    entries = certificate_message[5 + context_length + 3 :]
    certificate_length = int.from_bytes(entries[:3], "big")
    return x509.load_der_x509_certificate(entries[3 : 3 + certificate_length])


def certificate_verify_steps() -> list[Any]:
    params = []
    for trace in scenarios():
        for index, step in enumerate(trace["steps"]):
            if step["description"].startswith("construct a CertificateVerify"):
                test_id = f"s{trace['section']}-{step['actor']}"
                params.append(pytest.param(trace["id"], index, step, id=test_id))
    return params


CERTIFICATE_VERIFY_STEPS = certificate_verify_steps()


def test_certificate_verify_steps_found() -> None:
    assert len(CERTIFICATE_VERIFY_STEPS) == 5


@pytest.mark.parametrize(("scenario_id", "index", "step"), CERTIFICATE_VERIFY_STEPS)
def test_rfc8448_certificate_verify(scenario_id: str, index: int, step: dict[str, Any]) -> None:
    """Each CertificateVerify signs the transcript through the signer's
    Certificate (RFC 8446 §4.4.3), with the key of that certificate."""
    messages = handshake_messages_before(scenario_id, index)
    certificate_message = messages[-1]
    assert certificate_message[0] == 11  # the signer's Certificate comes right before
    public_key = end_entity_certificate(certificate_message).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)

    (certificate_verify,) = step_items(step).values()
    # struct { SignatureScheme algorithm; opaque signature<0..2^16-1>; }
    scheme = SignatureScheme(int.from_bytes(certificate_verify[4:6], "big"))
    signature = certificate_verify[8:]
    assert int.from_bytes(certificate_verify[6:8], "big") == len(signature)
    assert scheme in schemes_for_key(public_key)

    context = SERVER_CONTEXT if step["actor"] == "server" else CLIENT_CONTEXT
    content = certificate_verify_content(context, transcript_hash(messages))
    verify(public_key, scheme, content, signature)

    # The other side's context string must not verify (RFC 8446 §4.4.3).
    other_context = CLIENT_CONTEXT if step["actor"] == "server" else SERVER_CONTEXT
    with pytest.raises(SignatureError):
        verify(public_key, scheme, certificate_verify_content(other_context, transcript_hash(messages)), signature)


def test_rfc8448_section2_key_matches_server_certificate() -> None:
    private_key = rfc8448_rsa_private_key()
    certificate = end_entity_certificate(item("simple_1rtt", "construct a Certificate", "Certificate"))
    assert certificate.public_key() == private_key.public_key()
    # A 1024-bit key is too short for PSS with SHA-512 (needs 2 * 64 + 2 bytes).
    assert schemes_for_key(private_key) == (SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pss_rsae_sha384)

    # Re-sign the §3 content ourselves; PSS is randomized, so verify rather than compare.
    index = step_index("simple_1rtt", "construct a CertificateVerify")
    content = certificate_verify_content(
        SERVER_CONTEXT, transcript_hash(handshake_messages_before("simple_1rtt", index))
    )
    signature = sign(private_key, SignatureScheme.rsa_pss_rsae_sha256, content)
    verify(private_key.public_key(), SignatureScheme.rsa_pss_rsae_sha256, content, signature)
    with pytest.raises(SignatureError):
        sign(private_key, SignatureScheme.rsa_pss_rsae_sha512, content)
    with pytest.raises(SignatureError):
        verify(private_key.public_key(), SignatureScheme.rsa_pss_rsae_sha512, content, signature)


def test_certificate_verify_content_layout() -> None:
    content = certificate_verify_content(SERVER_CONTEXT, bytes(32))
    assert content == b" " * 64 + b"TLS 1.3, server CertificateVerify" + b"\x00" + bytes(32)
    assert CLIENT_CONTEXT == b"TLS 1.3, client CertificateVerify"


@pytest.fixture(scope="module")
def rsa_2048_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def generated_keys(rsa_2048_key: rsa.RSAPrivateKey) -> dict[SignatureScheme, Any]:
    return {
        SignatureScheme.rsa_pss_rsae_sha256: rsa_2048_key,
        SignatureScheme.rsa_pss_rsae_sha384: rsa_2048_key,
        SignatureScheme.rsa_pss_rsae_sha512: rsa_2048_key,
        SignatureScheme.ecdsa_secp256r1_sha256: ec.generate_private_key(ec.SECP256R1()),
        SignatureScheme.ecdsa_secp384r1_sha384: ec.generate_private_key(ec.SECP384R1()),
        SignatureScheme.ecdsa_secp521r1_sha512: ec.generate_private_key(ec.SECP521R1()),
        SignatureScheme.ed25519: ed25519.Ed25519PrivateKey.generate(),
        SignatureScheme.ed448: ed448.Ed448PrivateKey.generate(),
    }


CERTIFICATE_VERIFY_SCHEMES = [
    SignatureScheme.rsa_pss_rsae_sha256,
    SignatureScheme.rsa_pss_rsae_sha384,
    SignatureScheme.rsa_pss_rsae_sha512,
    SignatureScheme.ecdsa_secp256r1_sha256,
    SignatureScheme.ecdsa_secp384r1_sha384,
    SignatureScheme.ecdsa_secp521r1_sha512,
    SignatureScheme.ed25519,
    SignatureScheme.ed448,
]


@pytest.mark.parametrize("scheme", CERTIFICATE_VERIFY_SCHEMES, ids=lambda scheme: scheme.name)
def test_sign_verify_round_trip(scheme: SignatureScheme, rsa_2048_key: rsa.RSAPrivateKey) -> None:
    keys = generated_keys(rsa_2048_key)
    private_key = keys[scheme]
    assert scheme in schemes_for_key(private_key)
    assert schemes_for_key(private_key) == schemes_for_key(private_key.public_key())
    content = certificate_verify_content(SERVER_CONTEXT, SHA256.digest(b"transcript"))
    signature = sign(private_key, scheme, content)
    verify(private_key.public_key(), scheme, content, signature)

    with pytest.raises(SignatureError):  # one changed byte of content
        verify(private_key.public_key(), scheme, content[:-1] + b"\x00", signature)
    # A key of another type (or another key of the same type) must fail.
    other_scheme = SignatureScheme.ed25519 if scheme != SignatureScheme.ed25519 else SignatureScheme.ed448
    with pytest.raises(SignatureError):
        verify(keys[other_scheme].public_key(), scheme, content, signature)
    with pytest.raises(SignatureError):
        verify(type_matching_other_key(private_key).public_key(), scheme, content, signature)


def type_matching_other_key(private_key: Any) -> Any:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return rfc8448_rsa_private_key()  # any other RSA key
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return ec.generate_private_key(private_key.curve)
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return ed25519.Ed25519PrivateKey.generate()
    return ed448.Ed448PrivateKey.generate()


def test_expected_schemes_for_each_key_type(rsa_2048_key: rsa.RSAPrivateKey) -> None:
    assert schemes_for_key(rsa_2048_key) == (
        SignatureScheme.rsa_pss_rsae_sha256,
        SignatureScheme.rsa_pss_rsae_sha384,
        SignatureScheme.rsa_pss_rsae_sha512,
    )
    assert schemes_for_key(ec.generate_private_key(ec.SECP256R1())) == (SignatureScheme.ecdsa_secp256r1_sha256,)
    assert schemes_for_key(ec.generate_private_key(ec.SECP384R1())) == (SignatureScheme.ecdsa_secp384r1_sha384,)
    assert schemes_for_key(ec.generate_private_key(ec.SECP521R1())) == (SignatureScheme.ecdsa_secp521r1_sha512,)
    assert schemes_for_key(ed25519.Ed25519PrivateKey.generate()) == (SignatureScheme.ed25519,)
    assert schemes_for_key(ed448.Ed448PrivateKey.generate()) == (SignatureScheme.ed448,)


def test_scheme_must_fit_the_key(rsa_2048_key: rsa.RSAPrivateKey) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    # TLS 1.3 ties each ECDSA scheme to one curve.
    with pytest.raises(SignatureError):
        sign(p256, SignatureScheme.ecdsa_secp384r1_sha384, b"content")
    signature = sign(p256, SignatureScheme.ecdsa_secp256r1_sha256, b"content")
    with pytest.raises(SignatureError):
        verify(p256.public_key(), SignatureScheme.ecdsa_secp384r1_sha384, b"content", signature)
    # PKCS#1 v1.5 is never used to sign a CertificateVerify.
    with pytest.raises(SignatureError):
        sign(rsa_2048_key, SignatureScheme.rsa_pkcs1_sha256, b"content")
    with pytest.raises(SignatureError):
        sign(rsa_2048_key, SignatureScheme.ed25519, b"content")


def test_pkcs1_verifies_for_certificates_and_sha1_never(rsa_2048_key: rsa.RSAPrivateKey) -> None:
    signature = rsa_2048_key.sign(b"tbs", padding.PKCS1v15(), hashes.SHA256())
    verify(rsa_2048_key.public_key(), SignatureScheme.rsa_pkcs1_sha256, b"tbs", signature)
    with pytest.raises(SignatureError):
        verify(rsa_2048_key.public_key(), SignatureScheme.rsa_pkcs1_sha384, b"tbs", signature)

    sha1_signature = rsa_2048_key.sign(b"tbs", padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(SignatureError):
        verify(rsa_2048_key.public_key(), SignatureScheme.rsa_pkcs1_sha1, b"tbs", sha1_signature)
    p256 = ec.generate_private_key(ec.SECP256R1())
    ecdsa_sha1_signature = p256.sign(b"tbs", ec.ECDSA(hashes.SHA1()))
    with pytest.raises(SignatureError):
        verify(p256.public_key(), SignatureScheme.ecdsa_sha1, b"tbs", ecdsa_sha1_signature)


def test_load_private_key_and_certificate_chain() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "teachtls test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)

    loaded_key = load_private_key(key_pem)
    assert isinstance(loaded_key, ec.EllipticCurvePrivateKey)
    assert loaded_key.private_numbers() == key.private_numbers()
    chain = load_certificate_chain(certificate_pem * 2)
    assert chain == [certificate, certificate]
