"""Signatures for CertificateVerify (RFC 8446 §4.4.3) and certificate checks.

A TLS 1.3 server (and a client doing client authentication) proves that it
holds the private key of its certificate by signing the transcript hash.
The signed content is built so that it can never be confused with anything
else that key might sign (RFC 8446 §4.4.3)::

    64 bytes of 0x20 (spaces)      -- defeats chosen-prefix attacks on
                                      earlier TLS signatures
    context string                 -- "TLS 1.3, server CertificateVerify"
                                      or "TLS 1.3, client CertificateVerify"
    0x00                           -- a separator
    transcript hash                -- Transcript-Hash(Handshake Context,
                                      Certificate)

The `SignatureScheme` names both the algorithm and the hash (RFC 8446
§4.2.3), and in TLS 1.3 an ECDSA scheme also names the curve:
`ecdsa_secp256r1_sha256` only works with a P-256 key. The rules kept here:

* RSA signs with RSASSA-PSS: "RSASSA-PSS algorithms [...] The length of the
  Salt MUST be equal to the length of the digest algorithm" and MGF1 uses
  the same hash (§4.2.3). The `rsa_pss_rsae_*` schemes are for ordinary RSA
  keys (rsaEncryption certificates).
* "RSASSA-PKCS1-v1_5 algorithms [...] are not defined for use in signed
  TLS handshake messages" but still sign certificates, so `verify` accepts
  `rsa_pkcs1_*` for certificate checks; the handshake code refuses them in
  CertificateVerify itself.
* SHA-1 schemes (`rsa_pkcs1_sha1`, `ecdsa_sha1`) are not supported at all,
  nor are `rsa_pss_pss_*` (keys restricted to PSS by their certificate).

A signature that does not verify, or a scheme that does not fit the key,
raises `SignatureError`; the connection sends `decrypt_error` for a bad
CertificateVerify (RFC 8446 §4.4.3: "If the verification fails, the receiver
MUST terminate the handshake with a "decrypt_error" alert").
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from teachtls.wire.enums import SignatureScheme

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey

SERVER_CONTEXT = b"TLS 1.3, server CertificateVerify"
CLIENT_CONTEXT = b"TLS 1.3, client CertificateVerify"


class SignatureError(Exception):
    """A signature failed to verify, or its scheme does not fit the key."""


def certificate_verify_content(context_string: bytes, transcript_hash: bytes) -> bytes:
    """The bytes that CertificateVerify signs (RFC 8446 §4.4.3)."""
    return b"\x20" * 64 + context_string + b"\x00" + transcript_hash


# --- which scheme uses which hash and key ------------------------------------

RSA_PSS_RSAE: dict[SignatureScheme, hashes.HashAlgorithm] = {
    SignatureScheme.rsa_pss_rsae_sha256: hashes.SHA256(),
    SignatureScheme.rsa_pss_rsae_sha384: hashes.SHA384(),
    SignatureScheme.rsa_pss_rsae_sha512: hashes.SHA512(),
}
RSA_PKCS1: dict[SignatureScheme, hashes.HashAlgorithm] = {
    SignatureScheme.rsa_pkcs1_sha256: hashes.SHA256(),
    SignatureScheme.rsa_pkcs1_sha384: hashes.SHA384(),
    SignatureScheme.rsa_pkcs1_sha512: hashes.SHA512(),
}
# TLS 1.3 binds each ECDSA scheme to one curve (RFC 8446 §4.2.3).
ECDSA: dict[SignatureScheme, tuple[str, hashes.HashAlgorithm]] = {
    SignatureScheme.ecdsa_secp256r1_sha256: ("secp256r1", hashes.SHA256()),
    SignatureScheme.ecdsa_secp384r1_sha384: ("secp384r1", hashes.SHA384()),
    SignatureScheme.ecdsa_secp521r1_sha512: ("secp521r1", hashes.SHA512()),
}


def _pss_padding(hash_algorithm: hashes.HashAlgorithm) -> padding.PSS:
    # RFC 8446 §4.2.3: salt length = digest length; MGF1 with the same hash.
    return padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size)


def schemes_for_key(key: PrivateKey | PublicKey) -> tuple[SignatureScheme, ...]:
    """The SignatureSchemes a key can use in a TLS 1.3 CertificateVerify.

    A private key and its public key give the same answer: what counts is
    the algorithm, the curve and the size, which both halves carry. An RSA
    key too small for PSS with a given hash (it needs at least 2 * digest
    size + 2 bytes, RFC 8017 §9.1.1) does not get that scheme.
    """
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        modulus_bytes = (key.key_size + 7) // 8
        return tuple(
            scheme
            for scheme, hash_algorithm in RSA_PSS_RSAE.items()
            if modulus_bytes >= 2 * hash_algorithm.digest_size + 2
        )
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return tuple(scheme for scheme, (curve_name, _) in ECDSA.items() if curve_name == key.curve.name)
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return (SignatureScheme.ed25519,)
    return (SignatureScheme.ed448,)


def _unfit(scheme: SignatureScheme | int, key: PrivateKey | PublicKey) -> SignatureError:
    name = scheme.name if isinstance(scheme, SignatureScheme) else f"0x{scheme:04x}"
    return SignatureError(f"signature scheme {name} cannot be used with a {type(key).__name__}")


def sign(private_key: PrivateKey, scheme: SignatureScheme, content: bytes, *, allow_pkcs1: bool = False) -> bytes:
    """Sign `content` (normally `certificate_verify_content(...)`).

    `allow_pkcs1` admits rsa_pkcs1_sha256/384/512, which TLS 1.2 may use for
    ServerKeyExchange and CertificateVerify but TLS 1.3 forbids (RFC 8446 §4.4.3).

    Raises `SignatureError` if `scheme` is not one of `schemes_for_key(private_key)`.
    """
    if allow_pkcs1 and isinstance(private_key, rsa.RSAPrivateKey) and scheme in RSA_PKCS1:
        hash_algorithm = RSA_PKCS1[scheme]
        return private_key.sign(content, padding.PKCS1v15(), hash_algorithm)
    if scheme not in schemes_for_key(private_key):
        raise _unfit(scheme, private_key)
    if isinstance(private_key, rsa.RSAPrivateKey):
        hash_algorithm = RSA_PSS_RSAE[scheme]
        return private_key.sign(content, _pss_padding(hash_algorithm), hash_algorithm)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        _, hash_algorithm = ECDSA[scheme]
        return private_key.sign(content, ec.ECDSA(hash_algorithm))
    # EdDSA hashes internally; the scheme names no separate hash.
    return private_key.sign(content)


def verify(public_key: PublicKey, scheme: SignatureScheme | int, content: bytes, signature: bytes) -> None:
    """Check `signature` over `content` with `public_key` under `scheme`.

    Accepts the CertificateVerify schemes of `schemes_for_key` plus
    `rsa_pkcs1_sha256/384/512` (certificate signatures only).

    Raises `SignatureError` if the signature is wrong or the scheme does not
    fit the key (-> decrypt_error for CertificateVerify).
    """
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and scheme in RSA_PSS_RSAE:
            if scheme not in schemes_for_key(public_key):
                raise _unfit(scheme, public_key)  # key too small for this hash
            hash_algorithm = RSA_PSS_RSAE[SignatureScheme(scheme)]
            public_key.verify(signature, content, _pss_padding(hash_algorithm), hash_algorithm)
        elif isinstance(public_key, rsa.RSAPublicKey) and scheme in RSA_PKCS1:
            hash_algorithm = RSA_PKCS1[SignatureScheme(scheme)]
            public_key.verify(signature, content, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and scheme in ECDSA:
            curve_name, hash_algorithm = ECDSA[SignatureScheme(scheme)]
            if public_key.curve.name != curve_name:
                raise _unfit(scheme, public_key)
            public_key.verify(signature, content, ec.ECDSA(hash_algorithm))
        elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            # EdDSA hashes internally: the key type alone fixes the scheme.
            if scheme not in schemes_for_key(public_key):
                raise _unfit(scheme, public_key)
            public_key.verify(signature, content)
        else:
            raise _unfit(scheme, public_key)
    except InvalidSignature:
        raise SignatureError("signature does not verify") from None


# --- loading keys and certificates -------------------------------------------


def load_private_key(pem: bytes, password: bytes | None = None) -> PrivateKey:
    """A PEM private key (PKCS#8 or traditional) of a type TLS 1.3 can sign with.

    Raises `ValueError` for unreadable PEM or an unsupported key type (DSA, DH, ...).
    """
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(
        key,
        rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey,
    ):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def load_certificate_chain(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in file order (end-entity first)."""
    return x509.load_pem_x509_certificates(pem)
