"""The TLS 1.2 key schedule (RFC 5246 §5, §6.3, §7.4.9, §8.1; RFC 7627) as pure functions.

TLS 1.3 chains many HKDF steps; TLS 1.2 has one workhorse, the PRF, and
calls it four times::

    pre_master_secret  (ECDHE shared secret, or the client's 48 random bytes
         |              encrypted to the server's RSA key)
         v
    PRF(pre_master_secret, "master secret",
        ClientHello.random + ServerHello.random)[0..47]       RFC 5246 §8.1
      or, with the extended_master_secret extension:
    PRF(pre_master_secret, "extended master secret",
        session_hash)[0..47]                                   RFC 7627 §4
         |
         = master_secret (48 bytes)
         |
         +--> PRF(master_secret, "key expansion",
         |        server_random + client_random)  = key_block  RFC 5246 §6.3
         |        -> client_write_MAC_key, server_write_MAC_key,
         |           client_write_key, server_write_key,
         |           client_write_IV, server_write_IV
         |
         +--> PRF(master_secret, "client finished" | "server finished",
                  Hash(handshake_messages))[0..11] = verify_data  RFC 5246 §7.4.9

The PRF itself (RFC 5246 §5) stretches a secret with HMAC::

    PRF(secret, label, seed) = P_<hash>(secret, label + seed)

    P_hash(secret, seed) = HMAC_hash(secret, A(1) + seed) +
                           HMAC_hash(secret, A(2) + seed) +
                           HMAC_hash(secret, A(3) + seed) + ...
    A(0) = seed
    A(i) = HMAC_hash(secret, A(i-1))

`<hash>` is the cipher suite's PRF hash: SHA-256, or SHA-384 for the
`_SHA384` suites (`CipherSuite12Params.prf_hash`).

Things a reader should notice, because implementations get them wrong:

* the two randoms appear in **opposite orders**: client first for the master
  secret, server first for the key block;
* the extended master secret (RFC 7627) replaces the randoms by
  `session_hash` = Hash(handshake_messages) over "all handshake messages
  sent or received, starting at the ClientHello up to and including the
  ClientKeyExchange message" (RFC 7627 §3). It binds the master secret to the whole handshake
  and so defeats the triple-handshake attack; RFC 7627 §4 says peers "SHOULD
  NOT accept handshakes that do not use the extended master secret";
* the labels are plain ASCII with no length byte and no "tls13 "-style
  prefix (RFC 5246 §5: "without a length byte or trailing null character").

Abbreviations: PRF = pseudorandom function; EMS = extended master secret;
MAC = message authentication code; IV = initialization vector.

Like `tls13`, these functions hold no state and emit no trace events; the
connection stores results under the RFC names used here. Not covered: the
TLS 1.0/1.1 MD5+SHA-1 PRF, renegotiation and exporters (RFC 5705).
"""

from __future__ import annotations

import attrs

from teachtls.crypto.hashes import HashAlg, hmac
from teachtls.crypto.suites12 import CipherSuite12Params

# --- labels, spelled as in RFC 5246 §6.3, §7.4.9, §8.1 and RFC 7627 §4 --------

LABEL_MASTER_SECRET = b"master secret"
LABEL_EXTENDED_MASTER_SECRET = b"extended master secret"
LABEL_KEY_EXPANSION = b"key expansion"
LABEL_CLIENT_FINISHED = b"client finished"
LABEL_SERVER_FINISHED = b"server finished"

# RFC 5246 §8.1: "The master secret is always exactly 48 bytes in length."
MASTER_SECRET_LENGTH = 48
# RFC 5246 §7.4.9: "Any cipher suite which does not explicitly specify
# verify_data_length has a verify_data_length equal to 12."
VERIFY_DATA_LENGTH = 12
# RFC 5246 §7.4.1.2: ClientHello.random and ServerHello.random are 32 bytes.
RANDOM_LENGTH = 32


# --- the PRF (RFC 5246 §5) ---------------------------------------------------


