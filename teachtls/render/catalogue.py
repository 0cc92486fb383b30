"""The explanations catalogue: one place that says what every byte and step means.

The annotated pages (`teachtls.render.pages`) colour every byte of a
connection; this module supplies the words beside them. For every handshake
message, every field path the codec records, every extension, record-layer
field, secret of the key schedule, check the handshake performs and alert,
it holds an `Explanation`: a short title, one paragraph written for a
student, and the RFC section to read next.

Field paths come from the span-recording codec (`teachtls.wire.codec`) and
look like `ClientHello.extensions[3].extension_data.client_shares[0].key_exchange`.
`explain_field` finds their explanation in three steps:

1. Indexes are normalized: `[3]` becomes `[*]`, so one entry explains every
   element of a vector (`ClientHello.cipher_suites[*]`).
2. The whole normalized path is looked up; failing that, its *suffixes*, longest
   first, written with a leading `*.` (`*.client_shares[*].key_exchange`).
   Extension bodies are therefore explained by their RFC struct
   (`KeyShareEntry.key_exchange`) whatever message carries them.
3. A vector's length prefix (`X.length`) is explained through `X` itself, and a
   handshake message's 4-byte header (`ClientHello.msg_type`, `.length`) by
   the `Handshake` struct of RFC 8446 §4.

Text may mark code with backticks (`like this`); each output format renders
those its own way. Nothing here imports protocol code: the catalogue is data.
"""

from __future__ import annotations

import re

import attrs


@attrs.frozen(kw_only=True)
class Explanation:
    """What a field, message or step is, for a student."""

    title: str  # a few words: "Client random"
    text: str  # one paragraph; `code` in backticks
    rfc: str  # "RFC 8446 §4.1.2"
    key: str = ""  # the catalogue entry that matched, e.g. "KeyShareEntry.key_exchange"


def _x(title: str, rfc: str, text: str) -> Explanation:
    return Explanation(title=title, text=" ".join(text.split()), rfc=rfc)


# =============================================================================
# Handshake messages (RFC 8446 §4)
# =============================================================================

MESSAGES: dict[str, Explanation] = {
    "ClientHello": _x(
        "ClientHello",
        "RFC 8446 §4.1.2",
        """The client's opening message. It offers everything the client can do --
        cipher suites, groups for the key exchange, signature algorithms, protocol
        versions -- and already carries a key share, so that the server can answer
        with its own share and both can compute the handshake keys after a single
        round trip.""",
    ),
    "ServerHello": _x(
        "ServerHello",
        "RFC 8446 §4.1.3",
        """The server's choice among the client's offers: one cipher suite, one key
        share (on a group the client offered), and TLS 1.3 via `supported_versions`.
        After this message both sides can compute the (EC)DHE shared secret, and
        everything that follows is encrypted.""",
    ),
    "HelloRetryRequest": _x(
        "HelloRetryRequest",
        "RFC 8446 §4.1.4",
        """A ServerHello with a special random value meaning "try again": the client
        offered no key share the server accepts. It names the group the server
        wants (`key_share`), may carry a `cookie`, and costs one extra round trip.
        The client answers with a second ClientHello.""",
    ),
    "EncryptedExtensions": _x(
        "EncryptedExtensions",
        "RFC 8446 §4.3.1",
        """The first encrypted message. It carries the server's answers to extensions
        that are not needed to set up the keys (ALPN, server_name acknowledgement,
        record_size_limit, ...), so that an eavesdropper cannot see them.""",
    ),
    "CertificateRequest": _x(
        "CertificateRequest",
        "RFC 8446 §4.3.2",
        """The server asks the client to authenticate with a certificate too (client
        authentication, "mutual TLS"). It lists the signature algorithms the server
        accepts; the client answers with Certificate and CertificateVerify before its
        Finished.""",
    ),
    "Certificate": _x(
        "Certificate",
        "RFC 8446 §4.4.2",
        """The sender's certificate chain, leaf first. The certificate binds a public
        key to a name; the receiver checks the chain against its trust store and the
        name it expected, and then uses the public key to check CertificateVerify.""",
    ),
    "CertificateVerify": _x(
        "CertificateVerify",
        "RFC 8446 §4.4.3",
        """A signature, made with the certificate's private key, over the transcript
        hash of the handshake so far. It proves that the peer holds the private key
        of the certificate it just sent and that it saw the same handshake.""",
    ),
    "Finished": _x(
        "Finished",
        "RFC 8446 §4.4.4",
        """An HMAC over the whole handshake transcript, keyed with a key derived from
        the sender's handshake traffic secret. It authenticates the handshake: if any
        byte had been changed in transit, or the keys differed, the receiver's
        computation would not match and the connection would end with decrypt_error.""",
    ),
    "NewSessionTicket": _x(
        "NewSessionTicket",
        "RFC 8446 §4.6.1",
        """Sent by the server after the handshake: a ticket the client can present
        later to resume the session with a pre-shared key (PSK) and skip the
        certificate exchange. The PSK itself is derived from the resumption master
        secret and the ticket_nonce; it never travels.""",
    ),
    "EndOfEarlyData": _x(
        "EndOfEarlyData",
        "RFC 8446 §4.5",
        """Sent by a client that sent 0-RTT early data: the early data ends here, and
        the following records are protected with the handshake keys.""",
    ),
    "KeyUpdate": _x(
        "KeyUpdate",
        "RFC 8446 §4.6.3",
        """The sender switches to the next generation of its application traffic
        secret; `request_update` asks the peer to do the same. Long connections use it
        to limit how much data is encrypted under one key.""",
    ),
    "message_hash": _x(
        "message_hash",
        "RFC 8446 §4.4.1",
        """A synthetic message that replaces the first ClientHello in the transcript
        after a HelloRetryRequest: its body is the hash of that ClientHello.""",
    ),
}


# =============================================================================
# Fields. Keys are normalized paths or "*."-suffix patterns (see module docstring).
# An entry may list more patterns; the first key is the one shown as `key`.
# =============================================================================

