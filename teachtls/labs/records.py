"""Labs about the record layer: lengths that do not add up, ciphertext that was changed.

* ``truncated-record`` -- a man in the middle cuts the end off the ServerHello
  and fixes the outer lengths; the inner one gives it away (RFC 8446 §6.2,
  decode_error).
* ``wrong-record-mac`` -- a man in the middle flips one bit of an encrypted
  record; its AEAD tag no longer verifies (RFC 8446 §5.2, bad_record_mac).
"""

from __future__ import annotations

from teachtls.handshake.alerts import AlertError
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.labs.lab import Lab
from teachtls.labs.network import Network, flip_byte, handshake_message, is_handshake_record, note, reframe
from teachtls.labs.stage import client_config, server_config
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import HandshakeType
from teachtls.wire.record import HEADER_LENGTH

# --- truncated-record ------------------------------------------------------------------------


def cut_message(message: bytes, cut: int, *, fix_handshake_length: bool) -> bytes:
    """`message` without its last `cut` bytes; with `fix_handshake_length`, its
    uint24 length (RFC 8446 §4) made to agree with what is left."""
    shortened = message[:-cut]
    if fix_handshake_length:
        shortened = shortened[:1] + (len(shortened) - 4).to_bytes(3, "big") + shortened[4:]
    return shortened


def truncated_record(recorder: Recorder, *, cut: int = 3, fix_handshake_length: bool = True) -> AlertError | None:
    """A man in the middle cuts `cut` bytes off the end of the ServerHello.

    The record header's length always matches the shortened record; the
    handshake message's own length only with `fix_handshake_length`."""
    client = ClientConnection(client_config(recorder))
    server = ServerConnection(server_config(recorder))

    def truncate(record: bytes) -> bytes:
        if not is_handshake_record(record, HandshakeType.server_hello):
            return record
        fixed = "the record header's and the handshake message's" if fix_handshake_length else "the record header's"
        note(
            recorder,
            "client",
            f"on its way to the client, a man in the middle cut the last {cut} bytes off the ServerHello and "
            f"fixed {fixed} length to match",
        )
        return reframe(record, cut_message(handshake_message(record), cut, fix_handshake_length=fix_handshake_length))

    return Network(client, server, to_client=truncate).start()


TRUNCATED_RECORD = Lab(
    name="truncated-record",
    title="A record whose handshake message was cut short",
    explanation=(
        "Every TLS structure states its own length: the record header the record's, the handshake header the "
        "message's, each vector inside the message its contents'. A receiver must check that they agree, and "
        'RFC 8446 §6.2 names the alert for any mismatch, decode_error: "A message could not be decoded because '
        'some field was out of the specified range or the length of the message was incorrect." Here a man in '
        "the middle cuts the last 3 bytes off the ServerHello -- the end of its supported_versions extension -- "
        "and, to make the cut look clean, fixes both outer lengths, the record's and the handshake message's. "
        "Only the length of the extensions block, inside the message, still promises the missing bytes. The "
        "client's decoder finds that vector running past the end of the message and stops with decode_error. "
        "A parser that trusted a length it was sent would read bytes that belong to something else: that is "
        "how over-reads such as Heartbleed (CVE-2014-0160, a length chosen by the peer) leak memory."
    ),
    exercise=(
        "Fix only the record header and leave the handshake message's length promising the full message: "
        'LABS["truncated-record"].run(fix_handshake_length=False). What does the client do with an incomplete '
        "handshake message? What happens when the server's next record arrives, and which RFC rule is that?"
    ),
    answer=(
        "It waits for the rest: a handshake message may be split over several records (RFC 8446 §5.1). The "
        "server's next record is its change_cipher_spec, and RFC 8446 §5.1 says \"Handshake messages MUST NOT "
        'be interleaved with other record types": the client sends unexpected_message (check message_expected).'
    ),
    expected_check="message_decoding",
    expected_role="client",
    expected_alert="decode_error",
    rule="RFC 8446 §6.2",
    scenario=truncated_record,
)


