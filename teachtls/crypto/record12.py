"""TLS 1.2 record protection (RFC 5246 §6.2.3): AES-GCM, ChaCha20-Poly1305, CBC+HMAC.

Once ChangeCipherSpec has switched a direction on, every record's fragment
is protected with the keys of the key block (RFC 5246 §6.3). Unlike TLS 1.3,
the record header stays honest -- its `type` is the real content type -- and
the header fields are authenticated, together with the 64-bit sequence
number that both sides count but never send.

**AEAD suites** (RFC 5246 §6.2.3.3) send a `GenericAEADCipher`::

    struct {
       opaque nonce_explicit[SecurityParameters.record_iv_length];
       aead-ciphered struct {
           opaque content[TLSCompressed.length];
       };
    } GenericAEADCipher;

    additional_data = seq_num + TLSCompressed.type +
                      TLSCompressed.version + TLSCompressed.length;

(8 + 1 + 2 + 2 = 13 bytes; `length` is the *plaintext* length.) The suites
differ only in the 12-byte nonce:

* AES-GCM, RFC 5288 §3: ``nonce = salt[4] || nonce_explicit[8]``. The salt is
  the client_write_IV / server_write_IV from the key block; nonce_explicit is
  "chosen by the sender and is carried in each TLS record". It "MUST be
  distinct for each distinct invocation of the GCM encrypt function for any
  fixed key [...] The nonce_explicit MAY be the 64-bit sequence number" --
  which is what teachtls sends by default, as Go's crypto/tls and BoringSSL
  do. OpenSSL instead starts at a random 64-bit value and counts up by one
  per record (visible in the captures under tests/vectors/tls12/); both keep
  the rule. A repeated nonce would be catastrophic: GCM then leaks the XOR of
  two plaintexts and lets an attacker recover its authentication key.
* ChaCha20-Poly1305, RFC 7905 §2: the sequence number, "padded on the left
  with four 0x00 bytes", is XORed with the 12-byte write IV -- the scheme
  TLS 1.3 later adopted. Nothing is sent: record_iv_length is zero.

**CBC suites** (RFC 5246 §6.2.3.2) use *MAC-then-encrypt*::

    struct {
        opaque IV[SecurityParameters.record_iv_length];
        block-ciphered struct {
            opaque content[TLSCompressed.length];
            opaque MAC[SecurityParameters.mac_length];
            uint8 padding[GenericBlockCipher.padding_length];
            uint8 padding_length;
        };
    } GenericBlockCipher;

    MAC = HMAC_hash(MAC_write_key, seq_num + TLSCompressed.type +
                    TLSCompressed.version + TLSCompressed.length +
                    TLSCompressed.fragment)

The IV is fresh and random for every record ("SHOULD be chosen at random,
and MUST be unpredictable"). Because the MAC covers the plaintext but not
the padding, a receiver must decrypt and inspect the padding *before* it can
check the MAC -- and any difference it shows between "bad padding" and "bad
MAC" is a padding oracle (Vaudenay 2002; Lucky 13, AlFardan and Paterson
2013; POODLE for SSL 3.0). RFC 5246 therefore insists on a single answer:
the receiver "MUST use the bad_record_mac alert to indicate padding errors".
See `AesCbcHmacRecordProtection.open` for how this teaching implementation
follows that advice and where it falls short.

Errors: every failure to authenticate or decrypt raises
`RecordProtectionError("bad_record_mac")` (RFC 5246 §6.2.3.3: "If the
decryption fails, a fatal bad_record_mac alert MUST be generated"; RFC 5288
§3: "Implementations MUST send TLS Alert bad_record_mac for all types of
failures encountered in processing the AES-GCM algorithm"), including
fragments too short to hold a tag, MAC or block. Size violations raise
`RecordProtectionError("record_overflow")` (RFC 5246 §7.2.2).

Traces: after each `seal` or `open`, `last_record` holds a
`RecordProtectionDetails` with the nonce or IV, the additional data or MAC
input header, and (CBC) the MAC and padding, so a renderer can show them.

Compression is always null, so TLSCompressed equals TLSPlaintext here.
Abbreviations: AEAD = authenticated encryption with associated data
(RFC 5116); GCM = Galois/Counter Mode; CBC = cipher block chaining;
HMAC = hash-based MAC (RFC 2104); IV = initialization vector.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Literal, Protocol

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from teachtls.crypto.hashes import constant_time_equal, hmac
from teachtls.crypto.suites12 import CipherSuite12Params

# RFC 5246 §6.2.1: "The length MUST NOT exceed 2^14" (TLSPlaintext.length).
MAX_PLAINTEXT_LENGTH = 2**14
# RFC 5246 §6.2.3: TLSCiphertext "length MUST NOT exceed 2^14 + 2048".
MAX_CIPHERTEXT_LENGTH = 2**14 + 2048
SEQUENCE_NUMBER_LENGTH = 8

RecordProtectionErrorKind = Literal["bad_record_mac", "record_overflow"]


class RecordProtectionError(Exception):
    """A received record failed protection checks; `kind` is the alert to send.

    `kind` is "bad_record_mac" for any decryption or authentication failure
    (RFC 5246 §6.2.3.2, §6.2.3.3; RFC 5288 §3) and "record_overflow" for a
    fragment or plaintext over the limits of RFC 5246 §6.2.3 / §6.2.1.
    """

    def __init__(self, kind: RecordProtectionErrorKind, reason: str, rfc: str) -> None:
        super().__init__(f"{kind}: {reason} ({rfc})")
        self.kind = kind
        self.reason = reason
        self.rfc = rfc


@attrs.frozen(kw_only=True)
class RecordProtectionDetails:
    """What one `seal` or `open` used, kept so traces can show it.

    `record_iv` travels in the record; `nonce` (AEAD) also contains the
    implicit part from the key block, which only the two peers know.
    """

    sequence_number: int
    # AEAD: the full 12-byte nonce given to the AEAD; CBC: None.
    nonce: bytes | None = None
    # Bytes sent in front of the ciphertext: GCM nonce_explicit, the CBC IV,
    # or b"" (ChaCha20-Poly1305).
    record_iv: bytes = b""
    # AEAD: the 13-byte additional_data. CBC: the 13 bytes the MAC covers
    # before the content (seq_num + type + version + length).
    additional_data: bytes = b""
    # CBC only: the MAC sent or received, and the padding_length byte.
    mac: bytes | None = None
    padding_length: int | None = None
    rfc: str


class RecordProtection12(Protocol):
    """One direction's write keys, ready to protect records (RFC 5246 §6.2.3)."""

    params: CipherSuite12Params
    last_record: RecordProtectionDetails | None

    def seal(self, sequence_number: int, content_type: int, version: int, plaintext: bytes) -> bytes:
        """Protect one TLSPlaintext.fragment; returns TLSCiphertext.fragment."""
        ...

    def open(self, sequence_number: int, content_type: int, version: int, fragment: bytes) -> bytes:
        """Check and decrypt one TLSCiphertext.fragment; returns the plaintext.

        Raises `RecordProtectionError`.
        """
        ...