_FIELD_ENTRIES: list[tuple[tuple[str, ...], Explanation]] = [
    # --- record layer (RFC 8446 §5) -----------------------------------------
    (
        ("TLSPlaintext.type",),
        _x(
            "Record content type",
            "RFC 8446 §5.1",
            """What the record carries: handshake (22), alert (21), change_cipher_spec
            (20) or application_data (23). Several handshake messages may share one
            record, and one message may span several.""",
        ),
    ),
    (
        ("TLSPlaintext.legacy_record_version", "TLSCiphertext.legacy_record_version"),
        _x(
            "Legacy record version",
            "RFC 8446 §5.1",
            """A fossil kept for middleboxes: 0x0303 ("TLS 1.2"), or 0x0301 in a first
            ClientHello. It is ignored; the real version is negotiated by the
            supported_versions extension.""",
        ),
    ),
    (
        ("TLSPlaintext.length",),
        _x(
            "Record length",
            "RFC 8446 §5.1",
            """The number of bytes of the fragment that follows this 5-byte header; at
            most 2^14 (16384).""",
        ),
    ),
    (
        ("TLSPlaintext.fragment",),
        _x(
            "Record fragment",
            "RFC 8446 §5.1",
            """The data the record carries, unencrypted: handshake messages before the
            keys exist, or an alert sent before them.""",
        ),
    ),
    (
        ("TLSCiphertext.type", "TLSCiphertext.opaque_type"),
        _x(
            "Outer content type",
            "RFC 8446 §5.2",
            """Always application_data (23) for an encrypted record, whatever it really
            carries: the true content type is encrypted inside (TLSInnerPlaintext), so an
            observer cannot tell handshake messages from alerts or data.""",
        ),
    ),
    (
        ("TLSCiphertext.length",),
        _x(
            "Encrypted record length",
            "RFC 8446 §5.2",
            """The length of encrypted_record: the encrypted TLSInnerPlaintext plus the
            AEAD tag; at most 2^14 + 256. These five header bytes are also the
            additional data (AAD) the AEAD authenticates.""",
        ),
    ),
    (
        ("TLSCiphertext.encrypted_record",),
        _x(
            "Encrypted record",
            "RFC 8446 §5.2",
            """AEAD-Encrypt(write_key, nonce, additional_data=header, TLSInnerPlaintext):
            the ciphertext followed by the authentication tag.""",
        ),
    ),
    (
        ("TLSCiphertext.encrypted_record.ciphertext",),
        _x(
            "Ciphertext",
            "RFC 8446 §5.2",
            """The encrypted TLSInnerPlaintext. The TLS 1.3 AEADs (AES-GCM, ChaCha20,
            AES-CCM) are stream-like: each ciphertext byte is the plaintext byte at the
            same position XORed with a keystream byte, so the ciphertext is exactly as
            long as the plaintext.""",
        ),
    ),
    (
        ("TLSCiphertext.encrypted_record.tag",),
        _x(
            "AEAD authentication tag",
            "RFC 8446 §5.2",
            """A 16-byte tag (8 for AES-CCM-8) computed over the ciphertext and the record
            header. The receiver recomputes it; if a single bit of the record was changed
            the tags differ and the record is rejected with bad_record_mac.""",
        ),
    ),
    (
        ("TLSInnerPlaintext.content",),
        _x(
            "Inner plaintext content",
            "RFC 8446 §5.2",
            """What the encrypted record carries, once decrypted.""",
        ),
    ),
    (
        ("TLSInnerPlaintext.type",),
        _x(
            "Real content type",
            "RFC 8446 §5.2",
            """The content type hidden inside the encryption: handshake (22), alert (21)
            or application_data (23). It follows the content and precedes the padding.""",
        ),
    ),
    (
        ("TLSInnerPlaintext.zeros",),
        _x(
            "Padding",
            "RFC 8446 §5.4",
            """Zero bytes a sender may add to hide the true length of what it sends. The
            receiver scans back from the end for the last non-zero byte, which is the
            content type.""",
        ),
    ),
    (
        ("ChangeCipherSpec.type",),
        _x(
            "change_cipher_spec",
            "RFC 8446 §D.4",
            """A single byte 0x01 that means nothing in TLS 1.3. It is sent in
            "middlebox compatibility mode" so that the handshake looks like a TLS 1.2
            session resumption to old network equipment; receivers drop it.""",
        ),
    ),
    (
        ("Alert.level",),
        _x(
            "Alert level",
            "RFC 8446 §6",
            """warning (1) or fatal (2). In TLS 1.3 the level is implied by the
            description: every alert except close_notify and user_canceled is fatal.""",
        ),
    ),
    (
        ("Alert.description",),
        _x(
            "Alert description",
            "RFC 8446 §6",
            """Why the sender is closing the connection: close_notify for an orderly end,
            an error alert (decode_error, bad_record_mac, ...) when something failed.""",
        ),
    ),
    (
        ("ApplicationData",),
        _x(
            "Application data",
            "RFC 8446 §5.2",
            """Bytes of the application protocol (HTTP, SMTP, ...), opaque to TLS.""",
        ),
    ),
    (
        ("Handshake.unparsed",),
        _x(
            "Handshake bytes not parsed",
            "RFC 8446 §4",
            """Handshake bytes the trace has no parsed message for: the rest of a message
            still arriving, or one that could not be decoded.""",
        ),
    ),
    # --- the Handshake header (RFC 8446 §4) ----------------------------------
    (
        ("Handshake.msg_type",),
        _x(
            "Handshake message type",
            "RFC 8446 §4",
            """One byte naming the message (client_hello = 1, server_hello = 2, ...).
            Every handshake message starts with this 4-byte header: type, then a 3-byte
            length.""",
        ),
    ),
    (
        ("Handshake.length",),
        _x(
            "Handshake message length",
            "RFC 8446 §4",
            """The length of the message body in bytes (24 bits). The record layer may
            split a message across records or pack several into one; this length is what
            lets the receiver find the message boundaries again.""",
        ),
    ),
    # --- ClientHello (RFC 8446 §4.1.2) --------------------------------------
    (
        ("ClientHello.legacy_version",),
        _x(
            "Legacy version",
            "RFC 8446 §4.1.2",
            """Always 0x0303 (TLS 1.2): TLS 1.3 moved version negotiation into the
            supported_versions extension, because too many servers broke when they saw a
            higher number here.""",
        ),
    ),
    (
        ("ClientHello.random",),
        _x(
            "Client random",
            "RFC 8446 §4.1.2",
            """32 bytes from a secure random generator. They make every handshake
            transcript unique, so that no message of an old connection can be replayed
            into a new one.""",
        ),
    ),
    (
        ("ClientHello.legacy_session_id",),
        _x(
            "Legacy session ID",
            "RFC 8446 §4.1.2",
            """A TLS 1.2 session resumption field. In TLS 1.3 it is empty, or -- in
            middlebox compatibility mode -- 32 random bytes that the server echoes, so the
            exchange looks like a TLS 1.2 resumption.""",
        ),
    ),
    (
        ("ClientHello.cipher_suites",),
        _x(
            "Cipher suites offered",
            "RFC 8446 §4.1.2",
            """The cipher suites the client supports, most preferred first. A TLS 1.3
            suite names only the AEAD and the hash for HKDF; key exchange and signatures
            are negotiated by extensions.""",
        ),
    ),
    (
        ("ClientHello.cipher_suites[*]",),
        _x(
            "Cipher suite",
            "RFC 8446 §B.4",
            """One offered suite, e.g. TLS_AES_128_GCM_SHA256: records encrypted with
            AES-128 in GCM mode, keys derived with HKDF-SHA-256.""",
        ),
    ),
    (
        ("ClientHello.legacy_compression_methods",),
        _x(
            "Legacy compression methods",
            "RFC 8446 §4.1.2",
            """Must be exactly one byte 0x00 ("null", no compression). TLS compression
            was removed after the CRIME attack showed it leaks secrets.""",
        ),
    ),
    # --- ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4) ---------
    (
        ("ServerHello.legacy_version", "HelloRetryRequest.legacy_version"),
        _x(
            "Legacy version",
            "RFC 8446 §4.1.3",
            """Always 0x0303 (TLS 1.2); the version really chosen is in the
            supported_versions extension.""",
        ),
    ),
    (
        ("ServerHello.random",),
        _x(
            "Server random",
            "RFC 8446 §4.1.3",
            """32 random bytes from the server. If a TLS 1.3 server negotiates TLS 1.2
            or below, the last 8 bytes are a fixed "downgrade sentinel" the client
            checks, so an attacker cannot silently force an older version.""",
        ),
    ),
    (
        ("HelloRetryRequest.random",),
        _x(
            "HelloRetryRequest marker",
            "RFC 8446 §4.1.3",
            """Not random at all: the fixed value SHA-256("HelloRetryRequest"). It tells
            the client that this ServerHello is a HelloRetryRequest.""",
        ),
    ),
    (
        ("ServerHello.legacy_session_id_echo", "HelloRetryRequest.legacy_session_id_echo"),
        _x(
            "Session ID echo",
            "RFC 8446 §4.1.3",
            """The client's legacy_session_id, echoed unchanged. The client checks it and
            aborts with illegal_parameter if it differs.""",
        ),
    ),
    (
        ("ServerHello.cipher_suite", "HelloRetryRequest.cipher_suite"),
        _x(
            "Selected cipher suite",
            "RFC 8446 §4.1.3",
            """The one suite the server picked from the client's list. From now on it
            fixes the AEAD for records and the hash for the key schedule and the
            transcript.""",
        ),
    ),
    (
        ("ServerHello.legacy_compression_method", "HelloRetryRequest.legacy_compression_method"),
        _x(
            "Legacy compression method",
            "RFC 8446 §4.1.3",
            """Always 0: no compression.""",
        ),
    ),
    # --- extensions (RFC 8446 §4.2) -------------------------------------------
    (
        ("*.extensions",),
        _x(
            "Extensions",
            "RFC 8446 §4.2",
            """A list of extensions, each a type and an opaque body. Almost everything in
            TLS 1.3 is negotiated through them: versions, groups, key shares, signature
            algorithms, PSKs.""",
        ),
    ),
    (
        ("*.extensions[*].extension_type",),
        _x(
            "Extension type",
            "RFC 8446 §4.2",
            """A 2-byte code naming the extension. Unknown types (including GREASE values
            such as 0x0a0a) must be ignored, which keeps the protocol extensible.""",
        ),
    ),
    (
        ("*.extensions[*].extension_data",),
        _x(
            "Extension body",
            "RFC 8446 §4.2",
            """The extension's content, whose structure depends on the type and on the
            message carrying it.""",
        ),
    ),
    (
        ("*.extension_data.data",),
        _x(
            "Undecoded extension body",
            "RFC 8446 §4.2",
            """Bytes of an extension body teachtls does not decode (an unknown or
            legacy extension); receivers ignore what they do not understand.""",
        ),
    ),
    # server_name (RFC 6066 §3)
    (
        ("ServerNameList.server_name_list", "*.extension_data.server_name_list"),
        _x(
            "Server name list",
            "RFC 6066 §3",
            """Server Name Indication (SNI): the host name the client wants to reach, so
            that a server hosting many sites can pick the right certificate. It is sent
            in clear text.""",
        ),
    ),
    (
        ("ServerName.name_type", "*.server_name_list[*].name_type"),
        _x(
            "Name type",
            "RFC 6066 §3",
            """0 = host_name, the only type ever defined.""",
        ),
    ),
    (
        ("ServerName.host_name", "*.server_name_list[*].host_name"),
        _x(
            "Host name",
            "RFC 6066 §3",
            """The DNS name of the server, in ASCII, without a trailing dot.""",
        ),
    ),
    # supported_groups (RFC 8446 §4.2.7)
    (
        ("NamedGroupList.named_group_list", "*.extension_data.named_group_list"),
        _x(
            "Supported groups",
            "RFC 8446 §4.2.7",
            """The key exchange groups the sender supports, most preferred first:
            elliptic curves (x25519, secp256r1, ...), finite-field groups (ffdhe2048, ...)
            or hybrid post-quantum groups.""",
        ),
    ),
    (
        ("NamedGroup", "*.named_group_list[*]"),
        _x(
            "Named group",
            "RFC 8446 §4.2.7",
            """One group for the (EC)DHE key exchange.""",
        ),
    ),
    # signature_algorithms (RFC 8446 §4.2.3)
    (
        ("SignatureSchemeList.supported_signature_algorithms", "*.extension_data.supported_signature_algorithms"),
        _x(
            "Signature algorithms",
            "RFC 8446 §4.2.3",
            """The signature schemes the sender accepts in CertificateVerify (and, unless
            signature_algorithms_cert says otherwise, in certificates), most preferred
            first.""",
        ),
    ),
    (
        ("SignatureScheme", "*.supported_signature_algorithms[*]"),
        _x(
            "Signature scheme",
            "RFC 8446 §4.2.3",
            """One signature algorithm with its hash, e.g. rsa_pss_rsae_sha256 or
            ecdsa_secp256r1_sha256.""",
        ),
    ),
    # key_share (RFC 8446 §4.2.8)
    (
        ("KeyShareClientHello.client_shares", "*.extension_data.client_shares"),
        _x(
            "Client key shares",
            "RFC 8446 §4.2.8",
            """The client's public keys, one per group it guesses the server will accept.
            Sending them in the first message is what makes TLS 1.3 a one-round-trip
            handshake.""",
        ),
    ),
    (
        ("KeyShareServerHello.server_share", "*.extension_data.server_share"),
        _x(
            "Server key share",
            "RFC 8446 §4.2.8",
            """The server's public key, on one of the groups the client sent a share
            for.""",
        ),
    ),
    (
        ("KeyShareEntry.group", "*.client_shares[*].group", "*.server_share.group"),
        _x(
            "Key share group",
            "RFC 8446 §4.2.8",
            """The group this public key belongs to.""",
        ),
    ),
    (
        ("KeyShareEntry.key_exchange", "*.client_shares[*].key_exchange", "*.server_share.key_exchange"),
        _x(
            "Public key share",
            "RFC 8446 §4.2.8",
            """The sender's ephemeral public key (32 bytes for x25519; an uncompressed
            point for the NIST curves). Each side combines its own private key with the
            peer's public key to get the same shared secret, which never crosses the
            wire.""",
        ),
    ),
    (
        ("KeyShareHelloRetryRequest.selected_group", "*.extension_data.selected_group"),
        _x(
            "Selected group",
            "RFC 8446 §4.2.8",
            """In a HelloRetryRequest: the group the server wants a key share for in the
            client's second ClientHello.""",
        ),
    ),
    # supported_versions (RFC 8446 §4.2.1)
    (
        ("SupportedVersions.versions", "*.extension_data.versions"),
        _x(
            "Supported versions",
            "RFC 8446 §4.2.1",
            """The protocol versions the client supports, most preferred first. Offering
            0x0304 here is how a client asks for TLS 1.3.""",
        ),
    ),
    (
        ("ProtocolVersion", "*.versions[*]"),
        _x(
            "Protocol version",
            "RFC 8446 §4.2.1",
            """One version: 0x0304 is TLS 1.3, 0x0303 TLS 1.2. GREASE values may appear
            too.""",
        ),
    ),
    (
        ("SupportedVersions.selected_version", "*.extension_data.selected_version"),
        _x(
            "Selected version",
            "RFC 8446 §4.2.1",
            """The version the server chose: 0x0304 (TLS 1.3). This, not legacy_version,
            is what makes the connection TLS 1.3.""",
        ),
    ),
    # cookie (RFC 8446 §4.2.2)
    (
        ("Cookie.cookie", "*.extension_data.cookie"),
        _x(
            "Cookie",
            "RFC 8446 §4.2.2",
            """An opaque value the server sends in a HelloRetryRequest and the client
            must echo in its second ClientHello. It lets a server stay stateless (it can
            store the hash of the first ClientHello in it) and check that the client can
            receive at its claimed address.""",
        ),
    ),
    # psk_key_exchange_modes (RFC 8446 §4.2.9)
    (
        ("PskKeyExchangeModes.ke_modes", "*.extension_data.ke_modes"),
        _x(
            "PSK key exchange modes",
            "RFC 8446 §4.2.9",
            """How the client is willing to use a pre-shared key when resuming:
            psk_dhe_ke (PSK plus a fresh (EC)DHE exchange, for forward secrecy) or psk_ke
            (PSK alone).""",
        ),
    ),
    (
        ("PskKeyExchangeMode", "*.ke_modes[*]"),
        _x(
            "PSK key exchange mode",
            "RFC 8446 §4.2.9",
            """psk_ke (0): PSK only. psk_dhe_ke (1): PSK combined with (EC)DHE.""",
        ),
    ),
    # pre_shared_key (RFC 8446 §4.2.11)
    (
        ("OfferedPsks.identities", "*.extension_data.identities"),
        _x(
            "PSK identities",
            "RFC 8446 §4.2.11",
            """The pre-shared keys the client offers, usually session tickets from an
            earlier connection.""",
        ),
    ),
    (
        ("PskIdentity.identity", "*.identities[*].identity"),
        _x(
            "PSK identity",
            "RFC 8446 §4.2.11",
            """The label of one PSK: for resumption, the ticket the server sent in
            NewSessionTicket.""",
        ),
    ),
    (
        ("PskIdentity.obfuscated_ticket_age", "*.identities[*].obfuscated_ticket_age"),
        _x(
            "Obfuscated ticket age",
            "RFC 8446 §4.2.11",
            """How long ago the client received the ticket, in milliseconds, plus the
            ticket's ticket_age_add modulo 2^32 -- so an observer cannot link the
            connections.""",
        ),
    ),
    (
        ("OfferedPsks.binders", "*.extension_data.binders"),
        _x(
            "PSK binders",
            "RFC 8446 §4.2.11.2",
            """One HMAC per offered PSK, over the ClientHello up to this point, keyed from
            that PSK. It proves that the client really holds the PSK and binds it to this
            handshake.""",
        ),
    ),
    (
        ("PskBinderEntry", "*.binders[*]"),
        _x(
            "PSK binder",
            "RFC 8446 §4.2.11.2",
            """HMAC(finished key derived from binder_key, Transcript-Hash(truncated
            ClientHello)).""",
        ),
    ),
    (
        ("PreSharedKeyExtension.selected_identity", "*.extension_data.selected_identity"),
        _x(
            "Selected PSK identity",
            "RFC 8446 §4.2.11",
            """In the ServerHello: the (0-based) index of the PSK the server accepted.""",
        ),
    ),
    # early_data (RFC 8446 §4.2.10)
    (
        ("EarlyDataIndication.max_early_data_size", "*.extension_data.max_early_data_size"),
        _x(
            "Maximum early data size",
            "RFC 8446 §4.2.10",
            """In a NewSessionTicket: how many bytes of 0-RTT data the client may send
            when it resumes with this ticket.""",
        ),
    ),
    # ALPN (RFC 7301)
    (
        ("ProtocolNameList.protocol_name_list", "*.extension_data.protocol_name_list"),
        _x(
            "Application protocols",
            "RFC 7301 §3.1",
            """Application-Layer Protocol Negotiation: the protocols the client can speak
            over this connection (e.g. "h2", "http/1.1"); the server answers with
            exactly one.""",
        ),
    ),
    (
        ("ProtocolName", "*.protocol_name_list[*]"),
        _x(
            "Protocol name",
            "RFC 7301 §3.1",
            """One application protocol name, as registered with IANA.""",
        ),
    ),
    # record_size_limit (RFC 8449)
    (
        ("RecordSizeLimit.record_size_limit", "*.extension_data.record_size_limit"),
        _x(
            "Record size limit",
            "RFC 8449 §4",
            """The largest record the sender is willing to receive, counted as protected
            plaintext (TLSInnerPlaintext, so 2^14 + 1 in TLS 1.3). Constrained devices use
            it to keep their buffers small.""",
        ),
    ),
    # renegotiation_info (RFC 5746)
    (
        ("RenegotiationInfo.renegotiated_connection", "*.extension_data.renegotiated_connection"),
        _x(
            "Renegotiated connection",
            "RFC 5746 §3.2",
            """A TLS 1.2 protection against renegotiation attacks; empty in a first
            handshake. TLS 1.3 has no renegotiation; the client sends it only in case the
            server negotiates TLS 1.2.""",
        ),
    ),
    # status_request (RFC 6066 §8, RFC 8446 §4.4.2.1)
    (
        ("CertificateStatusRequest.status_type", "*.extension_data.status_type"),
        _x(
            "Certificate status type",
            "RFC 6066 §8",
            """1 = ocsp: the client asks for (or the server staples) an OCSP response
            proving that the certificate is not revoked.""",
        ),
    ),
    (
        ("CertificateStatusRequest.responder_id_list", "*.extension_data.responder_id_list"),
        _x(
            "OCSP responder IDs",
            "RFC 6066 §8",
            """The OCSP responders the client trusts; usually empty, meaning any.""",
        ),
    ),
    (
        ("CertificateStatusRequest.request_extensions", "*.extension_data.request_extensions"),
        _x(
            "OCSP request extensions",
            "RFC 6066 §8",
            """Extensions for the OCSP request (such as a nonce); usually empty.""",
        ),
    ),
    (
        ("CertificateStatus.ocsp_response", "*.extension_data.ocsp_response"),
        _x(
            "Stapled OCSP response",
            "RFC 8446 §4.4.2.1",
            """A DER-encoded OCSP response for the certificate, signed by its CA, that
            the server attaches so the client need not ask the CA itself.""",
        ),
    ),
    # certificate_authorities (RFC 8446 §4.2.4)
    (
        ("CertificateAuthoritiesExtension.authorities", "*.extension_data.authorities"),
        _x(
            "Certificate authorities",
            "RFC 8446 §4.2.4",
            """The distinguished names of the CAs the sender trusts, to help the peer pick
            a certificate chain it will accept.""",
        ),
    ),
    (
        ("DistinguishedName", "*.authorities[*]"),
        _x(
            "Distinguished name",
            "RFC 8446 §4.2.4",
            """One CA name, DER-encoded as in X.509.""",
        ),
    ),
    # ec_point_formats (RFC 8422)
    (
        ("ECPointFormatList.ec_point_format_list", "*.extension_data.ec_point_format_list"),
        _x(
            "EC point formats",
            "RFC 8422 §5.1.2",
            """A TLS 1.2 extension listing elliptic curve point encodings; in TLS 1.3
            points are always uncompressed.""",
        ),
    ),
    (
        ("ECPointFormat", "*.ec_point_format_list[*]"),
        _x(
            "EC point format",
            "RFC 8422 §5.1.2",
            """0 = uncompressed.""",
        ),
    ),
    # --- EncryptedExtensions, CertificateRequest (RFC 8446 §4.3) -------------
    (
        ("CertificateRequest.certificate_request_context",),
        _x(
            "Certificate request context",
            "RFC 8446 §4.3.2",
            """An identifier the client echoes in its Certificate. It is empty during the
            handshake and distinguishes requests only in post-handshake authentication.""",
        ),
    ),
    # --- Certificate (RFC 8446 §4.4.2) ----------------------------------------
    (
        ("Certificate.certificate_request_context",),
        _x(
            "Certificate request context",
            "RFC 8446 §4.4.2",
            """Empty in a server's Certificate; in a client's, the value of the
            CertificateRequest it answers.""",
        ),
    ),
    (
        ("Certificate.certificate_list",),
        _x(
            "Certificate list",
            "RFC 8446 §4.4.2",
            """The chain, one CertificateEntry per certificate: the sender's own (leaf)
            certificate first, then each certificate that certifies the one before it.""",
        ),
    ),
    (
        ("CertificateEntry", "Certificate.certificate_list[*]"),
        _x(
            "Certificate entry",
            "RFC 8446 §4.4.2",
            """One certificate of the chain, with its per-certificate extensions.""",
        ),
    ),
    (
        ("CertificateEntry.cert_data", "*.certificate_list[*].cert_data"),
        _x(
            "X.509 certificate",
            "RFC 8446 §4.4.2",
            """One DER-encoded X.509 certificate: subject name, public key, validity
            period, extensions, and the issuer's signature over all of that.""",
        ),
    ),
    (
        ("CertificateEntry.extensions", "*.certificate_list[*].extensions"),
        _x(
            "Certificate entry extensions",
            "RFC 8446 §4.4.2",
            """Extensions for this one certificate, such as a stapled OCSP response
            (status_request) or certificate transparency timestamps.""",
        ),
    ),
    # --- CertificateVerify (RFC 8446 §4.4.3) -----------------------------------
    (
        ("CertificateVerify.algorithm",),
        _x(
            "Signature algorithm",
            "RFC 8446 §4.4.3",
            """The signature scheme used, one the peer offered in signature_algorithms.
            RSA signatures in TLS 1.3 must use PSS, never PKCS #1 v1.5.""",
        ),
    ),
    (
        ("CertificateVerify.signature",),
        _x(
            "Signature",
            "RFC 8446 §4.4.3",
            """The signature over 64 spaces (0x20), a context string ("TLS 1.3, server
            CertificateVerify"), a zero byte and the transcript hash. The padding and
            context stop a signature from being reused in another protocol or role.""",
        ),
    ),
    # --- Finished (RFC 8446 §4.4.4) --------------------------------------------
    (
        ("Finished.verify_data",),
        _x(
            "Verify data",
            "RFC 8446 §4.4.4",
            """HMAC(finished_key, Transcript-Hash(handshake so far)), where finished_key
            = HKDF-Expand-Label(sender's handshake traffic secret, "finished", "",
            Hash.length). The receiver computes the same value and compares.""",
        ),
    ),
    # --- NewSessionTicket (RFC 8446 §4.6.1) ------------------------------------
    (
        ("NewSessionTicket.ticket_lifetime",),
        _x(
            "Ticket lifetime",
            "RFC 8446 §4.6.1",
            """How long, in seconds, the client may use the ticket; at most 7 days.""",
        ),
    ),
    (
        ("NewSessionTicket.ticket_age_add",),
        _x(
            "Ticket age add",
            "RFC 8446 §4.6.1",
            """A random 32-bit value added to the ticket's age when the client presents
            it, so the age does not identify the client to an observer.""",
        ),
    ),
    (
        ("NewSessionTicket.ticket_nonce",),
        _x(
            "Ticket nonce",
            "RFC 8446 §4.6.1",
            """Unique per ticket: the PSK for resumption is HKDF-Expand-Label(
            resumption_master_secret, "resumption", ticket_nonce, Hash.length), so each
            ticket gets its own key.""",
        ),
    ),
    (
        ("NewSessionTicket.ticket",),
        _x(
            "Ticket",
            "RFC 8446 §4.6.1",
            """An opaque label the client sends back as a PSK identity. Servers often
            encrypt the PSK and session state into it so that they need not store
            anything.""",
        ),
    ),
    # --- KeyUpdate, message_hash ----------------------------------------------
    (
        ("KeyUpdate.request_update",),
        _x(
            "Request update",
            "RFC 8446 §4.6.3",
            """update_requested (1) asks the peer to update its sending keys too;
            update_not_requested (0) does not.""",
        ),
    ),
    (
        ("message_hash.hash_value",),
        _x(
            "Hash of the first ClientHello",
            "RFC 8446 §4.4.1",
            """Hash(ClientHello1), standing in for the first ClientHello in the
            transcript after a HelloRetryRequest.""",
        ),
    ),
]

