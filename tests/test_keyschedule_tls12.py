"""Known answers for the TLS 1.2 key schedule (teachtls.keyschedule.tls12).

Three independent sources, described in tests/vectors/tls12/README.md:

* the published TLS 1.2 PRF vectors (IETF TLS mailing list), which OpenSSL's
  TLS1-PRF reproduces byte for byte (`openssl-kdf.json`);
* `openssl kdf TLS1-PRF` outputs for the master secret, extended master
  secret, key block and Finished inputs (`openssl-kdf.json`);
* real sessions between openssl s_client and s_server (`openssl-sessions.json`):
  for static-RSA sessions the pre_master_secret is decrypted from the
  ClientKeyExchange with the server's key, and the master secret teachtls
  derives must equal the one OpenSSL wrote to its key log.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from teachtls.crypto.hashes import SHA256, SHA384, HashAlg
from teachtls.crypto.suites12 import SUITES_12, CipherSuite12
from teachtls.keyschedule import tls12
from tests.vectors.tls12.openssl_sessions import Session, load_document, load_sessions

VECTORS = pathlib.Path(__file__).parent / "vectors" / "tls12"
KDF = json.loads((VECTORS / "openssl-kdf.json").read_text())
INPUTS = {name: bytes.fromhex(value) for name, value in KDF["inputs"].items()}
HASHES = {"SHA256": SHA256, "SHA384": SHA384}


def vector(vector_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(v for v in KDF["vectors"] if v["id"] == vector_id)
    return found


def vectors_of(function: str) -> list[dict[str, Any]]:
    return [v for v in KDF["vectors"] if v["function"] == function]


# --- PRF (RFC 5246 §5) ---------------------------------------------------------


@pytest.mark.parametrize("case", vectors_of("PRF"), ids=lambda case: case["id"])
def test_prf_published_vectors(case: dict[str, Any]) -> None:
    output = tls12.prf(
        HASHES[case["digest"]],
        bytes.fromhex(case["secret"]),
        case["label"].encode(),
        bytes.fromhex(case["seed"]),
        case["length"],
    )
    assert output.hex() == case["output"]


def test_prf_sha256_vector_as_published() -> None:
    # The IETF TLS list vector, typed in from the message itself (not via
    # the JSON file), so a regenerated file cannot silently drift.
    assert tls12.prf(
        SHA256,
        bytes.fromhex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"),
        100,
    ) == bytes.fromhex(
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
        "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
        "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
        "87347b66"
    )


def test_prf_is_p_hash_of_label_plus_seed() -> None:
    # RFC 5246 §5: PRF(secret, label, seed) = P_<hash>(secret, label + seed)
    label, seed = b"slithy toves", b"seed"
    assert tls12.prf(SHA256, b"k", label, seed, 50) == tls12.p_hash(SHA256, b"k", label + seed, 50)


@pytest.mark.parametrize("hash_alg", [SHA256, SHA384], ids=lambda h: h.name)
def test_p_hash_lengths_are_prefixes(hash_alg: HashAlg) -> None:
    # "the last 16 bytes of the final iteration will then be discarded":
    # shorter outputs are prefixes of longer ones, whatever the boundary.
    longest = tls12.p_hash(hash_alg, b"secret", b"seed", 4 * hash_alg.digest_size + 7)
    for length in (0, 1, hash_alg.digest_size - 1, hash_alg.digest_size, hash_alg.digest_size + 1, 80):
        assert tls12.p_hash(hash_alg, b"secret", b"seed", length) == longest[:length]


def test_p_hash_first_block_is_hmac_of_a1_and_seed() -> None:
    # A(1) = HMAC(secret, seed); output block 1 = HMAC(secret, A(1) + seed)
    from teachtls.crypto.hashes import hmac

    a1 = hmac(SHA256, b"secret", b"seed")
    assert tls12.p_hash(SHA256, b"secret", b"seed", 32) == hmac(SHA256, b"secret", a1 + b"seed")


# --- master secret, EMS, key block, Finished: openssl kdf answers ------------


@pytest.mark.parametrize("case", vectors_of("master_secret"), ids=lambda case: case["id"])
def test_master_secret(case: dict[str, Any]) -> None:
    assert case["label"] == "master secret" == tls12.LABEL_MASTER_SECRET.decode()
    assert case["seed"] == (INPUTS["client_random"] + INPUTS["server_random"]).hex()
    output = tls12.master_secret(
        HASHES[case["digest"]], INPUTS["pre_master_secret"], INPUTS["client_random"], INPUTS["server_random"]
    )
    assert len(output) == tls12.MASTER_SECRET_LENGTH == 48
    assert output.hex() == case["output"]


@pytest.mark.parametrize("case", vectors_of("extended_master_secret"), ids=lambda case: case["id"])
def test_extended_master_secret(case: dict[str, Any]) -> None:
    assert case["label"] == "extended master secret" == tls12.LABEL_EXTENDED_MASTER_SECRET.decode()
    hash_alg = HASHES[case["digest"]]
    session_hash = bytes.fromhex(case["seed"])
    output = tls12.extended_master_secret(hash_alg, INPUTS["pre_master_secret"], session_hash)
    assert output.hex() == case["output"]


def test_key_block_seed_is_server_random_then_client_random() -> None:
    case = vector("key_block_sha256")
    assert case["label"] == "key expansion"
    assert case["seed"] == (INPUTS["server_random"] + INPUTS["client_random"]).hex()
    master = bytes.fromhex(vector("master_secret_sha256")["output"])
    output = tls12.key_block(SHA256, master, INPUTS["server_random"], INPUTS["client_random"], case["length"])
    assert output.hex() == case["output"]
    # Swapping the randoms gives something else entirely.
    swapped = tls12.key_block(SHA256, master, INPUTS["client_random"], INPUTS["server_random"], case["length"])
    assert swapped != output


@pytest.mark.parametrize(
    ("vector_id", "label"),
    [("client_finished_sha256", tls12.LABEL_CLIENT_FINISHED), ("server_finished_sha256", tls12.LABEL_SERVER_FINISHED)],
)
def test_finished_verify_data(vector_id: str, label: bytes) -> None:
    case = vector(vector_id)
    assert case["label"].encode() == label
    master = bytes.fromhex(vector("master_secret_sha256")["output"])
    verify_data = tls12.finished_verify_data(SHA256, master, label, INPUTS["session_hash_sha256"])
    assert len(verify_data) == tls12.VERIFY_DATA_LENGTH == 12
    assert verify_data.hex() == case["output"]


# --- splitting the key block (RFC 5246 §6.3) -----------------------------------

EXPECTED_KEY_BLOCK_LENGTHS = {
    # 2 * (mac_key_length + enc_key_length + fixed_iv_length)
    CipherSuite12.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 2 * (0 + 16 + 4),
    CipherSuite12.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 2 * (0 + 32 + 4),
    CipherSuite12.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 2 * (0 + 32 + 12),
    CipherSuite12.TLS_RSA_WITH_AES_128_CBC_SHA: 2 * (20 + 16 + 0),
    CipherSuite12.TLS_RSA_WITH_AES_128_CBC_SHA256: 2 * (32 + 16 + 0),
}


@pytest.mark.parametrize("suite", list(EXPECTED_KEY_BLOCK_LENGTHS), ids=lambda s: s.name)
def test_key_block_length(suite: CipherSuite12) -> None:
    assert SUITES_12[suite].key_block_length == EXPECTED_KEY_BLOCK_LENGTHS[suite]


@pytest.mark.parametrize("suite", list(CipherSuite12), ids=lambda s: s.name)
def test_split_key_block_order(suite: CipherSuite12) -> None:
    params = SUITES_12[suite]
    block = bytes(range(params.key_block_length))
    keys = tls12.split_key_block(params, block)
    parts = [
        keys.client_write_MAC_key,
        keys.server_write_MAC_key,
        keys.client_write_key,
        keys.server_write_key,
        keys.client_write_IV,
        keys.server_write_IV,
    ]
    # "Each of these is generated from the byte sequence in that order."
    assert b"".join(parts) == block
    mac, enc, iv = params.mac_key_length, params.enc_key_length, params.fixed_iv_length
    assert [len(p) for p in parts] == [mac, mac, enc, enc, iv, iv]
    assert block[-4:].hex() not in repr(keys)  # secrets stay out of logs (repr=False)


def test_split_key_block_rejects_wrong_length() -> None:
    params = SUITES_12[CipherSuite12.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
    with pytest.raises(ValueError, match="40-byte key_block"):
        tls12.split_key_block(params, bytes(41))


def test_finished_rejects_other_labels() -> None:
    with pytest.raises(ValueError, match="finished_label"):
        tls12.finished_verify_data(SHA256, bytes(48), b"finished", bytes(32))


def test_finished_rejects_hash_of_other_length() -> None:
    with pytest.raises(ValueError, match="sha384 digest"):
        tls12.finished_verify_data(SHA384, bytes(48), tls12.LABEL_CLIENT_FINISHED, bytes(32))


def test_master_secret_rejects_short_random() -> None:
    with pytest.raises(ValueError, match=r"ClientHello\.random"):
        tls12.master_secret(SHA256, bytes(48), bytes(31), bytes(32))


# --- real sessions: OpenSSL's master secret from the pre_master_secret --------

SESSIONS = load_sessions()
RSA_SESSIONS = [s for s in SESSIONS if SUITES_12[s.suite].key_exchange == "RSA"]


def server_rsa_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(load_document()["rsa_private_key_pem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def test_captures_cover_both_master_secret_formulas() -> None:
    assert {s.extended_master_secret for s in RSA_SESSIONS} == {True, False}
    assert {SUITES_12[s.suite].prf_hash for s in RSA_SESSIONS if not s.extended_master_secret} == {SHA256, SHA384}


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s.name)
def test_keylog_belongs_to_session(session: Session) -> None:
    assert session.keylog_client_random == session.client_random


@pytest.mark.parametrize("session", RSA_SESSIONS, ids=lambda s: s.name)
def test_master_secret_matches_openssl(session: Session) -> None:
    # RFC 5246 §7.4.7.1: EncryptedPreMasterSecret, a 2-byte length then the
    # RSAES-PKCS1-v1_5 ciphertext of client_version (03 03) + 46 random bytes.
    body = session.client_key_exchange[4:]
    encrypted = body[2 : 2 + int.from_bytes(body[:2], "big")]
    pre_master_secret = server_rsa_key().decrypt(encrypted, padding.PKCS1v15())
    assert len(pre_master_secret) == 48 and pre_master_secret[:2] == b"\x03\x03"

    hash_alg = SUITES_12[session.suite].prf_hash
    if session.extended_master_secret:
        # RFC 7627 §3: session_hash = Hash(ClientHello ... ClientKeyExchange)
        derived = tls12.extended_master_secret(hash_alg, pre_master_secret, session.transcript_hash())
        # ... and the plain formula would not have matched.
        assert tls12.master_secret(hash_alg, pre_master_secret, session.client_random, session.server_random) != derived
    else:
        derived = tls12.master_secret(hash_alg, pre_master_secret, session.client_random, session.server_random)
    assert derived == session.master_secret
