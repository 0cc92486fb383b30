r"""The TLS 1.3 handshake state machines, as tables (RFC 8446 Appendix A).

RFC 8446 Appendix A draws one state machine per role. teachtls writes each as
a table mapping `(state, handshake message type)` to a `Transition`: the name
of the handler method that processes the message, and the states the handler
may move to. The connection looks every received message up in its table:

* a missing entry is an `unexpected_message` alert (RFC 8446 §6.2: "An
  inappropriate message (e.g., the wrong handshake message, premature
  Application Data, etc.) was received");
* a handler returns its next state, which must be one of the entry's targets.

Some transitions are caused by what a side *sends* rather than receives (the
server's RECVD_CH -> NEGOTIATED -> WAIT_FLIGHT2). Those are listed in
`*_SEND_TRANSITIONS`, so the state-chart renderer can draw the complete
machine from these tables alone, exactly as the code runs it.

Client, RFC 8446 §A.1 (simplified; "K_send"/"K_recv" mark key changes):

                              START <----+
               Send ClientHello |        | Recv HelloRetryRequest
          [K_send = early data] |        |
                                v        |
           /                 WAIT_SH ----+
           |                    | Recv ServerHello
           |                    | K_recv = handshake
       Can |                    V
      send |                 WAIT_EE
     early |                    | Recv EncryptedExtensions
      data |           +--------+--------+
           |     Using |                 | Using certificate
           |       PSK |                 v
           |           |            WAIT_CERT_CR
           |           |        Recv |       | Recv CertificateRequest
           |           | Certificate |       v
           |           |             |    WAIT_CERT
           |           |             |       | Recv Certificate
           |           |             v       v
           |           |              WAIT_CV
           |           |                 | Recv CertificateVerify
           |           +> WAIT_FINISHED <+
           |                  | Recv Finished
           \                  | [Send EndOfEarlyData]
                              | K_send = handshake
                              | [Send Certificate [+ CertificateVerify]]
    Can send                  | Send Finished
    app data   -->            | K_send = K_recv = application
    after here                v
                          CONNECTED

The server's machine (§A.2) starts in START, moves to RECVD_CH on a
ClientHello, to NEGOTIATED once parameters are chosen, sends its flight and
waits in WAIT_EOED (0-RTT accepted), WAIT_FLIGHT2, WAIT_CERT, WAIT_CV and
WAIT_FINISHED before CONNECTED. A HelloRetryRequest sends it back to START.
"""

from __future__ import annotations

import enum

import attrs

from teachtls.wire.enums import HandshakeType


class State(enum.Enum):
    """Handshake states, named exactly as in RFC 8446 Appendix A."""

    # shared / client (§A.1)
    START = "START"
    WAIT_SH = "WAIT_SH"
    WAIT_EE = "WAIT_EE"
    WAIT_CERT_CR = "WAIT_CERT_CR"
    WAIT_CERT = "WAIT_CERT"
    WAIT_CV = "WAIT_CV"
    WAIT_FINISHED = "WAIT_FINISHED"
    CONNECTED = "CONNECTED"
    # server only (§A.2)
    RECVD_CH = "RECVD_CH"
    NEGOTIATED = "NEGOTIATED"
    WAIT_EOED = "WAIT_EOED"
    WAIT_FLIGHT2 = "WAIT_FLIGHT2"
    # TLS 1.2 (RFC 5246 draws no state machine; named in the same style)
    WAIT_CERT_STATUS = "WAIT_CERT_STATUS"
    WAIT_SKE = "WAIT_SKE"
    WAIT_CR_OR_SHD = "WAIT_CR_OR_SHD"
    WAIT_SHD = "WAIT_SHD"
    WAIT_CKE = "WAIT_CKE"
    WAIT_NST = "WAIT_NST"
    WAIT_CCS = "WAIT_CCS"
    # not in the RFC's drawing: where a connection ends
    CLOSED = "CLOSED"


class RecordMessage(enum.Enum):
    """A record-layer message that moves the TLS 1.2 machines: ChangeCipherSpec
    (RFC 5246 §7.1) switches the reading side to the new keys."""

    change_cipher_spec = 20


Trigger = HandshakeType | RecordMessage


@attrs.frozen
class Transition:
    """What a received message does in a state: its handler and next states."""

    handler: str
    targets: tuple[State, ...]


@attrs.frozen
class SendTransition:
    """A transition caused by sending, not receiving (for the state chart)."""

    source: State
    action: str
    target: State


