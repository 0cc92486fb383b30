"""Load `openssl-sessions.json` and take each captured session apart.

Deliberately independent of teachtls: records and handshake messages are
split here with a few lines of slicing, and transcript hashes use hashlib,
so the tests compare teachtls against OpenSSL and not against itself.

A full TLS 1.2 handshake without client authentication or tickets runs::

    client -> ClientHello
    server <- ServerHello, Certificate, [ServerKeyExchange], ServerHelloDone
    client -> ClientKeyExchange, ChangeCipherSpec, Finished (encrypted)
    server <- ChangeCipherSpec, Finished (encrypted)
    client -> application data, close_notify alert   (encrypted)
    server <- application data                       (encrypted)

so the plaintext transcript is simply ClientHello + the server's first flight
+ ClientKeyExchange.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from dataclasses import dataclass
from typing import Any

HERE = pathlib.Path(__file__).parent

CONTENT_TYPE_CHANGE_CIPHER_SPEC = 20
CONTENT_TYPE_HANDSHAKE = 22
EXTENSION_EXTENDED_MASTER_SECRET = 0x0017
EXTENSION_ENCRYPT_THEN_MAC = 0x0016


@dataclass(frozen=True)
class Record:
    content_type: int
    version: int
    fragment: bytes


@dataclass(frozen=True)
class Session:
    name: str
    suite: int
    client_random: bytes
    server_random: bytes
    master_secret: bytes  # from OpenSSL's key log
    keylog_client_random: bytes
    extended_master_secret: bool  # the ServerHello echoed the extension
    encrypt_then_mac: bool
    client_hello: bytes  # whole handshake messages, header included
    server_flight: bytes
    client_key_exchange: bytes
    client_protected: list[Record]  # records after the client's ChangeCipherSpec
    server_protected: list[Record]
    client_application_data: bytes
    server_application_data: bytes
    hash_name: str  # "sha256" / "sha384": the PRF hash, from the suite name

    def transcript_hash(self, *extra: bytes) -> bytes:
        """Hash(ClientHello ... ClientKeyExchange [+ extra messages])."""
        messages = self.client_hello + self.server_flight + self.client_key_exchange + b"".join(extra)
        return hashlib.new(self.hash_name, messages).digest()


def parse_records(stream: bytes) -> list[Record]:
    records, offset = [], 0
    while offset < len(stream):
        length = int.from_bytes(stream[offset + 3 : offset + 5], "big")
        records.append(
            Record(
                content_type=stream[offset],
                version=int.from_bytes(stream[offset + 1 : offset + 3], "big"),
                fragment=stream[offset + 5 : offset + 5 + length],
            )
        )
        offset += 5 + length
    return records


def split_handshake_messages(data: bytes) -> list[bytes]:
    messages, offset = [], 0
    while offset < len(data):
        length = int.from_bytes(data[offset + 1 : offset + 4], "big")
        messages.append(data[offset : offset + 4 + length])
        offset += 4 + length
    return messages


def _before_and_after_change_cipher_spec(records: list[Record]) -> tuple[bytes, list[Record]]:
    index = next(i for i, record in enumerate(records) if record.content_type == CONTENT_TYPE_CHANGE_CIPHER_SPEC)
    plaintext = b"".join(r.fragment for r in records[:index] if r.content_type == CONTENT_TYPE_HANDSHAKE)
    return plaintext, records[index + 1 :]


def _server_hello_fields(server_hello: bytes) -> tuple[bytes, int, set[int]]:
    body = server_hello[4:]
    server_random = body[2:34]
    session_id_length = body[34]
    offset = 35 + session_id_length
    suite = int.from_bytes(body[offset : offset + 2], "big")
    offset += 3  # cipher_suite, compression_method
    extensions: set[int] = set()
    if offset < len(body):
        end = offset + 2 + int.from_bytes(body[offset : offset + 2], "big")
        offset += 2
        while offset < end:
            extensions.add(int.from_bytes(body[offset : offset + 2], "big"))
            offset += 4 + int.from_bytes(body[offset + 2 : offset + 4], "big")
    return server_random, suite, extensions


def _session(entry: dict[str, Any]) -> Session:
    client_plain, client_protected = _before_and_after_change_cipher_spec(
        parse_records(bytes.fromhex(entry["client_to_server"]))
    )
    server_plain, server_protected = _before_and_after_change_cipher_spec(
        parse_records(bytes.fromhex(entry["server_to_client"]))
    )
    client_hello, client_key_exchange = split_handshake_messages(client_plain)
    server_hello = split_handshake_messages(server_plain)[0]
    server_random, suite, extensions = _server_hello_fields(server_hello)
    _, keylog_client_random, keylog_master_secret = entry["keylog"].split()
    return Session(
        name=entry["suite"] + ("" if entry["client_configured_ems"] else " (no EMS)"),
        suite=suite,
        client_random=client_hello[4 + 2 : 4 + 34],
        server_random=server_random,
        master_secret=bytes.fromhex(keylog_master_secret),
        keylog_client_random=bytes.fromhex(keylog_client_random),
        extended_master_secret=EXTENSION_EXTENDED_MASTER_SECRET in extensions,
        encrypt_then_mac=EXTENSION_ENCRYPT_THEN_MAC in extensions,
        client_hello=client_hello,
        server_flight=server_plain,
        client_key_exchange=client_key_exchange,
        client_protected=client_protected,
        server_protected=server_protected,
        client_application_data=entry["client_application_data"].encode(),
        server_application_data=entry["server_application_data"].encode(),
        hash_name="sha384" if entry["suite"].endswith("_SHA384") else "sha256",
    )


def load_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((HERE / "openssl-sessions.json").read_text())
    return document


def load_sessions() -> list[Session]:
    return [_session(entry) for entry in load_document()["sessions"]]
