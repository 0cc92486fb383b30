"""Loader for the RFC 8448 test vectors in `tests/vectors/rfc8448-vectors.json`.

Not a test module: a helper the known-answer tests import. Values are looked
up the way the RFC presents them -- a scenario (section), a step description
and an item label -- so a test reads like the trace it checks::

    item("simple_1rtt", 'derive secret "tls13 c hs traffic"', "expanded")

See `tests/vectors/README.md` for the file's provenance and format.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).parent / "vectors" / "rfc8448-vectors.json"

Scenario = dict[str, Any]
Step = dict[str, Any]


@functools.cache
def load_vectors() -> dict[str, Any]:
    """The whole JSON document (parsed once, then cached; do not mutate)."""
    with VECTORS_PATH.open(encoding="utf-8") as file:
        vectors: dict[str, Any] = json.load(file)
    return vectors


def scenarios() -> list[Scenario]:
    """The five traces, in RFC order (sections 3 to 7)."""
    scenario_list: list[Scenario] = load_vectors()["scenarios"]
    return scenario_list


def scenario(scenario_id: str) -> Scenario:
    """One trace by id ("simple_1rtt") or by section number ("3")."""
    for candidate in scenarios():
        if scenario_id in (candidate["id"], candidate["section"]):
            return candidate
    raise KeyError(f"no RFC 8448 scenario {scenario_id!r}")


def steps(scenario_id: str, description_startswith: str = "", actor: str | None = None) -> list[Step]:
    """The steps of a scenario whose description starts with the given text
    (and, if given, whose actor is "client" or "server"), in RFC order."""
    return [
        step
        for step in scenario(scenario_id)["steps"]
        if step["description"].startswith(description_startswith) and actor in (None, step["actor"])
    ]


def item(
    scenario_id: str,
    description_startswith: str,
    label: str,
    actor: str | None = None,
    occurrence: int = 0,
) -> bytes:
    """The bytes of one item.

    `occurrence` counts, from 0, among the steps that match the description
    (and actor) *and* have an item with that label, so steps the RFC marks
    "(same as server)" -- which have no items -- are skipped.

    Raises KeyError if there is no such item, ValueError if the RFC gives it
    as text rather than hex.
    """
    matches = [
        candidate
        for step in steps(scenario_id, description_startswith, actor)
        for candidate in step["items"]
        if candidate["label"] == label
    ]
    if occurrence >= len(matches):
        raise KeyError(
            f"{scenario_id}: no item {label!r} #{occurrence} in steps starting {description_startswith!r}"
            + (f" by {actor}" if actor else "")
        )
    found = matches[occurrence]
    if found["hex"] is None:
        raise ValueError(f"{scenario_id}: item {label!r} is text, not hex: {found.get('text')!r}")
    return bytes.fromhex(found["hex"])


def private_key_item(label: str) -> bytes:
    """One value of the section 2 RSA key ("modulus", "prime1", ...)."""
    for candidate in load_vectors()["private_keys"]["items"]:
        if candidate["label"].startswith(label):
            return bytes.fromhex(candidate["hex"])
    raise KeyError(f"no RFC 8448 private key item {label!r}")


def step_items(step: Step) -> dict[str, bytes]:
    """A step's hex items as {label: bytes} (text items are left out)."""
    return {
        candidate["label"]: bytes.fromhex(candidate["hex"])
        for candidate in step["items"]
        if candidate["hex"] is not None
    }


# --- rebuilding transcripts from a trace ------------------------------------

# RFC 8446 §4.1.3: the ServerHello.random that marks a HelloRetryRequest.
HELLO_RETRY_REQUEST_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
CLIENT_HELLO, SERVER_HELLO, MESSAGE_HASH = 1, 2, 254


def step_index(scenario_id: str, description_startswith: str, actor: str | None = None, occurrence: int = 0) -> int:
    """Position in the scenario's step list of the n-th matching step with items."""
    positions = [
        index
        for index, step in enumerate(scenario(scenario_id)["steps"])
        if step["description"].startswith(description_startswith) and actor in (None, step["actor"]) and step["items"]
    ]
    return positions[occurrence]


def handshake_messages_before(scenario_id: str, before_step: int) -> list[bytes]:
    """Every handshake message the trace constructs before step `before_step`, in order.

    RFC 8448 §4 prints only the ClientHello *prefix* (without binders) as
    "ClientHello"; the whole message is the payload of the record sent next.
    """
    trace_steps = scenario(scenario_id)["steps"]
    messages = []
    for index, step in enumerate(trace_steps[:before_step]):
        description = step["description"]
        if not (description.startswith("construct a") and description.endswith("handshake message:")):
            continue
        (message,) = step_items(step).values()
        declared_length = 4 + int.from_bytes(message[1:4], "big")
        if len(message) != declared_length:
            record_step = next(
                later for later in trace_steps[index + 1 :] if later["description"].startswith("send handshake")
            )
            message = step_items(record_step)["payload"]
            assert len(message) == declared_length
        messages.append(message)
    return messages


def transcript_hash(messages: list[bytes]) -> bytes:
    """Transcript-Hash(M1, ..., Mn) with SHA-256 (RFC 8446 §4.4.1), computed
    with hashlib so that it is independent of the code under test.

    After a HelloRetryRequest, ClientHello1 is replaced by the synthetic
    message `message_hash(254) 00 00 32 Hash(ClientHello1)`.
    """
    running = hashlib.sha256()
    for position, message in enumerate(messages):
        following = messages[position + 1] if position + 1 < len(messages) else b""
        retried = (
            message[0] == CLIENT_HELLO
            and following[:1] == bytes([SERVER_HELLO])
            and following[6:38] == HELLO_RETRY_REQUEST_RANDOM
        )
        if retried:
            running.update(bytes([MESSAGE_HASH, 0, 0, 32]) + hashlib.sha256(message).digest())
        else:
            running.update(message)
    return running.digest()
