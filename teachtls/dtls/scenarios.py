"""Deterministic DTLS 1.2 conversations, for golden traces, docs and tutorials.

Everything that could vary is fixed, as in teachtls.scenarios.named: the
certificates (`fixed_pki`: a P-256 CA signing deterministically, an
Ed25519 leaf), the random sources (`counter_random`), the x25519 private
keys, and the clock -- a `ManualClock` at `FIXED_NOW`, which moves only when
the pair waits for a retransmission timer. The link's losses come from its
seed. So each conversation repeats byte for byte, retransmissions included.

    dtls12-ecdhe   a perfect link: the cookie exchange, the full handshake,
                   one request and one answer, close_notify both ways
    dtls12-lossy   the same over a link that drops, duplicates and reorders
                   datagrams, with a 400-byte MTU so that the certificate is
                   fragmented: retransmissions, replayed records rejected and
                   fragments reassembled out of order, all in the trace
    dtls13         DTLS 1.3 (RFC 9147) on a perfect link: the stateless
                   HelloRetryRequest cookie, the handshake, the server's ACK of
                   the client's last flight, one request and one answer, a
                   KeyUpdate acknowledged before the new keys are used, a
                   second request, close_notify both ways
    dtls13-lossy   DTLS 1.3 over the lossy link of dtls12-lossy, MTU 400:
                   ACKs, partial retransmissions, record numbers reconstructed
"""

from __future__ import annotations

from collections.abc import Callable

from teachtls.config import Config
from teachtls.dtls.connection import DatagramConnection, DTLSSettings
from teachtls.dtls.dtls12 import DTLSClientConnection, DTLSServerConnection
from teachtls.dtls.dtls13 import DTLS13ClientConnection, DTLS13ServerConnection
from teachtls.dtls.link import DatagramPair, LossyLink, ManualClock
from teachtls.scenarios.named import (
    FIXED_CLIENT_X25519_PRIVATE_KEY,
    FIXED_NOW,
    FIXED_SERVER_X25519_PRIVATE_KEY,
    counter_random,
    fixed_pki,
)
from teachtls.trace.events import TraceEvent
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import NamedGroup

REQUEST = b"GET / HTTP/1.0\r\n\r\n"
RESPONSE = b"HTTP/1.0 200 OK\r\n\r\nhello over DTLS"

# The lossy link of dtls12-lossy: a seed under which every effect happens at least once.
LOSSY_SEED = 5
LOSSY_DROP, LOSSY_DUPLICATE, LOSSY_REORDER = 0.25, 0.2, 0.3


def lossy_link(recorder: Recorder, seed: int = LOSSY_SEED) -> LossyLink:
    """The link of dtls12-lossy."""
    return LossyLink(seed=seed, drop=LOSSY_DROP, duplicate=LOSSY_DUPLICATE, reorder=LOSSY_REORDER, observer=recorder)


def dtls12_pair(recorder: Recorder, link: LossyLink, *, mtu: int = 1200, cookie_exchange: bool = True) -> DatagramPair:
    """A fixed-key DTLS 1.2 client and server on `link`, both traced into `recorder`."""
    return fixed_pair(DTLSClientConnection, DTLSServerConnection, recorder, link, mtu, cookie_exchange)


def dtls13_pair(recorder: Recorder, link: LossyLink, *, mtu: int = 1200, cookie_exchange: bool = True) -> DatagramPair:
    """A fixed-key DTLS 1.3 client and server on `link`, both traced into `recorder`."""
    return fixed_pair(DTLS13ClientConnection, DTLS13ServerConnection, recorder, link, mtu, cookie_exchange)


def fixed_pair(
    client_class: Callable[[Config, DTLSSettings], DatagramConnection],
    server_class: Callable[[Config, DTLSSettings], DatagramConnection],
    recorder: Recorder,
    link: LossyLink,
    mtu: int,
    cookie_exchange: bool,
) -> DatagramPair:
    ca_certificate, leaf_certificate, leaf_key = fixed_pki()
    clock = ManualClock(FIXED_NOW.timestamp())
    client = client_class(
        Config(
            server_name="localhost",
            trusted_certificates=(ca_certificate,),
            random=counter_random(b"dtls golden client"),
            clock=clock,
            key_share_private_keys={NamedGroup.x25519: FIXED_CLIENT_X25519_PRIVATE_KEY},
            observer=recorder,
        ),
        DTLSSettings(mtu=mtu),
    )
    server = server_class(
        Config(
            certificate_chain=(leaf_certificate,),
            private_key=leaf_key,
            random=counter_random(b"dtls golden server"),
            clock=clock,
            key_share_private_keys={NamedGroup.x25519: FIXED_SERVER_X25519_PRIVATE_KEY},
            observer=recorder,
        ),
        DTLSSettings(mtu=mtu, client_address=b"192.0.2.1:5684", cookie_exchange=cookie_exchange),
    )
    return DatagramPair(client, server, link, clock)


def converse(pair: DatagramPair, *, key_update: bool = False) -> None:
    """Handshake, one request and one answer, then close_notify both ways.

    Application data is not retransmitted (RFC 6347 §4.1: DTLS leaves that
    to the application), so over a lossy link the request is repeated until
    it gets through, as an application over UDP would."""
    pair.handshake()
    for _ in range(10):
        pair.client.send_application_data(REQUEST)
        pair.settle()
        if any(event.__class__.__name__ == "ApplicationData" for event in pair.events["server"]):
            break
    pair.server.send_application_data(RESPONSE)
    pair.settle()
    if key_update:
        # RFC 9147 §8: the client's new keys wait for the server's ACK; the server,
        # asked to update too, sends its own KeyUpdate, which the client ACKs.
        pair.client.key_update(request_peer=True)
        pair.settle()
        pair.client.send_application_data(REQUEST)
        pair.settle()
    pair.client.close()
    pair.settle()
    if not pair.server.closed:
        pair.server.close()
        pair.settle()


def dtls12_ecdhe() -> list[TraceEvent]:
    recorder = Recorder()
    converse(dtls12_pair(recorder, LossyLink(observer=recorder)))
    return list(recorder.events)


def dtls12_lossy() -> list[TraceEvent]:
    recorder = Recorder()
    converse(dtls12_pair(recorder, lossy_link(recorder), mtu=400))
    return list(recorder.events)


def dtls13() -> list[TraceEvent]:
    recorder = Recorder()
    converse(dtls13_pair(recorder, LossyLink(observer=recorder)), key_update=True)
    return list(recorder.events)


def dtls13_lossy() -> list[TraceEvent]:
    recorder = Recorder()
    converse(dtls13_pair(recorder, lossy_link(recorder), mtu=400))
    return list(recorder.events)


DTLS_SCENARIOS: dict[str, Callable[[], list[TraceEvent]]] = {
    "dtls12-ecdhe": dtls12_ecdhe,
    "dtls12-lossy": dtls12_lossy,
    "dtls13": dtls13,
    "dtls13-lossy": dtls13_lossy,
}
