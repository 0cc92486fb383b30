"""The TLS 1.3 server: one handler per entry of `SERVER_13` (RFC 8446 §A.2).

A server reacts. On a ClientHello (`on_client_hello`, state START ->
RECVD_CH) it checks the message; `advance()` then chooses the parameters
(RECVD_CH -> NEGOTIATED), or asks for a better ClientHello with a
HelloRetryRequest (RECVD_CH -> START), and sends its whole first flight in one
go: ServerHello, [change_cipher_spec], EncryptedExtensions,
[CertificateRequest], Certificate, CertificateVerify, Finished
(NEGOTIATED -> WAIT_FLIGHT2). Then it waits for the client's Finished.

Negotiation (RFC 8446 §4.1.1), with the server's preferences first:

* cipher suite: the first of `config.cipher_suites` the client offered;
* group: the first of `config.supported_groups` the client supports. If the
  client sent no key share for it, a HelloRetryRequest asks for one (RFC 8448
  §5 shows exactly this: the client offers x25519, the server wants P-256);
* signature scheme: the first the client listed that fits our certificate.

What a server checks in a ClientHello: TLS 1.3 offered in supported_versions
(§4.2.1), legacy_compression_methods is exactly [null] (§4.1.2), extension
blocks without duplicates and with pre_shared_key last (§4.2, §4.2.11),
the extensions that must come together (§9.2), key shares only for supported
groups, at most one per group (§4.2.8), and after a HelloRetryRequest that the
second ClientHello answers it (cookie echoed, one share for the right group).
"""

from __future__ import annotations

from typing import ClassVar

from teachtls.config import Config
from teachtls.crypto.aead import CIPHER_SUITES
from teachtls.crypto.hashes import constant_time_equal, hmac
from teachtls.crypto.keyshare import SUPPORTED_GROUPS, KeyShareError, server_key_exchange
from teachtls.crypto.signature import CLIENT_CONTEXT, SERVER_CONTEXT
from teachtls.handshake import alerts
from teachtls.handshake.server12 import Server12Handshake
from teachtls.handshake.states import State
from teachtls.handshake.transcript import Transcript
from teachtls.sessions import MAX_TICKET_LIFETIME, SessionState
from teachtls.trace import events as trace
from teachtls.wire.codec import WireStruct
from teachtls.wire.enums import (
    CipherSuite,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
    SignatureScheme,
    name_of,
)
from teachtls.wire.extensions import (
    CLIENT_HELLO,
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
    PskKeyExchangeModes,
    RecordSizeLimit,
    SelectedIdentity,
    ServerNameList,
    SignatureSchemeList,
    SupportedVersionsClientHello,
    SupportedVersionsServerHello,
    make_extension,
)
from teachtls.wire.messages import (
    HELLO_RETRY_REQUEST_RANDOM,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    EndOfEarlyData,
    Finished,
    NewSessionTicket,
    ServerHello,
)

E = ExtensionType

# RFC 8446 §8.3: the ticket ages seen by client and server may differ by the
# round-trip time and clock skew; beyond this window 0-RTT data is refused.
EARLY_DATA_AGE_TOLERANCE_MS = 10_000


