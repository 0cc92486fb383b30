"""Labs about the handshake messages: the transcript, Finished, CertificateVerify, versions.

Four faults, four of the rules that make the TLS 1.3 handshake hard to tamper
with (RFC 8446 §4, §7.1):

* ``tampered-server-hello`` -- a man in the middle flips one bit of the
  plaintext ServerHello. The transcript hash feeds the handshake traffic
  secrets, so the client derives other keys than the server.
* ``corrupted-finished`` -- the server's Finished does not match the
  transcript (§4.4.4).
* ``wrong-certificate-verify-key`` -- a genuine certificate, signed for with
  another key (§4.4.3).
* ``downgrade-attempt`` -- a man in the middle strips TLS 1.3 from the
  ClientHello; the server's downgrade sentinel gives it away (§4.1.3).

Faults on the wire are taps of `teachtls.labs.network.Network`; faults a man
in the middle cannot make (inside encrypted messages, or in the server's own
keys) are small subclasses or configurations of the honest server.
"""

from __future__ import annotations

import attrs

from teachtls.handshake.alerts import AlertError
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.labs.lab import Lab
from teachtls.labs.network import (
    Network,
    field_offset,
    flip_byte,
    flip_field,
    handshake_message,
    is_handshake_record,
    note,
    reframe,
)
from teachtls.labs.stage import (
    SERVER_NAME,
    client_config,
    impostor_key,
    rogue_leaf,
    server_config,
    server_leaf,
)
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import ExtensionType, HandshakeType, ProtocolVersion
from teachtls.wire.messages import ClientHello, Finished, HandshakeMessage, build_handshake, parse_handshake
from teachtls.wire.record import HEADER_LENGTH

# --- tampered-server-hello -------------------------------------------------------------------


def tampered_server_hello(recorder: Recorder, *, field: str = "ServerHello.random") -> AlertError | None:
    """A man in the middle flips the lowest bit of the first byte of `field` in the ServerHello."""
    client = ClientConnection(client_config(recorder))
    server = ServerConnection(server_config(recorder))

    def flip_server_hello(record: bytes) -> bytes:
        if not is_handshake_record(record, HandshakeType.server_hello):
            return record
        offset = HEADER_LENGTH + field_offset(handshake_message(record), field)
        note(
            recorder,
            "client",
            f"on its way to the client, a man in the middle flipped one bit of {field} in the ServerHello "
            f"(byte {offset - HEADER_LENGTH} of the message: {record[offset]:02x} -> {record[offset] ^ 1:02x})",
        )
        return flip_field(record, field)

    return Network(client, server, to_client=flip_server_hello).start()


TAMPERED_SERVER_HELLO = Lab(
    name="tampered-server-hello",
    title="A man in the middle flips one bit of the ServerHello",
    explanation=(
        "The ServerHello travels in the clear, so anyone on the path can change it. Here a man in the middle "
        "flips one bit of ServerHello.random on its way to the client. No check looks at the random itself -- "
        "but both sides hash every handshake message into the transcript, and the handshake traffic secrets "
        'are derived from that hash (RFC 8446 §7.1: Derive-Secret(Handshake Secret, "s hs traffic", '
        "ClientHello...ServerHello)). Having hashed a different ServerHello, the client derives different keys "
        "from the server's, and the very first encrypted record, EncryptedExtensions, fails AEAD "
        "authentication: bad_record_mac (RFC 8446 §5.2). Were the plaintext hellos not bound into the keys, an "
        "attacker could quietly choose the parameters for both sides -- a weaker cipher suite, an older "
        "version. Note that the server cannot read the client's alert either: it is encrypted under the "
        "client's (wrong) handshake keys, so the server ends with bad_record_mac too."
    ),
    exercise=(
        "Flip a byte of another field: "
        'LABS["tampered-server-hello"].run(field="ServerHello.cipher_suite"), then '
        'field="ServerHello.legacy_session_id_echo". Which check catches each, with which alert? Why are '
        "these caught one record earlier than the flipped random?"
    ),
    answer=(
        "cipher_suite 0x1301 becomes 0x1201, a suite the client never offered: check cipher_suite_offered, "
        "illegal_parameter (RFC 8446 §4.1.3). legacy_session_id_echo no longer echoes the ClientHello's: check "
        "legacy_session_id_echo, illegal_parameter. Fields with a rule of their own are checked while the "
        "ServerHello is read, before any key exists; a field without one (the random, the key share) is caught "
        "through the transcript and the keys, when the next record does not decrypt."
    ),
    expected_check="record_authentication",
    expected_role="client",
    expected_alert="bad_record_mac",
    rule="RFC 8446 §7.1, §5.2",
    scenario=tampered_server_hello,
)


