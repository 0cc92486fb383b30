"""The TLS 1.3 key schedule (RFC 8446 §7) as pure functions.

Every secret of a TLS 1.3 connection comes from one chain of HKDF calls
(RFC 5869). Three *extract* steps fold in new input keying material, and
between them *derive* steps spin off the secrets that are actually used
(RFC 8446 §7.1, abridged)::

                 0
                 |
                 v
       PSK ->  HKDF-Extract = Early Secret
                 |
                 +-----> Derive-Secret(., "ext binder" | "res binder", "")
                 |                     = binder_key
                 +-----> Derive-Secret(., "c e traffic", ClientHello)
                 |                     = client_early_traffic_secret
                 +-----> Derive-Secret(., "e exp master", ClientHello)
                 |                     = early_exporter_master_secret
                 v
           Derive-Secret(., "derived", "")
                 |
                 v
    (EC)DHE -> HKDF-Extract = Handshake Secret
                 |
                 +-----> Derive-Secret(., "c hs traffic", ClientHello...ServerHello)
                 |                     = client_handshake_traffic_secret
                 +-----> Derive-Secret(., "s hs traffic", ClientHello...ServerHello)
                 |                     = server_handshake_traffic_secret
                 v
           Derive-Secret(., "derived", "")
                 |
                 v
       0 -> HKDF-Extract = Master Secret
                 |
                 +-----> Derive-Secret(., "c ap traffic", ClientHello...server Finished)
                 +-----> Derive-Secret(., "s ap traffic", ClientHello...server Finished)
                 +-----> Derive-Secret(., "exp master",   ClientHello...server Finished)
                 +-----> Derive-Secret(., "res master",   ClientHello...client Finished)

"0" is a string of Hash.length zero bytes; a connection without a PSK uses
it as the PSK too. Two helpers carry every derive step::

    HKDF-Expand-Label(Secret, Label, Context, Length) =
        HKDF-Expand(Secret, HkdfLabel, Length)

    struct {
        uint16 length = Length;
        opaque label<7..255> = "tls13 " + Label;
        opaque context<0..255> = Context;
    } HkdfLabel;

    Derive-Secret(Secret, Label, Messages) =
        HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages), Hash.length)

Functions here take the transcript *hash*, never the messages: the
connection keeps a running transcript hash and passes its current value.
Labels are given without the "tls13 " prefix, exactly as the RFC writes
them in the diagram above; `hkdf_label` adds the prefix.

From the traffic secrets come the record keys (§7.3), the Finished MACs
(§4.4.4), later key updates (§7.2), exporters (§7.5) and resumption PSKs
(§4.6.1). Nothing here keeps state or emits trace events.
"""

from __future__ import annotations

import functools

from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from teachtls.crypto.aead import CipherSuiteParams
from teachtls.crypto.hashes import HashAlg, hmac

# --- labels, spelled as in RFC 8446 §7.1-§7.5 and §4.4.4, §4.6.1 -------------

LABEL_EXTERNAL_BINDER = b"ext binder"
LABEL_RESUMPTION_BINDER = b"res binder"
LABEL_CLIENT_EARLY_TRAFFIC = b"c e traffic"
LABEL_EARLY_EXPORTER_MASTER = b"e exp master"
LABEL_DERIVED = b"derived"
LABEL_CLIENT_HANDSHAKE_TRAFFIC = b"c hs traffic"
LABEL_SERVER_HANDSHAKE_TRAFFIC = b"s hs traffic"
LABEL_CLIENT_APPLICATION_TRAFFIC = b"c ap traffic"
LABEL_SERVER_APPLICATION_TRAFFIC = b"s ap traffic"
LABEL_EXPORTER_MASTER = b"exp master"
LABEL_RESUMPTION_MASTER = b"res master"
LABEL_FINISHED = b"finished"
LABEL_KEY = b"key"
LABEL_IV = b"iv"
LABEL_TRAFFIC_UPDATE = b"traffic upd"
LABEL_RESUMPTION = b"resumption"
LABEL_EXPORTER = b"exporter"

# RFC 8446 §7.1: every label goes on the wire prefixed with "tls13 ".
LABEL_PREFIX = b"tls13 "
# RFC 9147 §5.9: "For DTLS 1.3, that label SHALL be "dtls13"" -- no trailing
# space, so that the label still fits one hash block. Every function below
# that expands a label takes `prefix`; DTLS 1.3 passes this one.
DTLS13_LABEL_PREFIX = b"dtls13"


