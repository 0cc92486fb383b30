"""Key exchange for the `key_share` extension (RFC 8446 §4.2.8, §7.4).

In TLS 1.3 the client guesses which groups the server will accept and sends
a share for each in its ClientHello; the server picks one and answers with
its own share in the ServerHello. Both sides then hold the same
`shared_secret`, which becomes the IKM of the handshake secret
(RFC 8446 §7.1: `HKDF-Extract(Derive-Secret(early_secret, "derived", ""),
(EC)DHE)`).

Three families of groups are implemented, one small class each:

* **X25519 and X448** (RFC 7748, `MontgomeryKeyShare`). A share is the raw
  32- or 56-byte public value (RFC 8446 §4.2.8.2). RFC 8446 §7.4.2: "For
  X25519 and X448, implementations [...] MUST check whether the computed
  Diffie-Hellman shared secret is the all-zero value and abort if so" -- a
  peer that sends a low-order point would otherwise force a known secret.
* **NIST curves** secp256r1, secp384r1, secp521r1 (`NistCurveKeyShare`). A
  share is an *uncompressed* point, `legacy_form = 4` followed by X and Y
  (RFC 8446 §4.2.8.2), and the shared secret is the X coordinate of the
  shared point (§7.4.2). "Peers MUST validate each other's public key":
  `cryptography` refuses points that are not on the curve.
* **The hybrid X25519MLKEM768** (draft-ietf-tls-ecdhe-mlkem,
  `HybridKeyShare`), which combines the post-quantum KEM ML-KEM-768
  (FIPS 203) with X25519 so the result stays secret if *either* holds.
  A KEM is not a Diffie-Hellman function: the client sends an encapsulation
  key, and the server *encapsulates* a fresh secret to it and sends back
  the ciphertext. The draft fixes the byte order (its §4; note that for this
  group the ML-KEM part comes first, which "does not adhere to the naming
  convention [...] due to historical reasons")::

      client key_exchange = ML-KEM-768 encapsulation key (1184) || X25519 public (32)
      server key_exchange = ML-KEM-768 ciphertext (1088)         || X25519 public (32)
      shared_secret       = ML-KEM shared secret (32)            || X25519 shared secret (32)

Any malformed peer share -- a wrong length, a point off the curve, a
low-order X25519 point, an encapsulation key failing the FIPS 203 §7.2
check -- raises `KeyShareError`, which the connection turns into an
`illegal_parameter` alert (RFC 8446 §4.2.8.2 and the draft's §4.2).

Reproducibility: private keys can be injected as bytes, so a connection can
replay RFC 8448 exactly. ML-KEM *encapsulation* randomness cannot be
injected through `cryptography`, so hybrid handshakes are never
byte-for-byte reproducible.

Not implemented: the finite-field groups (ffdhe*, RFC 7919) and the other
hybrids of the draft (SecP256r1MLKEM768, SecP384r1MLKEM1024).
"""

from __future__ import annotations

from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x448, x25519

from teachtls.wire.enums import NamedGroup


