"""TLS 1.2 record protection (teachtls.crypto.record12) and the suite table.

* Real records: every session in tests/vectors/tls12/openssl-sessions.json
  (openssl s_client <-> s_server, one per suite) is decrypted with keys
  derived from OpenSSL's key-logged master secret; both Finished messages
  must carry the verify_data teachtls computes, and re-sealing each
  plaintext must give back OpenSSL's exact bytes.
* Nonces by hand: the GCM (RFC 5288 §3) and ChaCha20-Poly1305 (RFC 7905 §2)
  nonces and the additional data (RFC 5246 §6.2.3.3) are written out here
  from the RFC text and checked against the AEAD called directly.
* Negative tests: one corruption, one error kind. For CBC, a padding error
  and a MAC error must be indistinguishable.
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from teachtls.crypto import record12
from teachtls.crypto.record12 import (
    AesCbcHmacRecordProtection,
    AesGcmRecordProtection,
    ChaCha20Poly1305RecordProtection,
    RecordProtection12,
    RecordProtectionError,
    new_record_protection,
)
from teachtls.crypto.suites12 import (
    DEFAULT_SUITES_12,
    SUITES_12,
    TEACHING_ONLY_SUITES_12,
    CipherSuite12,
    CipherSuite12Params,
)
from teachtls.keyschedule import tls12
from tests.vectors.tls12.openssl_sessions import Record, Session, load_sessions

TLS12 = 0x0303
HANDSHAKE = 22
APPLICATION_DATA = 23
ALERT = 21

GCM_128 = SUITES_12[CipherSuite12.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
CHACHA = SUITES_12[CipherSuite12.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256]
CBC_SHA1 = SUITES_12[CipherSuite12.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]
CBC_SHA256 = SUITES_12[CipherSuite12.TLS_RSA_WITH_AES_128_CBC_SHA256]


def fixed_random(n: int) -> bytes:
    return bytes(range(0xF0, 0xF0 + n))


def protection_pair(params: CipherSuite12Params) -> tuple[RecordProtection12, RecordProtection12]:
    """A sender and a receiver sharing one direction's keys."""
    key_block = bytes((7 * i + 3) % 256 for i in range(params.key_block_length))
    keys = tls12.split_key_block(params, key_block)

    def make() -> RecordProtection12:
        return new_record_protection(
            params,
            write_key=keys.client_write_key,
            write_IV=keys.client_write_IV,
            write_MAC_key=keys.client_write_MAC_key,
            random=fixed_random,
        )

    return make(), make()


# --- the suite table --------------------------------------------------------------


def test_default_and_teaching_only_suites_partition_the_table() -> None:
    assert set(DEFAULT_SUITES_12) | set(TEACHING_ONLY_SUITES_12) == set(SUITES_12)
    assert not set(DEFAULT_SUITES_12) & set(TEACHING_ONLY_SUITES_12)
    assert all(not SUITES_12[s].teaching_only for s in DEFAULT_SUITES_12)
    assert all(SUITES_12[s].teaching_only for s in TEACHING_ONLY_SUITES_12)
    # Everything in the default list is forward secret and AEAD.
    assert all(SUITES_12[s].key_exchange != "RSA" and SUITES_12[s].cipher_type == "aead" for s in DEFAULT_SUITES_12)


@pytest.mark.parametrize("suite", list(CipherSuite12), ids=lambda s: s.name)
def test_suite_parameters_follow_the_name(suite: CipherSuite12) -> None:
    params = SUITES_12[suite]
    name = suite.name
    assert params.name == name and int(params.suite) == suite
    assert params.key_exchange == name.removeprefix("TLS_").split("_WITH_")[0]
    assert params.prf_hash.name == ("sha384" if name.endswith("_SHA384") else "sha256")
    if "_GCM_" in name:
        # RFC 5288 §3: salt 4, nonce_explicit 8
        assert (params.fixed_iv_length, params.record_iv_length, params.mac_key_length) == (4, 8, 0)
        assert params.enc_key_length == (32 if "AES_256" in name else 16)
    elif "CHACHA20" in name:
        # RFC 7905 §2: fixed_iv_length 12, record_iv_length 0
        assert (params.fixed_iv_length, params.record_iv_length, params.enc_key_length) == (12, 0, 32)
    else:
        # RFC 5246 §6.3 / App. C: explicit 16-byte IV, none from the key block
        assert (params.fixed_iv_length, params.record_iv_length, params.block_length) == (0, 16, 16)
        assert params.mac_key_length == params.mac_length == (32 if name.endswith("SHA256") else 20)
        assert params.teaching_only


