"""The DTLS 1.2 handshake state machines: TLS 1.2's tables plus the cookie exchange.

RFC 6347 §4.2: "DTLS uses all of the same handshake messages and flows as
TLS, with three principal changes": the stateless cookie exchange, the new
handshake header (teachtls.dtls.framing) and retransmission timers
(teachtls.dtls.flights). Only the first adds transitions, so these tables
are `CLIENT_12` and `SERVER_12` (teachtls.handshake.states) with two rows
changed:

* client: in WAIT_SH a HelloVerifyRequest is answered with a second
  ClientHello, and the client waits for a ServerHello again
  (WAIT_SH -> WAIT_SH);
* server: in START a ClientHello without a valid cookie is answered with a
  HelloVerifyRequest, and the server stays in START -- keeping nothing from
  the exchange (START -> START); only a ClientHello with a valid cookie
  moves it on (START -> RECVD_CH).

Renegotiation (the CONNECTED rows of the TLS 1.2 tables) is left out:
teachtls does not renegotiate over DTLS, where it would also restart
message_seq at 0 (RFC 6347 §4.2.2). A HelloRequest or ClientHello after the
handshake is an unexpected_message.

The retransmission state machine of RFC 6347 Figure 3 (PREPARING, SENDING,
WAITING, FINISHED) runs beside these, in teachtls.dtls.connection: it is
about when to send flights, not about which message may come next.

The machines are named "dtls_client12" and "dtls_server12" (`DTLS_TABLES`,
`DTLS_SEND_TRANSITIONS`), so a `StateChanged` event names the machine that
really ran. They are kept apart from teachtls.handshake.states.TABLES, the
TLS machines.
"""

from __future__ import annotations

from teachtls.handshake.states import (
    CLIENT_12,
    CLIENT_12_SEND_TRANSITIONS,
    CLIENT_13,
    CLIENT_13_SEND_TRANSITIONS,
    SERVER_12,
    SERVER_12_SEND_TRANSITIONS,
    SERVER_13,
    SERVER_13_SEND_TRANSITIONS,
    SendTransition,
    State,
    Transition,
    Trigger,
)
from teachtls.wire.enums import HandshakeType

S = State
H = HandshakeType

DTLS_CLIENT_12: dict[tuple[State, Trigger], Transition] = {
    # RFC 6347 §4.2.1: "The client MUST retransmit the ClientHello with the cookie added."
    (S.WAIT_SH, H.hello_verify_request_RESERVED): Transition("on_hello_verify_request", (S.WAIT_SH,)),
    **{key: transition for key, transition in CLIENT_12.items() if key[0] is not S.CONNECTED},
}

DTLS_SERVER_12: dict[tuple[State, Trigger], Transition] = {
    **{key: transition for key, transition in SERVER_12.items() if key[0] is not S.CONNECTED},
    # RFC 6347 §4.2.1: without a valid cookie, a HelloVerifyRequest and no state.
    (S.START, H.client_hello): Transition("on_client_hello", (S.START, S.RECVD_CH)),
}

DTLS_CLIENT_12_SEND_TRANSITIONS: tuple[SendTransition, ...] = tuple(
    send for send in CLIENT_12_SEND_TRANSITIONS if send.source is not S.CONNECTED and send.target is not S.CONNECTED
)
DTLS_SERVER_12_SEND_TRANSITIONS: tuple[SendTransition, ...] = tuple(
    send for send in SERVER_12_SEND_TRANSITIONS if send.source is not S.CONNECTED
)

MACHINES = {"client": "dtls_client12", "server": "dtls_server12"}  # DTLS 1.3: MACHINES_13 below

DTLS_TABLES: dict[str, dict[tuple[State, Trigger], Transition]] = {
    "dtls_client12": DTLS_CLIENT_12,
    "dtls_server12": DTLS_SERVER_12,
}
DTLS_SEND_TRANSITIONS: dict[str, tuple[SendTransition, ...]] = {
    "dtls_client12": DTLS_CLIENT_12_SEND_TRANSITIONS,
    "dtls_server12": DTLS_SERVER_12_SEND_TRANSITIONS,
}


# --- DTLS 1.3 (RFC 9147) ---------------------------------------------------------------------
#
# "DTLS 1.3 reuses the TLS 1.3 handshake messages and flows" (RFC 9147 §5), so
# these are `CLIENT_13` and `SERVER_13` with 0-RTT taken out: "the EndOfEarlyData
# message is omitted both from the wire and the handshake transcript" (§5.6), and
# teachtls sends and accepts no early data over DTLS. The stateless cookie
# exchange needs no row of its own: a ClientHello without a cookie goes
# START -> RECVD_CH as in TLS, and the server's answer, a HelloRetryRequest,
# takes it back to START (RECVD_CH -> START) -- having forgotten the ClientHello.
# The ACK (§7) is a content type, not a handshake message: it moves no state.

DTLS_CLIENT_13: dict[tuple[State, Trigger], Transition] = dict(CLIENT_13)

DTLS_SERVER_13: dict[tuple[State, Trigger], Transition] = {
    key: transition for key, transition in SERVER_13.items() if key[0] is not S.WAIT_EOED
}

DTLS_CLIENT_13_SEND_TRANSITIONS: tuple[SendTransition, ...] = CLIENT_13_SEND_TRANSITIONS
DTLS_SERVER_13_SEND_TRANSITIONS: tuple[SendTransition, ...] = tuple(
    send for send in SERVER_13_SEND_TRANSITIONS if send.target is not S.WAIT_EOED
)

MACHINES_13 = {"client": "dtls_client13", "server": "dtls_server13"}

DTLS_TABLES["dtls_client13"] = DTLS_CLIENT_13
DTLS_TABLES["dtls_server13"] = DTLS_SERVER_13
DTLS_SEND_TRANSITIONS["dtls_client13"] = DTLS_CLIENT_13_SEND_TRANSITIONS
DTLS_SEND_TRANSITIONS["dtls_server13"] = DTLS_SERVER_13_SEND_TRANSITIONS
