"""The TLS 1.3 client: one handler per entry of `CLIENT_13` (RFC 8446 §A.1).

The client speaks first. `start_handshake()` sends the ClientHello (§4.1.2)
with a key share for each group in `config.key_share_groups`; from then on
every message from the server is dispatched through the table in
states.py to one `on_<message>` method below, which checks what the RFC says
MUST be checked, updates the transcript and key schedule, and returns the
next state.

What a client checks, by message:

* ServerHello (§4.1.3, §4.2.1, §4.2.8): the version really is TLS 1.3 (and,
  if not, that no downgrade sentinel is present), the session ID is echoed,
  the cipher suite and key share group were offered, no unsolicited
  extensions, a valid peer key share.
* HelloRetryRequest (§4.1.4): at most one, it must change something, the
  selected group was offered but had no share.
* EncryptedExtensions (§4.3.1): only extensions allowed there and solicited;
  ALPN picked from our list; record_size_limit >= 64 (RFC 8449).
* Certificate, CertificateVerify (§4.4.2, §4.4.3): a non-empty chain that
  verifies against the trust store for `server_name`, and a signature over the
  transcript with an offered scheme.
* Finished (§4.4.4): verify_data matches, in constant time.

Not here yet: PSK resumption and 0-RTT (the session-lifecycle work), TLS 1.2.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import ClassVar

import attrs

from teachtls.config import Config
from teachtls.connection import SessionTicketReceived
from teachtls.crypto.aead import CIPHER_SUITES
from teachtls.crypto.keyshare import SUPPORTED_GROUPS, KeyShareError, PrivateKeyShare, generate_key_share
from teachtls.crypto.signature import CLIENT_CONTEXT, SERVER_CONTEXT
from teachtls.handshake import alerts
from teachtls.handshake.client12 import Client12Handshake
from teachtls.handshake.states import State
from teachtls.sessions import ClientSession
from teachtls.trace import events as trace
from teachtls.wire.enums import (
    CipherSuite,
    ContentType,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
    name_of,
)
from teachtls.wire.extensions import (
    CERTIFICATE_REQUEST,
    ENCRYPTED_EXTENSIONS,
    HELLO_RETRY_REQUEST,
    NEW_SESSION_TICKET,
    SERVER_HELLO,
    CertificateStatusRequest,
    Cookie,
    EarlyDataIndicationNewSessionTicket,
    Empty,
    Extension,
    KeyShareClientHello,
    KeyShareEntry,
    KeyShareHelloRetryRequest,
    KeyShareServerHello,
    NamedGroupList,
    OfferedPsks,
    ProtocolNameList,
    PskIdentity,
    PskKeyExchangeModes,
    RawBody,
    RecordSizeLimit,
    RenegotiationInfo,
    SelectedIdentity,
    ServerName,
    ServerNameList,
    SignatureSchemeList,
    SupportedVersionsClientHello,
    SupportedVersionsServerHello,
    find_extension,
    make_extension,
)
from teachtls.wire.messages import (
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    EndOfEarlyData,
    Finished,
    NewSessionTicket,
    ServerHello,
    build_handshake,
)

E = ExtensionType


class ClientConnection(Client12Handshake):
    """A sans-I/O TLS 1.3 client."""

    role: ClassVar[str] = "client"
    peer_role: ClassVar[str] = "server"
    machine: str = "client13"
    own_context: ClassVar[bytes] = CLIENT_CONTEXT
    peer_context: ClassVar[bytes] = SERVER_CONTEXT

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.init_tls12()
        self.server_name = config.server_name
        self.key_shares: dict[int, PrivateKeyShare] = {}
        self.client_random = b""
        self.legacy_session_id = b""
        self.offered_extensions: set[int] = set()
        self.hello_retry_request: ServerHello | None = None
        self.certificate_request: CertificateRequest | None = None
        self.sent_change_cipher_spec = False
        self.tickets: list[NewSessionTicket] = []
        self.sessions: list[ClientSession] = []
        # Resumption (RFC 8446 §2.2): the session whose ticket we offer, if any.
        self.session: ClientSession | None = config.session
        self.offering_psk = False
        self.offering_session_12 = False
        self.early_data_offered = False

    # --- sessions (gnutls_session_get_data / gnutls_session_set_data) ---------------

    def set_session_data(self, data: bytes) -> None:
        """Offer this saved session in the coming handshake (before `start_handshake`)."""
        if self.state is not State.START:
            raise alerts.TLSError("set_session_data must be called before the handshake")
        self.session = ClientSession.from_bytes(data)

    def get_session_data(self) -> bytes:
        """The newest session ticket received, saved for `set_session_data` later."""
        if not self.sessions:
            raise alerts.TLSError("no NewSessionTicket has been received on this connection")
        return self.sessions[-1].to_bytes()

    # --- the first flight ---------------------------------------------------------

    def start_handshake(self, early_data: bytes | None = None) -> None:
        """Queue the ClientHello (RFC 8446 §4.1.2). Collect it with `data_to_send()`.

        With a resumable session (`set_session_data`) whose ticket allows it,
        `early_data` is sent as 0-RTT data right after the ClientHello
        (RFC 8446 §2.3); `HandshakeCompleted.early_data_accepted` says whether
        the server took it. If not, the application must send it again."""
        if self.state is not State.START:
            raise alerts.TLSError("the handshake has already started")
        self.handshake_started_at = self.config.clock()
        self.client_random = self.config.random(32)
        if self.config.middlebox_compatibility:
            # RFC 8446 §D.4: "the client MUST send a non-empty session ID".
            self.legacy_session_id = self.config.random(32)
        if ProtocolVersion.TLS1_3 in self.config.versions:
            for group in self.config.key_share_groups:
                self.add_key_share(NamedGroup(group))
        session = self.resumable_session()
        if session is not None and session.version == ProtocolVersion.TLS1_2:
            # RFC 5246 §7.4.1.2 / RFC 5077 §3.4: offer the session ID (with a
            # ticket, a fresh one the server will echo when it accepts).
            self.offering_session_12 = True
            self.legacy_session_id = session.session_id if not session.ticket else self.config.random(32)
        elif session is not None:
            self.offering_psk = True
            self.params = CIPHER_SUITES[CipherSuite(session.cipher_suite)]  # provisional, until ServerHello
            self.compute_early_secret(session.resumption_psk)
            self.early_data_offered = bool(early_data) and 0 < len(early_data or b"") <= session.max_early_data_size
        self.send_handshake(self.build_client_hello())
        self.flush()  # while still in START: the record says 0x0301 (RFC 8446 §5.1)
        self.allow_change_cipher_spec(True)
        self.set_state(State.WAIT_SH, "send ClientHello")
        if self.early_data_offered and early_data:
            self.send_early_data(early_data)

    def resumable_session(self) -> ClientSession | None:
        """The session to offer: still within its lifetime, with a suite we offer."""
        session = self.session
        if session is None:
            return None
        now = self.config.clock()
        offered = self.config.cipher_suites if session.version != ProtocolVersion.TLS1_2 else self.offered_suites_12()
        compatible = session.cipher_suite in offered and session.version in self.config.versions
        if not session.usable(now) or not compatible:
            self.observe(
                trace.ChoiceMade(
                    role=self.role,
                    subject="psk",
                    choice="not offered",
                    reason="the saved session's ticket has expired or its cipher suite is not offered",
                    rfc="RFC 8446 §4.6.1",
                )
            )
            return None
        return session

    def send_early_data(self, early_data: bytes) -> None:
        """0-RTT: application data under client_early_traffic_secret (RFC 8446 §2.3)."""
        client_hello_hash = self.transcript.digest_with(b"", self.hash_alg)
        self.compute_early_traffic_secrets(client_hello_hash)
        if self.config.middlebox_compatibility:
            # RFC 8446 §D.4: with early data, the dummy change_cipher_spec
            # "is placed immediately after the first ClientHello".
            self.send_change_cipher_spec()
            self.sent_change_cipher_spec = True
        self.install_keys("write", "client_early_traffic_secret", "early")
        self.observe(trace.ApplicationDataSent(role=self.role, data=early_data, rfc="RFC 8446 §4.2.10"))
        self.write_fragmented(ContentType.application_data, early_data)

    def groups_to_offer(self) -> tuple[int, ...]:
        """supported_groups; a TLS 1.2-only offer leaves out the TLS 1.3-only hybrid."""
        if ProtocolVersion.TLS1_3 in self.config.versions:
            return tuple(self.config.supported_groups)
        return tuple(g for g in self.config.supported_groups if g != NamedGroup.X25519MLKEM768)

    def add_key_share(self, group: NamedGroup) -> None:
        share = generate_key_share(group, self.config.key_share_private_keys.get(group))
        self.key_shares[group] = share

    def legacy_record_version_0301(self) -> bool:
        # RFC 8446 §5.1: 0x0301 is allowed for "an initial ClientHello (i.e.,
        # one not generated after a HelloRetryRequest)".
        return self.state is State.START and self.hello_retry_request is None

    def build_client_hello(self, cookie: bytes | None = None) -> ClientHello:
        """ClientHello with extensions in the order RFC 8448's client uses.

        When TLS 1.2 is offered too (`Config.versions`), the same ClientHello
        also carries what a TLS 1.2 server needs: the 1.2 cipher suites,
        renegotiation_info (RFC 5746), extended_master_secret (RFC 7627) and
        session_ticket (RFC 5077)."""
        config = self.config
        tls13 = ProtocolVersion.TLS1_3 in config.versions
        tls12 = ProtocolVersion.TLS1_2 in config.versions
        extensions: list[Extension] = []
        if self.server_name and not _is_ip_address(self.server_name):
            # RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in "HostName"."
            names = (ServerName(host_name=self.server_name.encode("idna")),)
            extensions.append(make_extension(E.server_name, ServerNameList(names)))
        if config.send_renegotiation_info or tls12:
            # RFC 5746 §3.5: in a re-handshake, the client's last verify_data.
            extensions.append(make_extension(E.renegotiation_info, RenegotiationInfo(self.client_verify_data)))
        extensions.append(make_extension(E.supported_groups, NamedGroupList(self.groups_to_offer())))
        if config.send_session_ticket_extension or tls12:
            ticket = self.session.ticket if self.offering_session_12 and self.session is not None else b""
            extensions.append(make_extension(E.session_ticket, RawBody(ticket)))
        if config.alpn_protocols:
            extensions.append(
                make_extension(E.application_layer_protocol_negotiation, ProtocolNameList(config.alpn_protocols))
            )
        if config.status_request:
            extensions.append(make_extension(E.status_request, CertificateStatusRequest()))
        if tls13:
            shares = tuple(
                KeyShareEntry(group=group, key_exchange=share.public_bytes())
                for group, share in self.key_shares.items()
            )
            extensions.append(make_extension(E.key_share, KeyShareClientHello(shares)))
        if self.early_data_offered and self.hello_retry_request is None:
            # RFC 8446 §4.2.10: never in the ClientHello that answers a HelloRetryRequest.
            extensions.append(make_extension(E.early_data, Empty()))
        if tls13:
            versions = tuple(v for v in (ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2) if v in config.versions)
            extensions.append(make_extension(E.supported_versions, SupportedVersionsClientHello(versions)))
        extensions.append(
            make_extension(E.signature_algorithms, SignatureSchemeList(tuple(config.signature_algorithms)))
        )
        if cookie is not None:
            extensions.append(make_extension(E.cookie, Cookie(cookie)))
        if config.psk_key_exchange_modes and tls13:
            extensions.append(
                make_extension(E.psk_key_exchange_modes, PskKeyExchangeModes(tuple(config.psk_key_exchange_modes)))
            )
        if config.record_size_limit is not None:
            extensions.append(make_extension(E.record_size_limit, RecordSizeLimit(config.record_size_limit)))
        if tls12 and config.extended_master_secret:
            extensions.append(make_extension(E.extended_master_secret, Empty()))
        if self.offering_psk:
            extensions.append(self.pre_shared_key_with_placeholder_binder())
        suites = tuple(config.cipher_suites) if tls13 else ()
        if tls12:
            suites += self.offered_suites_12()
        hello = ClientHello(
            random=self.client_random,
            legacy_session_id=self.legacy_session_id,
            cipher_suites=suites,
            extensions=tuple(extensions),
        )
        if config.pad_client_hello:
            hello = _pad(hello)
        if self.offering_psk:
            hello = self.fill_in_binder(hello)
        self.offered_extensions = {int(extension.extension_type) for extension in hello.extensions}
        return hello

    def pre_shared_key_with_placeholder_binder(self) -> Extension:
        """RFC 8446 §4.2.11: the ticket as PSK identity, with its obfuscated age."""
        assert self.session is not None
        identity = PskIdentity(
            identity=self.session.ticket,
            obfuscated_ticket_age=self.session.obfuscated_ticket_age(self.config.clock()),
        )
        placeholder = bytes(self.hash_alg.digest_size)
        return make_extension(E.pre_shared_key, OfferedPsks(identities=(identity,), binders=(placeholder,)))

    def fill_in_binder(self, hello: ClientHello) -> ClientHello:
        """RFC 8446 §4.2.11.2: compute the binder over the ClientHello truncated
        before the binders list, and put it in place of the placeholder."""
        raw = build_handshake(hello)
        offered = hello.extensions[-1].extension_data
        assert isinstance(offered, OfferedPsks)
        binders_length = 2 + sum(1 + len(binder) for binder in offered.binders)
        transcript_hash = self.transcript.digest_with(raw[:-binders_length], self.hash_alg)
        binder_key, binder = self.psk_binder(transcript_hash)
        self.observe(
            trace.BinderComputed(
                role=self.role,
                identity_index=0,
                transcript_hash=transcript_hash,
                binder_key=binder_key,
                binder=binder,
            )
        )
        filled = OfferedPsks(identities=offered.identities, binders=(binder,))
        extensions = (*hello.extensions[:-1], make_extension(E.pre_shared_key, filled))
        return attrs.evolve(hello, extensions=extensions)

    # --- ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4) ------------------

    def on_server_hello(self, message: ServerHello, raw: bytes) -> State:
        self.check_version(message)
        if find_extension(message.extensions, E.supported_versions) is None:
            return self.on_server_hello_12(message, raw)
        self.version = ProtocolVersion.TLS1_3
        if message.is_hello_retry_request:
            return self.on_hello_retry_request(message, raw)
        self.check_extensions(message.extensions, SERVER_HELLO, "ServerHello", solicited=self.offered_extensions)
        self.check_common_server_hello_fields(message, "ServerHello")
        if self.hello_retry_request is not None:
            self.check(
                message.cipher_suite == self.hello_retry_request.cipher_suite,
                "cipher_suite_matches_hello_retry_request",
                alerts.IllegalParameter,
                "the ServerHello cipher suite differs from the HelloRetryRequest's",
                "RFC 8446 §4.1.4",
            )
        self.check_psk_selection(message)
        key_share = find_extension(message.extensions, E.key_share)
        if not isinstance(key_share, KeyShareServerHello):
            if not self.resumed:
                raise alerts.MissingExtension(
                    "ServerHello has neither key_share nor pre_shared_key", rfc="RFC 8446 §9.2"
                )
            # RFC 8446 §4.2.11: the client MUST verify "that a server 'key_share' extension
            # is present if required by the ClientHello 'psk_key_exchange_modes' extension.
            # If these values are not consistent, the client MUST abort the handshake with
            # an 'illegal_parameter' alert."
            self.check(
                PskKeyExchangeMode.psk_ke in self.config.psk_key_exchange_modes,
                "psk_key_exchange_mode_offered",
                alerts.IllegalParameter,
                "the server resumed without key_share (psk_ke), which was not offered",
                "RFC 8446 §4.2.11",
            )
            self.choose_cipher_suite(message.cipher_suite)  # type: ignore[arg-type]
            self.received(raw, "ServerHello")
            # psk_ke: no (EC)DHE, so the handshake secret's IKM is zeros (RFC 8446 §7.1).
            self.compute_handshake_secrets(bytes(self.hash_alg.digest_size), install_write=not self.early_data_offered)
            return State.WAIT_EE
        server_share = key_share.server_share
        self.check(
            server_share.group in self.key_shares,
            "key_share_group_offered",
            alerts.IllegalParameter,
            f"the server's key share is for {name_of(server_share.group)}, for which no share was offered",
            "RFC 8446 §4.2.8",
        )
        self.choose_cipher_suite(message.cipher_suite)  # type: ignore[arg-type]
        self.received(raw, "ServerHello")
        own_share = self.key_shares[server_share.group]
        try:
            shared_secret = own_share.exchange(server_share.key_exchange)
        except KeyShareError as error:
            raise alerts.IllegalParameter(
                f"the server's {name_of(server_share.group)} key share is invalid: {error.reason}",
                rfc="RFC 8446 §4.2.8",
            ) from None
        self.group = server_share.group
        if self.tracing:
            self.observe(
                trace.KeyExchangeComputed(
                    role=self.role,
                    group=name_of(server_share.group),
                    client_share=own_share.public_bytes(),
                    server_share=server_share.key_exchange,
                    private_key=own_share.private_bytes(),
                    shared_secret=shared_secret,
                )
            )
        # While 0-RTT data may still be accepted, we keep writing with the early keys.
        self.compute_handshake_secrets(shared_secret, install_write=not (self.resumed and self.early_data_offered))
        return State.WAIT_EE

    def check_psk_selection(self, message: ServerHello) -> None:
        """RFC 8446 §4.2.11: did the server accept our PSK, and legitimately?"""
        selected = find_extension(message.extensions, E.pre_shared_key)
        if not isinstance(selected, SelectedIdentity):
            if self.offering_psk:
                # Full handshake after all: the early secret has no PSK in it.
                self.secrets.pop("early_secret", None)
                self.observe(
                    trace.ChoiceMade(
                        role=self.role,
                        subject="psk",
                        choice="rejected by the server",
                        reason="the ServerHello has no pre_shared_key: a full handshake follows",
                        rfc="RFC 8446 §4.2.11",
                    )
                )
            return
        self.check(
            selected.selected_identity == 0,
            "selected_identity_in_range",
            alerts.IllegalParameter,
            f"selected_identity {selected.selected_identity} is not one of the identities offered",
            "RFC 8446 §4.2.11",
        )
        assert self.session is not None
        offered_hash = CIPHER_SUITES[CipherSuite(self.session.cipher_suite)].hash_alg
        chosen = CIPHER_SUITES.get(message.cipher_suite)  # type: ignore[call-overload]
        self.check(
            chosen is not None and chosen.hash_alg == offered_hash,
            "psk_cipher_suite_hash",
            alerts.IllegalParameter,
            "the server resumed with a cipher suite whose hash differs from the PSK's",
            "RFC 8446 §4.2.11",
        )
        self.resumed = True

    def check_version(self, message: ServerHello) -> None:
        """RFC 8446 §4.2.1 and the downgrade protection of §4.1.3."""
        # RFC 8446 §D.5: a ServerHello.legacy_version of 0x0300 "MUST abort the
        # handshake with a 'protocol_version' alert" (even next to supported_versions).
        self.check(
            message.legacy_version > ProtocolVersion.SSL3_0,
            "legacy_version_above_ssl3",
            alerts.ProtocolVersionAlert,
            f"ServerHello.legacy_version is {name_of(message.legacy_version)}: SSL 3.0 or older",
            "RFC 8446 §D.5",
        )
        versions = find_extension(message.extensions, E.supported_versions)
        if isinstance(versions, SupportedVersionsServerHello) and self.renegotiating:
            # RFC 8446 §4.1.3: a client renegotiating TLS 1.2 "which receives a TLS 1.3
            # ServerHello during renegotiation MUST abort the handshake with a
            # 'protocol_version' alert."
            raise alerts.ProtocolVersionAlert(
                "a TLS 1.3 ServerHello answers a TLS 1.2 renegotiation", rfc="RFC 8446 §4.1.3"
            )
        if not isinstance(versions, SupportedVersionsServerHello):
            # RFC 8446 §4.1.4: "The value of selected_version in the HelloRetryRequest
            # 'supported_versions' extension MUST be retained in the ServerHello, and a
            # client MUST abort the handshake with an 'illegal_parameter' alert if the value changes."
            self.check(
                self.hello_retry_request is None,
                "selected_version_retained",
                alerts.IllegalParameter,
                "the ServerHello after a HelloRetryRequest has no supported_versions: TLS 1.3 was already selected",
                "RFC 8446 §4.1.4",
            )
            if ProtocolVersion.TLS1_3 in self.config.versions:
                sentinel = message.random[-8:]
                self.check(
                    sentinel not in (DOWNGRADE_TLS12, DOWNGRADE_TLS11),
                    "downgrade_sentinel",
                    alerts.IllegalParameter,
                    "ServerHello.random ends in a downgrade sentinel while negotiating TLS 1.2 or below: "
                    "an attacker may be forcing an older version",
                    "RFC 8446 §4.1.3",
                )
            if message.legacy_version == ProtocolVersion.TLS1_2 and ProtocolVersion.TLS1_2 in self.config.versions:
                return
            raise alerts.ProtocolVersionAlert(
                f"the server selected {name_of(message.legacy_version)}, which this client does not offer",
                rfc="RFC 8446 §4.2.1",
            )
        self.check(
            versions.selected_version == ProtocolVersion.TLS1_3,
            "selected_version",
            alerts.IllegalParameter,
            f"supported_versions selects {name_of(versions.selected_version)}, which was not offered",
            "RFC 8446 §4.2.1",
        )

    def check_common_server_hello_fields(self, message: ServerHello, name: str) -> None:
        self.check(
            message.legacy_session_id_echo == self.legacy_session_id,
            "legacy_session_id_echo",
            alerts.IllegalParameter,
            f"{name}.legacy_session_id_echo does not echo the ClientHello's legacy_session_id",
            "RFC 8446 §4.1.3",
        )
        self.check(
            message.cipher_suite in self.config.cipher_suites,
            "cipher_suite_offered",
            alerts.IllegalParameter,
            f"{name} selects {name_of(message.cipher_suite)}, which was not offered",
            "RFC 8446 §4.1.3",
        )
        self.check(
            message.legacy_compression_method == 0,
            "legacy_compression_method",
            alerts.IllegalParameter,
            f"{name}.legacy_compression_method is {message.legacy_compression_method}, not 0",
            "RFC 8446 §4.1.3",
        )

    def on_hello_retry_request(self, message: ServerHello, raw: bytes) -> State:
        """RFC 8446 §4.1.4: answer with a second ClientHello."""
        self.check(
            self.hello_retry_request is None,
            "single_hello_retry_request",
            alerts.UnexpectedMessage,
            "a second HelloRetryRequest in the same connection",
            "RFC 8446 §4.1.4",
        )
        self.check_extensions(
            message.extensions,
            HELLO_RETRY_REQUEST,
            "HelloRetryRequest",
            solicited=self.offered_extensions | {E.cookie},
        )
        self.check_common_server_hello_fields(message, "HelloRetryRequest")
        key_share = find_extension(message.extensions, E.key_share)
        cookie = find_extension(message.extensions, E.cookie)
        if isinstance(key_share, KeyShareHelloRetryRequest):
            group = key_share.selected_group
            self.check(
                group in self.config.supported_groups and group in SUPPORTED_GROUPS,
                "hello_retry_request_group_supported",
                alerts.IllegalParameter,
                f"HelloRetryRequest selects {name_of(group)}, which is not in supported_groups",
                "RFC 8446 §4.2.8",
            )
            self.check(
                group not in self.key_shares,
                "hello_retry_request_group_new",
                alerts.IllegalParameter,
                f"HelloRetryRequest asks for {name_of(group)}, for which a key share was already sent",
                "RFC 8446 §4.2.8",
            )
        self.check(
            key_share is not None or cookie is not None,
            "hello_retry_request_changes_something",
            alerts.IllegalParameter,
            "the HelloRetryRequest would not result in any change in the ClientHello",
            "RFC 8446 §4.1.4",
        )
        self.hello_retry_request = message
        self.hello_retry = True
        if self.early_data_offered:
            # RFC 8446 §4.2.10: a HelloRetryRequest rejects 0-RTT; the second
            # ClientHello goes out unprotected, like the first.
            self.early_data_offered = False
            self.clear_write_protection()
        self.choose_cipher_suite(message.cipher_suite)  # type: ignore[arg-type]
        if self.offering_psk and self.session is not None:
            psk_hash = CIPHER_SUITES[CipherSuite(self.session.cipher_suite)].hash_alg
            if psk_hash != self.hash_alg:
                # RFC 8446 §4.1.4: a PSK whose hash does not fit the new suite is dropped.
                self.offering_psk = False
                self.secrets.pop("early_secret", None)
        # RFC 8446 §4.4.1: ClientHello1 becomes message_hash in the transcript.
        self.transcript.replace_with_message_hash()
        self.received(raw, "HelloRetryRequest")
        if isinstance(key_share, KeyShareHelloRetryRequest):
            # RFC 8446 §4.1.2: replace the key shares with one for the selected group.
            self.key_shares = {}
            self.add_key_share(NamedGroup(key_share.selected_group))
        if self.config.middlebox_compatibility and not self.sent_change_cipher_spec:
            # RFC 8446 §D.4: the dummy change_cipher_spec may precede the second ClientHello.
            self.send_change_cipher_spec()
            self.sent_change_cipher_spec = True
        self.send_handshake(self.build_client_hello(cookie.cookie if isinstance(cookie, Cookie) else None))
        return State.WAIT_SH

    # --- the server's encrypted flight ----------------------------------------------

    def on_encrypted_extensions(self, message: EncryptedExtensions, raw: bytes) -> State:
        """RFC 8446 §4.3.1: responses to our ClientHello extensions."""
        self.check_extensions(
            message.extensions, ENCRYPTED_EXTENSIONS, "EncryptedExtensions", solicited=self.offered_extensions
        )
        alpn = find_extension(message.extensions, E.application_layer_protocol_negotiation)
        if isinstance(alpn, ProtocolNameList):
            self.check(
                len(alpn.protocol_name_list) == 1 and alpn.protocol_name_list[0] in self.config.alpn_protocols,
                "alpn_selected_from_offer",
                alerts.IllegalParameter,
                "the server's ALPN choice is not exactly one of the protocols offered",
                "RFC 7301 §3.1",
            )
            self.alpn_protocol = alpn.protocol_name_list[0]
        limit = find_extension(message.extensions, E.record_size_limit)
        if isinstance(limit, RecordSizeLimit):
            self.check(
                limit.record_size_limit >= 64,
                "record_size_limit_minimum",
                alerts.IllegalParameter,
                f"record_size_limit {limit.record_size_limit} is smaller than 64",
                "RFC 8449 §4",
            )
            self.peer_record_size_limit = limit.record_size_limit
            self.own_record_size_limit = self.config.record_size_limit
        self.early_data_accepted = find_extension(message.extensions, E.early_data) is not None
        if self.early_data_offered:
            self.observe(
                trace.ChoiceMade(
                    role=self.role,
                    subject="early_data",
                    choice="accepted" if self.early_data_accepted else "rejected",
                    reason="EncryptedExtensions "
                    + ("carries" if self.early_data_accepted else "lacks")
                    + " early_data; rejected 0-RTT data must be sent again",
                    rfc="RFC 8446 §4.2.10",
                )
            )
            if not self.early_data_accepted:
                self.install_keys("write", "client_handshake_traffic_secret", "handshake")
        self.received(raw, "EncryptedExtensions")
        # RFC 8446 §A.1: with a PSK there is no Certificate/CertificateVerify.
        return State.WAIT_FINISHED if self.resumed else State.WAIT_CERT_CR

    def on_certificate_request(self, message: CertificateRequest, raw: bytes) -> State:
        """RFC 8446 §4.3.2: the server asks us to authenticate."""
        self.check(
            message.certificate_request_context == b"",
            "certificate_request_context_empty",
            alerts.IllegalParameter,
            "certificate_request_context must be empty during the handshake",
            "RFC 8446 §4.3.2",
        )
        self.check_extensions(message.extensions, CERTIFICATE_REQUEST, "CertificateRequest")
        if not isinstance(find_extension(message.extensions, E.signature_algorithms), SignatureSchemeList):
            raise alerts.MissingExtension("CertificateRequest lacks signature_algorithms", rfc="RFC 8446 §4.3.2")
        self.certificate_request = message
        self.received(raw, "CertificateRequest")
        return State.WAIT_CERT

    def on_certificate(self, message: Certificate, raw: bytes) -> State:
        """RFC 8446 §4.4.2: the server's chain; verified at once (§4.4.2.4)."""
        self.check(
            message.certificate_request_context == b"",
            "certificate_request_context_empty",
            alerts.IllegalParameter,
            "the server's Certificate must have an empty certificate_request_context",
            "RFC 8446 §4.4.2",
        )
        if not message.certificate_list:
            # RFC 8446 §4.4.2.4: "If the server supplies an empty Certificate
            # message, the client MUST abort the handshake with a 'decode_error' alert."
            raise alerts.DecodeError("the server sent an empty Certificate message", rfc="RFC 8446 §4.4.2.4")
        self.parse_peer_certificates(message, self.offered_extensions)
        self.verify_peer_chain(self.server_name)
        self.received(raw, "Certificate")
        return State.WAIT_CV

    def on_certificate_verify(self, message: CertificateVerify, raw: bytes) -> State:
        self.check_certificate_verify(message, raw, tuple(self.config.signature_algorithms))
        return State.WAIT_FINISHED

    def on_finished(self, message: Finished, raw: bytes) -> State:
        """RFC 8446 §4.4.4, then the client's second flight (§4.4, §D.4)."""
        self.check_finished(message, raw)
        self.allow_change_cipher_spec(False)
        self.compute_application_secrets()
        self.install_keys("read", "server_application_traffic_secret_0", "application")
        if self.early_data_accepted:
            # RFC 8446 §4.5: EndOfEarlyData, still under the early keys, ends 0-RTT.
            self.send_handshake(EndOfEarlyData())
            self.install_keys("write", "client_handshake_traffic_secret", "handshake")
        if self.config.middlebox_compatibility and not self.sent_change_cipher_spec:
            self.send_change_cipher_spec()
            self.sent_change_cipher_spec = True
        if self.certificate_request is not None:
            self.send_client_certificate(self.certificate_request)
        self.send_finished()
        self.install_keys("write", "client_application_traffic_secret_0", "application")
        self.compute_resumption_master_secret()
        self.events.append(self.negotiated())
        return State.CONNECTED

    def send_client_certificate(self, request: CertificateRequest) -> None:
        """RFC 8446 §4.4.2: our chain (possibly empty) and, if any, CertificateVerify."""
        schemes = find_extension(request.extensions, E.signature_algorithms)
        assert isinstance(schemes, SignatureSchemeList)
        scheme = self.choose_signature_scheme(schemes.supported_signature_algorithms)
        if scheme is None:
            # RFC 8446 §4.4.2: "If the server requests client authentication
            # but no suitable certificate is available, the client MUST send a
            # Certificate message containing no certificates."
            self.send_handshake(Certificate(certificate_request_context=request.certificate_request_context))
            return
        self.send_certificate(request.certificate_request_context)
        self.send_certificate_verify(scheme)

    # --- after the handshake (RFC 8446 §4.6) -------------------------------------------

    def on_new_session_ticket(self, message: NewSessionTicket, raw: bytes) -> State:
        self.check_extensions(message.extensions, NEW_SESSION_TICKET, "NewSessionTicket")
        psk = self.derive_resumption_psk(message.ticket_nonce)
        early_data = find_extension(message.extensions, E.early_data)
        assert self.cipher_suite is not None
        self.sessions.append(
            ClientSession(
                server_name=self.server_name,
                cipher_suite=self.cipher_suite,
                ticket=message.ticket,
                resumption_psk=psk,
                ticket_age_add=message.ticket_age_add,
                ticket_lifetime=message.ticket_lifetime,
                received_at=self.config.clock(),
                max_early_data_size=(
                    early_data.max_early_data_size if isinstance(early_data, EarlyDataIndicationNewSessionTicket) else 0
                ),
                alpn_protocol=self.alpn_protocol,
            )
        )
        self.tickets.append(message)
        self.events.append(SessionTicketReceived(ticket_lifetime=message.ticket_lifetime, ticket=message.ticket))
        return State.CONNECTED


@functools.lru_cache(maxsize=256)  # a client dials the same few names again and again
def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _pad(hello: ClientHello) -> ClientHello:
    """RFC 7685 padding: grow a ClientHello of 256..511 bytes to 512.

    Some middleboxes mishandle ClientHellos in that range; NSS (whose traces
    RFC 8448 shows) and BoringSSL pad them to 512 bytes, the padding
    extension holding zeros. It goes before pre_shared_key, which must stay last."""
    length = len(build_handshake(hello))
    if not 256 <= length < 512:
        return hello
    padding_length = max(512 - length - 4, 1)
    padding = make_extension(E.padding, RawBody(bytes(padding_length)))
    extensions = list(hello.extensions)
    position = len(extensions)
    if extensions and extensions[-1].extension_type == E.pre_shared_key:
        position -= 1
    extensions.insert(position, padding)
    return ClientHello(
        legacy_version=hello.legacy_version,
        random=hello.random,
        legacy_session_id=hello.legacy_session_id,
        cipher_suites=hello.cipher_suites,
        legacy_compression_methods=hello.legacy_compression_methods,
        extensions=tuple(extensions),
    )


__all__ = ["ClientConnection"]
