"""TLS 1.2 cipher suites: what each code point fixes (RFC 5246 §6.1, App. A.6, C).

A TLS 1.3 cipher suite names only an AEAD and a hash (`TLS_AES_128_GCM_SHA256`);
the key exchange and the signature are negotiated separately. A TLS 1.2 suite
name packs in everything at once::

    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        ^^^^^^^^^      ^^^^^^^^^^^ ^^^^^^
        key exchange   bulk cipher  PRF hash (AEAD suites) or
        + server auth               MAC hash (CBC suites)

From the suite, RFC 5246 App. A.6 fills in the `SecurityParameters` that the
key schedule and the record layer need. `CipherSuite12Params` keeps the
RFC's field names:

* `enc_key_length` -- bytes of client_write_key / server_write_key;
* `fixed_iv_length` -- bytes of client_write_IV / server_write_IV taken from
  the key block (RFC 5246 §6.3). The GCM suites take a 4-byte "salt"
  (RFC 5288 §3), ChaCha20-Poly1305 a 12-byte IV (RFC 7905 §2). CBC suites
  take **none**: "Currently, the client_write_IV and server_write_IV are only
  generated for implicit nonce techniques" (§6.3), because since TLS 1.1 each
  CBC record carries its own random IV;
* `record_iv_length` -- bytes sent in front of every record: GCM's
  `nonce_explicit` (8), ChaCha20-Poly1305 nothing (0), CBC the whole IV (16);
* `mac_key_length` / `mac_length` -- the HMAC of the CBC suites (SHA1: 20,
  SHA256: 32, App. C); AEAD suites have no separate MAC (0);
* `prf_hash` -- the hash of the PRF and of the Finished hash. Every suite here
  uses SHA-256 except the `_SHA384` GCM suites (RFC 5288 §3, RFC 5289 §3.2:
  "For cipher suites ending with _SHA384, the PRF is the TLS PRF [RFC5246]
  with SHA-384 as the hash function"). Note that in `..._CBC_SHA` the `SHA`
  names the *MAC*, HMAC-SHA1; its PRF is still SHA-256 under TLS 1.2.

The key block is split in this order (RFC 5246 §6.3), so its length is
``2 * (mac_key_length + enc_key_length + fixed_iv_length)``::

    client_write_MAC_key | server_write_MAC_key | client_write_key |
    server_write_key | client_write_IV | server_write_IV

Key exchange: `ECDHE_ECDSA` and `ECDHE_RSA` (RFC 8422 §2) give forward
secrecy and differ only in the certificate that signs the ServerKeyExchange.
Static `RSA` (RFC 5246 §7.4.7.1) encrypts the pre_master_secret to the
server's certificate key: no forward secrecy, and the Bleichenbacher /
ROBOT family of padding oracles. CBC suites use MAC-then-encrypt, the root of
the padding-oracle attacks (Vaudenay, Lucky 13). Both kinds are here so a
course can *show* them; they are marked `teaching_only` and are not in
`DEFAULT_SUITES_12`.

Not implemented: finite-field DHE, PSK, CCM, AES-256-CBC, 3DES, RC4, NULL
and export suites.
"""

from __future__ import annotations

import enum
from typing import Literal

import attrs
from cryptography.hazmat.primitives import hashes as cryptography_hashes

from teachtls.crypto.hashes import SHA256, SHA384, HashAlg

# HMAC-SHA1 is the MAC of the `_CBC_SHA` suites (RFC 5246 App. C, "SHA").
# SHA-1 is used here only inside HMAC, where its collision weakness does not
# apply; it is never a PRF or signature hash in teachtls.
SHA1 = HashAlg("sha1", 20, cryptography_hashes.SHA1())

KeyExchange12 = Literal["ECDHE_ECDSA", "ECDHE_RSA", "RSA"]
BulkCipher12 = Literal["AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305", "AES-128-CBC"]
CipherType12 = Literal["aead", "block"]
Mac12 = Literal["AEAD", "SHA1", "SHA256"]