# --- corrupted-finished ----------------------------------------------------------------------


def wrong_finished(message: HandshakeMessage, recorder: Recorder, role: str) -> HandshakeMessage:
    """`message`, or, if it is a Finished, the same with the top bit of verify_data flipped."""
    if not isinstance(message, Finished):
        return message
    note(recorder, role, f"the {role} flips the top bit of its own Finished.verify_data before encrypting it")
    return Finished(verify_data=flip_byte(message.verify_data, 0, 0x80))


class ServerWithWrongFinished(ServerConnection):
    """A server that corrupts its own Finished just before it is encrypted.

    A man in the middle cannot do this -- the Finished is encrypted, and a
    flipped bit of ciphertext fails the record's AEAD tag first -- so the lab
    bends the server itself (the TamperingServer of tests/test_bad_input.py)."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(server_config(recorder))
        self.recorder = recorder

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        return super().send_handshake(wrong_finished(message, self.recorder, self.role), transcript=transcript)


class ClientWithWrongFinished(ClientConnection):
    """A client that corrupts its own Finished just before it is encrypted."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(client_config(recorder))
        self.recorder = recorder

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        return super().send_handshake(wrong_finished(message, self.recorder, self.role), transcript=transcript)


def corrupted_finished(recorder: Recorder, *, sender: str = "server") -> AlertError | None:
    """The `sender`'s Finished.verify_data has one bit flipped."""
    if sender not in ("client", "server"):
        raise ValueError(f"sender must be 'client' or 'server', not {sender!r}")
    client: ClientConnection
    server: ServerConnection
    if sender == "server":
        client, server = ClientConnection(client_config(recorder)), ServerWithWrongFinished(recorder)
    else:
        client, server = ClientWithWrongFinished(recorder), ServerConnection(server_config(recorder))
    return Network(client, server).start()


CORRUPTED_FINISHED = Lab(
    name="corrupted-finished",
    title="The server's Finished does not match the transcript",
    explanation=(
        "Finished is the last word of each side: an HMAC over the hash of every handshake message so far, "
        "keyed with a secret derived from the sender's handshake traffic secret (RFC 8446 §4.4.4). If the two "
        "sides saw different handshakes -- a message changed, dropped or reordered -- their verify_data "
        'differ, and "Recipients of Finished messages MUST verify that the contents are correct and if '
        "incorrect MUST terminate the connection with a 'decrypt_error' alert.\" A man in the middle cannot "
        "reach this message: it is encrypted, and a flipped bit of ciphertext fails the record's AEAD tag "
        "first (see the wrong-record-mac lab). So this lab bends the server itself, which flips one bit of its "
        "verify_data just before encrypting it. The client recomputes the HMAC over its own transcript, "
        "compares in constant time, and sends decrypt_error. Finished is what finally confirms that both sides "
        "agree on everything that was said; in a PSK resumption, without Certificate and CertificateVerify, "
        "it is the server's only proof that it knows the key."
    ),
    exercise=(
        'Corrupt the client\'s Finished instead: LABS["corrupted-finished"].run(sender="client"). Who catches '
        "it now, and which alert does the client get? Had the client already counted the handshake as "
        "complete?"
    ),
    answer=(
        "The server catches it (check client_finished, decrypt_error) and the client receives a decrypt_error "
        "alert. Yes: the client had sent its Finished, installed its application keys and reported "
        "HandshakeCompleted before the server checked anything -- it learns of the failure only from the "
        "server's alert. (That is why data a client sends right after its Finished is not yet known to be "
        "accepted.)"
    ),
    expected_check="server_finished",
    expected_role="client",
    expected_alert="decrypt_error",
    rule="RFC 8446 §4.4.4",
    scenario=corrupted_finished,
)