class ServerConnection(Server12Handshake):
    """A sans-I/O TLS 1.3 server."""

    role: ClassVar[str] = "server"
    peer_role: ClassVar[str] = "client"
    machine: str = "server13"
    own_context: ClassVar[bytes] = SERVER_CONTEXT
    peer_context: ClassVar[bytes] = CLIENT_CONTEXT

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.init_tls12()
        self.selected_version: int | None = None
        self.client_hello: ClientHello | None = None
        self.client_extensions: dict[int, WireStruct] = {}
        self.hello_retry_group: int | None = None
        self.cookie: bytes | None = None
        self.sent_change_cipher_spec = False
        self.certificate_requested = False
        self.client_hello_raw = b""
        self.transcript_before_client_hello = Transcript()

    # --- ClientHello (RFC 8446 §4.1.2) -------------------------------------------------

    def on_client_hello(self, message: ClientHello, raw: bytes) -> State:
        if self.state is State.CONNECTED:
            return self.on_renegotiation_client_hello(message, raw)
        self.allow_change_cipher_spec(True)
        # RFC 8446 §D.5: "Any endpoint receiving a Hello message with
        # ClientHello.legacy_version or ServerHello.legacy_version set to 0x0300
        # MUST abort the handshake with a 'protocol_version' alert."
        self.check(
            message.legacy_version > ProtocolVersion.SSL3_0,
            "legacy_version_above_ssl3",
            alerts.ProtocolVersionAlert,
            f"ClientHello.legacy_version is {name_of(message.legacy_version)}: SSL 3.0 or older",
            "RFC 8446 §D.5",
        )
        self.check_extensions(message.extensions, CLIENT_HELLO, "ClientHello")
        if any(e.extension_type == E.pre_shared_key for e in message.extensions[:-1]):
            raise alerts.IllegalParameter(
                "pre_shared_key is not the last extension of the ClientHello", rfc="RFC 8446 §4.2.11"
            )
        extensions = {int(e.extension_type): e.extension_data for e in message.extensions}
        self.selected_version = self.select_version(message, extensions)
        if self.selected_version == ProtocolVersion.TLS1_2:
            return self.accept_client_hello_12(message, raw, extensions)
        self.check(
            message.legacy_compression_methods == b"\x00",
            "legacy_compression_methods",
            alerts.IllegalParameter,
            "a TLS 1.3 ClientHello must offer exactly the null compression method",
            "RFC 8446 §4.1.2",
        )
        if E.pre_shared_key in extensions and E.psk_key_exchange_modes not in extensions:
            # RFC 8446 §4.2.9: "If clients offer 'pre_shared_key' without a
            # 'psk_key_exchange_modes' extension, servers MUST abort the handshake."
            raise alerts.MissingExtension(
                "pre_shared_key offered without psk_key_exchange_modes", rfc="RFC 8446 §4.2.9"
            )
        if self.hello_retry_group is not None:
            self.check_second_client_hello(message, extensions)
        self.client_hello = message
        self.client_hello_raw = raw
        self.client_extensions = extensions
        # PSK binders hash the transcript *before* this ClientHello (§4.2.11.2).
        self.transcript_before_client_hello = self.transcript.fork()
        self.received(raw, "ClientHello")
        return State.RECVD_CH

    def select_version(self, message: ClientHello, extensions: dict[int, WireStruct]) -> ProtocolVersion:
        """RFC 8446 §4.2.1: the highest version both sides support.

        "If the 'supported_versions' extension is absent and the server
        supports TLS 1.2, it negotiates TLS 1.2 (legacy_version >= 0x0303)";
        if no version is shared, the answer is a protocol_version alert."""
        versions = extensions.get(E.supported_versions)
        if isinstance(versions, SupportedVersionsClientHello):
            offered: tuple[int, ...] = versions.versions
        else:
            offered = (ProtocolVersion.TLS1_2,) if message.legacy_version >= ProtocolVersion.TLS1_2 else ()
        if self.hello_retry_group is not None:
            offered = tuple(v for v in offered if v == ProtocolVersion.TLS1_3)  # RFC 8446 §4.1.4
        for version in self.config.versions:
            if version in offered:
                self.choose("version", name_of(ProtocolVersion(version)), "the highest version both sides support")
                return ProtocolVersion(version)
        supported = ", ".join(name_of(ProtocolVersion(v)) for v in self.config.versions)
        self.check(
            False,
            "version_in_common",
            alerts.ProtocolVersionAlert,
            f"the ClientHello offers {', '.join(name_of(v) for v in offered) or 'no version'}; "
            f"this server speaks {supported}",
            "RFC 8446 §4.2.1",
        )
        raise AssertionError("unreachable")

    def check_second_client_hello(self, message: ClientHello, extensions: dict[int, WireStruct]) -> None:
        """RFC 8446 §4.1.2: the second ClientHello must answer the HelloRetryRequest."""
        if self.cookie is not None:
            cookie = extensions.get(E.cookie)
            self.check(
                isinstance(cookie, Cookie) and cookie.cookie == self.cookie,
                "cookie_echoed",
                alerts.IllegalParameter,
                "the second ClientHello does not echo the HelloRetryRequest cookie",
                "RFC 8446 §4.2.2",
            )
        shares = extensions.get(E.key_share)
        self.check(
            isinstance(shares, KeyShareClientHello)
            and len(shares.client_shares) == 1
            and shares.client_shares[0].group == self.hello_retry_group,
            "key_share_after_hello_retry_request",
            alerts.IllegalParameter,
            f"the second ClientHello must carry exactly one key share, for {name_of(self.hello_retry_group or 0)}",
            "RFC 8446 §4.2.8",
        )

    # --- negotiation and the server's flight (RECVD_CH -> NEGOTIATED -> WAIT_FLIGHT2) ---

    def advance(self) -> None:
        if self.state is State.RECVD_CH:
            if self.version == ProtocolVersion.TLS1_2:
                self.negotiate_12()
            else:
                self.negotiate()

    def negotiate(self) -> None:
        hello = self.client_hello
        assert hello is not None
        self.version = ProtocolVersion.TLS1_3
        suite = self.select_cipher_suite(hello)
        if self.cipher_suite is not None and suite != self.cipher_suite:
            raise alerts.IllegalParameter(
                "the second ClientHello leads to another cipher suite than the HelloRetryRequest's",
                rfc="RFC 8446 §4.1.4",
            )
        self.choose_cipher_suite(suite)
        psk = self.select_psk()
        mode = self.select_psk_mode() if psk is not None else None
        if mode is None:
            psk = None
        client_share: KeyShareEntry | None = None
        if mode != PskKeyExchangeMode.psk_ke:
            group, client_share = self.select_group()
            if client_share is None:
                self.send_hello_retry_request(suite, group)
                self.set_state(State.START, "send HelloRetryRequest")
                return
        if psk is None:
            self.secrets.pop("early_secret", None)  # a full handshake: no PSK in it
            scheme = self.select_signature_scheme()
            if E.early_data in self.client_extensions:
                # RFC 8446 §4.2.10: without a selected PSK the server ignores the
                # extension and "skips past early data by attempting to deprotect
                # received records using the handshake traffic key, and
                # discarding records which fail deprotection".
                self.choose("early_data", "rejected", "no PSK was accepted: a full handshake")
                self.skip_early_data(max(self.config.max_early_data_size, 2**14))
        else:
            self.resumed = True
            self.select_early_data(*psk)
        self.select_application_protocol()
        self.set_state(State.NEGOTIATED, "select parameters")
        self.send_server_hello(suite, client_share, psk[0] if psk is not None else None)
        self.send_encrypted_extensions()
        if psk is None:
            # RFC 8446 §4.3.2: "Servers which are authenticating with a PSK
            # MUST NOT send the CertificateRequest message in the main handshake".
            if self.config.client_auth != "none":
                self.send_certificate_request()
            staple = self.config.ocsp_response if E.status_request in self.client_extensions else None
            self.send_certificate(staple=staple)
            self.send_certificate_verify(scheme)
        self.send_finished()
        self.compute_application_secrets()
        self.install_keys("write", "server_application_traffic_secret_0", "application")
        if self.early_data_accepted:
            self.set_state(State.WAIT_EOED, "send ServerHello ... Finished (0-RTT accepted)")
            return
        self.set_state(State.WAIT_FLIGHT2, "send ServerHello ... Finished")
        if self.certificate_requested:
            self.set_state(State.WAIT_CERT, "client authentication requested")
        else:
            self.set_state(State.WAIT_FINISHED, "no client authentication")

    # --- resumption (RFC 8446 §4.2.11) and 0-RTT (§4.2.10) ------------------------------

    def select_psk(self) -> tuple[int, SessionState, bytes] | None:
        """The first offered ticket we can open whose hash fits the suite, binder checked.

        Returns (identity index, session state, ticket) or None for a full handshake."""
        offered = self.client_extensions.get(E.pre_shared_key)
        store = self.config.session_store
        if not isinstance(offered, OfferedPsks) or store is None:
            return None
        self.check(
            len(offered.identities) == len(offered.binders),
            "psk_binders_count",
            alerts.IllegalParameter,
            f"{len(offered.identities)} PSK identities but {len(offered.binders)} binders",
            "RFC 8446 §4.2.11",
        )
        now = self.config.clock()
        for index, identity in enumerate(offered.identities):
            state = store.retrieve(identity.identity, now)
            if state is None or state.cipher_suite not in CIPHER_SUITES:
                self.choose("psk", f"identity {index} ignored", "unknown, forged or expired ticket")
                continue
            if CIPHER_SUITES[CipherSuite(state.cipher_suite)].hash_alg != self.hash_alg:
                self.choose("psk", f"identity {index} ignored", "its hash does not match the chosen cipher suite")
                continue
            self.verify_binder(index, state, offered)
            self.choose("psk", f"identity {index} accepted", "the ticket opened and its binder verified")
            return index, state, identity.identity
        return None

    def verify_binder(self, index: int, state: SessionState, offered: OfferedPsks) -> None:
        """RFC 8446 §4.2.11: "Prior to accepting PSK key establishment, the
        server MUST validate the corresponding binder value ... If this value
        is not present or does not validate, the server MUST abort the handshake." """
        self.compute_early_secret(state.resumption_psk)
        binders_length = 2 + sum(1 + len(binder) for binder in offered.binders)
        truncated = self.client_hello_raw[: len(self.client_hello_raw) - binders_length]
        transcript_hash = self.transcript_before_client_hello.digest_with(truncated, self.hash_alg)
        binder_key, expected = self.psk_binder(transcript_hash)
        ok = constant_time_equal(offered.binders[index], expected)
        self.observe(
            trace.BinderVerified(
                role=self.role,
                identity_index=index,
                transcript_hash=transcript_hash,
                ok=ok,
                binder_key=binder_key,
                binder=expected,
                received=offered.binders[index],
            )
        )
        self.check(ok, "psk_binder", alerts.DecryptError, "the PSK binder does not verify", "RFC 8446 §4.2.11.2")

    def select_psk_mode(self) -> PskKeyExchangeMode | None:
        """psk_dhe_ke (forward secret) when both allow it, else psk_ke (RFC 8446 §4.2.9)."""
        modes = self.client_extensions.get(E.psk_key_exchange_modes)
        offered = modes.ke_modes if isinstance(modes, PskKeyExchangeModes) else ()
        for mode in (PskKeyExchangeMode.psk_dhe_ke, PskKeyExchangeMode.psk_ke):
            if mode in offered and mode in self.config.psk_key_exchange_modes:
                self.choose("psk_key_exchange_mode", mode.name, "offered by the client and allowed here")
                return mode
        self.choose("psk", "not used", "no PSK key exchange mode in common")
        return None

    def select_early_data(self, index: int, state: SessionState, ticket: bytes) -> None:
        """Accept 0-RTT data only when every condition of RFC 8446 §4.2.10 holds,
        and only once per ticket (single use, the anti-replay defence of §8.1)."""
        if E.early_data not in self.client_extensions:
            return
        offered = self.client_extensions[E.pre_shared_key]
        assert isinstance(offered, OfferedPsks)
        client_age_ms = (offered.identities[index].obfuscated_ticket_age - state.ticket_age_add) % 2**32
        server_age_ms = (self.config.clock() - state.created) * 1000
        refusal = ""
        if index != 0:
            refusal = "the accepted PSK is not the first identity"
        elif self.hello_retry:
            refusal = "a HelloRetryRequest was sent"
        elif not (self.config.max_early_data_size and state.max_early_data_size):
            refusal = "this server does not accept 0-RTT data"
        elif state.cipher_suite != self.cipher_suite:
            refusal = "the cipher suite differs from the ticket's"
        elif abs(client_age_ms - server_age_ms) > EARLY_DATA_AGE_TOLERANCE_MS:
            refusal = f"the ticket age ({client_age_ms} ms) differs from the server's view ({server_age_ms:.0f} ms)"
        elif not self.config.session_store or not self.config.session_store.use_once(ticket):
            refusal = "the ticket was already used for 0-RTT data: a replay"
        if refusal:
            self.choose("early_data", "rejected", refusal)
            self.skip_early_data(max(self.config.max_early_data_size, 2**14))
            return
        self.choose("early_data", "accepted", "first PSK, same suite, plausible age, first use of the ticket")
        self.early_data_accepted = True
        self.max_early_data = state.max_early_data_size
        self.compute_early_traffic_secrets(self.transcript.digest())

    def select_cipher_suite(self, hello: ClientHello) -> CipherSuite:
        for suite in self.config.cipher_suites:
            if suite in hello.cipher_suites and suite in CIPHER_SUITES:
                return CipherSuite(suite)
        raise alerts.HandshakeFailure("no cipher suite in common with the client", rfc="RFC 8446 §4.1.1")

    def select_group(self) -> tuple[NamedGroup, KeyShareEntry | None]:
        """The server's preferred group among the client's, and the client's share for it."""
        groups = self.client_extensions.get(E.supported_groups)
        shares = self.client_extensions.get(E.key_share)
        # RFC 8446 §9.2: "If containing a 'supported_groups' extension, it MUST
        # also contain a 'key_share' extension, and vice versa."
        if not isinstance(groups, NamedGroupList) or not isinstance(shares, KeyShareClientHello):
            raise alerts.MissingExtension(
                "a ClientHello without pre_shared_key needs both supported_groups and key_share",
                rfc="RFC 8446 §9.2",
            )
        seen: set[int] = set()
        for share in shares.client_shares:
            self.check(
                share.group in groups.named_group_list and share.group not in seen,
                "key_share_groups",
                alerts.IllegalParameter,
                f"key share for {name_of(share.group)} is duplicated or not in supported_groups",
                "RFC 8446 §4.2.8",
            )
            seen.add(share.group)
        for group in self.config.supported_groups:
            if group in groups.named_group_list and group in SUPPORTED_GROUPS:
                share_for_group = next((s for s in shares.client_shares if s.group == group), None)
                return NamedGroup(group), share_for_group
        raise alerts.HandshakeFailure("no key exchange group in common with the client", rfc="RFC 8446 §4.2.7")

    def select_signature_scheme(self) -> SignatureScheme:
        schemes = self.client_extensions.get(E.signature_algorithms)
        if not isinstance(schemes, SignatureSchemeList):
            raise alerts.MissingExtension(
                "a ClientHello for certificate authentication needs signature_algorithms", rfc="RFC 8446 §9.2"
            )
        scheme = self.choose_signature_scheme(schemes.supported_signature_algorithms)
        if scheme is None:
            raise alerts.HandshakeFailure(
                "none of the client's signature_algorithms fits the server certificate", rfc="RFC 8446 §4.2.3"
            )
        return scheme

    def select_application_protocol(self) -> None:
        """RFC 7301 §3.2: pick the first of our protocols that the client offers."""
        offered = self.client_extensions.get(E.application_layer_protocol_negotiation)
        if not isinstance(offered, ProtocolNameList) or not self.config.alpn_protocols:
            return
        for protocol in self.config.alpn_protocols:
            if protocol in offered.protocol_name_list:
                self.alpn_protocol = protocol
                return
        raise alerts.NoApplicationProtocol("none of the client's ALPN protocols is supported", rfc="RFC 7301 §3.2")

    def send_hello_retry_request(self, suite: CipherSuite, group: NamedGroup) -> None:
        """RFC 8446 §4.1.4: ask for a key share for `group` (and echo a cookie)."""
        hello = self.client_hello
        assert hello is not None
        client_hello1_hash = self.transcript.replace_with_message_hash()
        extensions: list[Extension] = [make_extension(E.key_share, KeyShareHelloRetryRequest(group))]
        if self.config.hello_retry_cookie:
            self.cookie = self.make_cookie(client_hello1_hash)
            extensions.append(make_extension(E.cookie, Cookie(self.cookie)))
        extensions.append(make_extension(E.supported_versions, SupportedVersionsServerHello(ProtocolVersion.TLS1_3)))
        self.send_handshake(
            ServerHello(
                random=HELLO_RETRY_REQUEST_RANDOM,
                legacy_session_id_echo=hello.legacy_session_id,
                cipher_suite=suite,
                extensions=tuple(extensions),
            )
        )
        self.hello_retry_group = group
        self.hello_retry = True
        if E.early_data in self.client_extensions:
            # RFC 8446 §4.2.10: after a HelloRetryRequest the server "ignores
            # early data by skipping all records with an external content type
            # of 'application_data' ... up to the configured max_early_data_size".
            self.choose("early_data", "rejected", "a HelloRetryRequest was sent")
            self.skip_early_data(max(self.config.max_early_data_size, 2**14))
        self.maybe_send_change_cipher_spec(hello)

    def make_cookie(self, client_hello1_hash: bytes) -> bytes:
        """RFC 8446 §4.2.2: a cookie lets a server forget the first ClientHello.

        teachtls's cookie is Hash(ClientHello1) plus an HMAC over it under a
        per-connection secret, the shape a stateless server would use."""
        if self.config.make_cookie is not None:
            return self.config.make_cookie(client_hello1_hash)
        cookie_secret = self.config.random(self.hash_alg.digest_size)
        return client_hello1_hash + hmac(self.hash_alg, cookie_secret, client_hello1_hash)

    def maybe_send_change_cipher_spec(self, hello: ClientHello) -> None:
        """RFC 8446 §D.4: "The server sends a dummy change_cipher_spec record
        immediately after its first handshake message", when the client
        signalled compatibility mode with a non-empty legacy_session_id."""
        if hello.legacy_session_id and not self.sent_change_cipher_spec:
            self.send_change_cipher_spec()
            self.sent_change_cipher_spec = True

    def send_server_hello(self, suite: CipherSuite, client_share: KeyShareEntry | None, psk_index: int | None) -> None:
        """RFC 8446 §4.1.3, then the handshake secrets (§7.1)."""
        hello = self.client_hello
        assert hello is not None
        extensions: list[Extension] = []
        if psk_index is not None:
            extensions.append(make_extension(E.pre_shared_key, SelectedIdentity(psk_index)))
        # psk_ke has no (EC)DHE: the handshake secret's IKM is zeros (RFC 8446 §7.1).
        shared_secret = bytes(self.hash_alg.digest_size)
        if client_share is not None:
            group = NamedGroup(client_share.group)
            try:
                server_key_exchange_bytes, shared_secret, private_share = server_key_exchange(
                    group, client_share.key_exchange, self.config.key_share_private_keys.get(group)
                )
            except KeyShareError as error:
                raise alerts.IllegalParameter(
                    f"the client's {group.name} key share is invalid: {error.reason}", rfc="RFC 8446 §4.2.8"
                ) from None
            self.group = group
            server_share = KeyShareEntry(group=group, key_exchange=server_key_exchange_bytes)
            extensions.append(make_extension(E.key_share, KeyShareServerHello(server_share)))
            if self.tracing:
                self.observe(
                    trace.KeyExchangeComputed(
                        role=self.role,
                        group=group.name,
                        client_share=client_share.key_exchange,
                        server_share=server_key_exchange_bytes,
                        private_key=private_share.private_bytes() if private_share is not None else b"",
                        shared_secret=shared_secret,
                    )
                )
        extensions.append(make_extension(E.supported_versions, SupportedVersionsServerHello(ProtocolVersion.TLS1_3)))
        self.send_handshake(
            ServerHello(
                random=self.config.random(32),
                legacy_session_id_echo=hello.legacy_session_id,
                cipher_suite=suite,
                extensions=tuple(extensions),
            )
        )
        self.maybe_send_change_cipher_spec(hello)
        # With 0-RTT accepted, we keep reading with the early keys until EndOfEarlyData.
        self.compute_handshake_secrets(shared_secret, install_read=not self.early_data_accepted)
        if self.early_data_accepted:
            self.install_keys("read", "client_early_traffic_secret", "early")

    def send_encrypted_extensions(self) -> None:
        """RFC 8446 §4.3.1: our answers to the client's extensions."""
        client = self.client_extensions
        extensions: list[Extension] = [
            # RFC 8446 §4.2.7: servers may tell the client which groups they prefer.
            make_extension(E.supported_groups, NamedGroupList(tuple(self.config.supported_groups))),
        ]
        client_limit = client.get(E.record_size_limit)
        if isinstance(client_limit, RecordSizeLimit) and self.config.record_size_limit is not None:
            self.check(
                client_limit.record_size_limit >= 64,
                "record_size_limit_minimum",
                alerts.IllegalParameter,
                f"record_size_limit {client_limit.record_size_limit} is smaller than 64",
                "RFC 8449 §4",
            )
            extensions.append(make_extension(E.record_size_limit, RecordSizeLimit(self.config.record_size_limit)))
            self.peer_record_size_limit = client_limit.record_size_limit
            self.own_record_size_limit = self.config.record_size_limit
        server_names = client.get(E.server_name)
        if isinstance(server_names, ServerNameList):
            self.server_name = server_names.server_name_list[0].host_name.decode("ascii", "replace")
            # RFC 6066 §3: an empty server_name in the reply says the name was used.
            extensions.append(make_extension(E.server_name, Empty()))
        if self.alpn_protocol is not None:
            extensions.append(
                make_extension(E.application_layer_protocol_negotiation, ProtocolNameList((self.alpn_protocol,)))
            )
        if self.early_data_accepted:
            extensions.append(make_extension(E.early_data, Empty()))
        self.send_handshake(EncryptedExtensions(extensions=tuple(extensions)))

    def send_certificate_request(self) -> None:
        """RFC 8446 §4.3.2: ask the client for a certificate."""
        schemes = SignatureSchemeList(tuple(self.config.signature_algorithms))
        self.send_handshake(CertificateRequest(extensions=(make_extension(E.signature_algorithms, schemes),)))
        self.certificate_requested = True

    # --- the client's second flight -----------------------------------------------------

    def on_end_of_early_data(self, message: EndOfEarlyData, raw: bytes) -> State:
        """RFC 8446 §4.5: the end of 0-RTT data; from now on, handshake keys."""
        self.received(raw, "EndOfEarlyData")
        self.install_keys("read", "client_handshake_traffic_secret", "handshake")
        return State.WAIT_CERT if self.certificate_requested else State.WAIT_FINISHED

    def on_certificate(self, message: Certificate, raw: bytes) -> State:
        """RFC 8446 §4.4.2: the client's chain, possibly empty."""
        self.check(
            message.certificate_request_context == b"",
            "certificate_request_context_echoed",
            alerts.IllegalParameter,
            "the client's Certificate does not echo the CertificateRequest context",
            "RFC 8446 §4.4.2",
        )
        if not message.certificate_list:
            if self.config.client_auth == "require":
                # RFC 8446 §4.4.2.4: the server "MAY at its discretion either
                # continue the handshake without client authentication, or
                # abort the handshake with a 'certificate_required' alert."
                raise alerts.CertificateRequired("the client sent no certificate", rfc="RFC 8446 §4.4.2.4")
            self.received(raw, "Certificate")
            return State.WAIT_FINISHED
        self.parse_peer_certificates(message, None)
        self.verify_peer_chain(None)
        self.received(raw, "Certificate")
        return State.WAIT_CV

    def on_certificate_verify(self, message: CertificateVerify, raw: bytes) -> State:
        self.check_certificate_verify(message, raw, tuple(self.config.signature_algorithms))
        return State.WAIT_FINISHED

    def on_finished(self, message: Finished, raw: bytes) -> State:
        """RFC 8446 §4.4.4: the client's Finished completes the handshake."""
        self.check_finished(message, raw)
        self.allow_change_cipher_spec(False)
        self.install_keys("read", "client_application_traffic_secret_0", "application")
        self.compute_resumption_master_secret()
        self.events.append(self.negotiated())
        self.send_session_tickets()
        return State.CONNECTED

    # --- after the handshake (RFC 8446 §4.6.1) ---------------------------------------------

    def send_session_tickets(self) -> None:
        """Send `config.session_tickets` NewSessionTickets (RFC 8446 §4.6.1).

        Each ticket stands for a PSK the client may offer later:
            PSK = HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length)
        The nonce makes every ticket of a connection yield a different PSK.
        The ticket itself is whatever the session store makes of the state."""
        store = self.config.session_store
        if store is None or self.cipher_suite is None:
            return
        for index in range(self.config.session_tickets):
            ticket_nonce = index.to_bytes(2, "big")
            # RFC 8446 §4.6.1: "a securely generated, random 32-bit value"
            ticket_age_add = int.from_bytes(self.config.random(4), "big")
            state = SessionState(
                cipher_suite=self.cipher_suite,
                resumption_psk=self.derive_resumption_psk(ticket_nonce),
                created=self.config.clock(),
                ticket_age_add=ticket_age_add,
                ticket_lifetime=min(self.config.ticket_lifetime, MAX_TICKET_LIFETIME),
                max_early_data_size=self.config.max_early_data_size,
                alpn_protocol=self.alpn_protocol,
                server_name=self.server_name,
            )
            extensions: tuple[Extension, ...] = ()
            if self.config.max_early_data_size:
                early_data = EarlyDataIndicationNewSessionTicket(self.config.max_early_data_size)
                extensions = (make_extension(E.early_data, early_data),)
            self.send_handshake(
                NewSessionTicket(
                    ticket_lifetime=state.ticket_lifetime,
                    ticket_age_add=ticket_age_add,
                    ticket_nonce=ticket_nonce,
                    ticket=store.store(state),
                    extensions=extensions,
                ),
                transcript=False,
            )


__all__ = ["ServerConnection"]