class KeyShareError(Exception):
    """The peer's key_exchange value is unusable (-> illegal_parameter)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PrivateKeyShare(Protocol):
    """Our half of one key exchange: what every group family provides."""

    @property
    def group(self) -> NamedGroup: ...

    def public_bytes(self) -> bytes:
        """The `key_exchange` field of our KeyShareEntry (as a client sends it)."""
        ...

    def private_bytes(self) -> bytes:
        """The private key as bytes, for traces and for replaying a run."""
        ...

    def exchange(self, peer_key_exchange: bytes) -> bytes:
        """The shared secret, given the peer's `key_exchange` field.

        Raises `KeyShareError` for a malformed or invalid peer share."""
        ...


def _check_length(group: NamedGroup, peer_key_exchange: bytes, expected: int) -> None:
    if len(peer_key_exchange) != expected:
        raise KeyShareError(f"{group.name} key_exchange must be {expected} bytes, got {len(peer_key_exchange)}")


# --- X25519 and X448 (RFC 7748) ----------------------------------------------

# RFC 8446 §4.2.8.2: "For X25519 and X448, the contents of the public value
# are the byte string inputs and outputs of the corresponding functions
# defined in [RFC7748]: 32 bytes for X25519 and 56 bytes for X448."
MONTGOMERY_SIZES = {NamedGroup.x25519: 32, NamedGroup.x448: 56}


class MontgomeryKeyShare:
    """An X25519 or X448 key pair (the Diffie-Hellman functions of RFC 7748)."""

    def __init__(self, group: NamedGroup, private_key: x25519.X25519PrivateKey | x448.X448PrivateKey) -> None:
        self.group = group
        self.private_key = private_key

    @classmethod
    def generate(cls, group: NamedGroup, private_bytes: bytes | None) -> MontgomeryKeyShare:
        """A fresh key pair, or the one whose raw private key is `private_bytes`."""
        private_key: x25519.X25519PrivateKey | x448.X448PrivateKey
        if group is NamedGroup.x25519:
            private_key = (
                x25519.X25519PrivateKey.generate()
                if private_bytes is None
                else x25519.X25519PrivateKey.from_private_bytes(private_bytes)
            )
        else:
            private_key = (
                x448.X448PrivateKey.generate()
                if private_bytes is None
                else x448.X448PrivateKey.from_private_bytes(private_bytes)
            )
        return cls(group, private_key)

    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes_raw()

    def private_bytes(self) -> bytes:
        return self.private_key.private_bytes_raw()

    def exchange(self, peer_key_exchange: bytes) -> bytes:
        _check_length(self.group, peer_key_exchange, MONTGOMERY_SIZES[self.group])
        try:
            if isinstance(self.private_key, x25519.X25519PrivateKey):
                peer = x25519.X25519PublicKey.from_public_bytes(peer_key_exchange)
                shared_secret = self.private_key.exchange(peer)
            else:
                peer448 = x448.X448PublicKey.from_public_bytes(peer_key_exchange)
                shared_secret = self.private_key.exchange(peer448)
        except ValueError:
            # OpenSSL itself refuses to return the all-zero output of a
            # low-order point; cryptography reports that as ValueError.
            raise KeyShareError(f"{self.group.name} shared secret is all zeros (low-order peer point)") from None
        # RFC 8446 §7.4.2: check for the all-zero value "and abort if so".
        # Kept even though OpenSSL already checks: this is the rule to see.
        if shared_secret == bytes(len(shared_secret)):
            raise KeyShareError(f"{self.group.name} shared secret is all zeros")
        return shared_secret


# --- NIST curves (RFC 8446 §4.2.8.2, §7.4.2) ---------------------------------

NIST_CURVES: dict[NamedGroup, ec.EllipticCurve] = {
    NamedGroup.secp256r1: ec.SECP256R1(),
    NamedGroup.secp384r1: ec.SECP384R1(),
    NamedGroup.secp521r1: ec.SECP521R1(),
}


def _coordinate_size(curve: ec.EllipticCurve) -> int:
    """Bytes in one coordinate or scalar: 32, 48 and 66 (521 bits) bytes."""
    return (curve.key_size + 7) // 8


class NistCurveKeyShare:
    """An ECDHE key pair on secp256r1, secp384r1 or secp521r1."""

    def __init__(self, group: NamedGroup, private_key: ec.EllipticCurvePrivateKey) -> None:
        self.group = group
        self.private_key = private_key

    @classmethod
    def generate(cls, group: NamedGroup, private_bytes: bytes | None) -> NistCurveKeyShare:
        """A fresh key pair, or the one whose big-endian private scalar is
        `private_bytes` (exactly the curve's size: 32, 48 or 66 bytes)."""
        curve = NIST_CURVES[group]
        if private_bytes is None:
            return cls(group, ec.generate_private_key(curve))
        if len(private_bytes) != _coordinate_size(curve):
            raise ValueError(f"{group.name} private key must be {_coordinate_size(curve)} bytes")
        scalar = int.from_bytes(private_bytes, "big")
        return cls(group, ec.derive_private_key(scalar, curve))

    def public_bytes(self) -> bytes:
        # RFC 8446 §4.2.8.2 UncheckedPointRepresentation: legacy_form = 4, X, Y.
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def private_bytes(self) -> bytes:
        size = _coordinate_size(self.private_key.curve)
        return self.private_key.private_numbers().private_value.to_bytes(size, "big")

    def exchange(self, peer_key_exchange: bytes) -> bytes:
        curve = self.private_key.curve
        _check_length(self.group, peer_key_exchange, 1 + 2 * _coordinate_size(curve))
        # RFC 8446 §4.2.8.2: TLS 1.3 only has the uncompressed form; a
        # compressed point (first byte 2 or 3) would parse but is not allowed.
        if peer_key_exchange[0] != 4:
            raise KeyShareError(f"{self.group.name} point is not in uncompressed form (4)")
        try:
            # "Peers MUST validate each other's public key Y by ensuring
            # that the point is a valid point on the elliptic curve."
            peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, peer_key_exchange)
        except ValueError:
            raise KeyShareError(f"{self.group.name} point is not on the curve") from None
        # RFC 8446 §7.4.2: the shared secret is the X coordinate, padded to
        # the coordinate size; that is what cryptography's ECDH returns.
        return self.private_key.exchange(ec.ECDH(), peer)


