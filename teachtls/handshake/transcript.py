"""The transcript hash (RFC 8446 §4.4.1).

    Transcript-Hash(M1, M2, ... Mn) = Hash(M1 || M2 || ... || Mn)

Every handshake message from ClientHello on (not counting the record layer
around it, nor change_cipher_spec) goes into one running hash. The hash
function is only known once the cipher suite is chosen, so until then the
transcript keeps the raw messages and hashes them when `start(hash_alg)` is
called.

HelloRetryRequest rule (RFC 8446 §4.4.1): "When the server responds to a
ClientHello with a HelloRetryRequest, the value of ClientHello1 is replaced
with a special synthetic handshake message of handshake type "message_hash"
containing Hash(ClientHello1)":

    Transcript-Hash(ClientHello1, HelloRetryRequest, ... Mn) =
        Hash(message_hash ||        /* Handshake type */
             00 00 Hash.length  ||  /* Handshake message length (bytes) */
             Hash(ClientHello1) ||  /* Hash of ClientHello1 */
             HelloRetryRequest  || ... || Mn)

One running hash object is kept and copied to read intermediate values, so a
handshake hashes every byte once. The value is remembered until the next
message arrives: several secrets are derived from the same transcript hash.
"""

from __future__ import annotations

from typing import Any

from teachtls.crypto.hashes import HashAlg
from teachtls.wire.enums import HandshakeType


class Transcript:
    def __init__(self) -> None:
        self.hash_alg: HashAlg | None = None
        self._pending: list[bytes] = []
        self._running: Any = None
        self._digest: bytes | None = None  # digest() of the messages so far, once asked for
        self.last_message = ""

    def add(self, raw_message: bytes, name: str) -> None:
        """Append one handshake message (with its 4-byte header)."""
        if self._running is None:
            self._pending.append(raw_message)
        else:
            self._running.update(raw_message)
        self._digest = None
        self.last_message = name

    def start(self, hash_alg: HashAlg) -> None:
        """Fix the hash function (once the cipher suite is known)."""
        if self.hash_alg is not None:
            return
        self.hash_alg = hash_alg
        self._running = hash_alg.new()
        for raw in self._pending:
            self._running.update(raw)
        self._pending = []

    def digest(self) -> bytes:
        """Transcript-Hash of everything added so far."""
        if self._running is None:
            raise RuntimeError("transcript hash function not yet chosen")
        if self._digest is None:
            self._digest = bytes(self._running.digest())
        return self._digest

    def fork(self) -> Transcript:
        """An independent copy (the server keeps one from before each ClientHello)."""
        other = Transcript()
        other.hash_alg = self.hash_alg
        other._pending = list(self._pending)
        other._running = self._running.copy() if self._running is not None else None
        other.last_message = self.last_message
        return other

    def digest_with(self, extra: bytes, hash_alg: HashAlg) -> bytes:
        """Transcript-Hash(messages so far || extra), leaving the transcript as is.

        PSK binders need this (RFC 8446 §4.2.11.2): they hash the transcript
        up to a *truncated* ClientHello -- which is never itself a message of
        the transcript -- possibly before the cipher suite is chosen."""
        if self._running is not None:
            running = self._running.copy()
        else:
            running = hash_alg.new()
            for raw in self._pending:
                running.update(raw)
        running.update(extra)
        return bytes(running.digest())

    def replace_with_message_hash(self) -> bytes:
        """RFC 8446 §4.4.1: ClientHello1 -> message_hash(Hash(ClientHello1)).

        Must be called when exactly ClientHello1 is in the transcript.
        Returns Hash(ClientHello1)."""
        assert self.hash_alg is not None
        client_hello1_hash = self.digest()
        synthetic = bytes([HandshakeType.message_hash]) + len(client_hello1_hash).to_bytes(3, "big")
        self._running = self.hash_alg.new()
        self._running.update(synthetic + client_hello1_hash)
        self._digest = None
        self.last_message = "message_hash"
        return client_hello1_hash