def p_hash(hash_alg: HashAlg, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash(secret, seed), the data expansion function of RFC 5246 §5::

        P_hash(secret, seed) = HMAC_hash(secret, A(1) + seed) +
                               HMAC_hash(secret, A(2) + seed) + ...
        A(0) = seed
        A(i) = HMAC_hash(secret, A(i-1))

    Returns the first `length` bytes; "the last [...] bytes of the final
    iteration will then be discarded".
    """
    if length < 0:
        raise ValueError("P_hash length must not be negative")
    output = b""
    a = seed  # A(0)
    while len(output) < length:
        a = hmac(hash_alg, secret, a)  # A(i) = HMAC_hash(secret, A(i-1))
        output += hmac(hash_alg, secret, a + seed)
    return output[:length]


def prf(hash_alg: HashAlg, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """PRF(secret, label, seed) = P_<hash>(secret, label + seed), RFC 5246 §5.

    `label` is the ASCII label as bytes (b"master secret"), used "in the
    exact form it is given without a length byte or trailing null character".
    """
    return p_hash(hash_alg, secret, label + seed, length)


# --- the master secret (RFC 5246 §8.1, RFC 7627 §4) --------------------------


def master_secret(hash_alg: HashAlg, pre_master_secret: bytes, client_random: bytes, server_random: bytes) -> bytes:
    """master_secret, RFC 5246 §8.1::

    master_secret = PRF(pre_master_secret, "master secret",
                        ClientHello.random + ServerHello.random)
                        [0..47];

    Only for handshakes *without* the extended_master_secret extension; see
    `extended_master_secret`. Raises `ValueError` if a random is not 32 bytes.
    """
    _check_random("ClientHello.random", client_random)
    _check_random("ServerHello.random", server_random)
    return prf(hash_alg, pre_master_secret, LABEL_MASTER_SECRET, client_random + server_random, MASTER_SECRET_LENGTH)


def extended_master_secret(hash_alg: HashAlg, pre_master_secret: bytes, session_hash: bytes) -> bytes:
    """master_secret when extended_master_secret was negotiated, RFC 7627 §4::

    master_secret = PRF(pre_master_secret, "extended master secret",
                        session_hash)
                        [0..47];

    `session_hash` = Hash(handshake_messages), "all handshake messages sent
    or received, starting at the ClientHello up to and including the
    ClientKeyExchange message" (RFC 7627 §3), with the Finished (= PRF)
    hash. Raises `ValueError` if its length is not that hash's digest size.
    """
    if len(session_hash) != hash_alg.digest_size:
        raise ValueError(f"session_hash must be a {hash_alg.name} digest ({hash_alg.digest_size} bytes)")
    return prf(hash_alg, pre_master_secret, LABEL_EXTENDED_MASTER_SECRET, session_hash, MASTER_SECRET_LENGTH)


# --- the key block (RFC 5246 §6.3) -------------------------------------------


def key_block(
    hash_alg: HashAlg, master_secret: bytes, server_random: bytes, client_random: bytes, length: int
) -> bytes:
    """key_block, RFC 5246 §6.3::

    key_block = PRF(SecurityParameters.master_secret,
                    "key expansion",
                    SecurityParameters.server_random +
                    SecurityParameters.client_random);

    Note the order: **server_random first**, the reverse of the master
    secret's seed. The parameters are in that order too. `length` is
    `CipherSuite12Params.key_block_length`; split the result with
    `split_key_block`.
    """
    _check_random("server_random", server_random)
    _check_random("client_random", client_random)
    return prf(hash_alg, master_secret, LABEL_KEY_EXPANSION, server_random + client_random, length)


@attrs.frozen(kw_only=True)
class KeyBlock:
    """The key_block partitioned as in RFC 5246 §6.3::

        client_write_MAC_key[SecurityParameters.mac_key_length]
        server_write_MAC_key[SecurityParameters.mac_key_length]
        client_write_key[SecurityParameters.enc_key_length]
        server_write_key[SecurityParameters.enc_key_length]
        client_write_IV[SecurityParameters.fixed_iv_length]
        server_write_IV[SecurityParameters.fixed_iv_length]

    "Unused values are empty": AEAD suites have empty MAC keys and CBC suites
    empty IVs.
    """

    client_write_MAC_key: bytes = attrs.field(repr=False)
    server_write_MAC_key: bytes = attrs.field(repr=False)
    client_write_key: bytes = attrs.field(repr=False)
    server_write_key: bytes = attrs.field(repr=False)
    client_write_IV: bytes = attrs.field(repr=False)
    server_write_IV: bytes = attrs.field(repr=False)


def split_key_block(params: CipherSuite12Params, key_block: bytes) -> KeyBlock:
    """Partition `key_block` into the six values of RFC 5246 §6.3, "in that order".

    Raises `ValueError` unless `key_block` is exactly
    `params.key_block_length` bytes.
    """
    if len(key_block) != params.key_block_length:
        raise ValueError(f"{params.name} needs a {params.key_block_length}-byte key_block, got {len(key_block)} bytes")
    sizes = (
        params.mac_key_length,
        params.mac_key_length,
        params.enc_key_length,
        params.enc_key_length,
        params.fixed_iv_length,
        params.fixed_iv_length,
    )
    parts: list[bytes] = []
    offset = 0
    for size in sizes:
        parts.append(key_block[offset : offset + size])
        offset += size
    return KeyBlock(
        client_write_MAC_key=parts[0],
        server_write_MAC_key=parts[1],
        client_write_key=parts[2],
        server_write_key=parts[3],
        client_write_IV=parts[4],
        server_write_IV=parts[5],
    )


# --- Finished (RFC 5246 §7.4.9) ----------------------------------------------


def finished_verify_data(hash_alg: HashAlg, master_secret: bytes, label: bytes, handshake_hash: bytes) -> bytes:
    """verify_data of a Finished message, RFC 5246 §7.4.9::

    verify_data
       PRF(master_secret, finished_label, Hash(handshake_messages))
          [0..verify_data_length-1];

    `label` is `LABEL_CLIENT_FINISHED` (b"client finished") or
    `LABEL_SERVER_FINISHED` (b"server finished"); `handshake_hash` is
    Hash(handshake_messages) with the PRF hash ("the Hash MUST be the Hash
    used as the basis for the PRF"), over every handshake message from
    ClientHello up to, not including, this Finished. Returns 12 bytes.
    Raises `ValueError` for any other label or a wrong-sized hash.
    """
    if label not in (LABEL_CLIENT_FINISHED, LABEL_SERVER_FINISHED):
        raise ValueError(f"finished_label must be b'client finished' or b'server finished', got {label!r}")
    if len(handshake_hash) != hash_alg.digest_size:
        raise ValueError(f"handshake_hash must be a {hash_alg.name} digest ({hash_alg.digest_size} bytes)")
    return prf(hash_alg, master_secret, label, handshake_hash, VERIFY_DATA_LENGTH)


def _check_random(name: str, value: bytes) -> None:
    if len(value) != RANDOM_LENGTH:
        raise ValueError(f"{name} must be {RANDOM_LENGTH} bytes, got {len(value)}")