FIELDS: dict[str, Explanation] = {}
for _patterns, _explanation in _FIELD_ENTRIES:
    for _pattern in _patterns:
        FIELDS[_pattern] = attrs.evolve(_explanation, key=_patterns[0])

VECTOR_LENGTH = _x(
    "Length prefix",
    "RFC 8446 §3.4",
    """Variable-length vectors start with their length in bytes. The size of the
    prefix follows from the vector's maximum: `<0..255>` takes one byte, `<2..2^16-2>`
    two. A receiver that finds the length inconsistent with what surrounds it
    aborts with decode_error.""",
)


# =============================================================================
# Extensions, by type name (shown beside each extension_type field)
# =============================================================================

EXTENSIONS: dict[str, Explanation] = {
    "server_name": _x(
        "server_name (SNI)",
        "RFC 6066 §3",
        """The host name the client is connecting to. The server answers with an empty
        server_name extension in EncryptedExtensions when it used the name.""",
    ),
    "max_fragment_length": _x(
        "max_fragment_length",
        "RFC 6066 §4",
        """Asks for records smaller than 2^14 bytes; superseded by record_size_limit.""",
    ),
    "status_request": _x(
        "status_request (OCSP stapling)",
        "RFC 6066 §8",
        """The client asks the server to staple a fresh OCSP response to its certificate;
        in TLS 1.3 the response travels in the CertificateEntry's extensions.""",
    ),
    "supported_groups": _x(
        "supported_groups",
        "RFC 8446 §4.2.7",
        """The key exchange groups the sender supports. In EncryptedExtensions the server
        may list its own preferences for the client's next connection.""",
    ),
    "ec_point_formats": _x(
        "ec_point_formats",
        "RFC 8422 §5.1.2",
        """A TLS 1.2 extension, sent in case the server negotiates TLS 1.2.""",
    ),
    "signature_algorithms": _x(
        "signature_algorithms",
        "RFC 8446 §4.2.3",
        """Which signature schemes the sender accepts from its peer in CertificateVerify
        and certificates. Mandatory when certificates are used.""",
    ),
    "signature_algorithms_cert": _x(
        "signature_algorithms_cert",
        "RFC 8446 §4.2.3",
        """Signature schemes accepted in certificates, when they differ from those
        accepted in CertificateVerify.""",
    ),
    "use_srtp": _x("use_srtp", "RFC 5764 §4.1.1", """Negotiates SRTP keying for DTLS-SRTP (media)."""),
    "heartbeat": _x("heartbeat", "RFC 6520 §2", """The TLS heartbeat extension (of Heartbleed fame)."""),
    "application_layer_protocol_negotiation": _x(
        "application_layer_protocol_negotiation (ALPN)",
        "RFC 7301 §3.1",
        """The client lists the application protocols it speaks; the server picks one in
        EncryptedExtensions.""",
    ),
    "signed_certificate_timestamp": _x(
        "signed_certificate_timestamp",
        "RFC 6962 §3.3",
        """Certificate Transparency: proof that the certificate was logged publicly.""",
    ),
    "client_certificate_type": _x(
        "client_certificate_type", "RFC 7250 §3", """Certificate formats the client can send (X.509 or raw keys)."""
    ),
    "server_certificate_type": _x(
        "server_certificate_type", "RFC 7250 §3", """Certificate formats the client accepts from the server."""
    ),
    "padding": _x(
        "padding",
        "RFC 7685 §3",
        """Zero bytes that grow the ClientHello past 512 bytes, because some old servers
        hang on ClientHellos between 256 and 511 bytes long.""",
    ),
    "encrypt_then_mac": _x(
        "encrypt_then_mac", "RFC 7366 §2", """A TLS 1.2 CBC fix, offered in case TLS 1.2 is negotiated."""
    ),
    "extended_master_secret": _x(
        "extended_master_secret",
        "RFC 7627 §4",
        """A TLS 1.2 fix binding the master secret to the handshake, offered in case
        TLS 1.2 is negotiated.""",
    ),
    "record_size_limit": _x(
        "record_size_limit",
        "RFC 8449 §4",
        """The largest record the sender wants to receive. Each side announces its own
        limit; the peer must respect it when sending.""",
    ),
    "session_ticket": _x(
        "session_ticket",
        "RFC 5077 §3.2",
        """TLS 1.2 session tickets, offered in case TLS 1.2 is negotiated; TLS 1.3 uses
        NewSessionTicket and pre_shared_key instead.""",
    ),
    "pre_shared_key": _x(
        "pre_shared_key",
        "RFC 8446 §4.2.11",
        """The PSKs (usually session tickets) the client offers for resumption, with
        binders proving it holds them; the server answers with the index it accepts. It
        must be the last extension of the ClientHello.""",
    ),
    "early_data": _x(
        "early_data",
        "RFC 8446 §4.2.10",
        """0-RTT: in a ClientHello, the client sends application data before the
        handshake completes; in EncryptedExtensions, the server accepts it; in a
        NewSessionTicket, how much early data the ticket allows.""",
    ),
    "supported_versions": _x(
        "supported_versions",
        "RFC 8446 §4.2.1",
        """The real version negotiation of TLS 1.3: the client lists versions, the
        server names the one it picked.""",
    ),
    "cookie": _x(
        "cookie",
        "RFC 8446 §4.2.2",
        """Sent by the server in a HelloRetryRequest; the client echoes it in its second
        ClientHello.""",
    ),
    "psk_key_exchange_modes": _x(
        "psk_key_exchange_modes",
        "RFC 8446 §4.2.9",
        """How the client may use PSKs: alone (psk_ke) or with a fresh (EC)DHE exchange
        (psk_dhe_ke). Sending it allows the server to issue tickets.""",
    ),
    "certificate_authorities": _x(
        "certificate_authorities",
        "RFC 8446 §4.2.4",
        """The CAs the sender trusts, so the peer can choose a chain it will accept.""",
    ),
    "oid_filters": _x(
        "oid_filters",
        "RFC 8446 §4.2.5",
        """In CertificateRequest: certificate extension values the client's certificate
        must have.""",
    ),
    "post_handshake_auth": _x(
        "post_handshake_auth",
        "RFC 8446 §4.2.6",
        """The client is willing to authenticate with a certificate after the handshake,
        when the server asks.""",
    ),
    "key_share": _x(
        "key_share",
        "RFC 8446 §4.2.8",
        """Ephemeral public keys for the (EC)DHE exchange: the client's guesses in
        ClientHello, the server's one share in ServerHello, or in a HelloRetryRequest the
        group the server wants instead.""",
    ),
    "renegotiation_info": _x(
        "renegotiation_info",
        "RFC 5746 §3.2",
        """The TLS 1.2 secure renegotiation indication, sent in case TLS 1.2 is
        negotiated.""",
    ),
}

