"""DTLS: TLS over datagrams (RFC 6347 for DTLS 1.2; RFC 9147 for DTLS 1.3, built on the same parts).

Not for production. The layers, bottom up:

* `record`: the DTLSPlaintext header -- epoch and explicit sequence number
  -- and cutting datagrams into records.
* `replay`: the sliding anti-replay window.
* `framing`: message_seq, fragment_offset/fragment_length; fragmenting to
  the MTU and reassembling out of order.
* `flights`: flights and the retransmission timer.
* `messages`: the DTLS ClientHello (with its cookie) and HelloVerifyRequest.
* `cookie`: the stateless cookie exchange, a denial-of-service defence.
* `states`: the DTLS 1.2 state tables.
* `connection`: `DatagramConnection`, the sans-I/O datagram machinery.
* `dtls12`: `DTLSClientConnection`, `DTLSServerConnection` (DTLS 1.2).
* `record13`: the DTLS 1.3 unified header; `ack`: ACK messages and partial
  acknowledgement; `cookie13`: the stateless HelloRetryRequest cookie.
* `dtls13`: `DTLS13ClientConnection`, `DTLS13ServerConnection` (DTLS 1.3).
* `link`: a lossy in-memory datagram link for tests and tutorials.

The UDP session is `teachtls.net.udp`.
"""

from teachtls.dtls.connection import DEFAULT_MTU, DatagramConnection, DTLSSettings, PacketTooLarge
from teachtls.dtls.dtls12 import DTLSClientConnection, DTLSServerConnection
from teachtls.dtls.dtls13 import DTLS13ClientConnection, DTLS13ServerConnection

__all__ = [
    "DEFAULT_MTU",
    "DTLS13ClientConnection",
    "DTLS13ServerConnection",
    "DTLSClientConnection",
    "DTLSServerConnection",
    "DTLSSettings",
    "DatagramConnection",
    "PacketTooLarge",
]