# --- X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem) -----------------------------

MLKEM768_ENCAPSULATION_KEY_SIZE = 1184
MLKEM768_CIPHERTEXT_SIZE = 1088
MLKEM768_SEED_SIZE = 64
X25519_SIZE = MONTGOMERY_SIZES[NamedGroup.x25519]


class HybridKeyShare:
    """The client's half of X25519MLKEM768: an ML-KEM-768 decapsulation key
    plus an X25519 key pair.

    `private_bytes()` is the 64-byte ML-KEM seed (FIPS 203 `d || z`)
    followed by the 32-byte X25519 private key."""

    group = NamedGroup.X25519MLKEM768

    def __init__(self, mlkem_private_key: mlkem.MLKEM768PrivateKey, x25519_share: MontgomeryKeyShare) -> None:
        self.mlkem_private_key = mlkem_private_key
        self.x25519_share = x25519_share

    @classmethod
    def generate(cls, private_bytes: bytes | None) -> HybridKeyShare:
        if private_bytes is None:
            return cls(
                mlkem.MLKEM768PrivateKey.generate(),
                MontgomeryKeyShare.generate(NamedGroup.x25519, None),
            )
        if len(private_bytes) != MLKEM768_SEED_SIZE + X25519_SIZE:
            raise ValueError("X25519MLKEM768 private key must be 64 + 32 bytes")
        seed, x25519_private = private_bytes[:MLKEM768_SEED_SIZE], private_bytes[MLKEM768_SEED_SIZE:]
        return cls(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(seed),
            MontgomeryKeyShare.generate(NamedGroup.x25519, x25519_private),
        )

    def public_bytes(self) -> bytes:
        # Draft §4.1: "the concatenation of the client's ML-KEM-768
        # encapsulation key and the client's X25519 ephemeral share".
        encapsulation_key = self.mlkem_private_key.public_key().public_bytes_raw()
        return encapsulation_key + self.x25519_share.public_bytes()

    def private_bytes(self) -> bytes:
        return self.mlkem_private_key.private_bytes_raw() + self.x25519_share.private_bytes()

    def exchange(self, peer_key_exchange: bytes) -> bytes:
        # Draft §4.2: "the client MUST check if the ciphertext length matches
        # the selected group, and abort with an illegal_parameter alert".
        _check_length(self.group, peer_key_exchange, MLKEM768_CIPHERTEXT_SIZE + X25519_SIZE)
        ciphertext = peer_key_exchange[:MLKEM768_CIPHERTEXT_SIZE]
        server_x25519 = peer_key_exchange[MLKEM768_CIPHERTEXT_SIZE:]
        # ML-KEM decapsulation never rejects a well-sized ciphertext: a
        # forged one silently yields an unrelated secret ("implicit
        # rejection", FIPS 203 §6.3), and the handshake then fails at Finished.
        mlkem_secret = self.mlkem_private_key.decapsulate(ciphertext)
        x25519_secret = self.x25519_share.exchange(server_x25519)
        # Draft §4.3: "the concatenation of the ML-KEM shared secret and the
        # X25519 shared secret".
        return mlkem_secret + x25519_secret


