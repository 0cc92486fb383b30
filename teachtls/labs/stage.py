"""The stage every lab plays on: one moment, one CA, one server, one client.

A lab changes exactly one thing about an otherwise healthy handshake, so
everything else must stay put. What stays put:

* **Time.** `LAB_TIME`, 1 March 2025 at noon UTC, is both sides' clock
  (`Config.clock`) and the "now" the certificates are dated around. An
  expired certificate is expired *at that moment*, on every machine, on any
  day the lab is run.
* **Randomness.** Every random value (ClientHello.random, ServerHello.random,
  session IDs, ticket nonces) comes from a counter hashed with SHA-256, and
  both x25519 private keys are fixed, so two runs of a lab exchange the same
  bytes -- up to the certificates, below.
* **Names.** The client wants to reach `SERVER_NAME` (www.example.com, a name
  RFC 2606 reserves for examples) and trusts exactly one root, the
  "teachtls lab CA". The server's leaf is an Ed25519 key (RFC 8032
  signatures are deterministic), certified by that CA.

The certificates themselves are made with `teachtls.pki.generate` once per
process (`functools.cache`), from fresh keys: the CA's signatures, serial
numbers and public keys differ from run to run, nothing else does.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import itertools
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from teachtls.config import Config
from teachtls.pki.generate import IssuedCertificate, issue_leaf, make_ca
from teachtls.trace.observer import Observer
from teachtls.wire.enums import NamedGroup

LAB_TIME = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.UTC)
"""The moment every lab happens at (both sides' clock)."""

SERVER_NAME = "www.example.com"
"""The name the client asks for (server_name) and checks in the certificate."""

TRUSTED_CA_NAME = "teachtls lab CA"
ROGUE_CA_NAME = "Mallory's own CA"

# Fixed X25519 private keys (RFC 7748 §5 clamps whatever 32 bytes it is given).
CLIENT_X25519_PRIVATE_KEY = hashlib.sha256(b"teachtls lab client x25519").digest()
SERVER_X25519_PRIVATE_KEY = hashlib.sha256(b"teachtls lab server x25519").digest()


def lab_clock() -> float:
    """`Config.clock` of every lab: always `LAB_TIME`."""
    return LAB_TIME.timestamp()


def counter_random(seed: bytes) -> Callable[[int], bytes]:
    """A reproducible `Config.random`: SHA-256(seed || counter) blocks."""
    counter = itertools.count()

    def random(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + next(counter).to_bytes(8, "big")).digest()
        return out[:n]

    return random


# --- the PKI: made once per process -------------------------------------------------

# The CAs are valid for ten years either side of LAB_TIME, so that a lab that
# moves a clock (expired-certificate's exercise) is about the leaf, not the root.
CA_VALIDITY = datetime.timedelta(days=3652)


@functools.cache
def trusted_ca() -> IssuedCertificate:
    """The one root the client trusts."""
    return make_ca(TRUSTED_CA_NAME, not_before=LAB_TIME - CA_VALIDITY, not_after=LAB_TIME + CA_VALIDITY)


@functools.cache
def rogue_ca() -> IssuedCertificate:
    """A CA anyone can make -- an attacker included -- and no client trusts."""
    return make_ca(ROGUE_CA_NAME, not_before=LAB_TIME - CA_VALIDITY, not_after=LAB_TIME + CA_VALIDITY)


@functools.cache
def rogue_leaf() -> IssuedCertificate:
    """A certificate for www.example.com from Mallory's own CA: right name, wrong issuer."""
    return issue_leaf(rogue_ca(), SERVER_NAME, dns_names=[SERVER_NAME], key_type="ed25519", now=LAB_TIME)


def impostor_key() -> ed25519.Ed25519PrivateKey:
    """A fixed Ed25519 key that no certificate of www.example.com certifies (RFC 8032 §5.1.5: any 32 bytes)."""
    return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"teachtls lab impostor ed25519").digest())


@functools.cache
def server_leaf() -> IssuedCertificate:
    """The honest server's certificate: www.example.com, from the trusted CA, valid now."""
    return issue_leaf(trusted_ca(), SERVER_NAME, dns_names=[SERVER_NAME], key_type="ed25519", now=LAB_TIME)


# --- configurations ----------------------------------------------------------------------


def client_config(observer: Observer, **overrides: Any) -> Config:
    """The client: wants `SERVER_NAME`, trusts `trusted_ca()`, lives at `LAB_TIME`."""
    settings: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "trusted_certificates": (trusted_ca().certificate,),
        "random": counter_random(b"teachtls lab client"),
        "clock": lab_clock,
        "key_share_private_keys": {NamedGroup.x25519: CLIENT_X25519_PRIVATE_KEY},
        "observer": observer,
    }
    settings.update(overrides)
    return Config(**settings)


def server_config(observer: Observer, leaf: IssuedCertificate | None = None, **overrides: Any) -> Config:
    """The server: presents `leaf` (default: `server_leaf()`) and signs with its key."""
    leaf = leaf if leaf is not None else server_leaf()
    settings: dict[str, Any] = {
        "certificate_chain": (leaf.certificate,),
        "private_key": leaf.private_key,
        "random": counter_random(b"teachtls lab server"),
        "clock": lab_clock,
        "key_share_private_keys": {NamedGroup.x25519: SERVER_X25519_PRIVATE_KEY},
        "observer": observer,
    }
    settings.update(overrides)
    return Config(**settings)


__all__ = [
    "LAB_TIME",
    "SERVER_NAME",
    "client_config",
    "counter_random",
    "impostor_key",
    "lab_clock",
    "rogue_ca",
    "rogue_leaf",
    "server_config",
    "server_leaf",
    "trusted_ca",
]
