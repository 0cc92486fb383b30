"""RFC 8448's example connections, replayed by teachtls byte for byte.

RFC 8448 ("Example Handshake Traces for TLS 1.3") prints every input of five
connections: randoms, ephemeral private keys, the server's RSA key, and every
message, secret and record that follows from them. This module turns those
inputs into `Config`s, so that a teachtls client and server -- given exactly
the RFC's randomness -- produce exactly the RFC's bytes.

Four inputs cannot be recomputed and are therefore *replayed*, each checked
before use:

* Signatures. RSA-PSS salts (RFC 8017 §9.1) and ECDSA nonces are random, and
  RFC 8448 does not give the §6 client's or the §6 ECDSA server's private
  keys. `RecordedSigner` returns the RFC's signature only after verifying it
  with the certificate's public key over the content teachtls computed -- so a
  wrong transcript still fails.
* The HelloRetryRequest cookie (§5) and the session ticket (§3) are opaque
  blobs of the RFC's implementation (NSS); they are replayed as they are.

The RFC's certificates name "rsa" and "ecdsa256", have no subjectAltName, are
self-signed and expired in 2026, while its client asks for "server": the
scenarios turn certificate verification off, and the trace says so in a
warning. Everything else -- every check of the handshake -- runs as always.

The data file is a copy of the project's machine-readable extract of
RFC 8448 (see tests/vectors/README.md for its provenance and checks).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import attrs
from cryptography import x509

from teachtls.config import Config
from teachtls.crypto import signature
from teachtls.sessions import ClientSession, SessionState
from teachtls.trace.observer import Observer, ignore
from teachtls.wire.enums import (
    CipherSuite,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
    SignatureScheme,
)
from teachtls.wire.extensions import Cookie, OfferedPsks, find_extension
from teachtls.wire.messages import Certificate, CertificateVerify, parse_handshake

SECTIONS = {
    "simple_1rtt": "3",
    "resumed_0rtt": "4",
    "hello_retry_request": "5",
    "client_authentication": "6",
    "compatibility_mode": "7",
}

# What RFC 8448's client (NSS) offers, in its order.
NSS_GROUPS = (
    NamedGroup.x25519,
    NamedGroup.secp256r1,
    NamedGroup.secp384r1,
    NamedGroup.secp521r1,
    NamedGroup.ffdhe2048,
    NamedGroup.ffdhe3072,
    NamedGroup.ffdhe4096,
    NamedGroup.ffdhe6144,
    NamedGroup.ffdhe8192,
)
NSS_SIGNATURE_ALGORITHMS = (
    SignatureScheme.ecdsa_secp256r1_sha256,
    SignatureScheme.ecdsa_secp384r1_sha384,
    SignatureScheme.ecdsa_secp521r1_sha512,
    SignatureScheme.ecdsa_sha1,
    SignatureScheme.rsa_pss_rsae_sha256,
    SignatureScheme.rsa_pss_rsae_sha384,
    SignatureScheme.rsa_pss_rsae_sha512,
    SignatureScheme.rsa_pkcs1_sha256,
    SignatureScheme.rsa_pkcs1_sha384,
    SignatureScheme.rsa_pkcs1_sha512,
    SignatureScheme.rsa_pkcs1_sha1,
    0x0402,  # dsa_sha256 (not a TLS 1.3 scheme; kept as a raw code point)
    0x0502,  # dsa_sha384
    0x0602,  # dsa_sha512
    0x0202,  # dsa_sha1
)
NSS_CIPHER_SUITES = (
    CipherSuite.TLS_AES_128_GCM_SHA256,
    CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    CipherSuite.TLS_AES_256_GCM_SHA384,
)
RECORD_SIZE_LIMIT = 0x4001  # 2^14 + 1, as NSS sends
TIMESTAMP = 1469839000.0  # 2016-07-30, when the RFC's certificates were valid


# --- reading the vectors ------------------------------------------------------------


@functools.cache
def vectors() -> dict[str, Any]:
    text = resources.files("teachtls.scenarios").joinpath("data/rfc8448-vectors.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def steps(scenario: str) -> list[dict[str, Any]]:
    for entry in vectors()["scenarios"]:
        if entry["id"] == scenario:
            result: list[dict[str, Any]] = entry["steps"]
            return result
    raise KeyError(scenario)


def items(scenario: str, actor: str, description: str, label: str) -> Iterator[bytes]:
    """Every value labelled `label` in steps of `actor` starting with `description`."""
    for step in steps(scenario):
        if step["actor"] == actor and step["description"].startswith(description):
            for item in step["items"]:
                if item["label"] == label and item["hex"] is not None:
                    yield bytes.fromhex(item["hex"])


def item(scenario: str, actor: str, description: str, label: str, occurrence: int = 0) -> bytes:
    return list(items(scenario, actor, description, label))[occurrence]


def records(scenario: str, actor: str) -> list[bytes]:
    """The complete records `actor` sends, in order."""
    return list(items(scenario, actor, "send ", "complete record"))


# --- replayed inputs ------------------------------------------------------------------


class ScriptedRandom:
    """A `random` source that returns the RFC's values in order."""

    def __init__(self, *values: bytes) -> None:
        self.values = list(values)

    def __call__(self, n: int) -> bytes:
        value = self.values.pop(0)
        if len(value) != n:
            raise AssertionError(f"the scenario expected a {len(value)}-byte random, got a request for {n}")
        return value