def _hybrid_server_key_exchange(client_key_exchange: bytes, private_bytes: bytes | None) -> tuple[bytes, bytes]:
    """The server's half of X25519MLKEM768: encapsulate, then X25519."""
    group = NamedGroup.X25519MLKEM768
    _check_length(group, client_key_exchange, MLKEM768_ENCAPSULATION_KEY_SIZE + X25519_SIZE)
    encapsulation_key = client_key_exchange[:MLKEM768_ENCAPSULATION_KEY_SIZE]
    client_x25519 = client_key_exchange[MLKEM768_ENCAPSULATION_KEY_SIZE:]
    try:
        # Draft §4.2: "the server MUST perform the encapsulation key check
        # described in Section 7.2 of [NIST-FIPS-203]"; cryptography performs
        # it when loading the key.
        client_mlkem_key = mlkem.MLKEM768PublicKey.from_public_bytes(encapsulation_key)
    except ValueError:
        raise KeyShareError("ML-KEM-768 encapsulation key check failed") from None
    x25519_share = MontgomeryKeyShare.generate(NamedGroup.x25519, private_bytes)
    x25519_secret = x25519_share.exchange(client_x25519)
    # The encapsulation randomness comes from cryptography's own generator
    # and cannot be injected, so this step differs on every run.
    mlkem_secret, ciphertext = client_mlkem_key.encapsulate()
    server_key_exchange_bytes = ciphertext + x25519_share.public_bytes()
    return server_key_exchange_bytes, mlkem_secret + x25519_secret


# --- the entry points ----------------------------------------------------------

# The groups this module implements, not a preference order (Config sets that).
SUPPORTED_GROUPS: tuple[NamedGroup, ...] = (
    NamedGroup.x25519,
    NamedGroup.x448,
    NamedGroup.secp256r1,
    NamedGroup.secp384r1,
    NamedGroup.secp521r1,
    NamedGroup.X25519MLKEM768,
)


def generate_key_share(group: NamedGroup, private_bytes: bytes | None = None) -> PrivateKeyShare:
    """A key share for `group`: fresh, or deterministic from `private_bytes`.

    `private_bytes` is the raw private key for x25519/x448, the big-endian
    private scalar for the NIST curves, and ML-KEM seed (64) || X25519
    private key (32) for X25519MLKEM768.

    Raises `ValueError` for an unsupported group or malformed private bytes.
    """
    if group in MONTGOMERY_SIZES:
        return MontgomeryKeyShare.generate(group, private_bytes)
    if group in NIST_CURVES:
        return NistCurveKeyShare.generate(group, private_bytes)
    if group is NamedGroup.X25519MLKEM768:
        return HybridKeyShare.generate(private_bytes)
    raise ValueError(f"unsupported key exchange group {group!r}")


def server_key_exchange(
    group: NamedGroup, client_key_exchange: bytes, private_bytes: bytes | None = None
) -> tuple[bytes, bytes, PrivateKeyShare | None]:
    """The server's side of the exchange for the client's share in `group`.

    Returns `(server_key_exchange_bytes, shared_secret, private_share)`:
    the `key_exchange` field for the ServerHello, the shared secret, and the
    server's own key share. For the Diffie-Hellman groups the server makes
    its key pair (from `private_bytes` when given) and combines it with the
    client's. For X25519MLKEM768 the server has no key pair of the group --
    it encapsulates to the client's key -- so `private_share` is None and
    `private_bytes`, when given, is the server's 32-byte X25519 private key.

    Raises `KeyShareError` for a malformed client share (-> illegal_parameter)
    and `ValueError` for an unsupported group.
    """
    if group is NamedGroup.X25519MLKEM768:
        server_key_exchange_bytes, shared_secret = _hybrid_server_key_exchange(client_key_exchange, private_bytes)
        return server_key_exchange_bytes, shared_secret, None
    share = generate_key_share(group, private_bytes)
    # (EC)DHE is symmetric: the server's exchange with the client's public
    # value gives the secret the client gets from the server's.
    shared_secret = share.exchange(client_key_exchange)
    return share.public_bytes(), shared_secret, share