def test_code_points() -> None:
    assert {s.name: f"0x{s.value:04X}" for s in CipherSuite12} == {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "0xC02B",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "0xC02C",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "0xC02F",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "0xC030",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "0xCCA9",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "0xCCA8",
        "TLS_RSA_WITH_AES_128_GCM_SHA256": "0x009C",
        "TLS_RSA_WITH_AES_256_GCM_SHA384": "0x009D",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "0xC009",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "0xC013",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "0xC023",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "0xC027",
        "TLS_RSA_WITH_AES_128_CBC_SHA": "0x002F",
        "TLS_RSA_WITH_AES_128_CBC_SHA256": "0x003C",
    }


# --- real records from OpenSSL ---------------------------------------------------

SESSIONS = load_sessions()


def test_every_suite_was_captured() -> None:
    assert {s.suite for s in SESSIONS} == set(SUITES_12)
    # -no_etm kept the CBC records MAC-then-encrypt (RFC 7366 not negotiated).
    assert not any(s.encrypt_then_mac for s in SESSIONS)


def session_protections(session: Session) -> tuple[CipherSuite12Params, RecordProtection12, RecordProtection12]:
    params = SUITES_12[session.suite]
    block = tls12.key_block(
        params.prf_hash, session.master_secret, session.server_random, session.client_random, params.key_block_length
    )
    keys = tls12.split_key_block(params, block)
    client = new_record_protection(
        params,
        write_key=keys.client_write_key,
        write_IV=keys.client_write_IV,
        write_MAC_key=keys.client_write_MAC_key,
    )
    server = new_record_protection(
        params,
        write_key=keys.server_write_key,
        write_IV=keys.server_write_IV,
        write_MAC_key=keys.server_write_MAC_key,
    )
    return params, client, server


def reseal(session: Session, sender: str, sequence_number: int, record: Record, plaintext: bytes) -> bytes:
    """Seal `plaintext` again with the sender's keys, reusing the record's
    own explicit part: the CBC IV, or GCM's nonce_explicit."""
    params = SUITES_12[session.suite]
    block = tls12.key_block(
        params.prf_hash, session.master_secret, session.server_random, session.client_random, params.key_block_length
    )
    keys = tls12.split_key_block(params, block)
    explicit = record.fragment[: params.record_iv_length]
    write_key = keys.client_write_key if sender == "client" else keys.server_write_key
    write_IV = keys.client_write_IV if sender == "client" else keys.server_write_IV
    write_MAC_key = keys.client_write_MAC_key if sender == "client" else keys.server_write_MAC_key
    protection: RecordProtection12
    if params.cipher_type == "block":
        protection = AesCbcHmacRecordProtection(params, write_key, write_MAC_key, random=lambda n: explicit)
    elif params.record_iv_length:
        protection = AesGcmRecordProtection(params, write_key, write_IV, nonce_explicit=lambda seq: explicit)
    else:
        protection = ChaCha20Poly1305RecordProtection(params, write_key, write_IV)
    return protection.seal(sequence_number, record.content_type, record.version, plaintext)


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s.name)
def test_openssl_session_decrypts_and_finished_verifies(session: Session) -> None:
    params, client, server = session_protections(session)
    # Sequence numbers restart at 0 after each ChangeCipherSpec (RFC 5246 §6.1).
    client_records = list(enumerate(session.client_protected))
    server_records = list(enumerate(session.server_protected))
    assert [r.content_type for _, r in client_records] == [HANDSHAKE, APPLICATION_DATA, ALERT]
    assert [r.content_type for _, r in server_records[:2]] == [HANDSHAKE, APPLICATION_DATA]

    # client Finished: verify_data over ClientHello ... ClientKeyExchange
    seq, record = client_records[0]
    client_finished = client.open(seq, record.content_type, record.version, record.fragment)
    assert client_finished[:4] == bytes([20, 0, 0, 12])  # HandshakeType.finished, length 12
    expected = tls12.finished_verify_data(
        params.prf_hash, session.master_secret, tls12.LABEL_CLIENT_FINISHED, session.transcript_hash()
    )
    assert client_finished[4:] == expected

    # server Finished: the transcript now includes the client's Finished
    seq, record = server_records[0]
    server_finished = server.open(seq, record.content_type, record.version, record.fragment)
    expected = tls12.finished_verify_data(
        params.prf_hash, session.master_secret, tls12.LABEL_SERVER_FINISHED, session.transcript_hash(client_finished)
    )
    assert server_finished == bytes([20, 0, 0, 12]) + expected

    # application data both ways, then the client's close_notify (warning, 0)
    seq, record = client_records[1]
    assert client.open(seq, record.content_type, record.version, record.fragment) == session.client_application_data
    seq, record = server_records[1]
    assert server.open(seq, record.content_type, record.version, record.fragment) == session.server_application_data
    seq, record = client_records[2]
    assert client.open(seq, record.content_type, record.version, record.fragment) == b"\x01\x00"

    # sealing the same plaintexts again reproduces OpenSSL's bytes exactly,
    # given the same CBC IV / GCM nonce_explicit (CBC: OpenSSL pads minimally
    # too; ChaCha20-Poly1305: nothing explicit at all).
    for (seq, record), plaintext in zip(
        client_records, [client_finished, session.client_application_data, b"\x01\x00"], strict=True
    ):
        assert reseal(session, "client", seq, record, plaintext) == record.fragment
    seq, record = server_records[1]
    assert reseal(session, "server", seq, record, session.server_application_data) == record.fragment


