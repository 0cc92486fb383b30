"""What the TLS 1.2 client and server do alike (RFC 5246, RFC 7627, RFC 5746).

TLS 1.2 in one paragraph, the way a TLS 1.3 reader sees it: the version and
cipher suite are chosen in the hellos as in 1.3, but the key exchange comes
*after* the ServerHello -- the server signs its ephemeral ECDH key in a
ServerKeyExchange, the client answers with a ClientKeyExchange -- and only
then do both sides compute keys:

    pre_master_secret  = ECDH shared secret (or 48 random bytes sent under RSA)
    master_secret      = PRF(pre_master_secret, "extended master secret",
                             session_hash)                       RFC 7627 §4
                         (or "master secret", client_random + server_random,
                          the original RFC 5246 §8.1 form)
    key_block          = PRF(master_secret, "key expansion",
                             server_random + client_random)      RFC 5246 §6.3
    verify_data        = PRF(master_secret, "client finished" | "server finished",
                             Hash(handshake_messages))[0..11]    RFC 5246 §7.4.9

A ChangeCipherSpec record tells the peer "my next record uses the new
keys" (RFC 5246 §7.1); each side's Finished is the first record under them.
Nothing but the Finished messages is encrypted during the handshake -- the
certificate travels in the clear, which TLS 1.3 changed.

What teachtls adds here and TLS 1.3 does not have:

* the extended master secret (RFC 7627), on by default, which binds the
  master secret to the whole handshake and defeats the triple-handshake attack;
* secure renegotiation (RFC 5746): each re-handshake proves, inside its
  hellos, that it continues the same connection (the last Finished values);
* resumption by session ID and by RFC 5077 ticket, both carrying the
  master secret in `SessionState.master_secret`.
"""

from __future__ import annotations

import attrs

from teachtls.crypto.hashes import HashAlg, constant_time_equal
from teachtls.crypto.record12 import RecordProtection12, new_record_protection
from teachtls.crypto.suites12 import SUITES_12, CipherSuite12, CipherSuite12Params
from teachtls.handshake import alerts
from teachtls.handshake.common13 import Handshake13
from teachtls.handshake.states import CLIENT_12, SERVER_12, RecordMessage, State
from teachtls.keyschedule import tls12 as keyschedule12
from teachtls.trace import events as trace
from teachtls.wire.enums import AlertDescription, AlertLevel, ContentType, ExtensionType, ProtocolVersion
from teachtls.wire.extensions import ALLOWED_CONTEXTS, Extension
from teachtls.wire.messages import Finished, HandshakeMessage
from teachtls.wire.messages12 import Certificate12, message_classes_12

# Extensions a TLS 1.2 ServerHello may carry, each an answer to the client's
# (RFC 5246 §7.4.1.4: "an extension type MUST NOT appear in the ServerHello
# unless the same extension type appeared in the corresponding ClientHello").
SERVER_HELLO_12_EXTENSIONS = frozenset(
    {
        ExtensionType.server_name,
        ExtensionType.renegotiation_info,
        ExtensionType.extended_master_secret,
        ExtensionType.ec_point_formats,
        ExtensionType.session_ticket,
        ExtensionType.application_layer_protocol_negotiation,
        ExtensionType.status_request,
        ExtensionType.record_size_limit,
        ExtensionType.max_fragment_length,
    }
)

# Extensions that exist only in TLS 1.3 (RFC 8446 §4.2 table, "TLS 1.3" column).
TLS13_ONLY_EXTENSIONS = frozenset(
    {
        ExtensionType.supported_versions,
        ExtensionType.key_share,
        ExtensionType.pre_shared_key,
        ExtensionType.psk_key_exchange_modes,
        ExtensionType.early_data,
        ExtensionType.cookie,
        ExtensionType.post_handshake_auth,
        ExtensionType.signature_algorithms_cert,
    }
)


@attrs.define
class RecordProtection12State:
    """One direction's TLS 1.2 record protection and its sequence number."""

    protection: str
    secret_name: str
    protector: RecordProtection12
    sequence_number: int = 0