UNKNOWN_EXTENSION = _x(
    "Unknown extension",
    "RFC 8446 §4.2",
    """An extension type teachtls does not know -- perhaps a GREASE value (RFC 8701),
    sent precisely to check that peers ignore unknown extensions.""",
)


# =============================================================================
# The key schedule (RFC 8446 §7)
# =============================================================================

SECRETS: dict[str, Explanation] = {
    "early_secret": _x(
        "Early Secret",
        "RFC 8446 §7.1",
        """HKDF-Extract(salt = 0, IKM = PSK, or zeros without one). The root of the key
        schedule; everything below depends on it.""",
    ),
    "early_secret_derived": _x(
        "derived (from Early Secret)",
        "RFC 8446 §7.1",
        """Derive-Secret(Early Secret, "derived", ""): the salt for extracting the
        Handshake Secret, so that the PSK stage and the (EC)DHE stage are chained.""",
    ),
    "binder_key": _x(
        "binder_key",
        "RFC 8446 §7.1",
        """Derived from the Early Secret ("res binder" or "ext binder"); keys the PSK
        binders in the ClientHello.""",
    ),
    "client_early_traffic_secret": _x(
        "client_early_traffic_secret",
        "RFC 8446 §7.1",
        """Protects 0-RTT early data, which is sent before the server has answered.""",
    ),
    "early_exporter_master_secret": _x(
        "early_exporter_master_secret",
        "RFC 8446 §7.5",
        """Lets applications export keying material for 0-RTT data.""",
    ),
    "handshake_secret": _x(
        "Handshake Secret",
        "RFC 8446 §7.1",
        """HKDF-Extract(salt = derived, IKM = (EC)DHE shared secret). Mixing in the fresh
        shared secret is what gives TLS 1.3 forward secrecy.""",
    ),
    "client_handshake_traffic_secret": _x(
        "client_handshake_traffic_secret",
        "RFC 8446 §7.1",
        """Derive-Secret(Handshake Secret, "c hs traffic", ClientHello..ServerHello).
        The client's keys for its encrypted handshake messages, and its finished_key,
        come from it.""",
    ),
    "server_handshake_traffic_secret": _x(
        "server_handshake_traffic_secret",
        "RFC 8446 §7.1",
        """Derive-Secret(Handshake Secret, "s hs traffic", ClientHello..ServerHello).
        Protects EncryptedExtensions through the server's Finished.""",
    ),
    "handshake_secret_derived": _x(
        "derived (from Handshake Secret)",
        "RFC 8446 §7.1",
        """Derive-Secret(Handshake Secret, "derived", ""): the salt for extracting the
        Master Secret.""",
    ),
    "master_secret": _x(
        "Master Secret",
        "RFC 8446 §7.1",
        """HKDF-Extract(salt = derived, IKM = 0). The root of the application traffic
        secrets, the exporter and the resumption secrets.""",
    ),
    "client_application_traffic_secret_N": _x(
        "client_application_traffic_secret_N",
        "RFC 8446 §7.1",
        """The client's application data keys: generation 0 is Derive-Secret(Master
        Secret, "c ap traffic", ClientHello..server Finished); each KeyUpdate moves to
        the next generation with HKDF-Expand-Label(..., "traffic upd").""",
    ),
    "server_application_traffic_secret_N": _x(
        "server_application_traffic_secret_N",
        "RFC 8446 §7.1",
        """The server's application data keys: generation 0 is Derive-Secret(Master
        Secret, "s ap traffic", ClientHello..server Finished); KeyUpdate moves to the
        next generation.""",
    ),
    "exporter_master_secret": _x(
        "exporter_master_secret",
        "RFC 8446 §7.5",
        """Derive-Secret(Master Secret, "exp master", ClientHello..server Finished). Lets
        applications derive their own keys bound to this connection (RFC 5705
        exporters).""",
    ),
    "resumption_master_secret": _x(
        "resumption_master_secret",
        "RFC 8446 §7.1",
        """Derive-Secret(Master Secret, "res master", ClientHello..client Finished). Every
        session ticket's PSK is derived from it.""",
    ),
    "resumption_psk[*]": _x(
        "Resumption PSK",
        "RFC 8446 §4.6.1",
        """HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce,
        Hash.length): the pre-shared key the client will use with the ticket that
        carried this ticket_nonce.""",
    ),
    "finished_key": _x(
        "finished_key",
        "RFC 8446 §4.4.4",
        """HKDF-Expand-Label(handshake traffic secret, "finished", "", Hash.length): the
        HMAC key for verify_data.""",
    ),
}


