"""The TLS 1.2 client: one handler per entry of `CLIENT_12` (RFC 5246 §7.3).

The client starts every handshake the TLS 1.3 way -- one ClientHello that
offers both versions (`Config.versions`) -- and enters this machine when the
ServerHello picks TLS 1.2. Then, in a full handshake:

    Certificate -> [CertificateStatus] -> ServerKeyExchange (ECDHE only)
    -> [CertificateRequest] -> ServerHelloDone
    => [Certificate] ClientKeyExchange [CertificateVerify] ChangeCipherSpec Finished
    -> [NewSessionTicket] ChangeCipherSpec Finished

and in a resumed one just [NewSessionTicket] ChangeCipherSpec Finished from
the server, answered by ChangeCipherSpec Finished.

What the client checks on top of TLS 1.3's rules:

* downgrade protection (RFC 8446 §4.1.3): a TLS 1.3-capable client that gets
  a TLS 1.2 ServerHello ending in "DOWNGRD\\x01" aborts -- someone in the
  middle stripped TLS 1.3 from the offer;
* the ServerKeyExchange signature over both randoms and the server's ECDH
  parameters (RFC 5246 §7.4.3), with a scheme we offered;
* RFC 5746's renegotiation_info values, in the first and in every
  re-handshake, and the extended master secret of resumed sessions
  (RFC 7627 §5.3).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import padding, rsa

from teachtls.connection import HelloRequestReceived
from teachtls.crypto import signature
from teachtls.crypto.keyshare import SUPPORTED_GROUPS, KeyShareError, generate_key_share
from teachtls.crypto.suites12 import SUITES_12
from teachtls.handshake import alerts
from teachtls.handshake.common12 import Handshake12
from teachtls.handshake.common13 import load_certificate
from teachtls.handshake.states import State
from teachtls.sessions import ClientSession
from teachtls.trace import events as trace
from teachtls.wire.enums import (
    AlertDescription,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
    name_of,
)
from teachtls.wire.extensions import ProtocolNameList, RenegotiationInfo, find_extension
from teachtls.wire.messages import CertificateVerify, ClientHello, Finished, HandshakeMessage, ServerHello
from teachtls.wire.messages12 import (
    EC_CURVE_TYPE_NAMED_CURVE,
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

# RFC 5246 §7.4.3 / RFC 8446 §4.2.3: what may sign a TLS 1.2 ServerKeyExchange
# or CertificateVerify. Unlike TLS 1.3, RSASSA-PKCS1-v1_5 is still allowed.
SIGNATURE_SCHEMES_12 = frozenset(
    {
        SignatureScheme.ecdsa_secp256r1_sha256,
        SignatureScheme.ecdsa_secp384r1_sha384,
        SignatureScheme.ecdsa_secp521r1_sha512,
        SignatureScheme.rsa_pss_rsae_sha256,
        SignatureScheme.rsa_pss_rsae_sha384,
        SignatureScheme.rsa_pss_rsae_sha512,
        SignatureScheme.rsa_pkcs1_sha256,
        SignatureScheme.rsa_pkcs1_sha384,
        SignatureScheme.rsa_pkcs1_sha512,
        SignatureScheme.ed25519,
    }
)


def schemes_for_key_12(public_key: object) -> tuple[SignatureScheme, ...]:
    """TLS 1.3's schemes for this key, plus PKCS#1 v1.5 for RSA keys."""
    schemes = signature.schemes_for_key(public_key)  # type: ignore[arg-type]
    if isinstance(public_key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        schemes += (
            SignatureScheme.rsa_pkcs1_sha256,
            SignatureScheme.rsa_pkcs1_sha384,
            SignatureScheme.rsa_pkcs1_sha512,
        )
    return schemes


class Client12Handshake(Handshake12):
    """TLS 1.2 handlers of the client (see CLIENT_12 in states.py)."""

    # Set up by ClientConnection, which builds the (shared) ClientHello.
    session: ClientSession | None
    sessions: list[ClientSession]
    offering_session_12: bool
    legacy_session_id: bytes
    client_random: bytes
    offered_extensions: set[int]
    server_random: bytes = b""
    status_acknowledged = False
    ticket_expected = False
    certificate_request_12: CertificateRequest12 | None = None
    client_key_exchange: ClientKeyExchangeECDHE | None = None
    ticket_12 = b""
    ticket_lifetime_12 = 0

    def build_client_hello(self, cookie: bytes | None = None) -> ClientHello:
        """Defined by ClientConnection (one ClientHello for both versions)."""
        raise NotImplementedError

    # --- ServerHello (RFC 5246 §7.4.1.3) ----------------------------------------------

    def on_server_hello_12(self, message: ServerHello, raw: bytes) -> State:
        """The server chose TLS 1.2: check its answers, continue in CLIENT_12."""
        offered_suites = self.offered_suites_12()
        self.check(
            message.cipher_suite in offered_suites,
            "cipher_suite_offered",
            alerts.IllegalParameter,
            f"the ServerHello selects {name_of(message.cipher_suite)}, which was not offered for TLS 1.2",
            "RFC 5246 §7.4.1.3",
        )
        self.check(
            message.legacy_compression_method == 0,
            "legacy_compression_method",
            alerts.IllegalParameter,
            "the ServerHello selects a compression method other than null",
            "RFC 5246 §7.4.1.3",
        )
        self.check_extensions_12(message.extensions, self.offered_extensions)
        self.enter_tls12(message.cipher_suite)
        self.server_random = message.random
        self.check_renegotiation_info(message)
        self.use_extended_master_secret = find_extension(message.extensions, E.extended_master_secret) is not None
        self.status_acknowledged = find_extension(message.extensions, E.status_request) is not None
        self.ticket_expected = find_extension(message.extensions, E.session_ticket) is not None
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
        self.received(raw, "ServerHello")
        self.session_id = message.legacy_session_id_echo
        session = self.session if self.offering_session_12 else None
        if session is not None and message.legacy_session_id_echo == self.legacy_session_id:
            return self.resume_12(session)
        return State.WAIT_CERT

    def offered_suites_12(self) -> tuple[int, ...]:
        suites = tuple(self.config.cipher_suites_12)
        if self.config.legacy_suites_for_teaching:
            from teachtls.crypto.suites12 import TEACHING_ONLY_SUITES_12

            suites += tuple(TEACHING_ONLY_SUITES_12)
        # Static RSA and CBC suites only ever with the explicit teaching flag.
        return tuple(
            suite
            for suite in dict.fromkeys(suites)
            if suite in SUITES_12 and (self.config.legacy_suites_for_teaching or not SUITES_12[suite].teaching_only)
        )

    def check_renegotiation_info(self, message: ServerHello) -> None:
        """RFC 5746 §3.4 (first handshake) and §3.5 (re-handshake)."""
        info = find_extension(message.extensions, E.renegotiation_info)
        if not self.renegotiating:
            if isinstance(info, RenegotiationInfo):
                # "the client MUST verify that the length of the
                # 'renegotiated_connection' field is zero, and if it is not,
                # MUST abort the handshake (by sending a fatal handshake_failure alert)."
                self.check(
                    info.renegotiated_connection == b"",
                    "renegotiation_info_empty",
                    alerts.HandshakeFailure,
                    "renegotiation_info is not empty in an initial handshake",
                    "RFC 5746 §3.4",
                )
            self.secure_renegotiation = isinstance(info, RenegotiationInfo)
            return
        expected = self.client_verify_data + self.server_verify_data
        self.check(
            isinstance(info, RenegotiationInfo) and info.renegotiated_connection == expected,
            "renegotiation_info_verify_data",
            alerts.HandshakeFailure,
            "the re-handshake's renegotiation_info does not carry both last Finished values",
            "RFC 5746 §3.5",
        )

    def resume_12(self, session: ClientSession) -> State:
        """An abbreviated handshake (RFC 5246 §7.3): keys from the saved master secret."""
        # RFC 7627 §5.3: the client MUST abort if the session used the extension and the
        # ServerHello lacks it -- and if the session did not use it and the ServerHello has it.
        if session.extended_master_secret:
            reason = "the server resumes a session that used the extended master secret without it"
        else:
            reason = "the server resumes a session without the extended master secret, but with it now"
        self.check(
            self.use_extended_master_secret == session.extended_master_secret,
            "extended_master_secret_on_resumption",
            alerts.HandshakeFailure,
            reason,
            "RFC 7627 §5.3",
        )
        self.resumed = True
        self.record_master_secret(session.master_secret, "(resumed session)", ("saved session",), "RFC 5246 §7.3")
        self.compute_key_block(self.client_random, self.server_random)
        return State.WAIT_NST if self.ticket_expected else State.WAIT_CCS

    # --- the server's certificate and key exchange --------------------------------------

    def on_certificate_12(self, message: Certificate12, raw: bytes) -> State:
        """RFC 5246 §7.4.2: the server's chain, leaf first."""
        if not message.certificate_list:
            raise alerts.BadCertificate("the server sent no certificate", rfc="RFC 5246 §7.4.2")
        chain = []
        for index, der in enumerate(message.certificate_list):
            try:
                chain.append(load_certificate(der))
            except ValueError as error:
                raise alerts.BadCertificate(
                    f"certificate {index} of the server's chain is not valid DER X.509: {error}",
                    rfc="RFC 5246 §7.4.2",
                ) from None
        self.peer_certificates = tuple(chain)
        self.received(raw, "Certificate")
        if self.status_acknowledged:
            return State.WAIT_CERT_STATUS  # verified once the staple is in (RFC 6066 §8)
        self.verify_peer_chain(self.server_name)
        return self.after_certificate_12()

    def after_certificate_12(self) -> State:
        assert self.params12 is not None
        return State.WAIT_CR_OR_SHD if self.params12.key_exchange == "RSA" else State.WAIT_SKE

    def on_certificate_status(self, message: CertificateStatus12, raw: bytes) -> State:
        """RFC 6066 §8: the stapled OCSP response, checked with the chain."""
        self.peer_staple = message.ocsp_response
        self.received(raw, "CertificateStatus")
        self.verify_peer_chain(self.server_name)
        return self.after_certificate_12()

    def on_server_key_exchange(self, message: ServerKeyExchange, raw: bytes) -> State:
        """RFC 8422 §5.4: the server's signed ephemeral ECDH key."""
        self.check(
            message.curve_type == EC_CURVE_TYPE_NAMED_CURVE,
            "ec_curve_type_named",
            alerts.IllegalParameter,
            f"ServerKeyExchange curve_type {message.curve_type}: only named_curve (3) is allowed",
            "RFC 8422 §5.4",
        )
        group = message.namedcurve
        self.check(
            group in self.config.supported_groups and group in SUPPORTED_GROUPS and group != NamedGroup.X25519MLKEM768,
            "ec_curve_offered",
            alerts.IllegalParameter,
            f"ServerKeyExchange uses {name_of(group)}, which was not offered",
            "RFC 8422 §5.4",
        )
        public_key = self.peer_certificates[0].public_key()
        self.check(
            message.algorithm in self.config.signature_algorithms
            and message.algorithm in SIGNATURE_SCHEMES_12
            and message.algorithm in schemes_for_key_12(public_key),
            "server_key_exchange_algorithm",
            alerts.IllegalParameter,
            f"ServerKeyExchange is signed with {name_of(message.algorithm)}, not offered or unfit for the certificate",
            "RFC 5246 §7.4.3",
        )
        content = self.client_random + self.server_random + message.params_bytes()
        self.verify_peer_signature(
            message.algorithm,
            content,
            message.signature,
            check="server_key_exchange_signature",
            reason="the ServerKeyExchange signature over the randoms and ECDH parameters does not verify",
            rfc="RFC 5246 §7.4.3",
        )
        self.signature_scheme = message.algorithm
        share = generate_key_share(NamedGroup(group), self.config.key_share_private_keys.get(group))
        try:
            self.pre_master_secret = share.exchange(message.public)
        except KeyShareError as error:
            raise alerts.IllegalParameter(
                f"the server's {name_of(group)} public key is invalid: {error.reason}", rfc="RFC 8422 §5.4"
            ) from None
        self.group = group
        self.client_key_exchange = ClientKeyExchangeECDHE(ecdh_Yc=share.public_bytes())
        self.observe(
            trace.KeyExchangeComputed(
                role=self.role,
                group=name_of(group),
                client_share=share.public_bytes(),
                server_share=message.public,
                private_key=share.private_bytes(),
                shared_secret=self.pre_master_secret,
                rfc="RFC 8422 §5.10",
            )
        )
        self.received(raw, "ServerKeyExchange")
        return State.WAIT_CR_OR_SHD

    def on_certificate_request_12(self, message: CertificateRequest12, raw: bytes) -> State:
        self.certificate_request_12 = message
        self.received(raw, "CertificateRequest")
        return State.WAIT_SHD

    def on_server_hello_done(self, message: ServerHelloDone, raw: bytes) -> State:
        """RFC 5246 §7.4.5: our turn -- key exchange, ChangeCipherSpec, Finished."""
        self.received(raw, "ServerHelloDone")
        request = self.certificate_request_12
        scheme = None
        if request is not None:
            scheme = self.choose_client_scheme_12(request)
            self.send_handshake(
                Certificate12(certificate_list=self.config.certificate_chain_der if scheme is not None else ())
            )
        self.send_client_key_exchange()
        self.compute_master_secret(self.client_random, self.server_random)
        self.compute_key_block(self.client_random, self.server_random)
        if scheme is not None:
            self.send_certificate_verify_12(scheme)
        self.send_change_cipher_spec_12()
        self.send_finished_12()
        return State.WAIT_NST if self.ticket_expected else State.WAIT_CCS

    def send_client_key_exchange(self) -> None:
        assert self.params12 is not None
        if self.params12.key_exchange != "RSA":
            assert self.client_key_exchange is not None
            self.send_handshake(self.client_key_exchange)
            return
        # RFC 5246 §7.4.7.1: 48 bytes, the offered version first, encrypted
        # to the server's RSA key. Whoever gets that key later -- even years
        # later, from a recorded capture -- decrypts the whole session:
        # static RSA has no forward secrecy, which is why TLS 1.3 removed it.
        self.pre_master_secret = ProtocolVersion.TLS1_2.to_bytes(2, "big") + self.config.random(46)
        public_key = self.peer_certificates[0].public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise alerts.UnsupportedCertificate(
                "RSA key transport needs an RSA server certificate", rfc="RFC 5246 §7.4.7.1"
            )
        encrypted = public_key.encrypt(self.pre_master_secret, padding.PKCS1v15())
        self.observe(
            trace.Note(
                role=self.role,
                level="warning",
                text="static RSA key exchange: the pre-master secret travels encrypted to the server's "
                "long-term key -- no forward secrecy (teaching only)",
                rfc="RFC 5246 §7.4.7.1",
            )
        )
        self.send_handshake(ClientKeyExchangeRSA(encrypted_pre_master_secret=encrypted))

    def choose_client_scheme_12(self, request: CertificateRequest12) -> SignatureScheme | None:
        if not self.config.certificate_chain:
            return None
        usable = schemes_for_key_12(self.config.certificate_chain[0].public_key())
        for scheme in request.supported_signature_algorithms:
            if scheme in usable and scheme in self.config.signature_algorithms and scheme in SIGNATURE_SCHEMES_12:
                return SignatureScheme(scheme)
        return None

    def send_certificate_verify_12(self, scheme: SignatureScheme) -> None:
        """RFC 5246 §7.4.8: sign every handshake message so far."""
        content = b"".join(self.handshake_messages)
        if self.config.signer is not None:
            signed = self.config.signer(scheme, content)
        else:
            assert self.config.private_key is not None
            signed = signature.sign(self.config.private_key, scheme, content, allow_pkcs1=True)  # type: ignore[arg-type]
        self.observe(
            trace.SignatureCreated(
                role=self.role, scheme=scheme.name, content=content, signature=signed, rfc="RFC 5246 §7.4.8"
            )
        )
        self.send_handshake(CertificateVerify(algorithm=scheme, signature=signed))

    # --- the server's last flight ------------------------------------------------------

    def on_new_session_ticket_12(self, message: NewSessionTicket12, raw: bytes) -> State:
        """RFC 5077 §3.3: a ticket for resuming this session later."""
        self.ticket_12 = message.ticket
        self.ticket_lifetime_12 = message.ticket_lifetime_hint
        self.received(raw, "NewSessionTicket")
        return State.WAIT_CCS

    def on_finished_12(self, message: Finished, raw: bytes) -> State:
        self.check_finished_12(message, raw)
        if self.resumed:
            self.send_change_cipher_spec_12()
            self.send_finished_12()
        self.allow_change_cipher_spec(False)
        self.save_session_12()
        self.renegotiating = False
        self.events.append(self.negotiated())
        return State.CONNECTED

    def save_session_12(self) -> None:
        """What get_session_data() returns for a TLS 1.2 connection."""
        assert self.params12 is not None
        ticket = self.ticket_12
        if not ticket and not self.session_id:
            return
        self.sessions.append(
            ClientSession(
                server_name=self.server_name,
                cipher_suite=self.params12.suite,
                ticket=ticket,
                resumption_psk=b"",
                ticket_age_add=0,
                ticket_lifetime=self.ticket_lifetime_12 or 7200,
                received_at=self.config.clock(),
                alpn_protocol=self.alpn_protocol,
                version=ProtocolVersion.TLS1_2,
                session_id=self.session_id,
                master_secret=self.secrets["master_secret"],
                extended_master_secret=self.use_extended_master_secret,
            )
        )

    # --- re-handshakes (RFC 5746) -----------------------------------------------------------

    def ignores(self, message: HandshakeMessage) -> bool:
        """RFC 5246 §7.4.1.1: "This message will be ignored by the client if the
        client is currently negotiating a session." """
        if isinstance(message, HelloRequest) and self.state is not State.CONNECTED:
            self.observe(
                trace.Note(
                    role=self.role,
                    text=f"HelloRequest ignored: a handshake is already under way ({self.state.value})",
                    rfc="RFC 5246 §7.4.1.1",
                )
            )
            return True
        return False

    def on_hello_request(self, message: HelloRequest, raw: bytes) -> State:
        """RFC 5246 §7.4.1.1: the server asks for a new handshake."""
        if not (self.secure_renegotiation and self.config.allow_renegotiation):
            # RFC 5746 §4.2: without secure renegotiation, decline with a
            # warning no_renegotiation alert and carry on.
            self.send_warning(AlertDescription.no_renegotiation_RESERVED, "renegotiation declined")
            return State.CONNECTED
        if self.config.report_hello_request:
            # GnuTLS's way (GNUTLS_E_REHANDSHAKE): the application decides --
            # renegotiate(), ignore it, or decline with send_warning(no_renegotiation).
            self.events.append(HelloRequestReceived())
            return State.CONNECTED
        self.start_renegotiation()
        return State.WAIT_SH

    def renegotiate(self) -> None:
        """Start a client-initiated re-handshake (secure renegotiation only)."""
        if self.version != ProtocolVersion.TLS1_2 or self.state is not State.CONNECTED:
            raise alerts.TLSError("renegotiation needs an established TLS 1.2 connection")
        if not self.secure_renegotiation:
            raise alerts.TLSError("the server does not support secure renegotiation (RFC 5746)")
        self.start_renegotiation()
        self.set_state(State.WAIT_SH, "renegotiate: send ClientHello")

    def renegotiation_declined(self) -> None:
        """A no_renegotiation warning answers our re-handshake's ClientHello.

        RFC 5246 §7.2.2: the server sends it "in response to a client hello
        after initial handshaking ... At that point, the original requester
        can decide whether to proceed with the connection." teachtls
        proceeds: the current session and keys stay in use."""
        if self.renegotiating and self.state is State.WAIT_SH:
            self.renegotiating = False
            self.set_state(State.CONNECTED, "renegotiation declined: keep the current session")

    def start_renegotiation(self) -> None:
        self.start_new_handshake_12()
        self.certificate_request_12 = None
        self.client_random = self.config.random(32)
        self.send_handshake(self.build_client_hello())
        self.flush()
