"""DTLS 1.2 across a lossy link: drops, duplicates and reordering, on a manual clock.

`teachtls.dtls.link.LossyLink` carries the datagrams of an in-memory client
and server; with a seed its choices repeat exactly, and `DatagramPair`
moves the `ManualClock` straight to the next retransmission timer, so a
handshake that waits 15 simulated seconds takes milliseconds. The tests:

1. many seeded lossy links: every handshake completes and the data gets
   through, with retransmissions, replay rejections and reassembly in the trace;
2. scripted losses, each with the exact story RFC 6347 §4.2.4 tells: a lost
   HelloVerifyRequest, a lost client flight, a lost final flight (the
   FINISHED side answers the peer's retransmission), reordered epochs;
3. what a reader sees: the walkthrough and the sequence diagram rows;
4. the golden trace tests/golden/traces/dtls12-lossy.jsonl
   (`UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_dtls_link.py -k golden`).
"""

from __future__ import annotations

import os
import time

import pytest
from test_dtls12 import make_pair, notes

from teachtls.connection import ApplicationData, HandshakeCompleted
from teachtls.dtls.link import LossyLink
from teachtls.dtls.record import split_datagram
from teachtls.dtls.scenarios import converse, dtls12_lossy
from teachtls.render.sequence import NoteRow, rows
from teachtls.render.walkthrough import render_walkthrough
from teachtls.sessions import StatelessTickets
from teachtls.trace import events as trace
from teachtls.trace.jsonl import dumps_jsonl
from teachtls.trace.observer import Recorder
from tests.golden_traces import check_golden_trace

# Seeds of a link that loses a fifth of all datagrams, duplicates a fifth and
# reorders almost a third. (Seed 31 loses the same flight often enough that
# the 60 s total timeout ends the handshake -- correctly, but not for this test.)
SEEDS = [seed for seed in range(24) if seed != 31]


def lossy(recorder: Recorder, seed: int) -> LossyLink:
    return LossyLink(seed=seed, drop=0.2, duplicate=0.2, reorder=0.3, observer=recorder)


# --- 1. seeded lossy links ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_handshake_completes_across_a_lossy_link(seed: int) -> None:
    recorder = Recorder()
    pair = make_pair(recorder, mtu=400, link=lossy(recorder, seed))
    converse(pair)
    for role in ("client", "server"):
        assert any(isinstance(e, HandshakeCompleted) for e in pair.events[role])
    assert any(isinstance(e, ApplicationData) for e in pair.events["server"])
    # Every loss the link caused is in the trace, as a Note of the sender.
    reported = [n for n in notes(recorder.events) if n.startswith("the link dropped")]
    assert len(reported) == len(pair.link.dropped)


def test_lossy_links_show_every_datagram_effect() -> None:
    """Across the seeds, each mechanism of RFC 6347 shows up in the traces."""
    seen: set[str] = set()
    for seed in SEEDS[:12]:
        recorder = Recorder()
        converse(make_pair(recorder, mtu=400, link=lossy(recorder, seed)))
        for text in notes(recorder.events):
            for marker in (
                "no answer within",  # a retransmit timer expired (§4.2.4)
                "sent its previous flight again",  # a retransmission answered one (§4.2.4)
                "replayed",  # the replay window (§4.1.2.6)
                "again: a retransmission of a message already processed",  # next_receive_seq (§4.2.2)
                "fragment of",  # reassembly (§4.2.3)
                "delayed behind",  # the link reordered
            ):
                if marker in text:
                    seen.add(marker)
    assert len(seen) == 6, seen


# --- 2. scripted losses -----------------------------------------------------------------------------
#
# With the cookie exchange and a 1200-byte MTU each flight is one datagram:
# 1 ClientHello, 2 HelloVerifyRequest, 3 ClientHello, 4 ServerHello..ServerHelloDone,
# 5 ClientKeyExchange+ChangeCipherSpec+Finished, 6 ChangeCipherSpec+Finished.


def story(recorder: Recorder) -> list[tuple[str, str]]:
    """(role, what) for retransmissions and link effects, in order."""
    return [
        (e.role, e.text.split(":")[0])
        for e in recorder.events
        if isinstance(e, trace.Note) and e.rfc in ("RFC 6347 §4.2.4", "RFC 6347 §3.2")
    ]


def test_lost_hello_verify_request() -> None:
    recorder = Recorder()
    pair = make_pair(recorder, link=LossyLink(drop_numbers={2}, observer=recorder))
    pair.handshake()
    assert story(recorder) == [
        ("server", "the link dropped datagram 2 (server → client, 60 bytes"),
        ("client", "retransmitting flight 1 (ClientHello)"),
    ]
    # The stateless server simply answers the repeated ClientHello again.
    assert [e.name for e in recorder.events if type(e) is trace.MessageSent and e.role == "server"][:2] == [
        "HelloVerifyRequest",
        "HelloVerifyRequest",
    ]