class CipherSuite12(enum.IntEnum):
    """TLS 1.2 cipher suites implemented by teachtls, named as in their RFCs
    (RFC 5246 App. C, RFC 5288 §3, RFC 5289 §3, RFC 8422 §6, RFC 7905 §2)."""

    TLS_RSA_WITH_AES_128_CBC_SHA = 0x002F
    TLS_RSA_WITH_AES_128_CBC_SHA256 = 0x003C
    TLS_RSA_WITH_AES_128_GCM_SHA256 = 0x009C
    TLS_RSA_WITH_AES_256_GCM_SHA384 = 0x009D
    TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA = 0xC009
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA = 0xC013
    TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 = 0xC023
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 = 0xC027
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xC02B
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = 0xC02C
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xC02F
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = 0xC030
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA8
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA9


@attrs.frozen(kw_only=True)
class CipherSuite12Params:
    """The SecurityParameters a TLS 1.2 cipher suite fixes (RFC 5246 App. A.6)::

    struct {
        ...
        PRFAlgorithm           prf_algorithm;
        BulkCipherAlgorithm    bulk_cipher_algorithm;
        CipherType             cipher_type;
        uint8                  enc_key_length;
        uint8                  block_length;
        uint8                  fixed_iv_length;
        uint8                  record_iv_length;
        MACAlgorithm           mac_algorithm;
        uint8                  mac_length;
        uint8                  mac_key_length;
        ...
    } SecurityParameters;
    """

    suite: CipherSuite12
    key_exchange: KeyExchange12
    cipher: BulkCipher12
    cipher_type: CipherType12
    mac: Mac12
    enc_key_length: int
    fixed_iv_length: int
    record_iv_length: int
    # CBC only: the AES block length (RFC 5246 App. C "Block Size"); 0 for AEAD.
    block_length: int = 0
    # HMAC output and key length (App. C); 0 for AEAD suites.
    mac_length: int = 0
    mac_key_length: int = 0
    mac_hash: HashAlg | None = None
    # AEAD suites only: the authentication tag added to every record.
    tag_length: int = 0
    prf_hash: HashAlg
    teaching_only: bool
    rfc: str

    @property
    def name(self) -> str:
        """The RFC name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"."""
        return self.suite.name

    @property
    def key_block_length(self) -> int:
        """Bytes of key_block this suite consumes (RFC 5246 §6.3)."""
        return 2 * (self.mac_key_length + self.enc_key_length + self.fixed_iv_length)


def _aes_gcm(suite: CipherSuite12, key_exchange: KeyExchange12, *, aes_256: bool, rfc: str) -> CipherSuite12Params:
    # RFC 5288 §3: 4-byte salt from the key block, 8-byte nonce_explicit per
    # record, 16-byte tag; _SHA384 suites use the SHA-384 PRF. Static RSA key
    # exchange has no forward secrecy: teaching only.
    return CipherSuite12Params(
        suite=suite,
        key_exchange=key_exchange,
        cipher="AES-256-GCM" if aes_256 else "AES-128-GCM",
        cipher_type="aead",
        mac="AEAD",
        enc_key_length=32 if aes_256 else 16,
        fixed_iv_length=4,
        record_iv_length=8,
        tag_length=16,
        prf_hash=SHA384 if aes_256 else SHA256,
        teaching_only=key_exchange == "RSA",
        rfc=rfc,
    )


def _chacha20_poly1305(suite: CipherSuite12, key_exchange: KeyExchange12) -> CipherSuite12Params:
    # RFC 7905 §2: "SecurityParameters.fixed_iv_length is twelve bytes and
    # SecurityParameters.record_iv_length is zero bytes."
    return CipherSuite12Params(
        suite=suite,
        key_exchange=key_exchange,
        cipher="CHACHA20-POLY1305",
        cipher_type="aead",
        mac="AEAD",
        enc_key_length=32,
        fixed_iv_length=12,
        record_iv_length=0,
        tag_length=16,
        prf_hash=SHA256,
        teaching_only=False,
        rfc="RFC 7905 §2",
    )


