"""Known answers: the TLS 1.3 key schedule against every RFC 8448 trace.

Each test walks the steps of RFC 8448 sections 3-7 that the JSON copy in
`tests/vectors/` holds (provenance in `tests/vectors/README.md`) and checks
one function of `teachtls.keyschedule.tls13` against them:

- every `extract secret` step       -> hkdf_extract, early/handshake/master_secret
- every `derive secret` step        -> hkdf_label == info, derive_secret == expanded,
                                       and `hash` == the transcript hash of the
                                       messages the trace has built so far
- every `generate resumption secret` -> resumption_psk
- every `derive ... traffic keys`   -> traffic_keys (key, iv) and their HkdfLabels
- every `calculate finished`        -> finished_key == expanded, and verify_data ==
                                       HMAC(finished_key, transcript hash), where the
                                       transcript hash (not printed by the RFC) is
                                       computed from the trace's handshake messages
- the PSK binder of section 4       -> binder_key, finished_verify_data

All five traces use TLS_AES_128_GCM_SHA256, so the hash is SHA-256.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from teachtls.crypto.aead import CIPHER_SUITES
from teachtls.crypto.hashes import SHA256, SHA384
from teachtls.keyschedule import tls13
from teachtls.wire.enums import CipherSuite, HandshakeType
from tests.rfc8448 import (
    HELLO_RETRY_REQUEST_RANDOM,
    handshake_messages_before,
    item,
    scenario,
    scenarios,
    step_index,
    step_items,
    transcript_hash,
)

AES_128_GCM_SHA256 = CIPHER_SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]

# --- collecting the steps --------------------------------------------------------


def collect(description_startswith: str) -> list[Any]:
    """pytest params (scenario_id, step_index, step) for every step with
    items whose description starts with the given text, in every trace."""
    params = []
    for trace in scenarios():
        for index, step in enumerate(trace["steps"]):
            if step["description"].startswith(description_startswith) and step["items"]:
                test_id = f"s{trace['section']}-{index:02d}-{step['actor']}-{slug(step['description'])}"
                params.append(pytest.param(trace["id"], index, step, id=test_id))
    return params


def slug(description: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", description.lower()).strip("_")


def quoted_label(description: str) -> bytes:
    """The label inside `"tls13 ..."` in a step description, without the prefix."""
    found = re.search(r'"tls13 ([^"]+)"', description)
    assert found, description
    return found.group(1).encode()


EXTRACT_STEPS = collect("extract secret")
DERIVE_SECRET_STEPS = collect("derive secret")
RESUMPTION_STEPS = collect("generate resumption secret")
TRAFFIC_KEY_STEPS = [param for param in collect("derive ") if "traffic keys" in param.values[2]["description"]]
FINISHED_STEPS = collect("calculate finished")


def test_every_section_is_covered() -> None:
    # Guards against a loader change that would silently collect nothing.
    # RFC 8448 shows its values for 15 extract steps (3 per trace), 48
    # Derive-Secret-style expansions (47 derive steps and the resumption
    # secret), 21 key/IV derivations and 10 Finished computations.
    assert len(EXTRACT_STEPS) == 15
    assert len(DERIVE_SECRET_STEPS) == 47
    assert len(RESUMPTION_STEPS) == 1
    assert len(TRAFFIC_KEY_STEPS) == 21
    assert len(FINISHED_STEPS) == 10
    for params in (EXTRACT_STEPS, DERIVE_SECRET_STEPS, TRAFFIC_KEY_STEPS, FINISHED_STEPS):
        assert {param.values[0] for param in params} == {trace["id"] for trace in scenarios()}


# --- transcripts, rebuilt from the trace's handshake messages ----------------------


def test_hello_retry_request_transcript_uses_message_hash() -> None:
    # RFC 8448 §5: the second ClientHello's traffic secrets depend on the
    # message_hash construction; check it is actually exercised.
    index = step_index("hello_retry_request", 'derive secret "tls13 c hs traffic"')
    messages = handshake_messages_before("hello_retry_request", index)
    assert messages[1][6:38] == HELLO_RETRY_REQUEST_RANDOM
    assert transcript_hash(messages) != SHA256.digest(b"".join(messages))
    assert transcript_hash(messages) == item("hello_retry_request", 'derive secret "tls13 c hs traffic"', "hash")


# --- extract ---------------------------------------------------------------------


@pytest.mark.parametrize(("scenario_id", "step_index", "step"), EXTRACT_STEPS)
def test_extract_secret(scenario_id: str, step_index: int, step: dict[str, Any]) -> None:
    items = step_items(step)
    # The early step's salt is text: "0 (all zero octets)", i.e. no salt.
    salt = items.get("salt", b"")
    assert tls13.hkdf_extract(SHA256, salt, items["IKM"]) == items["secret"]


@pytest.mark.parametrize("trace", scenarios(), ids=lambda trace: f"s{trace['section']}")
def test_early_handshake_master_secrets_chain(trace: dict[str, Any]) -> None:
    """RFC 8446 §7.1 end to end: each extract step's secret from the
    previous one and the (EC)DHE shared secret."""
    scenario_id = trace["id"]
    psk = item(scenario_id, 'extract secret "early"', "IKM")
    early = item(scenario_id, 'extract secret "early"', "secret")
    shared_secret = item(scenario_id, 'extract secret "handshake"', "IKM")
    handshake = item(scenario_id, 'extract secret "handshake"', "secret")
    master = item(scenario_id, 'extract secret "master"', "secret")

    # Without a PSK the early secret's IKM is Hash.length zeros (RFC 8446 §7.1).
    expected_psk = None if psk == bytes(32) else psk
    assert tls13.early_secret(SHA256, expected_psk) == early
    assert tls13.handshake_secret(SHA256, early, shared_secret) == handshake
    assert tls13.master_secret(SHA256, handshake) == master


def test_section4_psk_is_section3_resumption_secret() -> None:
    # RFC 8448 §4 resumes the session of §3 with the ticket's PSK.
    assert item("resumed_0rtt", 'extract secret "early"', "IKM") == item(
        "simple_1rtt", "generate resumption secret", "expanded"
    )


# --- derive --------------------------------------------------------------------------


@pytest.mark.parametrize(("scenario_id", "step_index", "step"), DERIVE_SECRET_STEPS)
def test_derive_secret(scenario_id: str, step_index: int, step: dict[str, Any]) -> None:
    items = step_items(step)
    label = quoted_label(step["description"])
    assert tls13.hkdf_label(32, label, items["hash"]) == items["info"]
    assert tls13.derive_secret(SHA256, items["PRK"], label, items["hash"]) == items["expanded"]


@pytest.mark.parametrize(("scenario_id", "step_index", "step"), DERIVE_SECRET_STEPS)
def test_derive_secret_hash_is_the_transcript(scenario_id: str, step_index: int, step: dict[str, Any]) -> None:
    """The `hash` of each derive step is Transcript-Hash of the messages so
    far -- or, for "derived", of no messages at all (RFC 8446 §7.1)."""
    items = step_items(step)
    if quoted_label(step["description"]) == tls13.LABEL_DERIVED:
        assert items["hash"] == tls13.empty_hash(SHA256)
    else:
        messages = handshake_messages_before(scenario_id, step_index)
        assert items["hash"] == transcript_hash(messages)


@pytest.mark.parametrize(("scenario_id", "step_index", "step"), RESUMPTION_STEPS)
def test_resumption_psk(scenario_id: str, step_index: int, step: dict[str, Any]) -> None:
    # RFC 8446 §4.6.1: the context is the ticket_nonce (here 00 00).
    items = step_items(step)
    assert tls13.hkdf_label(32, tls13.LABEL_RESUMPTION, items["hash"]) == items["info"]
    assert tls13.resumption_psk(SHA256, items["PRK"], items["hash"]) == items["expanded"]


@pytest.mark.parametrize(("scenario_id", "step_index", "step"), TRAFFIC_KEY_STEPS)
def test_traffic_keys(scenario_id: str, step_index: int, step: dict[str, Any]) -> None:
    items = step_items(step)
    assert tls13.hkdf_label(16, tls13.LABEL_KEY, b"") == items["key info"]
    assert tls13.hkdf_label(12, tls13.LABEL_IV, b"") == items["iv info"]
    write_key, write_iv = tls13.traffic_keys(AES_128_GCM_SHA256, items["PRK"])
    assert write_key == items["key expanded"]
    assert write_iv == items["iv expanded"]


# --- Finished and the PSK binder ------------------------------------------------------


@pytest.mark.parametrize(("scenario_id", "step_index", "step"), FINISHED_STEPS)
def test_finished(scenario_id: str, step_index: int, step: dict[str, Any]) -> None:
    """finished_key from the handshake traffic secret (PRK); verify_data over
    the transcript up to (not including) this Finished, RFC 8446 §4.4.4."""
    items = step_items(step)
    # The RFC's "hash (0 octets)" is the empty context of the expansion.
    assert items["hash"] == b""
    assert tls13.hkdf_label(32, tls13.LABEL_FINISHED, b"") == items["info"]
    assert tls13.finished_key(SHA256, items["PRK"]) == items["expanded"]

    messages = handshake_messages_before(scenario_id, step_index)
    verify_data = tls13.finished_verify_data(SHA256, items["PRK"], transcript_hash(messages))
    assert verify_data == items["finished"]

    # ... and it is the body of the Finished message this actor sends next.
    later_finished = [
        later
        for later in scenario(scenario_id)["steps"][step_index:]
        if later["description"].startswith("construct a Finished") and later["actor"] == step["actor"]
    ]
    finished_message = step_items(later_finished[0])["Finished"]
    assert finished_message == bytes([HandshakeType.finished, 0, 0, 32]) + verify_data


def test_psk_binder_section4() -> None:
    """RFC 8446 §4.2.11.2: the binder is a Finished MAC keyed by binder_key
    over the hash of the ClientHello truncated before the binders."""
    step = "calculate PSK binder"
    early = item("resumed_0rtt", 'extract secret "early"', "secret")
    prefix = item("resumed_0rtt", step, "ClientHello prefix")
    binder_hash = item("resumed_0rtt", step, "binder hash")
    binder_key = item("resumed_0rtt", step, "PRK")
    binder = item("resumed_0rtt", step, "finished")

    # A ticket-based PSK, so "res binder" (an external PSK would use "ext binder").
    assert tls13.binder_key(SHA256, early, external=False) == binder_key
    assert tls13.binder_key(SHA256, early, external=True) != binder_key
    assert SHA256.digest(prefix) == binder_hash
    assert item("resumed_0rtt", step, "hash") == b""
    assert tls13.hkdf_label(32, tls13.LABEL_FINISHED, b"") == item("resumed_0rtt", step, "info")
    assert tls13.finished_key(SHA256, binder_key) == item("resumed_0rtt", step, "expanded")
    assert tls13.finished_verify_data(SHA256, binder_key, binder_hash) == binder

    # The ClientHello on the wire ends with the binders list: <33> <32> binder.
    full_client_hello = item("resumed_0rtt", "send handshake record", "payload", actor="client")
    assert full_client_hello.startswith(prefix)
    assert full_client_hello[len(prefix) :] == bytes([0, 33, 32]) + binder


# --- HKDF itself, and the functions RFC 8448 does not exercise -------------------------


def test_hkdf_extract_rfc5869_test_cases_1_and_3() -> None:
    ikm = bytes([0x0B]) * 22
    # A.1: a 13-byte salt.
    assert tls13.hkdf_extract(SHA256, bytes(range(13)), ikm) == bytes.fromhex(
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    )
    # A.3: "zero-length salt" -- treated as HashLen zeros.
    expected = bytes.fromhex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04")
    assert tls13.hkdf_extract(SHA256, b"", ikm) == expected
    assert tls13.hkdf_extract(SHA256, bytes(32), ikm) == expected


def test_hkdf_label_layout() -> None:
    # uint16 length, then "tls13 " + label and the context, each with a 1-byte length.
    assert tls13.hkdf_label(32, b"derived", b"\xaa\xbb") == b"\x00\x20\x0dtls13 derived\x02\xaa\xbb"
    with pytest.raises(ValueError):
        tls13.hkdf_label(32, b"x" * 250, b"")
    with pytest.raises(ValueError):
        tls13.hkdf_label(32, b"key", bytes(256))


def test_empty_hash() -> None:
    assert tls13.empty_hash(SHA256) == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert len(tls13.empty_hash(SHA384)) == 48


def test_next_traffic_secret_is_traffic_upd_expansion() -> None:
    # RFC 8448 has no KeyUpdate; check the §7.2 formula with the §3 secret.
    secret = item("simple_1rtt", 'derive secret "tls13 c ap traffic"', "expanded")
    updated = tls13.next_traffic_secret(SHA256, secret)
    assert updated == tls13.hkdf_expand_label(SHA256, secret, b"traffic upd", b"", 32)
    assert updated != secret
    assert tls13.next_traffic_secret(SHA256, updated) != updated


def test_exporter_formula() -> None:
    # RFC 8446 §7.5, composed from the parts checked above against RFC 8448.
    exporter_master_secret = item("simple_1rtt", 'derive secret "tls13 exp master"', "expanded")
    label, context = b"EXPORTER-teachtls-test", b"context"
    inner = tls13.derive_secret(SHA256, exporter_master_secret, label, SHA256.digest(b""))
    expected = tls13.hkdf_expand_label(SHA256, inner, b"exporter", SHA256.digest(context), 20)
    assert tls13.exporter(SHA256, exporter_master_secret, label, context, 20) == expected
    assert len(tls13.exporter(SHA256, exporter_master_secret, label, b"", 64)) == 64


def test_sha384_suite_lengths() -> None:
    params = CIPHER_SUITES[CipherSuite.TLS_AES_256_GCM_SHA384]
    early = tls13.early_secret(SHA384, None)
    handshake = tls13.handshake_secret(SHA384, early, bytes(32))
    secret = tls13.derive_secret(SHA384, handshake, tls13.LABEL_CLIENT_HANDSHAKE_TRAFFIC, SHA384.digest(b""))
    write_key, write_iv = tls13.traffic_keys(params, secret)
    assert (len(early), len(secret), len(write_key), len(write_iv)) == (48, 48, 32, 12)
    assert len(tls13.finished_verify_data(SHA384, secret, SHA384.digest(b""))) == 48