@attrs.frozen
class RecordedSigner:
    """Returns a recorded signature, after checking it signs `content`."""

    public_key: Any
    signatures: tuple[bytes, ...]

    def __call__(self, scheme: SignatureScheme, content: bytes) -> bytes:
        for recorded in self.signatures:
            try:
                signature.verify(self.public_key, scheme, content, recorded)
            except signature.SignatureError:
                continue
            return recorded
        raise AssertionError("no recorded signature verifies over the content teachtls computed")


class RecordedSessions:
    """A session store that hands out, and takes back, the RFC's one ticket."""

    def __init__(self, ticket: bytes, state: SessionState | None = None) -> None:
        self.ticket = ticket
        self.state = state
        self.used = False

    def store(self, state: SessionState) -> bytes:
        self.state = state
        return self.ticket

    def retrieve(self, ticket: bytes, now: float) -> SessionState | None:
        return self.state if ticket == self.ticket else None

    def use_once(self, ticket: bytes) -> bool:
        first, self.used = not self.used, True
        return first


def _message(scenario: str, actor: str, name: str) -> Any:
    raw = item(scenario, actor, f"construct a{'n' if name[0] in 'AEIOU' else ''} {name}", name)
    message, _ = parse_handshake(raw)
    return message


def _certificate_chain(scenario: str, actor: str) -> tuple[x509.Certificate, ...]:
    message = _message(scenario, actor, "Certificate")
    assert isinstance(message, Certificate)
    return tuple(x509.load_der_x509_certificate(entry.cert_data) for entry in message.certificate_list)


def _signer(scenario: str, actor: str, chain: tuple[x509.Certificate, ...]) -> RecordedSigner:
    message = _message(scenario, actor, "CertificateVerify")
    assert isinstance(message, CertificateVerify)
    return RecordedSigner(chain[0].public_key(), (message.signature,))


def _private_key(scenario: str, actor: str, curve: str, occurrence: int = 0) -> bytes:
    return item(scenario, actor, f"create an ephemeral {curve} key pair", "private key", occurrence)


def _random(scenario: str, message: str, occurrence: int = 0) -> bytes:
    """ClientHello.random / ServerHello.random, read from the message bytes."""
    actor = "client" if message == "ClientHello" else "server"
    raw = item(scenario, actor, "construct a", message, occurrence)
    return raw[6:38]


# --- the configurations --------------------------------------------------------------


def _resumed_client_hello() -> Any:
    """§4's ClientHello: the item labelled ClientHello is only the part before
    the binders, so take the whole message from the record it was sent in."""
    payload = item("resumed_0rtt", "client", "send handshake record", "payload")
    return parse_handshake(payload)[0]


def _resumption() -> tuple[bytes, Any, int]:
    """§3's ticket and PSK, and the ticket age §4's client reports."""
    psk = item("simple_1rtt", "server", "generate resumption secret", "expanded")
    ticket = _message("simple_1rtt", "server", "NewSessionTicket")
    offered = find_extension(_resumed_client_hello().extensions, ExtensionType.pre_shared_key)
    assert isinstance(offered, OfferedPsks)
    age_ms = (offered.identities[0].obfuscated_ticket_age - ticket.ticket_age_add) % 2**32
    return psk, ticket, age_ms


def resumed_client_session() -> ClientSession:
    """The session §4's client saved from §3's NewSessionTicket."""
    psk, ticket, age_ms = _resumption()
    return ClientSession(
        server_name="server",
        cipher_suite=CipherSuite.TLS_AES_128_GCM_SHA256,
        ticket=ticket.ticket,
        resumption_psk=psk,
        ticket_age_add=ticket.ticket_age_add,
        ticket_lifetime=ticket.ticket_lifetime,
        received_at=TIMESTAMP - age_ms / 1000,
        max_early_data_size=1024,
    )


def resumed_session_store() -> RecordedSessions:
    """§4's server, which remembers the session of §3's ticket."""
    psk, ticket, age_ms = _resumption()
    state = SessionState(
        cipher_suite=CipherSuite.TLS_AES_128_GCM_SHA256,
        resumption_psk=psk,
        created=TIMESTAMP - age_ms / 1000,
        ticket_age_add=ticket.ticket_age_add,
        ticket_lifetime=ticket.ticket_lifetime,
        max_early_data_size=1024,
        server_name="server",
    )
    return RecordedSessions(ticket.ticket, state)