def _aes_128_cbc(suite: CipherSuite12, key_exchange: KeyExchange12, mac: Mac12, rfc: str) -> CipherSuite12Params:
    # RFC 5246 App. C: AES_128_CBC has 16 bytes of key material and a 16-byte
    # block; the IV is explicit per record (record_iv_length = block_length)
    # and nothing of it comes from the key block (fixed_iv_length = 0, §6.3).
    # OpenSSL happens to draw 16 unused IV bytes per side from the key block
    # for CBC too; they come last, so the keys are the same either way.
    mac_hash = SHA1 if mac == "SHA1" else SHA256
    return CipherSuite12Params(
        suite=suite,
        key_exchange=key_exchange,
        cipher="AES-128-CBC",
        cipher_type="block",
        mac=mac,
        enc_key_length=16,
        fixed_iv_length=0,
        record_iv_length=16,
        block_length=16,
        mac_length=mac_hash.digest_size,
        mac_key_length=mac_hash.digest_size,
        mac_hash=mac_hash,
        prf_hash=SHA256,
        teaching_only=True,
        rfc=rfc,
    )


_S = CipherSuite12

SUITES_12: dict[int, CipherSuite12Params] = {
    params.suite: params
    for params in (
        # Forward-secret AEAD suites: the ones a connection offers by default.
        _aes_gcm(_S.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE_ECDSA", aes_256=False, rfc="RFC 5289 §3.2"),
        _aes_gcm(_S.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE_ECDSA", aes_256=True, rfc="RFC 5289 §3.2"),
        _aes_gcm(_S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE_RSA", aes_256=False, rfc="RFC 5289 §3.2"),
        _aes_gcm(_S.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE_RSA", aes_256=True, rfc="RFC 5289 §3.2"),
        _chacha20_poly1305(_S.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE_ECDSA"),
        _chacha20_poly1305(_S.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE_RSA"),
        # Teaching only: static RSA key exchange (no forward secrecy) ...
        _aes_gcm(_S.TLS_RSA_WITH_AES_128_GCM_SHA256, "RSA", aes_256=False, rfc="RFC 5288 §3"),
        _aes_gcm(_S.TLS_RSA_WITH_AES_256_GCM_SHA384, "RSA", aes_256=True, rfc="RFC 5288 §3"),
        # ... and CBC with HMAC, MAC-then-encrypt.
        _aes_128_cbc(_S.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE_ECDSA", "SHA1", "RFC 8422 §6"),
        _aes_128_cbc(_S.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE_RSA", "SHA1", "RFC 8422 §6"),
        _aes_128_cbc(_S.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE_ECDSA", "SHA256", "RFC 5289 §3.1"),
        _aes_128_cbc(_S.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE_RSA", "SHA256", "RFC 5289 §3.1"),
        _aes_128_cbc(_S.TLS_RSA_WITH_AES_128_CBC_SHA, "RSA", "SHA1", "RFC 5246 App. C"),
        _aes_128_cbc(_S.TLS_RSA_WITH_AES_128_CBC_SHA256, "RSA", "SHA256", "RFC 5246 App. C"),
    )
}

# Preference order of Mozilla's "intermediate" server configuration (for TLS
# 1.2): AES-128-GCM, then AES-256-GCM, then ChaCha20-Poly1305, ECDSA before RSA
# within each cipher.
DEFAULT_SUITES_12: tuple[CipherSuite12, ...] = (
    _S.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    _S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    _S.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    _S.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    _S.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    _S.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
)

# Opt-in only: for labs that show why these went away.
TEACHING_ONLY_SUITES_12: tuple[CipherSuite12, ...] = (
    _S.TLS_RSA_WITH_AES_128_GCM_SHA256,
    _S.TLS_RSA_WITH_AES_256_GCM_SHA384,
    _S.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    _S.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    _S.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    _S.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
    _S.TLS_RSA_WITH_AES_128_CBC_SHA,
    _S.TLS_RSA_WITH_AES_128_CBC_SHA256,
)
