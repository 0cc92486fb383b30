"""Two connections wired back to back in memory.

`run(client, server)` pumps bytes from one to the other until neither has
anything to say, like two ends of a socket pair but without one: the whole
exchange happens in one thread, in a fixed order, so a scenario with
injected randomness is reproducible down to the byte.
"""

from __future__ import annotations

import attrs

from teachtls.connection import ApplicationData, CloseNotifyReceived, Connection, Event, HandshakeCompleted
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.wire.record import HEADER_LENGTH


@attrs.define
class Exchange:
    """What crossed the wire, as records, and the events each side saw."""

    client_records: list[bytes] = attrs.Factory(list)
    server_records: list[bytes] = attrs.Factory(list)
    client_events: list[Event] = attrs.Factory(list)
    server_events: list[Event] = attrs.Factory(list)

    @property
    def client_received(self) -> bytes:
        return b"".join(data.data for data in self.client_events if isinstance(data, ApplicationData))

    @property
    def server_received(self) -> bytes:
        return b"".join(data.data for data in self.server_events if isinstance(data, ApplicationData))

    @property
    def completed(self) -> bool:
        return any(isinstance(e, HandshakeCompleted) for e in self.client_events) and any(
            isinstance(e, HandshakeCompleted) for e in self.server_events
        )


def split_records(data: bytes) -> list[bytes]:
    """Cut a byte stream into whole records (5-byte header + length)."""
    records = []
    while data:
        length = HEADER_LENGTH + int.from_bytes(data[3:5], "big")
        records.append(data[:length])
        data = data[length:]
    return records


def pump(client: Connection, server: Connection, exchange: Exchange) -> None:
    """Move bytes both ways until both sides are quiet."""
    while True:
        to_server = client.data_to_send()
        if to_server:
            exchange.client_records += split_records(to_server)
            exchange.server_events += server.receive_data(to_server)
        to_client = server.data_to_send()
        if to_client:
            exchange.server_records += split_records(to_client)
            exchange.client_events += client.receive_data(to_client)
        if not to_server and not to_client:
            return


def run(
    client: ClientConnection,
    server: ServerConnection,
    *,
    client_data: bytes | None = None,
    server_data: bytes | None = None,
    early_data: bytes | None = None,
    close: bool = True,
) -> Exchange:
    """Handshake, optionally exchange one message each way, then close.

    The client closes first; the server answers close_notify with its own
    (RFC 8446 §6.1: "Each party MUST send a 'close_notify' alert before
    closing its write side of the connection")."""
    exchange = Exchange()
    client.start_handshake(early_data=early_data)
    pump(client, server, exchange)
    if client_data is not None:
        client.send_application_data(client_data)
        pump(client, server, exchange)
    if server_data is not None:
        server.send_application_data(server_data)
        pump(client, server, exchange)
    if close:
        client.close()
        pump(client, server, exchange)
        if any(isinstance(e, CloseNotifyReceived) for e in exchange.server_events):
            server.close()
            pump(client, server, exchange)
    return exchange
