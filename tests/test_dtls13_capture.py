"""DTLS 1.3 known answers: a real wolfSSL connection, read by teachtls's record layer.

tests/vectors/dtls13-wolfssl-capture.json holds the 11 datagrams of one DTLS
1.3 connection between a wolfSSL client and server (The Illustrated DTLS
Connection), and tests/vectors/dtls13-wolfssl-keys.json the fixed key-share
private keys it used with the values published from them (provenance in
tests/vectors/README.md). With those, every byte can be checked:

1. every datagram splits into records: two DTLSPlaintext (ClientHello,
   ServerHello), nine with unified headers (RFC 9147 §4);
2. the plaintext hellos parse with the DTLS codec and say DTLS 1.3
   (legacy_version 0xFEFD, supported_versions 0xFEFC, an empty legacy_cookie);
3. the key schedule with the "dtls13" prefix (RFC 9147 §5.9) gives every
   published secret, key, IV and sn_key;
4. every protected record opens -- record number decryption (§4.2.3),
   reconstruction (§4.2.2), the AEAD with the header as additional data --
   and seals again to exactly the captured bytes;
5. the handshake inside verifies: both Finished messages and the server's
   CertificateVerify; the server's ACK acknowledges the client's Finished
   record (§7).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from teachtls.crypto import signature
from teachtls.crypto.aead import CIPHER_SUITES, Aead
from teachtls.crypto.keyshare import generate_key_share
from teachtls.dtls import framing, record13
from teachtls.dtls.ack import RecordNumber, parse_ack
from teachtls.dtls.dtls13 import RecordProtection13, open_record, seal_record
from teachtls.dtls.messages import DTLS1_2, DTLS1_3, DTLSClientHello, dtls_message_classes, to_tls_form
from teachtls.dtls.record import DTLSRecord
from teachtls.handshake.common13 import load_certificate
from teachtls.keyschedule import tls13 as keyschedule
from teachtls.wire.enums import CipherSuite, ContentType, ExtensionType, HandshakeType, NamedGroup, ProtocolVersion
from teachtls.wire.extensions import (
    KeyShareClientHello,
    KeyShareServerHello,
    SupportedVersionsClientHello,
    SupportedVersionsServerHello,
    find_extension,
)
from teachtls.wire.messages import (
    MESSAGE_CLASSES,
    Certificate,
    CertificateVerify,
    Finished,
    ServerHello,
    parse_handshake,
)

VECTORS = Path(__file__).parent / "vectors"
CAPTURE = json.loads((VECTORS / "dtls13-wolfssl-capture.json").read_text())
KEYS = json.loads((VECTORS / "dtls13-wolfssl-keys.json").read_text())
PARAMS = CIPHER_SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
HASH = PARAMS.hash_alg
PREFIX = keyschedule.DTLS13_LABEL_PREFIX
CLASSES = dtls_message_classes(MESSAGE_CLASSES)


def key(name: str) -> bytes:
    return bytes.fromhex(KEYS[name])


def datagrams() -> list[tuple[str, bytes]]:
    return [(d["dir"], bytes.fromhex(d["hex"])) for d in CAPTURE["datagrams"]]


def records() -> list[tuple[str, DTLSRecord]]:
    found = []
    for direction, datagram in datagrams():
        split = record13.split_datagram(datagram)
        assert not split.problem and not split.leftover
        found += [(direction, r) for r in split.records]
    return found


def hello(index: int) -> tuple[Any, bytes]:
    """(message, TLS form) of the plaintext hello in record `index`."""
    _, dtls_record = records()[index]
    tls_form = framing.tls_message(dtls_record.fragment)
    message, spans = parse_handshake(tls_form, classes=CLASSES)
    assert spans[0].start == 0 and spans[-1].end == len(tls_form)  # the spans cover it
    return message, tls_form


def protection(secret: bytes) -> RecordProtection13:
    write_key, write_iv = keyschedule.traffic_keys(PARAMS, secret, PREFIX)
    sn_key = keyschedule.hkdf_expand_label(HASH, secret, b"sn", b"", PARAMS.key_length, PREFIX)
    return RecordProtection13(PARAMS, "", Aead(PARAMS, write_key), write_iv, sn_key)


# --- 1. and 2.: records and hellos -------------------------------------------------------------


def test_every_datagram_splits_into_records() -> None:
    assert CAPTURE["expect"] == {"version": "DTLS 1.3", "cipher": "TLS_AES_128_GCM_SHA256"}
    found = records()
    assert len(found) == 11  # one record per datagram in this capture
    plaintext = [r for _, r in found if not isinstance(r, record13.DTLSCiphertextRecord)]
    protected = [r for _, r in found if isinstance(r, record13.DTLSCiphertextRecord)]
    assert [(r.content_type, r.version, r.epoch, r.sequence_number) for r in plaintext] == [
        (ContentType.handshake, DTLS1_2, 0, 0),
        (ContentType.handshake, DTLS1_2, 0, 0),
    ]
    # wolfSSL writes 16-bit sequence numbers and a length: 0b001011EE
    assert {r.raw[0] & 0b11111100 for r in protected} == {0b00101100}
    assert [r.epoch_bits for r in protected] == [2, 2, 2, 2, 2, 3, 3, 3, 3]
    assert all(r.header_length == 5 and r.sequence_length == 2 and r.length_present for r in protected)


def test_unified_header_spans_cover_each_record() -> None:
    for _, dtls_record in records():
        if isinstance(dtls_record, record13.DTLSCiphertextRecord):
            spans = record13.unified_header_spans(dtls_record.raw)
            assert spans[0].start == 0 and spans[-1].end == len(dtls_record.raw)
            assert all(a.end == b.start for a, b in itertools.pairwise(spans))
            assert "(encrypted)" in spans[1].value


def test_client_hello_is_dtls_1_3() -> None:
    message, _ = hello(0)
    assert isinstance(message, DTLSClientHello)
    assert message.legacy_version == DTLS1_2  # RFC 9147 §5.3: {254, 253}
    assert message.cookie == b""  # legacy_cookie: "MUST set the legacy_cookie field to zero length"
    assert message.random == bytes(range(0xE0, 0x100))
    tls = message.to_tls()
    versions = find_extension(tls.extensions, ExtensionType.supported_versions)
    assert isinstance(versions, SupportedVersionsClientHello)
    assert versions.versions == (ProtocolVersion.TLS1_3,)  # 0xFEFC on the wire
    shares = find_extension(message.extensions, ExtensionType.key_share)
    assert isinstance(shares, KeyShareClientHello)
    assert shares.client_shares[0].key_exchange == key("client_x25519_public_key")


def test_server_hello_is_dtls_1_3() -> None:
    message, _ = hello(1)
    assert isinstance(message, ServerHello) and not message.is_hello_retry_request
    assert message.legacy_version == DTLS1_2  # RFC 9147 §5.4
    assert message.cipher_suite == CipherSuite.TLS_AES_128_GCM_SHA256
    selected = find_extension(message.extensions, ExtensionType.supported_versions)
    assert isinstance(selected, SupportedVersionsServerHello) and selected.selected_version == DTLS1_3
    as_tls = to_tls_form(message)
    assert isinstance(as_tls, ServerHello)
    assert find_extension(as_tls.extensions, ExtensionType.supported_versions) == (
        SupportedVersionsServerHello(ProtocolVersion.TLS1_3)
    )
    share = find_extension(message.extensions, ExtensionType.key_share)
    assert isinstance(share, KeyShareServerHello)
    assert share.server_share.key_exchange == key("server_x25519_public_key")


# --- 3. the key schedule -----------------------------------------------------------------------


def test_private_keys_give_the_captured_public_keys_and_shared_secret() -> None:
    client = generate_key_share(NamedGroup.x25519, key("client_x25519_private_key"))
    server = generate_key_share(NamedGroup.x25519, key("server_x25519_private_key"))
    assert client.public_bytes() == key("client_x25519_public_key")
    assert server.public_bytes() == key("server_x25519_public_key")
    assert client.exchange(server.public_bytes()) == key("shared_secret")


def handshake_secrets() -> tuple[bytes, bytes, bytes]:
    """(handshake_secret, client_handshake_traffic_secret, server_handshake_traffic_secret)."""
    early = keyschedule.early_secret(HASH, None)
    derived = keyschedule.derive_secret(HASH, early, keyschedule.LABEL_DERIVED, keyschedule.empty_hash(HASH), PREFIX)
    handshake_secret = keyschedule.hkdf_extract(HASH, derived, key("shared_secret"))
    hello_hash = HASH.digest(hello(0)[1] + hello(1)[1])
    client = keyschedule.derive_secret(
        HASH, handshake_secret, keyschedule.LABEL_CLIENT_HANDSHAKE_TRAFFIC, hello_hash, PREFIX
    )
    server = keyschedule.derive_secret(
        HASH, handshake_secret, keyschedule.LABEL_SERVER_HANDSHAKE_TRAFFIC, hello_hash, PREFIX
    )
    return handshake_secret, client, server


def test_transcript_uses_the_tls_form() -> None:
    """RFC 9147 §5.2: the transcript leaves out message_seq, fragment_offset and fragment_length."""
    assert HASH.digest(hello(0)[1] + hello(1)[1]) == key("hello_hash")


def test_handshake_keys_use_the_dtls13_label_prefix() -> None:
    handshake_secret, client, server = handshake_secrets()
    assert handshake_secret == key("handshake_secret")
    assert keyschedule.traffic_keys(PARAMS, client, PREFIX) == (key("client_handshake_key"), key("client_handshake_iv"))
    assert keyschedule.traffic_keys(PARAMS, server, PREFIX) == (key("server_handshake_key"), key("server_handshake_iv"))
    # and not the TLS 1.3 ones (RFC 9147 §5.9: "This ensures key separation")
    assert keyschedule.traffic_keys(PARAMS, client)[0] != key("client_handshake_key")
    assert keyschedule.hkdf_label(16, b"sn", b"", PREFIX) == b"\x00\x10\x08dtls13sn\x00"


# --- 4. and 5.: every protected record ------------------------------------------------------------


def open_everything() -> list[tuple[str, int, int, int, bytes]]:
    """Open each protected record in order, following the key schedule as the endpoints did.

    Returns (direction, epoch, sequence number, content type, content); checks on
    the way that sealing the content again gives the captured record."""
    handshake_secret, client_secret, server_secret = handshake_secrets()
    protections = {("c2s", 2): protection(client_secret), ("s2c", 2): protection(server_secret)}
    transcript = hello(0)[1] + hello(1)[1]
    transcript_through_server_finished = b""
    expected: dict[tuple[str, int], int] = {}
    opened = []
    for direction, dtls_record in records():
        if not isinstance(dtls_record, record13.DTLSCiphertextRecord):
            continue
        epoch = dtls_record.epoch_bits  # epochs 2 and 3: the bits are the epoch
        if (direction, epoch) not in protections:
            assert epoch == 3
            derived = keyschedule.derive_secret(
                HASH, handshake_secret, keyschedule.LABEL_DERIVED, keyschedule.empty_hash(HASH), PREFIX
            )
            master = keyschedule.hkdf_extract(HASH, derived, bytes(HASH.digest_size))
            handshake_hash = HASH.digest(transcript_through_server_finished)
            assert handshake_hash == key("handshake_hash")
            for side, label in (
                ("c2s", keyschedule.LABEL_CLIENT_APPLICATION_TRAFFIC),
                ("s2c", keyschedule.LABEL_SERVER_APPLICATION_TRAFFIC),
            ):
                protections[(side, 3)] = protection(
                    keyschedule.derive_secret(HASH, master, label, handshake_hash, PREFIX)
                )
        keys = protections[(direction, epoch)]
        result = open_record(keys, dtls_record, expected.get((direction, epoch), 0))
        expected[(direction, epoch)] = result.sequence_number + 1
        assert result.padding_length == 0
        assert seal_record(keys, epoch, result.sequence_number, result.content_type, result.payload) == dtls_record.raw
        opened.append((direction, epoch, result.sequence_number, result.content_type, result.payload))
        if result.content_type == ContentType.handshake:
            for fragment in framing.parse_fragments(result.payload):
                assert fragment.is_whole_message
                transcript += framing.tls_message(fragment.build())
                if fragment.msg_type == HandshakeType.finished and direction == "s2c":
                    transcript_through_server_finished = transcript
    return opened


def test_every_protected_record_opens_and_seals_to_the_same_bytes() -> None:
    opened = open_everything()
    assert [(d, e, s, t) for d, e, s, t, _ in opened] == [
        ("s2c", 2, 0, ContentType.handshake),  # EncryptedExtensions
        ("s2c", 2, 1, ContentType.handshake),  # Certificate
        ("s2c", 2, 2, ContentType.handshake),  # CertificateVerify
        ("s2c", 2, 3, ContentType.handshake),  # Finished
        ("c2s", 2, 0, ContentType.handshake),  # Finished
        ("s2c", 3, 0, record13.ACK),
        ("c2s", 3, 0, ContentType.application_data),
        ("s2c", 3, 1, ContentType.application_data),
        ("s2c", 3, 2, ContentType.alert),
    ]
    assert [content for *_, content in opened[6:]] == [b"ping", b"pong", b"\x01\x00"]  # close_notify


def test_application_sn_keys_match_the_published_ones() -> None:
    handshake_secret, *_ = handshake_secrets()
    derived = keyschedule.derive_secret(
        HASH, handshake_secret, keyschedule.LABEL_DERIVED, keyschedule.empty_hash(HASH), PREFIX
    )
    master = keyschedule.hkdf_extract(HASH, derived, bytes(HASH.digest_size))
    for side, label in (
        ("client", keyschedule.LABEL_CLIENT_APPLICATION_TRAFFIC),
        ("server", keyschedule.LABEL_SERVER_APPLICATION_TRAFFIC),
    ):
        secret = keyschedule.derive_secret(HASH, master, label, key("handshake_hash"), PREFIX)
        keys = protection(secret)
        assert keys.sn_key == key(f"{side}_application_sn_key")
        assert keys.iv == key(f"{side}_application_iv")


def test_the_server_ack_acknowledges_the_client_finished_record() -> None:
    (ack_content,) = [content for d, _, _, t, content in open_everything() if t == record13.ACK]
    assert parse_ack(ack_content).record_numbers == (RecordNumber(epoch=2, sequence_number=0),)


def test_finished_and_certificate_verify_verify() -> None:
    """The handshake inside the records is sound: transcript in TLS form, "dtls13" labels."""
    _, client_secret, server_secret = handshake_secrets()
    transcript = hello(0)[1] + hello(1)[1]
    certificate = None
    checked = []
    for direction, epoch, _, content_type, content in open_everything():
        if content_type != ContentType.handshake or epoch != 2:
            continue
        (fragment,) = framing.parse_fragments(content)
        tls_form = framing.tls_message(fragment.build())
        message, _ = parse_handshake(tls_form, classes=CLASSES)
        if isinstance(message, Certificate):
            certificate = load_certificate(message.certificate_list[0].cert_data)
        elif isinstance(message, CertificateVerify):
            assert certificate is not None
            content_signed = signature.certificate_verify_content(signature.SERVER_CONTEXT, HASH.digest(transcript))
            signature.verify(certificate.public_key(), message.algorithm, content_signed, message.signature)  # type: ignore[arg-type]
            checked.append("CertificateVerify")
        elif isinstance(message, Finished):
            base_key = server_secret if direction == "s2c" else client_secret
            expected = keyschedule.finished_verify_data(HASH, base_key, HASH.digest(transcript), PREFIX)
            assert message.verify_data == expected
            checked.append(f"{direction} Finished")
        transcript += tls_form
    assert checked == ["CertificateVerify", "s2c Finished", "c2s Finished"]


@pytest.mark.parametrize("flip", [0, 1, 2, 5, -1])
def test_a_flipped_bit_anywhere_fails_deprotection(flip: int) -> None:
    """The header is authenticated too: it is the AEAD's additional data (RFC 9147 §4)."""
    from teachtls.dtls.dtls13 import DeprotectionError

    _, _, server_secret = handshake_secrets()
    _, dtls_record = records()[2]  # EncryptedExtensions
    assert isinstance(dtls_record, record13.DTLSCiphertextRecord)
    raw = bytearray(dtls_record.raw)
    raw[flip] ^= 0x01  # byte 0: the epoch bits; 1, 2: the (encrypted) sequence number
    (tampered,) = record13.split_datagram(bytes(raw)).records
    assert isinstance(tampered, record13.DTLSCiphertextRecord)
    with pytest.raises(DeprotectionError):
        open_record(protection(server_secret), tampered, 0)