class Handshake12(Handshake13):
    """Shared TLS 1.2 steps; mixed into the client and server connections."""

    def init_tls12(self) -> None:
        self.params12: CipherSuite12Params | None = None
        self.pre_master_secret = b""
        self.use_extended_master_secret = False
        self.secure_renegotiation = False  # RFC 5746: both sides support it
        self.client_verify_data = b""  # the last Finished values, for RFC 5746
        self.server_verify_data = b""
        self.renegotiating = False
        self.handshake_messages: list[bytes] = []  # for CertificateVerify (RFC 5246 §7.4.8)
        self.session_id = b""
        self.resuming = False

    # --- entering TLS 1.2 ------------------------------------------------------------

    def enter_tls12(self, suite: int) -> None:
        """Switch this connection to the TLS 1.2 machine and suite."""
        params = SUITES_12[suite]
        self.version = ProtocolVersion.TLS1_2
        self.params12 = params
        self.machine = f"{self.role}12"
        self.table = CLIENT_12 if self.role == "client" else SERVER_12
        self.message_classes = message_classes_12("RSA" if params.key_exchange == "RSA" else "ECDHE")
        self.state_machine_rfc = "RFC 5246 §7.3"
        self.cipher_suite = CipherSuite12(suite)  # type: ignore[assignment]
        self.transcript.start(params.prf_hash)

    @property
    def prf_hash(self) -> HashAlg:
        assert self.params12 is not None
        return self.params12.prf_hash

    def received(self, raw: bytes, name: str) -> None:
        super().received(raw, name)
        if self.version == ProtocolVersion.TLS1_2 or not self.version:
            self.handshake_messages.append(raw)

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        raw = super().send_handshake(message, transcript=transcript)
        if transcript:
            self.handshake_messages.append(raw)
        return raw

    def check_extensions_12(self, extensions: tuple[Extension, ...], offered: set[int]) -> None:
        """RFC 5246 §7.4.1.4: a TLS 1.2 ServerHello answers only what was offered."""
        seen: set[int] = set()
        for extension in extensions:
            extension_type = int(extension.extension_type)
            if extension_type in seen:
                raise alerts.IllegalParameter(
                    f"ServerHello contains two {extension.extension_type!s} extensions", rfc="RFC 5246 §7.4.1.4"
                )
            seen.add(extension_type)
            if extension_type in TLS13_ONLY_EXTENSIONS or (
                extension_type in ALLOWED_CONTEXTS and extension_type not in SERVER_HELLO_12_EXTENSIONS
            ):
                raise alerts.IllegalParameter(
                    f"a TLS 1.2 ServerHello must not carry {ExtensionType(extension_type).name}",
                    rfc="RFC 8446 §4.2",
                )
            if extension_type not in offered:
                raise alerts.UnsupportedExtension(
                    f"the ServerHello answers {extension.extension_type!s}, which was not offered",
                    rfc="RFC 5246 §7.4.1.4",
                )

    # --- certificates ------------------------------------------------------------------

    def send_certificate_12(self) -> None:
        chain = self.config.certificate_chain_der
        self.send_handshake(Certificate12(certificate_list=chain))

    # --- the key schedule (RFC 5246 §8.1, §6.3; RFC 7627) -------------------------------

    def compute_master_secret(self, client_random: bytes, server_random: bytes) -> None:
        """master_secret from pre_master_secret, extended (RFC 7627) when agreed."""
        hash_alg = self.prf_hash
        self.secrets["pre_master_secret"] = self.pre_master_secret
        if self.use_extended_master_secret:
            # RFC 7627 §3: session_hash = Hash(handshake messages through ClientKeyExchange).
            session_hash = self.transcript_hash()
            value = keyschedule12.extended_master_secret(hash_alg, self.pre_master_secret, session_hash)
            label, rfc = "extended master secret", "RFC 7627 §4"
            inputs: tuple[str, ...] = ("session_hash",)
            through = self.transcript.last_message
        else:
            value = keyschedule12.master_secret(hash_alg, self.pre_master_secret, client_random, server_random)
            label, inputs, rfc = "master secret", ("ClientHello.random", "ServerHello.random"), "RFC 5246 §8.1"
            session_hash, through = b"", ""
        self.record_master_secret(value, label, inputs, rfc, session_hash, through)

    def record_master_secret(
        self, value: bytes, label: str, inputs: tuple[str, ...], rfc: str, session_hash: bytes = b"", through: str = ""
    ) -> None:
        self.secrets["master_secret"] = value
        self.observe(
            trace.SecretDerived(
                role=self.role,
                name="master_secret",
                operation="PRF",
                label=label,
                parent="pre_master_secret",
                inputs=inputs,
                transcript_through=through,
                transcript_hash=session_hash,
                value=value,
                rfc=rfc,
            )
        )

    def compute_key_block(self, client_random: bytes, server_random: bytes) -> keyschedule12.KeyBlock:
        params = self.params12
        assert params is not None
        block = keyschedule12.key_block(
            self.prf_hash, self.secrets["master_secret"], server_random, client_random, params.key_block_length
        )
        self.secrets["key_block"] = block
        self.observe(
            trace.SecretDerived(
                role=self.role,
                name="key_block",
                operation="PRF",
                label="key expansion",
                parent="master_secret",
                inputs=("server_random + client_random",),
                value=block,
                rfc="RFC 5246 §6.3",
            )
        )
        self.key_block_parts = keyschedule12.split_key_block(params, block)
        return self.key_block_parts

    def install_keys_12(self, direction: str) -> None:
        """Start using the key block for `direction` (after a ChangeCipherSpec)."""
        params = self.params12
        assert params is not None
        parts = self.key_block_parts
        sender = self.role if direction == "write" else ("server" if self.role == "client" else "client")
        key = getattr(parts, f"{sender}_write_key")
        iv = getattr(parts, f"{sender}_write_IV")
        mac_key = getattr(parts, f"{sender}_write_MAC_key")
        if direction == "read" and self._handshake_in:
            raise alerts.UnexpectedMessage(
                "handshake message data precedes ChangeCipherSpec in the same record", rfc="RFC 5246 §7.1"
            )
        self.observe(
            trace.KeysInstalled(
                role=self.role,
                direction=direction,
                protection="application",
                secret_name=f"key_block ({sender}_write)",
                cipher_suite=params.name,
                key=key,
                iv=iv,
                rfc="RFC 5246 §6.3",
            )
        )
        protector = new_record_protection(
            params, write_key=key, write_IV=iv, write_MAC_key=mac_key, random=self.config.random
        )
        state = RecordProtection12State("application", f"key_block ({sender}_write)", protector)
        if direction == "read":
            self._read = state  # type: ignore[assignment]
        else:
            self.flush()
            self._write = state  # type: ignore[assignment]

    # --- ChangeCipherSpec and Finished (RFC 5246 §7.1, §7.4.9) ----------------------------

    def send_change_cipher_spec_12(self) -> None:
        """ChangeCipherSpec, then switch our writing side to the new keys."""
        self.flush()
        self.write_record(ContentType.change_cipher_spec, b"\x01")
        self.install_keys_12("write")

    def on_change_cipher_spec_12(self, message: object, raw: bytes) -> State:
        """The peer's next record uses the new keys (RFC 5246 §7.1)."""
        self.install_keys_12("read")
        return State.WAIT_FINISHED

    def finished_12(self, sender: str) -> bytes:
        """verify_data = PRF(master_secret, "<sender> finished", Hash(handshake_messages))[0..11]."""
        handshake_hash = self.transcript_hash()
        value = keyschedule12.finished_verify_data(
            self.prf_hash, self.secrets["master_secret"], f"{sender} finished".encode(), handshake_hash
        )
        return value

    def send_finished_12(self) -> None:
        transcript_hash = self.transcript.digest()
        verify_data = self.finished_12(self.role)
        self.observe(
            trace.FinishedComputed(
                role=self.role,
                sender=self.role,
                transcript_hash=transcript_hash,
                finished_key=self.secrets["master_secret"],
                verify_data=verify_data,
                rfc="RFC 5246 §7.4.9",
            )
        )
        self.remember_verify_data(self.role, verify_data)
        self.send_handshake(Finished(verify_data=verify_data))

    def check_finished_12(self, message: Finished, raw: bytes) -> None:
        peer = "server" if self.role == "client" else "client"
        transcript_hash = self.transcript.digest()
        expected = self.finished_12(peer)
        ok = len(message.verify_data) == len(expected) and constant_time_equal(message.verify_data, expected)
        self.observe(
            trace.FinishedVerified(
                role=self.role,
                sender=peer,
                transcript_hash=transcript_hash,
                ok=ok,
                finished_key=self.secrets["master_secret"],
                verify_data=expected,
                received=message.verify_data,
                rfc="RFC 5246 §7.4.9",
            )
        )
        if len(message.verify_data) != len(expected):
            raise alerts.DecodeError(
                f"Finished.verify_data has {len(message.verify_data)} bytes, not 12", rfc="RFC 5246 §7.4.9"
            )
        self.check(
            ok,
            f"{peer}_finished",
            alerts.DecryptError,
            f"the {peer} Finished verify_data does not match the handshake",
            "RFC 5246 §7.4.9",
        )
        self.remember_verify_data(peer, message.verify_data)
        self.received(raw, "Finished")

    def remember_verify_data(self, sender: str, verify_data: bytes) -> None:
        """RFC 5746 §3.1: the last Finished values, proof in a later re-handshake."""
        if sender == "client":
            self.client_verify_data = verify_data
        else:
            self.server_verify_data = verify_data

    def send_warning(self, description: AlertDescription, reason: str) -> None:
        """A warning-level alert (RFC 5246 §7.2): the connection goes on."""
        self.flush()
        self.observe(trace.AlertSent(role=self.role, level="warning", description=description.name, reason=reason))
        self.write_record(ContentType.alert, bytes([AlertLevel.warning, description]))

    def start_new_handshake_12(self) -> None:
        """Reset per-handshake state before a re-handshake (renegotiation)."""
        from teachtls.handshake.transcript import Transcript

        self.transcript = Transcript()  # started again once the new suite is known
        self.handshake_messages = []
        self.renegotiating = True
        self.resuming = False
        # The handshake timeout bounds each handshake, this one too: its clock
        # starts now, not when the connection was made.
        self.handshake_started_at = self.config.clock()


RECORD_MESSAGE = RecordMessage.change_cipher_spec