# --- wrong-record-mac -------------------------------------------------------------------------

REQUEST = b"transfer amount=100 to=bob"
"""What the client sends once the handshake is done."""


def wrong_record_mac(recorder: Recorder, *, offset: int | None = None, mask: int = 0x08) -> AlertError | None:
    """A man in the middle XORs byte `offset` of the client's first application data record with `mask`.

    The default offset is the ciphertext byte over the "1" of "amount=100":
    AES-GCM's key stream is XORed onto the plaintext, so with mask 0x08 the
    decryption -- were it not authenticated -- would read "amount=900"."""
    client = ClientConnection(client_config(recorder))
    server = ServerConnection(server_config(recorder))
    network = Network(client, server)
    error = network.start()
    if error is not None:  # pragma: no cover - the handshake itself is honest
        return error
    where = HEADER_LENGTH + REQUEST.index(b"100") if offset is None else offset

    flipped = False

    def flip_once(record: bytes) -> bytes:
        nonlocal flipped
        if flipped:  # one record only (the client's answer to the alert, if any, passes)
            return record
        flipped = True
        part = "header" if where < HEADER_LENGTH else "encrypted part"
        note(
            recorder,
            "server",
            f"on its way to the server, a man in the middle XORed byte {where} of the record ({part}) with "
            f"{mask:#04x}: {record[where]:02x} -> {record[where] ^ mask:02x}",
        )
        return flip_byte(record, where, mask)

    network.to_server = flip_once
    client.send_application_data(REQUEST)
    return network.pump()


WRONG_RECORD_MAC = Lab(
    name="wrong-record-mac",
    title="A man in the middle flips one bit of an encrypted record",
    explanation=(
        'After the handshake the client sends "transfer amount=100 to=bob" under its application traffic keys. '
        "AES-GCM encrypts by XORing the plaintext with a key stream, so flipping a bit of the ciphertext flips "
        "the same bit of the plaintext: without authentication, a man in the middle who guesses the layout "
        'could turn "amount=100" into "amount=900" without knowing any key. That is exactly the bit this lab '
        "flips. TLS 1.3 only uses AEAD ciphers (RFC 8446 §5.2): each record carries a 16-byte tag computed "
        'over the ciphertext and the record header, and "If the decryption fails, the receiver MUST terminate '
        "the connection with a 'bad_record_mac' alert.\" The server never sees the altered plaintext; it only "
        "learns that this is not the record the client sent. (TLS 1.2's CBC suites checked a MAC after "
        "decrypting, and the difference between a bad MAC and bad padding was the padding oracle of Lucky "
        "Thirteen and POODLE; one alert for any failure is part of the cure.)"
    ),
    exercise=(
        "Flip a bit of the record header's legacy_record_version instead: "
        'LABS["wrong-record-mac"].run(offset=2, mask=0x01). RFC 8446 §5.1 says that field "MUST be ignored for '
        'all purposes" -- so why is the record still rejected? Then try offset=0 (the content type): why is '
        "the alert different?"
    ),
    answer=(
        "The header is the AEAD's additional data (RFC 8446 §5.2: additional_data = TLSCiphertext.opaque_type "
        "|| legacy_record_version || length), so changing any header byte breaks the tag: bad_record_mac. "
        "Flipping the lowest bit of the content type turns 0x17 (application_data) into 0x16 (handshake), and "
        "a plaintext handshake record after the keys are in use is refused before any decryption is tried: "
        "unexpected_message (check message_expected, RFC 8446 §5.1)."
    ),
    expected_check="record_authentication",
    expected_role="server",
    expected_alert="bad_record_mac",
    rule="RFC 8446 §5.2",
    scenario=wrong_record_mac,
)


__all__ = [
    "REQUEST",
    "TRUNCATED_RECORD",
    "WRONG_RECORD_MAC",
    "cut_message",
    "truncated_record",
    "wrong_record_mac",
]