def early_data(scenario: str) -> bytes | None:
    """The 0-RTT data §4's client sends right after its ClientHello."""
    if scenario != "resumed_0rtt":
        return None
    return next(items(scenario, "client", "send application_data record", "payload"))


def client_config(scenario: str, observer: Observer = ignore) -> Config:
    """The RFC's client (NSS) for `scenario`, with the RFC's randomness."""
    if scenario == "resumed_0rtt":
        client_hello = _resumed_client_hello()
    else:
        client_hello = _message(scenario, "client", "ClientHello")
    randoms = [client_hello.random]
    if client_hello.legacy_session_id:
        randoms.append(client_hello.legacy_session_id)
    private_keys: dict[int, bytes] = {NamedGroup.x25519: _private_key(scenario, "client", "x25519")}
    groups: tuple[int, ...] = NSS_GROUPS
    certificate_chain: tuple[x509.Certificate, ...] = ()
    signer = None
    if scenario == "hello_retry_request":
        private_keys[NamedGroup.secp256r1] = _private_key(scenario, "client", "P-256")
        groups = (NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1)
    if scenario == "client_authentication":
        certificate_chain = _certificate_chain(scenario, "client")
        signer = _signer(scenario, "client", certificate_chain)
    return Config(
        cipher_suites=NSS_CIPHER_SUITES,
        supported_groups=groups,
        key_share_groups=(NamedGroup.x25519,),
        signature_algorithms=NSS_SIGNATURE_ALGORITHMS,
        record_size_limit=RECORD_SIZE_LIMIT,
        server_name="server",
        certificate_chain=certificate_chain,
        signer=signer,
        verify_peer=False,
        middlebox_compatibility=bool(client_hello.legacy_session_id),
        send_renegotiation_info=True,
        send_session_ticket_extension=scenario == "simple_1rtt",
        status_request=False,
        versions=(ProtocolVersion.TLS1_3,),
        psk_key_exchange_modes=(PskKeyExchangeMode.psk_dhe_ke,),
        random=ScriptedRandom(*randoms),
        clock=lambda: TIMESTAMP,
        key_share_private_keys=private_keys,
        session=resumed_client_session() if scenario == "resumed_0rtt" else None,
        observer=observer,
    )


def server_config(scenario: str, observer: Observer = ignore) -> Config:
    """The RFC's server (NSS) for `scenario`, with the RFC's randomness."""
    if scenario == "resumed_0rtt":
        # A resumed handshake sends no certificate; §3's server is the same server.
        return attrs.evolve(
            server_config("simple_1rtt", observer),
            random=ScriptedRandom(_random(scenario, "ServerHello")),
            key_share_private_keys={NamedGroup.x25519: _private_key(scenario, "server", "x25519")},
            session_store=resumed_session_store(),
            session_tickets=0,
            max_early_data_size=1024,
        )
    chain = _certificate_chain(scenario, "server")
    randoms = [_random(scenario, "ServerHello", 1 if scenario == "hello_retry_request" else 0)]
    groups: tuple[int, ...] = NSS_GROUPS
    private_keys: dict[int, bytes] = {}
    if scenario == "hello_retry_request":
        private_keys[NamedGroup.secp256r1] = _private_key(scenario, "server", "P-256")
        groups = (NamedGroup.secp256r1, NamedGroup.secp384r1, NamedGroup.x25519)
    else:
        private_keys[NamedGroup.x25519] = _private_key(scenario, "server", "x25519")
    config = Config(
        cipher_suites=NSS_CIPHER_SUITES,
        supported_groups=groups,
        signature_algorithms=NSS_SIGNATURE_ALGORITHMS,
        record_size_limit=RECORD_SIZE_LIMIT,
        certificate_chain=chain,
        signer=_signer(scenario, "server", chain),
        verify_peer=False,
        client_auth="request" if scenario == "client_authentication" else "none",
        random=ScriptedRandom(*randoms),
        clock=lambda: TIMESTAMP,
        key_share_private_keys=private_keys,
        observer=observer,
    )
    if scenario == "hello_retry_request":
        hello_retry_request = _message(scenario, "server", "ServerHello")
        cookie = find_extension(hello_retry_request.extensions, ExtensionType.cookie)
        assert isinstance(cookie, Cookie)
        config = attrs.evolve(config, make_cookie=lambda _hash: cookie.cookie)
    if scenario == "simple_1rtt":
        ticket = _message(scenario, "server", "NewSessionTicket")
        randoms.append(ticket.ticket_age_add.to_bytes(4, "big"))
        config = attrs.evolve(
            config,
            random=ScriptedRandom(*randoms),
            session_tickets=1,
            ticket_lifetime=ticket.ticket_lifetime,
            max_early_data_size=1024,
            session_store=RecordedSessions(ticket.ticket),
        )
    return config


def application_data(scenario: str, actor: str) -> bytes | None:
    """The 50 bytes of application data each side sends in §3 and §4, if any."""
    found = list(items(scenario, actor, "send application_data record", "payload"))
    return found[-1] if found else None
