"""The TLS 1.2 server: one handler per entry of `SERVER_12` (RFC 5246 §7.3).

The server enters this machine when the ClientHello leads to TLS 1.2
(`ServerConnection.select_version`). It answers in one flight --

    ServerHello, Certificate, [CertificateStatus], ServerKeyExchange (ECDHE),
    [CertificateRequest], ServerHelloDone

-- or, when it resumes a session (by ticket, RFC 5077, or by session ID),

    ServerHello, [NewSessionTicket], ChangeCipherSpec, Finished.

Choices, with the server's preferences first: the cipher suite must fit the
server's certificate (ECDSA suites need an EC or Ed25519 key, RSA suites an
RSA key); static RSA and CBC suites only with `legacy_suites_for_teaching`.

Downgrade protection (RFC 8446 §4.1.3): a server that could have spoken
TLS 1.3 but negotiates TLS 1.2 ends its ServerHello.random with
"DOWNGRD\\x01", so a TLS 1.3 client can tell an attacker stripped 1.3.

Renegotiation (RFC 5746): a re-handshake on the same connection is accepted
only when both sides proved RFC 5746 support in the first handshake, and only
when the new ClientHello carries the client's last verify_data. Otherwise the
server declines with a warning no_renegotiation alert.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from teachtls.crypto import signature
from teachtls.crypto.keyshare import SUPPORTED_GROUPS, KeyShareError, PrivateKeyShare, generate_key_share
from teachtls.crypto.suites12 import SUITES_12, TEACHING_ONLY_SUITES_12
from teachtls.handshake import alerts
from teachtls.handshake.client12 import SIGNATURE_SCHEMES_12, schemes_for_key_12
from teachtls.handshake.common12 import Handshake12
from teachtls.handshake.common13 import load_certificate
from teachtls.handshake.states import State
from teachtls.sessions import SessionDatabase, SessionState
from teachtls.trace import events as trace
from teachtls.wire.codec import WireStruct
from teachtls.wire.enums import (
    AlertDescription,
    CipherSuite,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
    name_of,
)
from teachtls.wire.extensions import (
    ECPointFormatList,
    Empty,
    Extension,
    NamedGroupList,
    ProtocolNameList,
    RawBody,
    RenegotiationInfo,
    ServerNameList,
    SignatureSchemeList,
    make_extension,
)
from teachtls.wire.messages import DOWNGRADE_TLS12, CertificateVerify, ClientHello, Finished, ServerHello
from teachtls.wire.messages12 import (
    Certificate12,
    CertificateRequest12,
    CertificateStatus12,
    ClientKeyExchangeECDHE,
    ClientKeyExchangeRSA,
    HelloRequest,
    NewSessionTicket12,
    ServerHelloDone,
    ServerKeyExchange,
)

E = ExtensionType


class Server12Handshake(Handshake12):
    """TLS 1.2 handlers of the server (see SERVER_12 in states.py)."""

    client_hello: ClientHello | None
    client_hello_raw: bytes
    client_extensions: dict[int, WireStruct]
    certificate_requested: bool
    server_random: bytes
    client_random: bytes

    def select_application_protocol(self) -> None:
        """Defined by ServerConnection (shared with TLS 1.3)."""
        raise NotImplementedError

    # --- the ClientHello -------------------------------------------------------------

    def accept_client_hello_12(self, message: ClientHello, raw: bytes, extensions: dict[int, WireStruct]) -> State:
        """A ClientHello that leads to TLS 1.2 (RFC 5246 §7.4.1.2)."""
        self.check(
            b"\x00" in message.legacy_compression_methods,
            "null_compression_offered",
            alerts.IllegalParameter,
            "the ClientHello does not offer the null compression method",
            "RFC 5246 §7.4.1.2",
        )
        self.version = ProtocolVersion.TLS1_2
        self.client_hello = message
        self.client_hello_raw = raw
        self.client_extensions = extensions
        self.received(raw, "ClientHello")
        return State.RECVD_CH

    def on_renegotiation_client_hello(self, message: ClientHello, raw: bytes) -> State:
        """RFC 5746 §4.4 (secure) or a refusal (RFC 5746 §4.4, last paragraph)."""
        extensions = {int(e.extension_type): e.extension_data for e in message.extensions}
        if self.version != ProtocolVersion.TLS1_2 or not (
            self.secure_renegotiation and self.config.allow_renegotiation
        ):
            if self.version != ProtocolVersion.TLS1_2:
                raise alerts.UnexpectedMessage("a ClientHello after a TLS 1.3 handshake", rfc="RFC 8446 §4")
            self.choose("renegotiation", "refused", "the client does not support RFC 5746 secure renegotiation")
            self.send_warning(AlertDescription.no_renegotiation_RESERVED, "insecure renegotiation refused")
            return State.CONNECTED
        # RFC 5746 §3.7: "the server MUST verify that it does not contain the
        # TLS_EMPTY_RENEGOTIATION_INFO_SCSV SCSV. If the SCSV is present, the server MUST abort the handshake."
        self.check(
            CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV not in message.cipher_suites,
            "no_scsv_in_renegotiation",
            alerts.HandshakeFailure,
            "the renegotiating ClientHello carries TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
            "RFC 5746 §3.7",
        )
        info = extensions.get(E.renegotiation_info)
        self.check(
            isinstance(info, RenegotiationInfo) and info.renegotiated_connection == self.client_verify_data,
            "renegotiation_info_verify_data",
            alerts.HandshakeFailure,
            "the renegotiating ClientHello does not carry the client's last verify_data",
            "RFC 5746 §3.7",
        )
        self.start_new_handshake_12()
        return self.accept_client_hello_12(message, raw, extensions)

    # --- choosing and answering (RECVD_CH -> WAIT_CERT / WAIT_CKE / WAIT_CCS) ---------

    def negotiate_12(self) -> None:
        hello = self.client_hello
        assert hello is not None
        extensions = self.client_extensions
        if not self.renegotiating:
            info = extensions.get(E.renegotiation_info)
            scsv = CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV in hello.cipher_suites
            if isinstance(info, RenegotiationInfo):
                self.check(
                    info.renegotiated_connection == b"",
                    "renegotiation_info_empty",
                    alerts.HandshakeFailure,
                    "renegotiation_info is not empty in an initial handshake",
                    "RFC 5746 §3.6",
                )
            self.secure_renegotiation = isinstance(info, RenegotiationInfo) or scsv
        session = self.find_session_12()
        suite = session.cipher_suite if session is not None else self.select_cipher_suite_12(hello)
        self.enter_tls12(suite)
        self.use_extended_master_secret = self.config.extended_master_secret and E.extended_master_secret in extensions
        self.server_random = self.server_random_12()
        self.client_random = hello.random
        self.select_application_protocol()
        self.staple = self.config.ocsp_response if E.status_request in extensions and session is None else None
        self.issue_ticket = bool(
            E.session_ticket in extensions and self.config.session_store is not None and self.config.session_tickets
        )
        if session is not None:
            self.resumed = True
            self.session_id = hello.legacy_session_id
            self.send_server_hello_12()
            self.record_master_secret(session.master_secret, "(resumed session)", ("saved session",), "RFC 5246 §7.3")
            self.compute_key_block(self.client_random, self.server_random)
            self.send_ticket_12()
            self.send_change_cipher_spec_12()
            self.send_finished_12()
            self.set_state(State.WAIT_CCS, "resume: send ServerHello, ChangeCipherSpec, Finished")
            return
        self.session_id = self.config.random(32) if self.config.session_id_cache is not None else b""
        self.send_server_hello_12()
        self.send_certificate_12()
        if self.staple is not None:
            self.send_handshake(CertificateStatus12(ocsp_response=self.staple))
        assert self.params12 is not None
        if self.params12.key_exchange != "RSA":
            self.send_server_key_exchange()
        if self.config.client_auth != "none":
            self.send_handshake(
                CertificateRequest12(
                    supported_signature_algorithms=tuple(
                        s for s in self.config.signature_algorithms if s in SIGNATURE_SCHEMES_12
                    )
                )
            )
            self.certificate_requested = True
        self.send_handshake(ServerHelloDone())
        if self.certificate_requested:
            self.set_state(State.WAIT_CERT, "send ServerHello ... ServerHelloDone (client auth)")
        else:
            self.set_state(State.WAIT_CKE, "send ServerHello ... ServerHelloDone")

    def select_cipher_suite_12(self, hello: ClientHello) -> int:
        """The first of our TLS 1.2 suites the client offers that fits our certificate."""
        ours = tuple(self.config.cipher_suites_12)
        if self.config.legacy_suites_for_teaching:
            ours += tuple(TEACHING_ONLY_SUITES_12)
        key = self.config.certificate_chain[0].public_key() if self.config.certificate_chain else None
        for suite in ours:
            params = SUITES_12.get(suite)
            if params is None or suite not in hello.cipher_suites:
                continue
            if params.teaching_only and not self.config.legacy_suites_for_teaching:
                continue  # static RSA and CBC: only with the explicit teaching flag
            fits_ecdsa = isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey)
            fits_rsa = isinstance(key, rsa.RSAPublicKey)
            if (params.key_exchange == "ECDHE_ECDSA" and fits_ecdsa) or (
                params.key_exchange in ("ECDHE_RSA", "RSA") and fits_rsa
            ):
                self.choose("cipher_suite", params.name, "the first of the server's suites that fits its certificate")
                return suite
        raise alerts.HandshakeFailure(
            "no TLS 1.2 cipher suite in common that fits the server certificate", rfc="RFC 5246 §7.4.1.3"
        )

    def server_random_12(self) -> bytes:
        """RFC 8446 §4.1.3: a TLS 1.3-capable server marks a TLS 1.2 ServerHello."""
        random = self.config.random(32)
        if ProtocolVersion.TLS1_3 in self.config.versions:
            return random[:24] + DOWNGRADE_TLS12
        return random

    def find_session_12(self) -> SessionState | None:
        """Resumption by ticket (RFC 5077 §3.1) first, then by session ID (RFC 5246 §7.4.1.2)."""
        hello = self.client_hello
        assert hello is not None
        now = self.config.clock()
        state: SessionState | None = None
        ticket = self.client_extensions.get(E.session_ticket)
        if isinstance(ticket, RawBody) and ticket.data and self.config.session_store is not None:
            state = self.config.session_store.retrieve(ticket.data, now)
            how = "ticket"
        if state is None and hello.legacy_session_id and self.config.session_id_cache is not None:
            state = self.config.session_id_cache.retrieve(hello.legacy_session_id, now)
            how = "session ID"
        if state is None:
            return None
        refusal = ""
        if state.version != ProtocolVersion.TLS1_2 or not state.master_secret:
            refusal = "the saved session is not a TLS 1.2 session"
        elif state.cipher_suite not in hello.cipher_suites:
            refusal = "the client no longer offers the session's cipher suite"
        elif state.extended_master_secret and E.extended_master_secret not in self.client_extensions:
            # RFC 7627 §5.3: such a session "MUST NOT" be resumed without the extension.
            refusal = "the session used the extended master secret, the new ClientHello does not"
        elif (
            self.config.extended_master_secret
            and not state.extended_master_secret
            and E.extended_master_secret in self.client_extensions
        ):
            # RFC 7627 §5.3: then "the server MUST NOT perform the abbreviated handshake".
            refusal = "the new ClientHello offers the extended master secret, the session did not use it"
        if refusal:
            self.choose("session", "full handshake", refusal)
            return None
        self.choose("session", f"resumed by {how}", "the saved session is valid and compatible")
        return state

    def send_server_hello_12(self) -> None:
        hello = self.client_hello
        assert hello is not None and self.params12 is not None
        client = self.client_extensions
        extensions: list[Extension] = []
        if isinstance(client.get(E.server_name), ServerNameList):
            names = client[E.server_name]
            assert isinstance(names, ServerNameList)
            self.server_name = names.server_name_list[0].host_name.decode("ascii", "replace")
            extensions.append(make_extension(E.server_name, Empty()))
        if self.secure_renegotiation:
            # RFC 5746 §3.6/§3.7: empty at first, then both last Finished values.
            verify_data = self.client_verify_data + self.server_verify_data
            extensions.append(make_extension(E.renegotiation_info, RenegotiationInfo(verify_data)))
        if E.ec_point_formats in client:
            extensions.append(make_extension(E.ec_point_formats, ECPointFormatList((0,))))  # uncompressed
        if self.issue_ticket:
            extensions.append(make_extension(E.session_ticket, Empty()))
        if self.alpn_protocol is not None:
            extensions.append(
                make_extension(E.application_layer_protocol_negotiation, ProtocolNameList((self.alpn_protocol,)))
            )
        if self.staple is not None:
            extensions.append(make_extension(E.status_request, Empty()))
        if self.use_extended_master_secret:
            extensions.append(make_extension(E.extended_master_secret, Empty()))
        self.send_handshake(
            ServerHello(
                random=self.server_random,
                legacy_session_id_echo=self.session_id,
                cipher_suite=self.params12.suite,
                extensions=tuple(extensions),
            )
        )

    def send_server_key_exchange(self) -> None:
        """RFC 8422 §5.4: an ephemeral ECDH key, signed with both randoms."""
        group = self.select_group_12()
        self.server_share: PrivateKeyShare = generate_key_share(group, self.config.key_share_private_keys.get(group))
        self.group = group
        scheme = self.select_scheme_12()
        unsigned = ServerKeyExchange(
            namedcurve=group, public=self.server_share.public_bytes(), algorithm=scheme, signature=b""
        )
        content = self.client_random + self.server_random + unsigned.params_bytes()
        if self.config.signer is not None:
            signed = self.config.signer(scheme, content)
        else:
            assert self.config.private_key is not None
            signed = signature.sign(self.config.private_key, scheme, content, allow_pkcs1=True)  # type: ignore[arg-type]
        self.signature_scheme = scheme
        self.observe(
            trace.SignatureCreated(
                role=self.role, scheme=name_of(scheme), content=content, signature=signed, rfc="RFC 5246 §7.4.3"
            )
        )
        self.send_handshake(
            ServerKeyExchange(
                namedcurve=group, public=self.server_share.public_bytes(), algorithm=scheme, signature=signed
            )
        )

    def select_group_12(self) -> NamedGroup:
        offered = self.client_extensions.get(E.supported_groups)
        # RFC 8422 §4: without supported_groups, assume the client takes secp256r1.
        client_groups = offered.named_group_list if isinstance(offered, NamedGroupList) else (NamedGroup.secp256r1,)
        for group in self.config.supported_groups:
            if group in client_groups and group in SUPPORTED_GROUPS and group != NamedGroup.X25519MLKEM768:
                self.choose("group", name_of(group), "the first of the server's groups the client supports")
                return NamedGroup(group)
        raise alerts.HandshakeFailure("no ECDHE group in common", rfc="RFC 8422 §5.1.1")

    def select_scheme_12(self) -> SignatureScheme:
        schemes = self.client_extensions.get(E.signature_algorithms)
        if not isinstance(schemes, SignatureSchemeList):
            raise alerts.HandshakeFailure(
                "the ClientHello has no signature_algorithms; teachtls will not fall back to SHA-1",
                rfc="RFC 5246 §7.4.1.4.1",
            )
        usable = schemes_for_key_12(self.config.certificate_chain[0].public_key())
        for scheme in schemes.supported_signature_algorithms:
            if scheme in usable and scheme in self.config.signature_algorithms and scheme in SIGNATURE_SCHEMES_12:
                return SignatureScheme(scheme)
        raise alerts.HandshakeFailure(
            "none of the client's signature_algorithms fits the server certificate", rfc="RFC 5246 §7.4.1.4.1"
        )

    # --- the client's flight --------------------------------------------------------------

    def on_certificate_12(self, message: Certificate12, raw: bytes) -> State:
        """RFC 5246 §7.4.6: the client's chain, possibly empty."""
        if not message.certificate_list:
            if self.config.client_auth == "require":
                # RFC 5246 §7.4.6: the server "MAY ... respond with a fatal handshake_failure alert".
                raise alerts.HandshakeFailure("the client sent no certificate", rfc="RFC 5246 §7.4.6")
            self.received(raw, "Certificate")
            return State.WAIT_CKE
        try:
            self.peer_certificates = tuple(load_certificate(der) for der in message.certificate_list)
        except ValueError as error:
            raise alerts.BadCertificate(
                f"the client's certificate is not valid DER: {error}", rfc="RFC 5246 §7.4.6"
            ) from None
        self.verify_peer_chain(None)
        self.received(raw, "Certificate")
        return State.WAIT_CKE

    def on_client_key_exchange(self, message: ClientKeyExchangeECDHE | ClientKeyExchangeRSA, raw: bytes) -> State:
        """RFC 5246 §7.4.7: the pre-master secret, then the master secret and keys."""
        if isinstance(message, ClientKeyExchangeRSA):
            self.pre_master_secret = self.decrypt_pre_master_secret(message.encrypted_pre_master_secret)
        else:
            try:
                self.pre_master_secret = self.server_share.exchange(message.ecdh_Yc)
            except KeyShareError as error:
                raise alerts.IllegalParameter(
                    f"the client's ECDH public key is invalid: {error.reason}", rfc="RFC 8422 §5.7"
                ) from None
            self.observe(
                trace.KeyExchangeComputed(
                    role=self.role,
                    group=name_of(self.group or 0),
                    client_share=message.ecdh_Yc,
                    server_share=self.server_share.public_bytes(),
                    private_key=self.server_share.private_bytes(),
                    shared_secret=self.pre_master_secret,
                    rfc="RFC 8422 §5.10",
                )
            )
        self.received(raw, "ClientKeyExchange")
        self.compute_master_secret(self.client_random, self.server_random)
        self.compute_key_block(self.client_random, self.server_random)
        return State.WAIT_CV if self.peer_certificates else State.WAIT_CCS

    def decrypt_pre_master_secret(self, encrypted: bytes) -> bytes:
        """RFC 5246 §7.4.7.1, with its defence against Bleichenbacher's attack:
        on any failure, carry on with a random pre-master secret, so the
        handshake fails later at Finished in the same way whatever went wrong.
        (Python cannot make this constant-time; real stacks must.)"""
        fake = ProtocolVersion.TLS1_2.to_bytes(2, "big") + self.config.random(46)
        key = self.config.private_key
        if not isinstance(key, rsa.RSAPrivateKey):
            raise alerts.InternalError("RSA key exchange without an RSA private key", rfc="RFC 5246 §7.4.7.1")
        try:
            decrypted = key.decrypt(encrypted, padding.PKCS1v15())
        except ValueError:
            decrypted = b""
        hello = self.client_hello
        assert hello is not None
        good = len(decrypted) == 48 and decrypted[:2] == int(hello.legacy_version).to_bytes(2, "big")
        self.observe(
            trace.Note(
                role=self.role,
                level="warning",
                text="static RSA key exchange: the pre-master secret was encrypted to our long-term key "
                "-- no forward secrecy (teaching only)",
                rfc="RFC 5246 §7.4.7.1",
            )
        )
        return decrypted if good else fake

    def on_certificate_verify_12(self, message: CertificateVerify, raw: bytes) -> State:
        """RFC 5246 §7.4.8: the client signed every handshake message so far."""
        content = b"".join(self.handshake_messages)
        self.check(
            message.algorithm in self.config.signature_algorithms and message.algorithm in SIGNATURE_SCHEMES_12,
            "certificate_verify_algorithm",
            alerts.IllegalParameter,
            f"CertificateVerify uses {name_of(message.algorithm)}, which was not requested",
            "RFC 5246 §7.4.8",
        )
        self.verify_peer_signature(
            message.algorithm,
            content,
            message.signature,
            check="certificate_verify_signature",
            reason="the client's CertificateVerify signature does not verify",
            rfc="RFC 5246 §7.4.8",
        )
        self.received(raw, "CertificateVerify")
        return State.WAIT_CCS

    def on_finished_12(self, message: Finished, raw: bytes) -> State:
        self.check_finished_12(message, raw)
        if not self.resumed:
            self.send_ticket_12()
            self.send_change_cipher_spec_12()
            self.send_finished_12()
            self.save_session_12()
        self.allow_change_cipher_spec(False)
        self.renegotiating = False
        self.events.append(self.negotiated())
        return State.CONNECTED

    # --- sessions and tickets ------------------------------------------------------------

    def session_state_12(self) -> SessionState:
        assert self.params12 is not None
        return SessionState(
            cipher_suite=self.params12.suite,
            resumption_psk=b"",
            created=self.config.clock(),
            ticket_age_add=0,
            ticket_lifetime=self.config.ticket_lifetime,
            alpn_protocol=self.alpn_protocol,
            server_name=self.server_name,
            version=ProtocolVersion.TLS1_2,
            master_secret=self.secrets["master_secret"],
            extended_master_secret=self.use_extended_master_secret,
        )

    def send_ticket_12(self) -> None:
        """RFC 5077 §3.3: a NewSessionTicket right before our ChangeCipherSpec."""
        if not self.issue_ticket or self.config.session_store is None:
            return
        ticket = self.config.session_store.store(self.session_state_12())
        self.send_handshake(NewSessionTicket12(ticket_lifetime_hint=self.config.ticket_lifetime, ticket=ticket))

    def save_session_12(self) -> None:
        cache = self.config.session_id_cache
        if isinstance(cache, SessionDatabase) and self.session_id:
            cache.put(self.session_id, self.session_state_12())

    # --- re-handshakes ---------------------------------------------------------------------

    def request_renegotiation(self) -> None:
        """Ask the client for a new handshake with a HelloRequest (RFC 5246 §7.4.1.1)."""
        if self.version != ProtocolVersion.TLS1_2 or self.state is not State.CONNECTED:
            raise alerts.TLSError("renegotiation needs an established TLS 1.2 connection")
        self.send_handshake(HelloRequest(), transcript=False)
        self.flush()
        self.set_state(State.CONNECTED, "renegotiate: send HelloRequest")