S = State
H = HandshakeType

CLIENT_13: dict[tuple[State, Trigger], Transition] = {
    # RFC 8446 §4.1.4: a HelloRetryRequest keeps us in WAIT_SH (after sending ClientHello2).
    # When the server picks TLS 1.2, the handler moves the connection to CLIENT_12.
    (S.WAIT_SH, H.server_hello): Transition("on_server_hello", (S.WAIT_SH, S.WAIT_EE)),
    (S.WAIT_EE, H.encrypted_extensions): Transition("on_encrypted_extensions", (S.WAIT_CERT_CR, S.WAIT_FINISHED)),
    (S.WAIT_CERT_CR, H.certificate_request): Transition("on_certificate_request", (S.WAIT_CERT,)),
    (S.WAIT_CERT_CR, H.certificate): Transition("on_certificate", (S.WAIT_CV,)),
    (S.WAIT_CERT, H.certificate): Transition("on_certificate", (S.WAIT_CV,)),
    (S.WAIT_CV, H.certificate_verify): Transition("on_certificate_verify", (S.WAIT_FINISHED,)),
    (S.WAIT_FINISHED, H.finished): Transition("on_finished", (S.CONNECTED,)),
    # RFC 8446 §4.6: post-handshake messages.
    (S.CONNECTED, H.new_session_ticket): Transition("on_new_session_ticket", (S.CONNECTED,)),
    (S.CONNECTED, H.key_update): Transition("on_key_update", (S.CONNECTED,)),
}

CLIENT_13_SEND_TRANSITIONS: tuple[SendTransition, ...] = (SendTransition(S.START, "send ClientHello", S.WAIT_SH),)

SERVER_13: dict[tuple[State, Trigger], Transition] = {
    (S.START, H.client_hello): Transition("on_client_hello", (S.RECVD_CH,)),
    # RFC 8446 §A.2: WAIT_FLIGHT2 is left at once, towards WAIT_CERT or WAIT_FINISHED.
    (S.WAIT_EOED, H.end_of_early_data): Transition("on_end_of_early_data", (S.WAIT_CERT, S.WAIT_FINISHED)),
    (S.WAIT_CERT, H.certificate): Transition("on_certificate", (S.WAIT_CV, S.WAIT_FINISHED)),
    (S.WAIT_CV, H.certificate_verify): Transition("on_certificate_verify", (S.WAIT_FINISHED,)),
    (S.WAIT_FINISHED, H.finished): Transition("on_finished", (S.CONNECTED,)),
    (S.CONNECTED, H.key_update): Transition("on_key_update", (S.CONNECTED,)),
}

SERVER_13_SEND_TRANSITIONS: tuple[SendTransition, ...] = (
    SendTransition(S.RECVD_CH, "send HelloRetryRequest", S.START),
    SendTransition(S.RECVD_CH, "select parameters", S.NEGOTIATED),
    SendTransition(S.NEGOTIATED, "send ServerHello ... Finished (0-RTT accepted)", S.WAIT_EOED),
    SendTransition(S.NEGOTIATED, "send ServerHello ... Finished", S.WAIT_FLIGHT2),
    SendTransition(S.WAIT_FLIGHT2, "client authentication requested", S.WAIT_CERT),
    SendTransition(S.WAIT_FLIGHT2, "no client authentication", S.WAIT_FINISHED),
)

# --- TLS 1.2 (RFC 5246 §7.3) ---------------------------------------------------------------
#
# Full handshake:                               Abbreviated (resumed) handshake:
#   ClientHello        -------->                  ClientHello       -------->
#                                ServerHello                               ServerHello
#                               Certificate*                        [NewSessionTicket]
#                         CertificateStatus*                        [ChangeCipherSpec]
#                         ServerKeyExchange*                                  Finished
#                        CertificateRequest*                <--------
#                <--------   ServerHelloDone              [ChangeCipherSpec]
#   Certificate*                                          Finished  -------->
#   ClientKeyExchange
#   CertificateVerify*
#   [ChangeCipherSpec]
#   Finished           -------->
#                           [NewSessionTicket]
#                           [ChangeCipherSpec]
#                <--------            Finished
R = RecordMessage