def additional_data(sequence_number: int, content_type: int, version: int, length: int) -> bytes:
    """seq_num + type + version + length (8 + 1 + 2 + 2 bytes), RFC 5246 §6.2.3.3.

    The same 13 bytes start the CBC MAC input (§6.2.3.1). `length` is the
    plaintext length.
    """
    if not 0 <= sequence_number < 2**64:
        # RFC 5246 §6.1: sequence numbers "may not exceed 2^64-1. Sequence
        # numbers do not wrap." The connection must stop before that.
        raise ValueError("record sequence number out of range")
    return (
        sequence_number.to_bytes(SEQUENCE_NUMBER_LENGTH, "big")
        + content_type.to_bytes(1, "big")
        + version.to_bytes(2, "big")
        + length.to_bytes(2, "big")
    )


def gcm_nonce(salt: bytes, nonce_explicit: bytes) -> bytes:
    """GCMNonce = salt[4] || nonce_explicit[8], RFC 5288 §3."""
    if len(salt) != 4 or len(nonce_explicit) != 8:
        raise ValueError("GCMNonce needs a 4-byte salt and an 8-byte nonce_explicit")
    return salt + nonce_explicit


def chacha20_poly1305_nonce(write_IV: bytes, sequence_number: int) -> bytes:
    """The per-record nonce of RFC 7905 §2: the sequence number "serialized as
    an 8-byte, big-endian value and padded on the left with four 0x00 bytes",
    XORed with the 12-byte write IV."""
    if len(write_IV) != 12:
        raise ValueError("ChaCha20-Poly1305 needs a 12-byte write IV")
    padded = bytes(4) + sequence_number.to_bytes(SEQUENCE_NUMBER_LENGTH, "big")
    return bytes(iv_byte ^ sequence_byte for iv_byte, sequence_byte in zip(write_IV, padded, strict=True))