# --- wrong-certificate-verify-key ---------------------------------------------------------------


def wrong_certificate_verify_key(recorder: Recorder, *, impostor_certificate: bool = False) -> AlertError | None:
    """The server presents www.example.com's certificate but signs with a key of its own.

    With `impostor_certificate`, the certificate is one for that key too,
    issued by the impostor's own CA."""
    if impostor_certificate:
        leaf = rogue_leaf()
        certificate, key = leaf.certificate, leaf.private_key
        issuer = leaf.certificate.issuer.rfc4514_string()
        note(recorder, "server", f"the impostor presents a certificate for its own key, issued by {issuer}")
    else:
        certificate, key = server_leaf().certificate, impostor_key()
        note(
            recorder,
            "server",
            f"the impostor presents the genuine certificate of {SERVER_NAME} (copied: it is public) "
            "but signs CertificateVerify with a private key of its own",
        )
    server_settings = server_config(recorder)
    impostor = attrs.evolve(server_settings, certificate_chain=(certificate,), private_key=key)
    client = ClientConnection(client_config(recorder))
    return Network(client, ServerConnection(impostor)).start()


WRONG_CERTIFICATE_VERIFY_KEY = Lab(
    name="wrong-certificate-verify-key",
    title="A genuine certificate, signed for with the wrong key",
    explanation=(
        "A certificate is public: anyone can copy www.example.com's and send it. Only the real server holds "
        "the matching private key, and TLS 1.3 makes it prove so in CertificateVerify: a signature, made with "
        "the certified key, over a context string and the transcript hash (RFC 8446 §4.4.3). Here an impostor "
        "presents the genuine certificate -- certificate verification passes -- but signs with a key of its "
        "own. The client checks the signature against the certificate's public key; it does not verify, and "
        'RFC 8446 §4.4.3 says "If the verification fails, the receiver MUST terminate the handshake with a '
        "'decrypt_error' alert.\" Without this check a copied certificate would be enough to impersonate any "
        "site. Because the signature covers the transcript hash, including both randoms and key shares, a "
        "signature recorded from another handshake is no use either."
    ),
    exercise=(
        "Let the impostor use a certificate for its own key, issued by a CA it made itself: "
        'LABS["wrong-certificate-verify-key"].run(impostor_certificate=True). Which check fails now? Why does '
        "the handshake end one message earlier?"
    ),
    answer=(
        'certificate_verification fails with unknown_ca: the chain ends at "Mallory\'s own CA", which the '
        "client does not trust (RFC 8446 §4.4.2.4). The Certificate message is verified as soon as it "
        "arrives, before CertificateVerify is read. An impostor has a certificate without the key or a key "
        "without a trusted certificate, and each fails one check."
    ),
    expected_check="certificate_verify_signature",
    expected_role="client",
    expected_alert="decrypt_error",
    rule="RFC 8446 §4.4.3",
    scenario=wrong_certificate_verify_key,
)


# --- downgrade-attempt ------------------------------------------------------------------------

VERSIONS = {"1.3": ProtocolVersion.TLS1_3, "1.2": ProtocolVersion.TLS1_2}


def strip_supported_versions(record: bytes) -> bytes:
    """A ClientHello record rebuilt without its supported_versions extension (RFC 8446 §4.2.1)."""
    message, _ = parse_handshake(handshake_message(record))
    assert isinstance(message, ClientHello)
    extensions = tuple(e for e in message.extensions if e.extension_type != ExtensionType.supported_versions)
    return reframe(record, build_handshake(attrs.evolve(message, extensions=extensions)))