CLIENT_12: dict[tuple[State, Trigger], Transition] = {
    # Entered from CLIENT_13's WAIT_SH when the ServerHello selects TLS 1.2.
    (S.WAIT_SH, H.server_hello): Transition("on_server_hello", (S.WAIT_CERT, S.WAIT_NST, S.WAIT_CCS)),
    (S.WAIT_CERT, H.certificate): Transition("on_certificate_12", (S.WAIT_CERT_STATUS, S.WAIT_SKE, S.WAIT_CR_OR_SHD)),
    (S.WAIT_CERT_STATUS, H.certificate_status): Transition("on_certificate_status", (S.WAIT_SKE, S.WAIT_CR_OR_SHD)),
    (S.WAIT_SKE, H.server_key_exchange_RESERVED): Transition("on_server_key_exchange", (S.WAIT_CR_OR_SHD,)),
    (S.WAIT_CR_OR_SHD, H.certificate_request): Transition("on_certificate_request_12", (S.WAIT_SHD,)),
    (S.WAIT_CR_OR_SHD, H.server_hello_done_RESERVED): Transition("on_server_hello_done", (S.WAIT_NST, S.WAIT_CCS)),
    (S.WAIT_SHD, H.server_hello_done_RESERVED): Transition("on_server_hello_done", (S.WAIT_NST, S.WAIT_CCS)),
    (S.WAIT_NST, H.new_session_ticket): Transition("on_new_session_ticket_12", (S.WAIT_CCS,)),
    (S.WAIT_CCS, R.change_cipher_spec): Transition("on_change_cipher_spec_12", (S.WAIT_FINISHED,)),
    (S.WAIT_FINISHED, H.finished): Transition("on_finished_12", (S.CONNECTED,)),
    # RFC 5246 §7.4.1.1 and RFC 5746: a server asks for a new handshake.
    (S.CONNECTED, H.hello_request_RESERVED): Transition("on_hello_request", (S.CONNECTED, S.WAIT_SH)),
}

CLIENT_12_SEND_TRANSITIONS: tuple[SendTransition, ...] = (
    SendTransition(S.START, "send ClientHello", S.WAIT_SH),
    SendTransition(S.CONNECTED, "renegotiate: send ClientHello", S.WAIT_SH),
    SendTransition(S.WAIT_SH, "renegotiation declined: keep the current session", S.CONNECTED),
)

SERVER_12: dict[tuple[State, Trigger], Transition] = {
    # Entered from SERVER_13 when the ClientHello leads to TLS 1.2.
    (S.START, H.client_hello): Transition("on_client_hello", (S.RECVD_CH,)),
    (S.WAIT_CERT, H.certificate): Transition("on_certificate_12", (S.WAIT_CKE,)),
    (S.WAIT_CKE, H.client_key_exchange_RESERVED): Transition("on_client_key_exchange", (S.WAIT_CV, S.WAIT_CCS)),
    (S.WAIT_CV, H.certificate_verify): Transition("on_certificate_verify_12", (S.WAIT_CCS,)),
    (S.WAIT_CCS, R.change_cipher_spec): Transition("on_change_cipher_spec_12", (S.WAIT_FINISHED,)),
    (S.WAIT_FINISHED, H.finished): Transition("on_finished_12", (S.CONNECTED,)),
    # RFC 5746: a client-initiated re-handshake.
    (S.CONNECTED, H.client_hello): Transition("on_client_hello", (S.RECVD_CH, S.CONNECTED)),
}

SERVER_12_SEND_TRANSITIONS: tuple[SendTransition, ...] = (
    SendTransition(S.RECVD_CH, "send ServerHello ... ServerHelloDone", S.WAIT_CKE),
    SendTransition(S.RECVD_CH, "send ServerHello ... ServerHelloDone (client auth)", S.WAIT_CERT),
    SendTransition(S.RECVD_CH, "resume: send ServerHello, ChangeCipherSpec, Finished", S.WAIT_CCS),
    SendTransition(S.CONNECTED, "renegotiate: send HelloRequest", S.CONNECTED),
)

TABLES: dict[str, dict[tuple[State, Trigger], Transition]] = {
    "client13": CLIENT_13,
    "server13": SERVER_13,
    "client12": CLIENT_12,
    "server12": SERVER_12,
}

SEND_TRANSITIONS: dict[str, tuple[SendTransition, ...]] = {
    "client13": CLIENT_13_SEND_TRANSITIONS,
    "server13": SERVER_13_SEND_TRANSITIONS,
    "client12": CLIENT_12_SEND_TRANSITIONS,
    "server12": SERVER_12_SEND_TRANSITIONS,
}
