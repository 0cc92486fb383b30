"""Observers that buffer, and the connection that tells them when to write.

A `JsonlWriter` keeps each event's line and writes them in one go when
flushed; a connection flushes its observer every time it hands control back
to the application (trace/observer.py). These tests read the trace file
between the steps of real TLS and DTLS handshakes: after every return --
or exception -- from receive_data(), data_to_send(), datagrams_to_send()
and handle_timeout(), the file holds every event so far.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from handshake_pair import HandshakePair, client_config, server_config

from teachtls import ClientConnection, ServerConnection
from teachtls.dtls import DTLSClientConnection, DTLSServerConnection, DTLSSettings
from teachtls.dtls.connection import DatagramConnection
from teachtls.dtls.dtls13 import DTLS13ClientConnection, DTLS13ServerConnection
from teachtls.dtls.link import LossyLink, ManualClock
from teachtls.handshake import alerts
from teachtls.trace import events as trace
from teachtls.trace.jsonl import JsonlWriter, dumps_jsonl, load_jsonl, loads_jsonl
from teachtls.trace.observer import Observer, Recorder, fan_out, flush_of, nothing_to_flush

CLIENT_ADDRESS = b"192.0.2.1:5684"


class TracedToFile:
    """A JsonlWriter on `tmp_path`, and a Recorder of the same events to compare the file with."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "trace.jsonl"
        self.writer = JsonlWriter(self.path)
        self.recorder = Recorder()
        self.observer = fan_out(self.recorder, self.writer)

    def written(self) -> list[trace.TraceEvent]:
        return load_jsonl(self.path)

    def assert_complete(self) -> None:
        assert self.written() == self.recorder.events

    def written_notes(self) -> list[str]:
        return [event.text for event in self.written() if isinstance(event, trace.Note)]


def tls_pair(observer: Observer) -> HandshakePair:
    return HandshakePair(
        ClientConnection(client_config(observer=observer)), ServerConnection(server_config(observer=observer))
    )


# --- JsonlWriter and fan_out on their own -------------------------------------------