def _bad_record_mac(reason: str, rfc: str = "RFC 5246 §6.2.3.3") -> RecordProtectionError:
    return RecordProtectionError("bad_record_mac", reason, rfc)


def _check_plaintext_length(plaintext: bytes) -> None:
    # Sending more is our own bug (the record layer fragments first), not an alert.
    if len(plaintext) > MAX_PLAINTEXT_LENGTH:
        raise ValueError(f"a record carries at most 2^14 bytes of plaintext, got {len(plaintext)}")


def _check_fragment_length(fragment: bytes) -> None:
    if len(fragment) > MAX_CIPHERTEXT_LENGTH:
        # RFC 5246 §7.2.2 record_overflow: "A TLSCiphertext record was
        # received that had a length more than 2^14+2048 bytes".
        raise RecordProtectionError("record_overflow", "TLSCiphertext longer than 2^14+2048 bytes", "RFC 5246 §6.2.3")


def _check_decrypted_length(plaintext: bytes) -> None:
    if len(plaintext) > MAX_PLAINTEXT_LENGTH:
        # With null compression TLSCompressed is TLSPlaintext, whose length
        # "MUST NOT exceed 2^14" (RFC 5246 §6.2.1). Checked only after the
        # record authenticated, so the alert reveals nothing to a forger.
        raise RecordProtectionError("record_overflow", "record decrypted to more than 2^14 bytes", "RFC 5246 §6.2.1")


# --- AEAD: AES-GCM (RFC 5288) and ChaCha20-Poly1305 (RFC 7905) ----------------