# --- HKDF (RFC 5869) and the TLS 1.3 wrappers (RFC 8446 §7.1) ----------------


def hkdf_extract(hash_alg: HashAlg, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM), RFC 5869 §2.2.

    An empty salt stands for Hash.length zero bytes (RFC 5869 §2.2: "if not
    provided, it is set to a string of HashLen zeros"); RFC 8446 §7.1 writes
    it as "0".
    """
    if not salt:
        salt = bytes(hash_alg.digest_size)
    return HKDF.extract(hash_alg.algorithm, salt, ikm)


def hkdf_label(length: int, label: bytes, context: bytes, prefix: bytes = LABEL_PREFIX) -> bytes:
    """The serialized HkdfLabel struct, RFC 8446 §7.1.

    `label` is given without its "tls13 " (DTLS 1.3: "dtls13") prefix.
    Raises `ValueError` if a field does not fit its vector bounds.
    """
    full_label = prefix + label
    if not 7 <= len(full_label) <= 255:
        raise ValueError("HkdfLabel.label must be 7..255 bytes")
    if len(context) > 255:
        raise ValueError("HkdfLabel.context must be at most 255 bytes")
    if not 0 <= length < 2**16:
        raise ValueError("HkdfLabel.length must fit a uint16")
    return (
        length.to_bytes(2, "big")
        + len(full_label).to_bytes(1, "big")
        + full_label
        + len(context).to_bytes(1, "big")
        + context
    )


def hkdf_expand_label(
    hash_alg: HashAlg, secret: bytes, label: bytes, context: bytes, length: int, prefix: bytes = LABEL_PREFIX
) -> bytes:
    """HKDF-Expand-Label(Secret, Label, Context, Length), RFC 8446 §7.1."""
    info = hkdf_label(length, label, context, prefix)
    return HKDFExpand(hash_alg.algorithm, length, info).derive(secret)


def derive_secret(
    hash_alg: HashAlg, secret: bytes, label: bytes, transcript_hash: bytes, prefix: bytes = LABEL_PREFIX
) -> bytes:
    """Derive-Secret(Secret, Label, Messages), RFC 8446 §7.1.

    `transcript_hash` is Transcript-Hash(Messages), already computed.
    """
    return hkdf_expand_label(hash_alg, secret, label, transcript_hash, hash_alg.digest_size, prefix)


@functools.cache  # a constant of each hash function: computed once, not twice per handshake
def empty_hash(hash_alg: HashAlg) -> bytes:
    """Transcript-Hash("") = Hash(""), the context of every "derived" step."""
    return hash_alg.digest(b"")


# --- the three extract steps (RFC 8446 §7.1) ---------------------------------


def early_secret(hash_alg: HashAlg, psk: bytes | None) -> bytes:
    """Early Secret = HKDF-Extract(0, PSK), RFC 8446 §7.1.

    Without a PSK, "the PSK input is a string of Hash.length bytes of zeros".
    """
    if psk is None:
        psk = bytes(hash_alg.digest_size)
    return hkdf_extract(hash_alg, b"", psk)


def handshake_secret(hash_alg: HashAlg, early_secret: bytes, shared_secret: bytes) -> bytes:
    """Handshake Secret = HKDF-Extract(Derive-Secret(Early Secret, "derived", ""),
    (EC)DHE), RFC 8446 §7.1.

    For a psk_ke handshake (no key exchange) pass Hash.length zero bytes
    as `shared_secret`: "If a given secret is not available, then the 0-value
    consisting of a string of Hash.length bytes set to zeros is used."
    """
    salt = derive_secret(hash_alg, early_secret, LABEL_DERIVED, empty_hash(hash_alg))
    return hkdf_extract(hash_alg, salt, shared_secret)


def master_secret(hash_alg: HashAlg, handshake_secret: bytes) -> bytes:
    """Master Secret = HKDF-Extract(Derive-Secret(Handshake Secret, "derived", ""),
    0), RFC 8446 §7.1."""
    salt = derive_secret(hash_alg, handshake_secret, LABEL_DERIVED, empty_hash(hash_alg))
    return hkdf_extract(hash_alg, salt, bytes(hash_alg.digest_size))


def binder_key(hash_alg: HashAlg, early_secret: bytes, external: bool) -> bytes:
    """binder_key = Derive-Secret(Early Secret, "ext binder" | "res binder", ""),
    RFC 8446 §7.1.

    `external` selects "ext binder" for an externally provisioned PSK,
    otherwise "res binder" for a resumption PSK (from a NewSessionTicket).
    The binder itself is a Finished MAC under this key (§4.2.11.2): see
    `finished_verify_data`.
    """
    label = LABEL_EXTERNAL_BINDER if external else LABEL_RESUMPTION_BINDER
    return derive_secret(hash_alg, early_secret, label, empty_hash(hash_alg))


# --- using the traffic secrets -------------------------------------------------


def traffic_keys(
    suite_params: CipherSuiteParams, traffic_secret: bytes, prefix: bytes = LABEL_PREFIX
) -> tuple[bytes, bytes]:
    """(write_key, write_iv) for one direction, RFC 8446 §7.3::

    [sender]_write_key = HKDF-Expand-Label(Secret, "key", "", key_length)
    [sender]_write_iv  = HKDF-Expand-Label(Secret, "iv", "", iv_length)
    """
    hash_alg = suite_params.hash_alg
    write_key = hkdf_expand_label(hash_alg, traffic_secret, LABEL_KEY, b"", suite_params.key_length, prefix)
    write_iv = hkdf_expand_label(hash_alg, traffic_secret, LABEL_IV, b"", suite_params.iv_length, prefix)
    return write_key, write_iv


def finished_key(hash_alg: HashAlg, base_key: bytes, prefix: bytes = LABEL_PREFIX) -> bytes:
    """finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length),
    RFC 8446 §4.4.4.

    BaseKey is the sender's handshake traffic secret (or the binder_key when
    computing a PSK binder)."""
    return hkdf_expand_label(hash_alg, base_key, LABEL_FINISHED, b"", hash_alg.digest_size, prefix)


def finished_verify_data(
    hash_alg: HashAlg, base_key: bytes, transcript_hash: bytes, prefix: bytes = LABEL_PREFIX
) -> bytes:
    """verify_data = HMAC(finished_key, Transcript-Hash(Handshake Context,
    Certificate*, CertificateVerify*)), RFC 8446 §4.4.4.

    Also the PSK binder (§4.2.11.2) with BaseKey = binder_key and the hash
    of the truncated ClientHello."""
    return finished_mac(hash_alg, finished_key(hash_alg, base_key, prefix), transcript_hash)


def finished_mac(hash_alg: HashAlg, finished_key: bytes, transcript_hash: bytes) -> bytes:
    """verify_data = HMAC(finished_key, transcript_hash), RFC 8446 §4.4.4, for a
    connection that has already derived (and traced) `finished_key`."""
    return hmac(hash_alg, finished_key, transcript_hash)


def next_traffic_secret(hash_alg: HashAlg, secret: bytes, prefix: bytes = LABEL_PREFIX) -> bytes:
    """application_traffic_secret_N+1 = HKDF-Expand-Label(
    application_traffic_secret_N, "traffic upd", "", Hash.length),
    RFC 8446 §7.2 (after a KeyUpdate)."""
    return hkdf_expand_label(hash_alg, secret, LABEL_TRAFFIC_UPDATE, b"", hash_alg.digest_size, prefix)


def exporter(
    hash_alg: HashAlg,
    exporter_master_secret: bytes,
    label: bytes,
    context: bytes,
    length: int,
    prefix: bytes = LABEL_PREFIX,
) -> bytes:
    """TLS-Exporter(label, context_value, key_length), RFC 8446 §7.5::

        HKDF-Expand-Label(Derive-Secret(Secret, label, ""),
                          "exporter", Hash(context_value), key_length)

    `exporter_master_secret` is the (early_)exporter_master_secret and
    `label` the exporter's label (e.g. b"EXPORTER-my-protocol").
    """
    secret = derive_secret(hash_alg, exporter_master_secret, label, empty_hash(hash_alg), prefix)
    return hkdf_expand_label(hash_alg, secret, LABEL_EXPORTER, hash_alg.digest(context), length, prefix)


def resumption_psk(
    hash_alg: HashAlg, resumption_master_secret: bytes, ticket_nonce: bytes, prefix: bytes = LABEL_PREFIX
) -> bytes:
    """The PSK of one NewSessionTicket, RFC 8446 §4.6.1::

    HKDF-Expand-Label(resumption_master_secret, "resumption",
                      ticket_nonce, Hash.length)
    """
    return hkdf_expand_label(
        hash_alg, resumption_master_secret, LABEL_RESUMPTION, ticket_nonce, hash_alg.digest_size, prefix
    )