def explain_secret(name: str) -> Explanation | None:
    """The explanation of a key schedule secret, by its trace name."""
    normalized = re.sub(r"\[[0-9a-fA-F]*\]$", "[*]", name)
    normalized = re.sub(r"_\d+$", "_N", normalized)
    found = SECRETS.get(normalized)
    return None if found is None else attrs.evolve(found, key=normalized)


# The computations a page shows between records.
STEPS: dict[str, Explanation] = {
    "HKDF-Extract": _x(
        "HKDF-Extract",
        "RFC 5869 §2.2",
        """HMAC(salt, input keying material): concentrates the entropy of the input into
        a fixed-size pseudorandom key.""",
    ),
    "Derive-Secret": _x(
        "Derive-Secret",
        "RFC 8446 §7.1",
        """HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages), Hash.length): a new
        secret bound both to its purpose (the label) and to the handshake so far (the
        transcript hash).""",
    ),
    "HKDF-Expand-Label": _x(
        "HKDF-Expand-Label",
        "RFC 8446 §7.1",
        """HKDF-Expand with a structured info: length, "tls13 " + label, and a context
        value.""",
    ),
    "KeysInstalled": _x(
        "Traffic keys",
        "RFC 8446 §7.3",
        """write_key = HKDF-Expand-Label(traffic secret, "key", "", key_length) and
        write_iv = HKDF-Expand-Label(traffic secret, "iv", "", 12). From now on records in
        this direction are protected with them.""",
    ),
    "KeyExchangeComputed": _x(
        "(EC)DHE shared secret",
        "RFC 8446 §7.4",
        """Each side combines its own private key with the other side's public key share.
        Both get the same shared secret, although it never crossed the wire; it is the
        input keying material of the Handshake Secret.""",
    ),
    "TranscriptUpdated": _x(
        "Transcript hash",
        "RFC 8446 §4.4.1",
        """Hash of all handshake messages so far, in order, headers included. Secrets,
        signatures and Finished values are bound to it.""",
    ),
    "SignatureCreated": _x(
        "CertificateVerify signature",
        "RFC 8446 §4.4.3",
        """Signed content: 64 bytes of 0x20, the context string, a zero byte and the
        transcript hash through Certificate.""",
    ),
    "SignatureVerified": _x(
        "CertificateVerify signature checked",
        "RFC 8446 §4.4.3",
        """The receiver rebuilds the signed content from its own transcript and checks
        the signature with the public key of the peer's certificate.""",
    ),
    "FinishedComputed": _x(
        "Finished computed",
        "RFC 8446 §4.4.4",
        """verify_data = HMAC(finished_key, transcript hash).""",
    ),
    "FinishedVerified": _x(
        "Finished checked",
        "RFC 8446 §4.4.4",
        """The receiver computes the verify_data it expects and compares it, in constant
        time, with the one received.""",
    ),
    "CertificateChecked": _x(
        "Certificate chain checked",
        "RFC 8446 §4.4.2.4",
        """The peer's chain must lead to a trusted root, each certificate must be within
        its validity period, and the leaf must name the server the client wanted.""",
    ),
    "nonce": _x(
        "Per-record nonce",
        "RFC 8446 §5.3",
        """The 64-bit record sequence number, left-padded to the IV length, XORed with
        write_iv. Every record gets a fresh nonce without sending one.""",
    ),
    "additional_data": _x(
        "Additional data",
        "RFC 8446 §5.2",
        """The 5-byte record header. It is not encrypted but is authenticated by the
        tag, so it cannot be altered either.""",
    ),
}


