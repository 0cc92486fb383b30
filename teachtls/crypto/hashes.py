"""Hash functions, HMAC and constant-time comparison for TLS 1.3.

A TLS 1.3 cipher suite names one hash function (RFC 8446 §B.4: the
`_SHA256` or `_SHA384` at the end of `TLS_AES_128_GCM_SHA256`). That hash is
used three ways, and all three live here or build on what lives here:

* the **transcript hash** (RFC 8446 §4.4.1) -- a running hash over every
  handshake message so far. The connection needs intermediate values (the
  hash "through ServerHello", "through server Finished", ...) while it keeps
  adding messages, so `RunningHash.digest()` never ends the computation: it
  finalizes a *copy*, the way `hashlib` objects behave;
* **HKDF** (RFC 5869, used by RFC 8446 §7.1), which the pure key-schedule
  functions in `teachtls.keyschedule` build from `cryptography`'s HKDF;
* **HMAC** (RFC 2104) for the Finished message's verify_data and the PSK
  binder (RFC 8446 §4.4.4, §4.2.11.2).

Comparing a received verify_data or binder with the expected one must not
leak, through timing, how many leading bytes matched; `constant_time_equal`
is the comparison to use for every such check.

Only SHA-256 and SHA-384 are defined: they are the only hashes of the
TLS 1.3 cipher suites teachtls implements.
"""

from __future__ import annotations

import attrs
from cryptography.hazmat.primitives import constant_time
from cryptography.hazmat.primitives import hashes as cryptography_hashes
from cryptography.hazmat.primitives import hmac as cryptography_hmac


@attrs.frozen
class HashAlg:
    """The hash function of a cipher suite ("sha256" or "sha384")."""

    name: str
    digest_size: int
    # The cryptography object; excluded from equality because cryptography's
    # hash algorithm instances compare by identity.
    algorithm: cryptography_hashes.HashAlgorithm = attrs.field(eq=False, repr=False)

    def new(self) -> RunningHash:
        """Start a running hash, e.g. a transcript hash (RFC 8446 §4.4.1)."""
        return RunningHash(self, cryptography_hashes.Hash(self.algorithm))

    def digest(self, data: bytes) -> bytes:
        """Hash(data) in one go."""
        running = self.new()
        running.update(data)
        return running.digest()


class RunningHash:
    """A hash that can be read at any point and still be extended.

    `update` adds bytes, `digest` returns the hash of everything added so far
    without ending the computation, and `copy` forks an independent hash.
    Intermediate digests are cheap: `cryptography`'s `Hash.copy()` duplicates
    the internal state instead of re-hashing the prefix.
    """

    def __init__(self, hash_alg: HashAlg, running: cryptography_hashes.Hash) -> None:
        self.hash_alg = hash_alg
        self._running = running

    def update(self, data: bytes) -> None:
        self._running.update(data)

    def copy(self) -> RunningHash:
        return RunningHash(self.hash_alg, self._running.copy())

    def digest(self) -> bytes:
        # cryptography's finalize() consumes the object, so finalize a copy.
        return self._running.copy().finalize()


SHA256 = HashAlg("sha256", 32, cryptography_hashes.SHA256())
SHA384 = HashAlg("sha384", 48, cryptography_hashes.SHA384())


def hmac(hash_alg: HashAlg, key: bytes, data: bytes) -> bytes:
    """HMAC(key, data) with the suite's hash (RFC 2104)."""
    mac = cryptography_hmac.HMAC(key, hash_alg.algorithm)
    mac.update(data)
    return mac.finalize()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two MACs (verify_data, binders) without a timing side channel."""
    return constant_time.bytes_eq(a, b)