class _AeadRecordProtection:
    """Shared by both AEAD families; subclasses say how the nonce is built."""

    rfc = "RFC 5246 §6.2.3.3"

    def __init__(self, params: CipherSuite12Params, write_key: bytes, write_IV: bytes) -> None:
        if params.cipher_type != "aead":
            raise ValueError(f"{params.name} is not an AEAD suite")
        if len(write_key) != params.enc_key_length or len(write_IV) != params.fixed_iv_length:
            raise ValueError(
                f"{params.name} needs a {params.enc_key_length}-byte write key and a "
                f"{params.fixed_iv_length}-byte write IV"
            )
        self.params = params
        self.write_IV = write_IV
        self.last_record: RecordProtectionDetails | None = None
        self._cipher: AESGCM | ChaCha20Poly1305 = (
            ChaCha20Poly1305(write_key) if params.cipher == "CHACHA20-POLY1305" else AESGCM(write_key)
        )

    def _record_iv_for_sending(self, sequence_number: int) -> bytes:
        raise NotImplementedError

    def _nonce(self, sequence_number: int, record_iv: bytes) -> bytes:
        raise NotImplementedError

    def seal(self, sequence_number: int, content_type: int, version: int, plaintext: bytes) -> bytes:
        """AEADEncrypted = AEAD-Encrypt(write_key, nonce, plaintext, additional_data);
        returns nonce_explicit || AEADEncrypted (RFC 5246 §6.2.3.3)."""
        _check_plaintext_length(plaintext)
        aad = additional_data(sequence_number, content_type, version, len(plaintext))
        record_iv = self._record_iv_for_sending(sequence_number)
        nonce = self._nonce(sequence_number, record_iv)
        self.last_record = RecordProtectionDetails(
            sequence_number=sequence_number, nonce=nonce, record_iv=record_iv, additional_data=aad, rfc=self.rfc
        )
        return record_iv + self._cipher.encrypt(nonce, plaintext, aad)

    def open(self, sequence_number: int, content_type: int, version: int, fragment: bytes) -> bytes:
        """TLSCompressed.fragment = AEAD-Decrypt(write_key, nonce, AEADEncrypted,
        additional_data), RFC 5246 §6.2.3.3.

        Raises `RecordProtectionError` "record_overflow" for a fragment over
        2^14+2048 bytes, and "bad_record_mac" for anything that does not
        authenticate -- including a fragment too short to hold
        nonce_explicit and the tag -- or a plaintext over 2^14 bytes.
        """
        _check_fragment_length(fragment)
        record_iv_length = self.params.record_iv_length
        if len(fragment) < record_iv_length + self.params.tag_length:
            raise _bad_record_mac("record shorter than nonce_explicit plus the AEAD tag")
        record_iv, aead_encrypted = fragment[:record_iv_length], fragment[record_iv_length:]
        plaintext_length = len(aead_encrypted) - self.params.tag_length
        aad = additional_data(sequence_number, content_type, version, plaintext_length)
        nonce = self._nonce(sequence_number, record_iv)
        self.last_record = RecordProtectionDetails(
            sequence_number=sequence_number, nonce=nonce, record_iv=record_iv, additional_data=aad, rfc=self.rfc
        )
        try:
            plaintext = self._cipher.decrypt(nonce, aead_encrypted, aad)
        except InvalidTag:
            raise _bad_record_mac("AEAD tag did not verify") from None
        _check_decrypted_length(plaintext)
        return plaintext


def sequence_number_as_nonce_explicit(sequence_number: int) -> bytes:
    """The default nonce_explicit: RFC 5288 §3, "The nonce_explicit MAY be the
    64-bit sequence number"."""
    return sequence_number.to_bytes(8, "big")


class AesGcmRecordProtection(_AeadRecordProtection):
    """AES-128-GCM / AES-256-GCM records, RFC 5288 §3 (see the module essay).

    `write_IV` is the 4-byte salt (client_write_IV or server_write_IV).
    `nonce_explicit(sequence_number)` chooses the 8 bytes sent in front of
    each record; the default sends the sequence number. Inject another only
    to reproduce a peer's records (OpenSSL counts up from a random start) or,
    in a lab, to show what nonce reuse breaks.
    """

    rfc = "RFC 5288 §3"

    def __init__(
        self,
        params: CipherSuite12Params,
        write_key: bytes,
        write_IV: bytes,
        nonce_explicit: Callable[[int], bytes] = sequence_number_as_nonce_explicit,
    ) -> None:
        super().__init__(params, write_key, write_IV)
        self._nonce_explicit = nonce_explicit

    def _record_iv_for_sending(self, sequence_number: int) -> bytes:
        nonce_explicit = self._nonce_explicit(sequence_number)
        if len(nonce_explicit) != self.params.record_iv_length:
            raise ValueError("nonce_explicit must be 8 bytes")
        return nonce_explicit

    def _nonce(self, sequence_number: int, record_iv: bytes) -> bytes:
        # On receipt the explicit part comes from the record, whatever the
        # peer chose; it need not equal the sequence number.
        return gcm_nonce(self.write_IV, record_iv)


class ChaCha20Poly1305RecordProtection(_AeadRecordProtection):
    """ChaCha20-Poly1305 records, RFC 7905 §2: nonce = write_IV XOR padded
    sequence number, nothing sent in front of the ciphertext."""

    rfc = "RFC 7905 §2"

    def _record_iv_for_sending(self, sequence_number: int) -> bytes:
        return b""

    def _nonce(self, sequence_number: int, record_iv: bytes) -> bytes:
        return chacha20_poly1305_nonce(self.write_IV, sequence_number)


# --- CBC with HMAC, MAC-then-encrypt (RFC 5246 §6.2.3.2) ----------------------