def test_openssl_gcm_nonce_explicit_counts_up_from_a_random_start() -> None:
    # Not the sequence number, but still unique per key (RFC 5288 §3).
    gcm_sessions = [s for s in SESSIONS if SUITES_12[s.suite].cipher.endswith("GCM")]
    assert len(gcm_sessions) == 8
    for session in gcm_sessions:
        for records in (session.client_protected, session.server_protected):
            counters = [int.from_bytes(r.fragment[:8], "big") for r in records]
            assert counters == list(range(counters[0], counters[0] + len(counters)))


def test_openssl_records_fail_with_the_other_direction_keys() -> None:
    session = next(s for s in SESSIONS if s.suite == CipherSuite12.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
    _, _, server = session_protections(session)
    record = session.client_protected[0]
    with pytest.raises(RecordProtectionError) as error:
        server.open(0, record.content_type, record.version, record.fragment)
    assert error.value.kind == "bad_record_mac"


# --- nonces and additional data, by hand from the RFCs ------------------------


def test_additional_data_layout() -> None:
    # seq_num(8) + type(1) + version(2) + length(2), RFC 5246 §6.2.3.3
    assert record12.additional_data(0x0102030405060708, 23, 0x0303, 0x0A0B) == bytes.fromhex(
        "0102030405060708 17 0303 0a0b"
    )


def test_gcm_nonce_is_salt_then_explicit_nonce() -> None:
    key, salt = bytes(range(16)), bytes.fromhex("a1a2a3a4")
    gcm = AesGcmRecordProtection(GCM_128, key, salt)
    sequence_number = 0x0102030405060708
    fragment = gcm.seal(sequence_number, APPLICATION_DATA, TLS12, b"hello")

    # RFC 5288 §3: GCMNonce = salt[4] || nonce_explicit[8], and teachtls
    # sends the sequence number as nonce_explicit.
    explicit = bytes.fromhex("0102030405060708")
    nonce = bytes.fromhex("a1a2a3a4 0102030405060708")
    aad = bytes.fromhex("0102030405060708 17 0303 0005")
    assert fragment[:8] == explicit
    assert fragment[8:] == AESGCM(key).encrypt(nonce, b"hello", aad)
    assert len(fragment) == 8 + 5 + 16
    assert gcm.last_record is not None
    assert (gcm.last_record.nonce, gcm.last_record.record_iv, gcm.last_record.additional_data) == (nonce, explicit, aad)


def test_gcm_open_takes_explicit_nonce_from_the_record() -> None:
    # A peer may choose any unique nonce_explicit, not only the sequence number.
    key, salt = bytes(range(16)), bytes.fromhex("a1a2a3a4")
    explicit = bytes.fromhex("deadbeef00000001")
    aad = record12.additional_data(5, APPLICATION_DATA, TLS12, 3)
    fragment = explicit + AESGCM(key).encrypt(salt + explicit, b"abc", aad)
    gcm = AesGcmRecordProtection(GCM_128, key, salt)
    assert gcm.open(5, APPLICATION_DATA, TLS12, fragment) == b"abc"
    assert gcm.last_record is not None and gcm.last_record.nonce == salt + explicit


def test_chacha20_poly1305_nonce_is_iv_xor_padded_sequence_number() -> None:
    key, iv = bytes(range(32)), bytes(range(12))
    sequence_number = 0x0102030405060708
    # RFC 7905 §2, worked by hand:
    #   write_IV         00 01 02 03 04 05 06 07 08 09 0a 0b
    #   padded seq_num   00 00 00 00 01 02 03 04 05 06 07 08
    #   XOR              00 01 02 03 05 07 05 03 0d 0f 0d 03
    nonce = bytes.fromhex("00 01 02 03 05 07 05 03 0d 0f 0d 03")
    assert record12.chacha20_poly1305_nonce(iv, sequence_number) == nonce
    chacha = ChaCha20Poly1305RecordProtection(CHACHA, key, iv)
    fragment = chacha.seal(sequence_number, APPLICATION_DATA, TLS12, b"hello")
    aad = bytes.fromhex("0102030405060708 17 0303 0005")
    # No explicit nonce is sent: the fragment is just ciphertext || tag.
    assert fragment == ChaCha20Poly1305(key).encrypt(nonce, b"hello", aad)
    assert chacha.last_record is not None and chacha.last_record.record_iv == b""


def test_cbc_record_layout_by_hand() -> None:
    key, mac_key = bytes(range(16)), bytes(range(100, 120))
    cbc = AesCbcHmacRecordProtection(CBC_SHA1, key, mac_key, random=fixed_random)
    plaintext = b"x" * 10
    fragment = cbc.seal(3, APPLICATION_DATA, TLS12, plaintext)

    iv = fixed_random(16)
    assert fragment[:16] == iv
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    block_ciphered = decryptor.update(fragment[16:]) + decryptor.finalize()
    # MAC(MAC_write_key, seq_num + type + version + length + fragment), HMAC-SHA1
    mac = std_hmac.new(mac_key, bytes.fromhex("0000000000000003 17 0303 000a") + plaintext, hashlib.sha1).digest()
    # content 10 + MAC 20 + padding_length byte 1 = 31 bytes: one short of two
    # blocks, so padding_length = 1 and the record ends 01 01.
    assert block_ciphered == plaintext + mac + b"\x01\x01"
    assert cbc.last_record is not None and cbc.last_record.padding_length == 1

    fragment = cbc.seal(3, APPLICATION_DATA, TLS12, b"x" * 12)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    block_ciphered = decryptor.update(fragment[16:]) + decryptor.finalize()
    # 12 + 20 + 1 = 33 -> 48: padding_length 15, sixteen bytes of 0x0f.
    assert block_ciphered.endswith(b"\x0f" * 16) and len(block_ciphered) == 48


# --- round trips and tampering, every suite -----------------------------------


@pytest.mark.parametrize("suite", list(CipherSuite12), ids=lambda s: s.name)
def test_round_trip(suite: CipherSuite12) -> None:
    sender, receiver = protection_pair(SUITES_12[suite])
    for sequence_number, plaintext in enumerate([b"", b"a", b"b" * 15, b"c" * 16, b"d" * 1000, b"e" * 2**14]):
        fragment = sender.seal(sequence_number, APPLICATION_DATA, TLS12, plaintext)
        assert receiver.open(sequence_number, APPLICATION_DATA, TLS12, fragment) == plaintext


@pytest.mark.parametrize("suite", list(CipherSuite12), ids=lambda s: s.name)
def test_tampering_gives_bad_record_mac(suite: CipherSuite12) -> None:
    sender, receiver = protection_pair(SUITES_12[suite])
    fragment = sender.seal(7, APPLICATION_DATA, TLS12, b"attack at dawn" * 5)
    attempts = [(7, APPLICATION_DATA, TLS12, bytes([fragment[0] ^ 1]) + fragment[1:])]
    for position in (len(fragment) // 2, len(fragment) - 1):
        changed = bytearray(fragment)
        changed[position] ^= 0x80
        attempts.append((7, APPLICATION_DATA, TLS12, bytes(changed)))
    attempts += [
        (8, APPLICATION_DATA, TLS12, fragment),  # replayed under another sequence number
        (7, HANDSHAKE, TLS12, fragment),  # another content type in the header
        (7, APPLICATION_DATA, 0x0302, fragment),  # another version in the header
        (7, APPLICATION_DATA, TLS12, fragment[:-16]),  # truncated by a block / tag
        (7, APPLICATION_DATA, TLS12, fragment[:5]),  # too short for anything
    ]
    for attempt in attempts:
        with pytest.raises(RecordProtectionError) as error:
            receiver.open(*attempt)
        assert error.value.kind == "bad_record_mac"


# --- CBC: one answer for padding and MAC errors ---------------------------------


def cbc_record(
    params: CipherSuite12Params,
    key: bytes,
    mac_key: bytes,
    plaintext: bytes,
    *,
    padding: bytes,
    corrupt_mac: bool = False,
    sequence_number: int = 0,
) -> bytes:
    """Build a CBC record by hand, with padding (incl. padding_length byte) as given."""
    header = record12.additional_data(sequence_number, APPLICATION_DATA, TLS12, len(plaintext))
    digest = hashlib.sha1 if params.mac == "SHA1" else hashlib.sha256
    mac = std_hmac.new(mac_key, header + plaintext, digest).digest()
    if corrupt_mac:
        mac = bytes([mac[0] ^ 1]) + mac[1:]
    iv = bytes(16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + encryptor.update(plaintext + mac + padding) + encryptor.finalize()


@pytest.mark.parametrize("params", [CBC_SHA1, CBC_SHA256], ids=lambda p: p.mac)
def test_cbc_padding_error_and_mac_error_are_indistinguishable(params: CipherSuite12Params) -> None:
    key, mac_key = bytes(range(16)), bytes(range(params.mac_key_length))
    cbc = AesCbcHmacRecordProtection(params, key, mac_key)
    plaintext = b"p" * (48 - params.mac_length - 4)  # leaves 4 bytes: 3 padding + length
    good = cbc_record(params, key, mac_key, plaintext, padding=b"\x03" * 4)
    assert cbc.open(0, APPLICATION_DATA, TLS12, good) == plaintext

    bad_padding = cbc_record(params, key, mac_key, plaintext, padding=b"\x03\x07\x03\x03")
    bad_mac = cbc_record(params, key, mac_key, plaintext, padding=b"\x03" * 4, corrupt_mac=True)
    # padding_length pointing in front of the MAC: impossible padding
    too_long_padding = cbc_record(params, key, mac_key, plaintext, padding=b"\x03\x03\x03\xff")
    errors = []
    for fragment in (bad_padding, bad_mac, too_long_padding):
        with pytest.raises(RecordProtectionError) as error:
            cbc.open(0, APPLICATION_DATA, TLS12, fragment)
        errors.append((error.value.kind, str(error.value)))
    assert errors[0] == errors[1] == errors[2]
    assert errors[0][0] == "bad_record_mac"


def test_cbc_accepts_longer_padding() -> None:
    # RFC 5246 §6.2.3.2: "The padding MAY be any length up to 255 bytes".
    key, mac_key = bytes(range(16)), bytes(range(20))
    plaintext = b"q" * 11  # 11 + 20 + 1 = 32, so 16 more padding bytes also fit
    fragment = cbc_record(CBC_SHA1, key, mac_key, plaintext, padding=b"\x10" * 17)
    cbc = AesCbcHmacRecordProtection(CBC_SHA1, key, mac_key)
    assert cbc.open(0, APPLICATION_DATA, TLS12, fragment) == plaintext
    assert cbc.last_record is not None and cbc.last_record.padding_length == 16


@pytest.mark.parametrize("length", [0, 15, 16, 17, 32, 40, 47])
def test_cbc_bad_lengths_are_bad_record_mac(length: int) -> None:
    # A fragment must be the 16-byte IV plus whole blocks, and the blocks
    # must hold at least MAC + padding_length (20 + 1, so 32 bytes).
    cbc = AesCbcHmacRecordProtection(CBC_SHA1, bytes(16), bytes(20))
    with pytest.raises(RecordProtectionError) as error:
        cbc.open(0, APPLICATION_DATA, TLS12, bytes(length))
    assert error.value.kind == "bad_record_mac"


# --- sizes ----------------------------------------------------------------------


@pytest.mark.parametrize("suite", list(CipherSuite12), ids=lambda s: s.name)
def test_oversized_fragment_is_record_overflow(suite: CipherSuite12) -> None:
    _, receiver = protection_pair(SUITES_12[suite])
    with pytest.raises(RecordProtectionError) as error:
        receiver.open(0, APPLICATION_DATA, TLS12, bytes(2**14 + 2048 + 1))
    assert error.value.kind == "record_overflow"


@pytest.mark.parametrize("suite", list(CipherSuite12), ids=lambda s: s.name)
def test_seal_refuses_more_than_2_14_bytes(suite: CipherSuite12) -> None:
    sender, _ = protection_pair(SUITES_12[suite])
    with pytest.raises(ValueError, match="2\\^14"):
        sender.seal(0, APPLICATION_DATA, TLS12, bytes(2**14 + 1))


def test_authentic_but_oversized_plaintext_is_record_overflow() -> None:
    key, salt = bytes(16), bytes(4)
    plaintext = bytes(2**14 + 1)
    explicit = bytes(8)
    aad = record12.additional_data(0, APPLICATION_DATA, TLS12, len(plaintext))
    fragment = explicit + AESGCM(key).encrypt(salt + explicit, plaintext, aad)
    with pytest.raises(RecordProtectionError) as error:
        AesGcmRecordProtection(GCM_128, key, salt).open(0, APPLICATION_DATA, TLS12, fragment)
    assert error.value.kind == "record_overflow"

    key, mac_key = bytes(16), bytes(20)
    padding_length = (-(len(plaintext) + 20 + 1)) % 16
    fragment = cbc_record(CBC_SHA1, key, mac_key, plaintext, padding=bytes([padding_length]) * (padding_length + 1))
    with pytest.raises(RecordProtectionError) as error:
        AesCbcHmacRecordProtection(CBC_SHA1, key, mac_key).open(0, APPLICATION_DATA, TLS12, fragment)
    assert error.value.kind == "record_overflow"


# --- construction -----------------------------------------------------------------


def test_factory_picks_the_family() -> None:
    kinds = {suite: type(protection_pair(SUITES_12[suite])[0]).__name__ for suite in CipherSuite12}
    assert kinds[CipherSuite12.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384] == "AesGcmRecordProtection"
    assert kinds[CipherSuite12.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256] == "ChaCha20Poly1305RecordProtection"
    assert kinds[CipherSuite12.TLS_RSA_WITH_AES_128_CBC_SHA] == "AesCbcHmacRecordProtection"


def test_wrong_key_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="16-byte write key"):
        AesGcmRecordProtection(GCM_128, bytes(32), bytes(4))
    with pytest.raises(ValueError, match="12-byte write IV"):
        ChaCha20Poly1305RecordProtection(CHACHA, bytes(32), bytes(4))
    with pytest.raises(ValueError, match="20-byte MAC key"):
        AesCbcHmacRecordProtection(CBC_SHA1, bytes(16), bytes(32))
    with pytest.raises(ValueError, match="not a CBC suite"):
        AesCbcHmacRecordProtection(GCM_128, bytes(16), b"")