def test_lost_client_flight() -> None:
    """The server's timer fires; its retransmitted flight makes the client resend its own."""
    recorder = Recorder()
    pair = make_pair(recorder, link=LossyLink(drop_numbers={5}, observer=recorder))
    pair.client.set_timeouts(3000, 60_000)  # so that the server's 1 s timer fires first
    pair.handshake()
    told = story(recorder)
    assert told[0][0] == "client" and told[0][1].startswith("the link dropped datagram 5")
    assert told[1:] == [
        ("server", "retransmitting flight 4 (ServerHello, Certificate, ServerKeyExchange, ServerHelloDone)"),
        ("client", "retransmitting flight 5 (ClientKeyExchange, ChangeCipherSpec, Finished)"),
    ]
    assert any("no answer within 1 s" in n for n in notes(recorder.events, "server"))
    assert any("the server sent its previous flight again" in n for n in notes(recorder.events, "client"))
    assert pair.timeouts == 1


def test_lost_final_flight() -> None:
    """RFC 6347 §4.2.4: the FINISHED side "MUST respond to a retransmit of the
    peer's last flight with a retransmit of the last flight"."""
    recorder = Recorder()
    pair = make_pair(recorder, link=LossyLink(drop_numbers={6}, observer=recorder))
    pair.handshake()
    told = story(recorder)
    assert told[1:] == [
        ("client", "retransmitting flight 5 (ClientKeyExchange, ChangeCipherSpec, Finished)"),
        ("server", "retransmitting flight 6 (ChangeCipherSpec, Finished)"),
    ]
    assert pair.timeouts == 1  # only the client's timer: the finished server has none
    server_notes = notes(recorder.events, "server")
    assert any("the client sent its previous flight again" in n for n in server_notes)
    # The retransmitted ChangeCipherSpec (epoch 0) after the handshake is dropped, not acted on.
    assert any("epoch 0 ended with the handshake" in n for n in server_notes)


def test_lost_final_flight_of_a_resumed_handshake() -> None:
    """Resumed, the client sends the last flight (RFC 6347 Figure 2) and holds it:
    the server's timer fires, and the finished client answers its retransmission."""
    store = StatelessTickets(os.urandom, time.time)
    tickets = {"session_store": store, "session_tickets": 1}
    first = make_pair(server=tickets)
    first.handshake()
    recorder = Recorder()
    second = make_pair(recorder, server=tickets, link=LossyLink(drop_numbers={5}, observer=recorder))
    second.client.set_session_data(first.client.get_session_data())
    second.handshake()
    assert second.client.resumed and second.server.resumed
    assert story(recorder)[1:] == [
        ("server", "retransmitting flight 4 (ServerHello, NewSessionTicket, ChangeCipherSpec, Finished)"),
        ("client", "retransmitting flight 5 (ChangeCipherSpec, Finished)"),
    ]


def test_duplicated_datagrams_are_replays() -> None:
    recorder = Recorder()
    pair = make_pair(recorder, link=LossyLink(duplicate=1.0, observer=recorder))
    pair.handshake()
    assert pair.timeouts == 0
    # Every record of every copy is rejected (RFC 6347 §4.1.2.6) -- as a replay, or,
    # for the copies of the two ChangeCipherSpecs that arrive when their receiver
    # has finished, as records of the ended epoch 0 (§4.1).
    copies = sum(len(split_datagram(d.payload).records) for d in pair.link.duplicated)
    discarded = [n for n in notes(recorder.events) if n.startswith("record discarded")]
    assert len(discarded) == copies
    assert sum("replayed" in n for n in discarded) == copies - 2
    assert not any("retransmitting" in n for n in notes(recorder.events))


def test_finished_overtaking_its_change_cipher_spec() -> None:
    """RFC 6347 §4.1: a record of the next epoch may arrive before the
    ChangeCipherSpec that starts it; it is kept, then used."""
    recorder = Recorder()
    # A 100-byte MTU puts Finished in a datagram of its own; the link reverses each flight.
    pair = make_pair(recorder, mtu=100, link=LossyLink(reorder=1.0, observer=recorder))
    pair.handshake()
    kept = [n for n in notes(recorder.events) if "arrived before its keys" in n]
    assert kept and pair.timeouts == 0


# --- 3. what a reader sees -------------------------------------------------------------------------


def test_walkthrough_and_diagram_show_the_datagram_layer() -> None:
    events = dtls12_lossy()
    text = render_walkthrough(events)
    assert "the link dropped datagram" in text and "retransmitting flight" in text
    assert "record discarded: replayed" in text
    notes_drawn = [row for row in rows(events) if isinstance(row, NoteRow)]
    drawn = [" ".join(name for name, _ in row.entries) for row in notes_drawn]
    assert any(line.startswith("✗ the link dropped") for line in drawn)
    assert any(line.startswith("retransmitting flight") for line in drawn)


# --- 4. the golden trace -----------------------------------------------------------------------------


def test_lossy_golden_trace() -> None:
    events = dtls12_lossy()
    assert dumps_jsonl(events) == dumps_jsonl(dtls12_lossy())  # deterministic, losses included
    _, golden = check_golden_trace(events, "dtls12-lossy")
    retransmissions = [e for e in golden if isinstance(e, trace.Note) and e.text.startswith("retransmitting")]
    assert retransmissions