class AesCbcHmacRecordProtection:
    """AES-128-CBC records with HMAC-SHA1 or HMAC-SHA256, RFC 5246 §6.2.3.2.

    TEACHING ONLY. MAC-then-encrypt CBC is the construction behind a decade
    of padding-oracle attacks; TLS 1.3 removed it. `random(n)` supplies the
    per-record IV (default `os.urandom`); inject a deterministic one to
    reproduce a trace.
    """

    rfc = "RFC 5246 §6.2.3.2"

    def __init__(
        self,
        params: CipherSuite12Params,
        write_key: bytes,
        write_MAC_key: bytes,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if params.cipher_type != "block" or params.mac_hash is None:
            raise ValueError(f"{params.name} is not a CBC suite")
        if len(write_key) != params.enc_key_length or len(write_MAC_key) != params.mac_key_length:
            raise ValueError(
                f"{params.name} needs a {params.enc_key_length}-byte write key and a "
                f"{params.mac_key_length}-byte MAC key"
            )
        self.params = params
        self.mac_hash = params.mac_hash
        self.last_record: RecordProtectionDetails | None = None
        self._write_key = write_key
        self._write_MAC_key = write_MAC_key
        self._random = random

    def _mac(self, header: bytes, content: bytes) -> bytes:
        # RFC 5246 §6.2.3.1: MAC(MAC_write_key, seq_num + TLSCompressed.type +
        # TLSCompressed.version + TLSCompressed.length + TLSCompressed.fragment)
        return hmac(self.mac_hash, self._write_MAC_key, header + content)

    def seal(self, sequence_number: int, content_type: int, version: int, plaintext: bytes) -> bytes:
        """MAC, pad, then encrypt under a fresh random IV; returns IV || ciphertext."""
        _check_plaintext_length(plaintext)
        block_length = self.params.block_length
        header = additional_data(sequence_number, content_type, version, len(plaintext))
        mac = self._mac(header, plaintext)
        # The smallest padding that makes content + MAC + padding +
        # padding_length a whole number of blocks. "Each uint8 in the padding
        # data vector MUST be filled with the padding length value", so
        # padding and the padding_length byte are padding_length + 1 copies
        # of one value. (Longer padding, up to 255, is allowed to hide lengths.)
        padding_length = (-(len(plaintext) + len(mac) + 1)) % block_length
        block_ciphered = plaintext + mac + bytes([padding_length]) * (padding_length + 1)
        iv = self._random(self.params.record_iv_length)
        if len(iv) != self.params.record_iv_length:
            raise ValueError("the random source returned an IV of the wrong length")
        # cryptography's own padding module is not used: PKCS #7 padding bytes
        # hold padding_length + 1, TLS padding bytes hold padding_length.
        encryptor = Cipher(algorithms.AES(self._write_key), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(block_ciphered) + encryptor.finalize()
        self.last_record = RecordProtectionDetails(
            sequence_number=sequence_number,
            record_iv=iv,
            additional_data=header,
            mac=mac,
            padding_length=padding_length,
            rfc=self.rfc,
        )
        return iv + ciphertext

    def open(self, sequence_number: int, content_type: int, version: int, fragment: bytes) -> bytes:
        """Decrypt, then check padding and MAC together, RFC 5246 §6.2.3.2.

        Raises `RecordProtectionError` "record_overflow" for a fragment over
        2^14+2048 bytes and "bad_record_mac" for everything else: a length
        that is not whole blocks or too short for IV + MAC + padding_length,
        bad padding, a bad MAC, or (after the MAC checked out) a plaintext
        over 2^14 bytes. Bad padding and a bad MAC give the *same* error.
        """
        _check_fragment_length(fragment)
        block_length = self.params.block_length
        mac_length = self.params.mac_length
        iv_length = self.params.record_iv_length
        # check the length. These tests depend only on the public record
        # length, so failing early here leaks nothing an eavesdropper lacks.
        block_ciphered_length = len(fragment) - iv_length
        if block_ciphered_length % block_length != 0 or block_ciphered_length < mac_length + 1:
            raise _bad_record_mac("not a whole number of blocks, or too short for MAC and padding", self.rfc)
        iv, ciphertext = fragment[:iv_length], fragment[iv_length:]

        # decrypt
        decryptor = Cipher(algorithms.AES(self._write_key), modes.CBC(iv)).decryptor()
        block_ciphered = decryptor.update(ciphertext) + decryptor.finalize()

        # check padding -- without acting on the answer yet.
        #
        # RFC 5246 §6.2.3.2: "implementations MUST ensure that record
        # processing time is essentially the same whether or not the padding
        # is correct. In general, the best way to do this is to compute the
        # MAC even if the padding is incorrect, and only then reject the
        # packet. For instance, if the pad appears to be incorrect, the
        # implementation might assume a zero-length pad and then compute the
        # MAC." That is what happens below: padding_ok is remembered, the
        # MAC is always computed and compared, and only then does one
        # combined test decide, with one error for both causes.
        #
        # The RFC admits this "leaves a small timing channel, since MAC
        # performance depends to some extent on the size of the data
        # fragment". Lucky 13 (AlFardan and Paterson, 2013) showed that the
        # channel *is* exploitable: how many hash blocks HMAC processes
        # depends on the content length, and so on the padding byte an
        # attacker is probing. Real stacks fixed it with carefully
        # constant-time code (OpenSSL's ssl3_cbc_digest_record and
        # ssl3_cbc_copy_mac). Python cannot promise constant time at all --
        # slicing, bytes comparisons, the interpreter itself vary with the
        # data -- so this is a TEACHING implementation of the RFC's
        # *structure* (one error, MAC always computed), not of a
        # side-channel-free one. Do not protect real data with it.
        padding_length = block_ciphered[-1]
        padding_ok = padding_length + 1 + mac_length <= len(block_ciphered)
        if padding_ok:
            padding = block_ciphered[-(padding_length + 1) :]
            # Compared in one constant-time call, not byte by byte with an
            # early exit, so the check does not reveal where it failed.
            padding_ok = constant_time_equal(padding, bytes([padding_length]) * (padding_length + 1))
        # "assume a zero-length pad": strip only the padding_length byte.
        unpadded_length = len(block_ciphered) - (padding_length + 1 if padding_ok else 1)
        content_length = unpadded_length - mac_length
        content = block_ciphered[:content_length]
        received_mac = block_ciphered[content_length:unpadded_length]

        # check the MAC, always
        header = additional_data(sequence_number, content_type, version, content_length)
        expected_mac = self._mac(header, content)
        mac_ok = constant_time_equal(received_mac, expected_mac)
        self.last_record = RecordProtectionDetails(
            sequence_number=sequence_number,
            record_iv=iv,
            additional_data=header,
            mac=received_mac,
            padding_length=padding_length,
            rfc=self.rfc,
        )
        if not (padding_ok and mac_ok):
            # RFC 5246 §6.2.3.2: the receiver "MUST use the bad_record_mac
            # alert to indicate padding errors" -- the same alert as a MAC
            # error, and the same reason text, so neither leaks which it was.
            raise _bad_record_mac("padding or MAC did not verify", self.rfc)
        _check_decrypted_length(content)
        return content


def new_record_protection(
    params: CipherSuite12Params,
    *,
    write_key: bytes,
    write_IV: bytes = b"",
    write_MAC_key: bytes = b"",
    random: Callable[[int], bytes] = os.urandom,
) -> RecordProtection12:
    """The record protection for one direction of a `params` suite.

    Pass the sender's values from the key block (RFC 5246 §6.3):
    client_write_key / client_write_IV / client_write_MAC_key for records the
    client sends, the server_ ones for records the server sends. `random` is
    used only by CBC suites, for per-record IVs.
    Raises `ValueError` if a key or IV has the wrong length for the suite.
    """
    if params.cipher == "CHACHA20-POLY1305":
        return ChaCha20Poly1305RecordProtection(params, write_key, write_IV)
    if params.cipher_type == "aead":
        return AesGcmRecordProtection(params, write_key, write_IV)
    return AesCbcHmacRecordProtection(params, write_key, write_MAC_key, random)