# =============================================================================
# Checks the handshake performs (CheckPerformed.check)
# =============================================================================

CHECKS: dict[str, Explanation] = {
    "version_in_common": _x(
        "A protocol version both sides speak",
        "RFC 8446 §4.2.1",
        """The server picks the highest version it supports among those the client offers in
        supported_versions (or, without that extension, TLS 1.2 if legacy_version is 0x0303). With
        none in common, the only answer is a protocol_version alert.""",
    ),
    "cookie": _x(
        "The ClientHello returns the server's cookie",
        "RFC 6347 §4.2.1",
        """A DTLS server answers a ClientHello without a valid cookie with a HelloVerifyRequest and
        keeps no state. The cookie is a MAC, under a secret only the server knows, of the client's
        address and hello parameters, so only a client that really receives datagrams at its
        source address can return it: a spoofed address gets one small reply, never the large
        certificate flight, and costs the server no memory.""",
    ),
    "hello_retry_request_cookie": _x(
        "The second ClientHello returns the HelloRetryRequest's cookie",
        "RFC 9147 §5.1",
        """A DTLS 1.3 server answers a ClientHello without a cookie with a HelloRetryRequest
        carrying one, and forgets the ClientHello: the cookie itself holds what the handshake
        needs later (the hash of the first ClientHello, the cipher suite and group), under a MAC
        of the client's address. A cookie the server did not make for this address ends the
        handshake with illegal_parameter.""",
    ),
    "legacy_cookie_empty": _x(
        "The DTLS 1.3 ClientHello's legacy_cookie is empty",
        "RFC 9147 §5.3",
        """DTLS 1.3 keeps DTLS 1.2's ClientHello.cookie field for compatibility, renamed
        legacy_cookie, but moves the cookie into a HelloRetryRequest extension. A DTLS 1.3
        ClientHello with anything in legacy_cookie is answered with illegal_parameter.""",
    ),
    "null_compression_offered": _x(
        "The null compression method is offered",
        "RFC 5246 §7.4.1.2",
        """Every TLS 1.2 ClientHello must offer compression method 0 (none). Compression was
        dropped after the CRIME attack showed how it leaks secrets through record lengths.""",
    ),
    "renegotiation_info_empty": _x(
        "Empty renegotiation_info in a first handshake",
        "RFC 5746 §3.4",
        """In the first handshake of a connection the renegotiation_info extension carries nothing:
        there is no earlier Finished to prove. A non-empty value means someone is splicing
        handshakes together, the attack RFC 5746 exists to stop.""",
    ),
    "renegotiation_info_verify_data": _x(
        "The re-handshake proves it continues this connection",
        "RFC 5746 §3.5",
        """In a renegotiation, the hellos carry the last Finished values (client's, then
        server's). An attacker who injected his own handshake first cannot know them, so the
        prefix-injection attack of 2009 fails here.""",
    ),
    "extended_master_secret_on_resumption": _x(
        "A resumed session keeps the extended master secret",
        "RFC 7627 §5.3",
        """A session whose master secret was bound to its handshake (extended master secret) must
        not be resumed without that extension, or the triple-handshake attack becomes possible
        again; nor may a session without it be resumed as if it had it.""",
    ),
    "no_scsv_in_renegotiation": _x(
        "No renegotiation SCSV in a re-handshake",
        "RFC 5746 §3.7",
        """TLS_EMPTY_RENEGOTIATION_INFO_SCSV signals RFC 5746 support in a *first* ClientHello
        only; in a renegotiating ClientHello it means something is wrong, and the server aborts.""",
    ),
    "ec_curve_type_named": _x(
        "The ECDH parameters name a curve",
        "RFC 8422 §5.4",
        """A TLS 1.2 ServerKeyExchange must use a named curve (curve_type 3). Explicit curve
        parameters were deprecated: a server could otherwise make a client compute on a weak curve.""",
    ),
    "ec_curve_offered": _x(
        "The server's curve was offered",
        "RFC 8422 §5.4",
        """The ServerKeyExchange must use a curve from the client's supported_groups.""",
    ),
    "server_key_exchange_algorithm": _x(
        "The ServerKeyExchange signature scheme was offered",
        "RFC 5246 §7.4.3",
        """The server signs its ECDH parameters with a scheme from the client's
        signature_algorithms that fits its certificate's key.""",
    ),
    "server_key_exchange_signature": _x(
        "The ServerKeyExchange signature verifies",
        "RFC 5246 §7.4.3",
        """The signature covers client_random + server_random + the ECDH parameters. It is what
        authenticates a TLS 1.2 ECDHE handshake: without it a man in the middle could substitute
        his own key. (TLS 1.3 signs the whole transcript in CertificateVerify instead.)""",
    ),
    "tls13_offered": _x(
        "The client offers TLS 1.3",
        "RFC 8446 §4.2.1",
        """The ClientHello must list 0x0304 in supported_versions; a TLS 1.3-only server
        cannot talk to a client that does not.""",
    ),
    "legacy_compression_methods": _x(
        "No compression offered",
        "RFC 8446 §4.1.2",
        """A TLS 1.3 ClientHello must offer exactly one compression method, null (0).""",
    ),
    "cookie_echoed": _x(
        "Cookie echoed",
        "RFC 8446 §4.2.2",
        """After a HelloRetryRequest with a cookie, the second ClientHello must echo
        it.""",
    ),
    "key_share_after_hello_retry_request": _x(
        "Key share for the requested group",
        "RFC 8446 §4.1.2",
        """After a HelloRetryRequest, the second ClientHello must carry exactly one key
        share, for the group the server named.""",
    ),
    "key_share_groups": _x(
        "Key shares match supported groups",
        "RFC 8446 §4.2.8",
        """Each key share must be for a group listed in supported_groups, and no group
        may have two shares.""",
    ),
    "selected_version": _x(
        "Selected version was offered",
        "RFC 8446 §4.2.1",
        """The server must select a version the client offered.""",
    ),
    "legacy_session_id_echo": _x(
        "Session ID echoed",
        "RFC 8446 §4.1.3",
        """legacy_session_id_echo must equal the client's legacy_session_id.""",
    ),
    "cipher_suite_offered": _x(
        "Cipher suite was offered",
        "RFC 8446 §4.1.3",
        """The server must choose a cipher suite from the client's list.""",
    ),
    "legacy_compression_method": _x(
        "No compression selected",
        "RFC 8446 §4.1.3",
        """legacy_compression_method must be 0.""",
    ),
    "key_share_group_offered": _x(
        "Server key share on an offered group",
        "RFC 8446 §4.2.8",
        """The server's key share must be for a group the client sent a share for.""",
    ),
    "downgrade_sentinel": _x(
        "No downgrade sentinel",
        "RFC 8446 §4.1.3",
        """A TLS 1.3 client that ends up negotiating an older version must check that
        ServerHello.random does not end in the downgrade sentinel, which would reveal an
        attacker forcing the downgrade.""",
    ),
    "legacy_version_above_ssl3": _x(
        "legacy_version is not SSL 3.0",
        "RFC 8446 §D.5",
        """A ClientHello or ServerHello whose legacy_version is 0x0300 (SSL 3.0) or less is
        refused with protocol_version, even when supported_versions offers TLS 1.3: SSL 3.0
        is broken (POODLE) and no modern peer ever sends it.""",
    ),
    "selected_version_retained": _x(
        "The version chosen in the HelloRetryRequest stays",
        "RFC 8446 §4.1.4",
        """A HelloRetryRequest already selects TLS 1.3; the ServerHello that follows must keep
        that version. One without supported_versions (TLS 1.2) is illegal_parameter.""",
    ),
    "cipher_suite_matches_hello_retry_request": _x(
        "Same cipher suite as the HelloRetryRequest",
        "RFC 8446 §4.1.4",
        """The ServerHello after a HelloRetryRequest must select the same cipher suite.""",
    ),
    "single_hello_retry_request": _x(
        "At most one HelloRetryRequest",
        "RFC 8446 §4.1.4",
        """A client that receives a second HelloRetryRequest aborts with
        unexpected_message.""",
    ),
    "hello_retry_request_group_supported": _x(
        "Requested group is supported",
        "RFC 8446 §4.2.8",
        """The group named in a HelloRetryRequest must be one the client listed in
        supported_groups.""",
    ),
    "hello_retry_request_group_new": _x(
        "Requested group is new",
        "RFC 8446 §4.2.8",
        """The HelloRetryRequest must not ask for a group the client already sent a key
        share for.""",
    ),
    "hello_retry_request_changes_something": _x(
        "HelloRetryRequest changes something",
        "RFC 8446 §4.1.4",
        """A HelloRetryRequest that would not change the ClientHello is an
        illegal_parameter.""",
    ),
    "psk_binders_count": _x(
        "One binder per PSK identity",
        "RFC 8446 §4.2.11",
        """The pre_shared_key extension must carry exactly as many binders as
        identities.""",
    ),
    "psk_binder": _x(
        "PSK binder valid",
        "RFC 8446 §4.2.11.2",
        """The binder of the PSK the server picked must verify: it proves that the client
        holds that PSK and binds it to this ClientHello. Otherwise decrypt_error.""",
    ),
    "selected_identity_in_range": _x(
        "Selected PSK was offered",
        "RFC 8446 §4.2.11",
        """The server's selected_identity must index one of the PSKs the client
        offered.""",
    ),
    "psk_cipher_suite_hash": _x(
        "Cipher suite matches the PSK's hash",
        "RFC 8446 §4.2.11",
        """When resuming, the server must choose a cipher suite with the same hash as the
        one the PSK was established with.""",
    ),
    "psk_key_exchange_mode_offered": _x(
        "PSK mode was offered",
        "RFC 8446 §4.2.9",
        """A server resuming a session must use a PSK key exchange mode the client
        listed in psk_key_exchange_modes.""",
    ),
    "alpn_selected_from_offer": _x(
        "ALPN choice was offered",
        "RFC 7301 §3.2",
        """The server's application protocol must be one the client offered.""",
    ),
    "record_size_limit_minimum": _x(
        "record_size_limit at least 64",
        "RFC 8449 §4",
        """A record_size_limit below 64 is an illegal_parameter.""",
    ),
    "certificate_request_context_empty": _x(
        "Empty certificate_request_context",
        "RFC 8446 §4.4.2",
        """During the handshake, certificate_request_context must be empty.""",
    ),
    "certificate_request_context_echoed": _x(
        "certificate_request_context echoed",
        "RFC 8446 §4.4.2",
        """The client's Certificate must echo the CertificateRequest's context.""",
    ),
    "certificate_verify_algorithm": _x(
        "Signature algorithm allowed",
        "RFC 8446 §4.4.3",
        """The CertificateVerify algorithm must be one offered in signature_algorithms
        and allowed in TLS 1.3 (no PKCS #1 v1.5, no SHA-1).""",
    ),
    "certificate_verify_signature": _x(
        "CertificateVerify signature valid",
        "RFC 8446 §4.4.3",
        """The signature must verify with the certificate's public key over the content
        rebuilt from the receiver's own transcript; otherwise decrypt_error.""",
    ),
    "server_finished": _x(
        "Server Finished correct",
        "RFC 8446 §4.4.4",
        """The server's verify_data must match the value the client computes; otherwise
        decrypt_error.""",
    ),
    "client_finished": _x(
        "Client Finished correct",
        "RFC 8446 §4.4.4",
        """The client's verify_data must match the value the server computes; otherwise
        decrypt_error.""",
    ),
}