def downgrade_attempt(
    recorder: Recorder, *, server_versions: tuple[str, ...] = ("1.3", "1.2"), extended_master_secret: bool = True
) -> AlertError | None:
    """A man in the middle deletes supported_versions from the ClientHello: the server sees a TLS 1.2 client.

    `server_versions` are what the server speaks ("1.3", "1.2");
    `extended_master_secret` whether it agrees to RFC 7627 in TLS 1.2."""
    client = ClientConnection(client_config(recorder))
    server_settings = server_config(
        recorder,
        versions=tuple(VERSIONS[v] for v in server_versions),
        extended_master_secret=extended_master_secret,
    )
    server = ServerConnection(server_settings)

    def downgrade(record: bytes) -> bytes:
        if not is_handshake_record(record, HandshakeType.client_hello):
            return record
        note(
            recorder,
            "server",
            "on its way to the server, a man in the middle deleted the supported_versions extension from the "
            "ClientHello (the client offered TLS 1.3 and TLS 1.2); without it the ClientHello looks like a "
            "TLS 1.2 client's",
        )
        return strip_supported_versions(record)

    return Network(client, server, to_server=downgrade).start()


DOWNGRADE_ATTEMPT = Lab(
    name="downgrade-attempt",
    title="A man in the middle strips TLS 1.3 from the ClientHello",
    explanation=(
        "Client and server both speak TLS 1.3 and TLS 1.2. A man in the middle deletes the supported_versions "
        "extension from the ClientHello, so the server sees a client that speaks only TLS 1.2 and answers in "
        "TLS 1.2 -- the version the attacker would rather attack (weaker cipher suites, the certificate in the "
        "clear, the history of FREAK and Logjam). RFC 8446 §4.1.3 plants a tripwire: a server that supports "
        "TLS 1.3 but negotiates TLS 1.2 ends ServerHello.random with the eight bytes 44 4F 57 4E 47 52 44 01 "
        '("DOWNGRD" 01), and "TLS 1.3 clients receiving a ServerHello indicating TLS 1.2 or below MUST check '
        "that the last 8 bytes are not equal to either of these values. [...] If a match is found, the "
        "client MUST abort the handshake with an 'illegal_parameter' alert.\" The attacker cannot remove the "
        "sentinel in turn: in TLS 1.2 the server signs both randoms in ServerKeyExchange, and the randoms "
        "enter every key."
    ),
    exercise=(
        "Try the same attack on a server that only speaks TLS 1.2: "
        'LABS["downgrade-attempt"].run(server_versions=("1.2",)). Is there a sentinel? What catches the '
        "edited ClientHello now, and when? Then add extended_master_secret=False: what changes, and why does "
        "TLS 1.3 not rely on these late checks alone?"
    ),
    answer=(
        "No sentinel: a TLS 1.2-only server has no TLS 1.3 to protect, and a client must accept TLS 1.2 from "
        "it. The edit is caught later, because the two sides hashed different ClientHellos. With the extended "
        "master secret (RFC 7627, on by default) that hash is an input of the master secret, so the keys "
        "differ and the client's first encrypted record, its Finished, fails to decrypt: bad_record_mac at "
        "the server (check record_authentication). "
        "Without it the keys agree but the Finished, an HMAC over the transcript, does not: check "
        "client_finished, decrypt_error (RFC 5246 §7.4.9). Both come at the end of the handshake and are only "
        "as strong as the algorithms just negotiated: an attacker who can break weak TLS 1.2 cryptography "
        "during the handshake (Logjam's export Diffie-Hellman) can forge a Finished. The sentinel is checked "
        "in the ServerHello, before any of that matters."
    ),
    expected_check="downgrade_sentinel",
    expected_role="client",
    expected_alert="illegal_parameter",
    rule="RFC 8446 §4.1.3",
    scenario=downgrade_attempt,
)


__all__ = [
    "CORRUPTED_FINISHED",
    "DOWNGRADE_ATTEMPT",
    "TAMPERED_SERVER_HELLO",
    "WRONG_CERTIFICATE_VERIFY_KEY",
    "ClientWithWrongFinished",
    "ServerWithWrongFinished",
    "corrupted_finished",
    "downgrade_attempt",
    "strip_supported_versions",
    "tampered_server_hello",
    "wrong_certificate_verify_key",
]