def test_a_jsonl_writer_writes_its_lines_on_flush(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = JsonlWriter(path)
    note = trace.Note(role="client", text="one")
    writer(note)
    assert load_jsonl(path) == []  # the header is written at once; the line is kept
    writer.flush()
    assert load_jsonl(path) == [note]
    writer.flush()  # nothing new: nothing written
    assert load_jsonl(path) == [note]


def test_a_jsonl_writer_refuses_a_wrong_value_at_the_event_not_at_flush(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "trace.jsonl")
    with pytest.raises(TypeError, match=r"Note\.text"):
        writer(trace.Note(role="client", text=b"bytes, not str"))  # type: ignore[arg-type]
    writer.close()


def test_fan_out_forwards_flush_to_the_observers_that_buffer(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    recorder = Recorder()
    seen: list[trace.TraceEvent] = []
    with JsonlWriter(path) as writer:
        observer = fan_out(recorder, seen.append, writer)
        note = trace.Note(role="client", text="one")
        observer(note)
        assert recorder.events == seen == [note]
        assert load_jsonl(path) == []
        observer.flush()
        assert load_jsonl(path) == [note]
    fan_out(recorder, seen.append).flush()  # none of them buffers: nothing to do


def test_flush_of_an_observer_that_does_not_buffer_does_nothing() -> None:
    assert flush_of(Recorder()) is nothing_to_flush
    writer = JsonlWriter(io.StringIO())
    assert flush_of(writer) == writer.flush


# --- TLS -------------------------------------------------------------------------


def test_the_trace_file_is_complete_whenever_receive_data_or_data_to_send_returns(tmp_path: Path) -> None:
    traced = TracedToFile(tmp_path)
    pair = tls_pair(traced.observer)
    pair.client.start_handshake()
    assert len(traced.written()) < len(traced.recorder)  # kept back until the connection returns
    sender, receiver = pair.client, pair.server
    while data := sender.data_to_send():
        traced.assert_complete()
        receiver.receive_data(data)
        traced.assert_complete()
        sender, receiver = receiver, sender
    traced.assert_complete()
    assert pair.client.handshake_complete and pair.server.handshake_complete

    pair.client.send_application_data(b"GET / HTTP/1.1\r\n\r\n")
    pair.client.close()
    pair.server.receive_data(pair.client.data_to_send())
    traced.assert_complete()
    written = [type(event) for event in traced.written()]
    assert trace.ApplicationDataReceived in written and written[-1] is trace.AlertReceived  # close_notify
    traced.writer.close()


def test_a_local_alert_from_receive_data_is_in_the_file_when_it_raises(tmp_path: Path) -> None:
    traced = TracedToFile(tmp_path)
    client = ClientConnection(client_config(observer=traced.observer))
    client.start_handshake()
    client.data_to_send()
    application_data_before_the_handshake = bytes([23, 3, 3, 0, 5]) + b"hello"
    with pytest.raises(alerts.LocalAlert):
        client.receive_data(application_data_before_the_handshake)
    traced.assert_complete()
    (alert,) = [event for event in traced.written() if isinstance(event, trace.AlertSent)]
    assert alert.level == "fatal"


def test_a_writer_on_a_callers_text_file_has_written_each_step() -> None:
    text_file = io.StringIO()
    recorder = Recorder()
    observer = fan_out(recorder, JsonlWriter(text_file))  # not closed: every line is there anyway
    HandshakePair(
        ClientConnection(client_config(observer=observer)), ServerConnection(server_config(observer=observer))
    ).handshake()
    assert not text_file.closed
    assert loads_jsonl(text_file.getvalue()) == recorder.events


def test_a_traced_handshake_writes_exactly_what_dump_jsonl_writes(tmp_path: Path) -> None:
    traced = TracedToFile(tmp_path)
    tls_pair(traced.observer).handshake()
    traced.writer.close()
    assert len(traced.recorder) > 50
    assert traced.path.read_text(encoding="utf-8") == dumps_jsonl(traced.recorder.events)


# --- DTLS ------------------------------------------------------------------------

DTLS_VERSIONS = {
    "DTLS 1.2": (DTLSClientConnection, DTLSServerConnection),
    "DTLS 1.3": (DTLS13ClientConnection, DTLS13ServerConnection),
}


def dtls_pair(versions: str, observer: Observer, clock: ManualClock) -> tuple[DatagramConnection, DatagramConnection]:
    client_class, server_class = DTLS_VERSIONS[versions]
    client = client_class(client_config(observer=observer, clock=clock), DTLSSettings())
    server = server_class(server_config(observer=observer, clock=clock), DTLSSettings(client_address=CLIENT_ADDRESS))
    return client, server


@pytest.mark.parametrize("versions", DTLS_VERSIONS)
def test_dtls_writes_the_trace_whenever_it_hands_back_datagrams(tmp_path: Path, versions: str) -> None:
    traced = TracedToFile(tmp_path)
    client, server = dtls_pair(versions, traced.observer, ManualClock())
    client.start_handshake()  # type: ignore[attr-defined]
    sender, receiver = client, server
    quiet = 0
    while quiet < 2:  # until neither side has anything to send (DTLS 1.3 ends with an ACK)
        datagrams = sender.datagrams_to_send()
        traced.assert_complete()
        for datagram in datagrams:
            receiver.receive_datagram(datagram)
            traced.assert_complete()
        quiet = 0 if datagrams else quiet + 1
        sender, receiver = receiver, sender
    assert client.handshake_complete and server.handshake_complete
    assert any(event.rfc.startswith("RFC 9147") for event in traced.written()) == (versions == "DTLS 1.3")


@pytest.mark.parametrize("versions", DTLS_VERSIONS)
def test_dtls_writes_the_links_losses_and_the_timers_retransmissions(tmp_path: Path, versions: str) -> None:
    traced = TracedToFile(tmp_path)
    clock = ManualClock()
    client, _ = dtls_pair(versions, traced.observer, clock)
    link = LossyLink(drop_numbers={1}, observer=traced.observer)
    client.start_handshake()  # type: ignore[attr-defined]
    (client_hello,) = client.datagrams_to_send()
    link.send("client", client_hello)
    traced.assert_complete()
    assert traced.written_notes()[-1].startswith("the link dropped datagram 1")

    clock.advance(1)
    client.handle_timeout()  # a retransmission, traced before datagrams_to_send() is called
    traced.assert_complete()
    assert traced.written_notes()[-1].startswith("retransmitting flight 1")


@pytest.mark.parametrize("versions", DTLS_VERSIONS)
def test_dtls_writes_the_handshake_timeout_before_it_raises(tmp_path: Path, versions: str) -> None:
    traced = TracedToFile(tmp_path)
    clock = ManualClock()
    client, _ = dtls_pair(versions, traced.observer, clock)
    client.set_timeouts(500, 1000)
    client.start_handshake()  # type: ignore[attr-defined]
    client.datagrams_to_send()
    clock.advance(2)
    with pytest.raises(alerts.HandshakeTimeout):
        client.handle_timeout()
    traced.assert_complete()
    assert traced.written_notes()[-1].startswith("handshake timeout")