# =============================================================================
# Alerts (RFC 8446 §6)
# =============================================================================

ALERTS: dict[str, Explanation] = {
    "close_notify": _x(
        "close_notify",
        "RFC 8446 §6.1",
        """An orderly end: the sender will send nothing more. Without it, a truncation
        attack could cut data short unnoticed.""",
    ),
    "user_canceled": _x(
        "user_canceled", "RFC 8446 §6.1", """The sender aborts the handshake for a non-error reason."""
    ),
    "unexpected_message": _x(
        "unexpected_message", "RFC 8446 §6.2", """A message arrived that is not allowed in the current state."""
    ),
    "bad_record_mac": _x(
        "bad_record_mac",
        "RFC 8446 §6.2",
        """A record could not be decrypted: its AEAD tag did not verify. Either it was
        tampered with, or the two sides have different keys.""",
    ),
    "record_overflow": _x("record_overflow", "RFC 8446 §6.2", """A record was longer than allowed."""),
    "handshake_failure": _x(
        "handshake_failure",
        "RFC 8446 §6.2",
        """The sender could not agree on acceptable parameters (no common cipher suite or
        group, for example).""",
    ),
    "bad_certificate": _x("bad_certificate", "RFC 8446 §6.2", """A certificate was corrupt or had a bad signature."""),
    "unsupported_certificate": _x(
        "unsupported_certificate", "RFC 8446 §6.2", """A certificate was of an unsupported type."""
    ),
    "certificate_revoked": _x("certificate_revoked", "RFC 8446 §6.2", """A certificate was revoked by its issuer."""),
    "certificate_expired": _x(
        "certificate_expired", "RFC 8446 §6.2", """A certificate has expired or is not yet valid."""
    ),
    "certificate_unknown": _x(
        "certificate_unknown", "RFC 8446 §6.2", """Some other problem made a certificate unacceptable."""
    ),
    "illegal_parameter": _x(
        "illegal_parameter",
        "RFC 8446 §6.2",
        """A field was well-formed but its value is not allowed here (for example, a
        cipher suite that was never offered).""",
    ),
    "unknown_ca": _x(
        "unknown_ca", "RFC 8446 §6.2", """The certificate chain does not lead to a trusted certificate authority."""
    ),
    "access_denied": _x("access_denied", "RFC 8446 §6.2", """The peer is authenticated but not allowed in."""),
    "decode_error": _x(
        "decode_error",
        "RFC 8446 §6.2",
        """A message could not be decoded: a field out of range or a wrong length.""",
    ),
    "decrypt_error": _x(
        "decrypt_error",
        "RFC 8446 §6.2",
        """A cryptographic check of the handshake failed: a signature that does not
        verify, or a Finished value that does not match.""",
    ),
    "protocol_version": _x("protocol_version", "RFC 8446 §6.2", """No protocol version both sides support."""),
    "insufficient_security": _x(
        "insufficient_security", "RFC 8446 §6.2", """The peer's parameters are weaker than the sender requires."""
    ),
    "internal_error": _x("internal_error", "RFC 8446 §6.2", """A failure inside the sender, not the peer's fault."""),
    "inappropriate_fallback": _x(
        "inappropriate_fallback", "RFC 7507 §2", """A version fallback the server considers an attack."""
    ),
    "missing_extension": _x(
        "missing_extension", "RFC 8446 §6.2", """A mandatory extension is missing from a message."""
    ),
    "unsupported_extension": _x(
        "unsupported_extension",
        "RFC 8446 §6.2",
        """An extension appeared in a response that was not requested, or in a message
        where it is not allowed.""",
    ),
    "unrecognized_name": _x("unrecognized_name", "RFC 6066 §3", """The server has no site for the SNI name."""),
    "bad_certificate_status_response": _x(
        "bad_certificate_status_response", "RFC 6066 §8", """The stapled OCSP response was invalid."""
    ),
    "unknown_psk_identity": _x("unknown_psk_identity", "RFC 8446 §6.2", """No acceptable PSK identity was offered."""),
    "certificate_required": _x(
        "certificate_required", "RFC 8446 §6.2", """The server requires a client certificate and none was sent."""
    ),
    "no_application_protocol": _x(
        "no_application_protocol", "RFC 7301 §3.2", """No application protocol both sides support (ALPN)."""
    ),
}

