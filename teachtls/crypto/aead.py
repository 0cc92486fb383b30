"""Authenticated encryption for TLS 1.3 records (RFC 8446 §5.2, §5.3).

Every protected TLS 1.3 record is sealed with an AEAD -- "authenticated
encryption with associated data" (RFC 5116). The cipher suite picks it:

================================  ========================  ===  =======
cipher suite                      AEAD                      key  HKDF
================================  ========================  ===  =======
TLS_AES_128_GCM_SHA256            AEAD_AES_128_GCM          16   SHA-256
TLS_AES_256_GCM_SHA384            AEAD_AES_256_GCM          32   SHA-384
TLS_CHACHA20_POLY1305_SHA256      AEAD_CHACHA20_POLY1305    32   SHA-256
================================  ========================  ===  =======

All three take a 12-byte nonce and add a 16-byte authentication tag.

RFC 8446 §5.2 fixes how a record uses the AEAD::

    AEADEncrypted = AEAD-Encrypt(write_key, nonce, additional_data, plaintext)

where `plaintext` is the TLSInnerPlaintext (content || real content type ||
zero padding) and `additional_data` is the 5-byte record header
(opaque_type || legacy_record_version || length) of the record being built.

The nonce is never sent. RFC 8446 §5.3 derives it from the write_iv and the
record's 64-bit sequence number: "The 64-bit record sequence number is
encoded in network byte order and padded to the left with zeros to
iv_length. The padded sequence number is XORed with either the static
client_write_iv or server_write_iv". `per_record_nonce` is exactly that.

Opening a record whose tag does not verify raises `AeadError`; the record
layer turns it into the `bad_record_mac` alert (RFC 8446 §5.2: "If the
decryption fails, the receiver MUST terminate the connection with a
"bad_record_mac" alert").

Records are the hot path, so an `Aead` builds its `cryptography` cipher
object once per key and reuses it for every record under that key.
"""

from __future__ import annotations

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from teachtls.crypto.hashes import SHA256, SHA384, HashAlg
from teachtls.wire.enums import CipherSuite


class AeadError(Exception):
    """A record failed authentication (-> bad_record_mac, RFC 8446 §5.2)."""


@attrs.frozen(kw_only=True)
class CipherSuiteParams:
    """What a TLS 1.3 cipher suite fixes: the AEAD and the HKDF hash
    (RFC 8446 §B.4: "CipherSuite TLS_AEAD_HASH = VALUE;")."""

    suite: CipherSuite
    aead_name: str
    key_length: int
    iv_length: int = 12
    tag_length: int = 16
    hash_alg: HashAlg


CIPHER_SUITES: dict[CipherSuite, CipherSuiteParams] = {
    params.suite: params
    for params in (
        CipherSuiteParams(
            suite=CipherSuite.TLS_AES_128_GCM_SHA256,
            aead_name="AEAD_AES_128_GCM",
            key_length=16,
            hash_alg=SHA256,
        ),
        CipherSuiteParams(
            suite=CipherSuite.TLS_AES_256_GCM_SHA384,
            aead_name="AEAD_AES_256_GCM",
            key_length=32,
            hash_alg=SHA384,
        ),
        CipherSuiteParams(
            suite=CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
            aead_name="AEAD_CHACHA20_POLY1305",
            key_length=32,
            hash_alg=SHA256,
        ),
    )
}


class Aead:
    """One AEAD key ready to seal and open records.

    Build one per traffic key (RFC 8446 §7.3 `[sender]_write_key`); the
    underlying `cryptography` object is created here, once.
    """

    def __init__(self, suite_params: CipherSuiteParams, key: bytes) -> None:
        if len(key) != suite_params.key_length:
            raise ValueError(
                f"{suite_params.aead_name} needs a {suite_params.key_length}-byte key, got {len(key)} bytes"
            )
        self.suite_params = suite_params
        self._cipher: AESGCM | ChaCha20Poly1305
        if suite_params.suite is CipherSuite.TLS_CHACHA20_POLY1305_SHA256:
            self._cipher = ChaCha20Poly1305(key)
        else:
            self._cipher = AESGCM(key)

    def seal(self, nonce: bytes, plaintext: bytes, additional_data: bytes) -> bytes:
        """AEAD-Encrypt: returns ciphertext || tag (RFC 8446 §5.2)."""
        return self._cipher.encrypt(nonce, plaintext, additional_data)

    def open(self, nonce: bytes, ciphertext: bytes | memoryview, additional_data: bytes) -> bytes:
        """AEAD-Decrypt: returns the plaintext.

        `ciphertext` may be a memoryview of a received record, read in place.

        Raises `AeadError` when the tag does not verify (wrong key, nonce,
        additional data, or any modified byte) -> bad_record_mac.
        """
        try:
            return self._cipher.decrypt(nonce, ciphertext, additional_data)
        except InvalidTag:
            raise AeadError("record authentication failed") from None


def per_record_nonce(iv: bytes, sequence_number: int) -> bytes:
    """The nonce for one record, RFC 8446 §5.3.

    The 64-bit sequence number, left-padded with zeros to the iv length, is
    XORed with the static write_iv. Treating both as big-endian integers
    makes the padding implicit.
    """
    if not 0 <= sequence_number < 2**64:
        # RFC 8446 §5.3: "Sequence numbers MUST NOT wrap."
        raise ValueError("record sequence number out of range")
    nonce = int.from_bytes(iv, "big") ^ sequence_number
    return nonce.to_bytes(len(iv), "big")