GENERIC_ALERT = _x("Alert", "RFC 8446 §6", """An alert closes the connection; see its description.""")
RESERVED_ALERT = _x(
    "Reserved alert",
    "RFC 8446 §B.2",
    """An alert of older TLS versions (SSL 3.0 to TLS 1.2) that TLS 1.3 reserves and never sends.""",
)


# =============================================================================
# Lookup
# =============================================================================


def normalize(path: str) -> str:
    """`ClientHello.extensions[3].extension_type` -> `ClientHello.extensions[*].extension_type`."""
    return re.sub(r"\[\d+\]", "[*]", path)


def _lookup(normalized: str) -> Explanation | None:
    if normalized in FIELDS:
        return FIELDS[normalized]
    parts = normalized.split(".")
    for k in range(1, len(parts)):
        found = FIELDS.get("*." + ".".join(parts[k:]))
        if found is not None:
            return found
    return None


def explain_field(path: str, *, extension: str = "") -> Explanation | None:
    """The explanation of a field path, or None when the catalogue has none.

    `extension` (the name of the enclosing extension, if the page knows it)
    lets an undecoded extension body be explained by its extension."""
    normalized = normalize(path)
    parts = normalized.split(".")
    # the Handshake header of every message: "<Message>.msg_type", "<Message>.length"
    if len(parts) == 2 and parts[1] in ("msg_type", "length") and parts[0] in MESSAGES:
        return FIELDS["Handshake." + parts[1]]
    if normalized.endswith(".extension_data.data") and extension:
        return attrs.evolve(EXTENSIONS.get(extension, UNKNOWN_EXTENSION), key=f"extension {extension}")
    found = _lookup(normalized)
    if found is not None:
        return found
    if parts[-1] == "length" and len(parts) > 1:
        parent = ".".join(parts[:-1])
        of = _lookup(parent) or _lookup(parent + "[*]")
        if of is not None:
            title = (
                of.title
                if of.title[1:2].isupper() or not of.title[1:2].isalpha()
                else of.title[0].lower() + of.title[1:]
            )
            return attrs.evolve(
                VECTOR_LENGTH,
                title=f"Length of the {title}",
                key=f"{of.key}.length",
            )
    return None


def explain_message(name: str) -> Explanation | None:
    return MESSAGES.get(name)


def explain_extension(name: str) -> Explanation:
    return EXTENSIONS.get(name, UNKNOWN_EXTENSION)


def explain_check(check: str) -> Explanation | None:
    return CHECKS.get(check)


def explain_alert(description: str) -> Explanation:
    if description.endswith("_RESERVED"):
        return attrs.evolve(RESERVED_ALERT, title=description)
    return ALERTS.get(description, GENERIC_ALERT)


def explain_step(name: str) -> Explanation | None:
    """A computation shown between records: an event class name or an HKDF operation."""
    return STEPS.get(name)
