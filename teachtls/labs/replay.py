"""The replayed-0rtt lab: an attacker sends a client's 0-RTT flight a second time.

Three connections, one server-side session store:

1. The client makes a full handshake and receives a NewSessionTicket that
   allows early data (RFC 8446 §4.6.1, §4.2.10).
2. It resumes with that ticket and sends a request as 0-RTT data in its first
   flight (RFC 8446 §2.3). The server accepts it. An attacker on the path
   records that first flight -- ClientHello, change_cipher_spec and the
   encrypted early data -- byte for byte.
3. The attacker sends the recording to the server again. Only this
   connection is traced: the lab is about what the server does with it.

The attacker cannot read the early data, but does not need to: the server
would decrypt it with keys that depend only on the ticket's PSK and the
ClientHello, and act on it a second time. teachtls's server keeps single-use
tickets for 0-RTT (`SessionStore.use_once`, RFC 8446 §8.1), sees the ticket a
second time, and rejects the early data: a `ChoiceMade` event, no alert. It
then skips the 0-RTT records (RFC 8446 §4.2.10) and answers with an ordinary
handshake flight, which the attacker cannot complete.
"""

from __future__ import annotations

from teachtls.connection import ApplicationData
from teachtls.handshake.alerts import AlertError
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.labs.lab import Lab
from teachtls.labs.network import Network, note
from teachtls.labs.stage import client_config, counter_random, lab_clock, server_config
from teachtls.sessions import StatelessTickets
from teachtls.trace.observer import Recorder, ignore

EARLY_REQUEST = b"POST /transfer amount=100 to=bob"
"""The client's 0-RTT data: a request that must not run twice."""

MAX_EARLY_DATA = 1024


def ticket_store() -> StatelessTickets:
    """The server's ticket keys (deterministic: the lab's counter and clock)."""
    return StatelessTickets(counter_random(b"teachtls lab ticket keys"), lab_clock)


def replica_of(store: StatelessTickets) -> StatelessTickets:
    """Another server of the same site: the same ticket keys, its own memory of used tickets."""
    replica = ticket_store()
    replica.keys = list(store.keys)
    return replica


def capture_early_flight(store: StatelessTickets) -> bytes:
    """Connections 1 and 2 (untraced): a ticket, then a resumption with 0-RTT data.

    Returns the client's first flight of connection 2 -- what the attacker recorded."""
    server_settings = server_config(ignore, session_store=store, session_tickets=1, max_early_data_size=MAX_EARLY_DATA)
    first = ClientConnection(client_config(ignore))
    Network(first, ServerConnection(server_settings)).start()
    session = first.sessions[-1]

    client = ClientConnection(client_config(ignore, session=session))
    server = ServerConnection(server_settings)
    client.start_handshake(early_data=EARLY_REQUEST)
    flight = client.data_to_send()  # the attacker keeps a copy
    network = Network(client, server)
    network.server_events += server.receive_data(flight)
    network.pump()
    delivered = [e.data for e in network.server_events if isinstance(e, ApplicationData) and e.early]
    assert delivered == [EARLY_REQUEST], "the genuine 0-RTT request was not accepted"
    return flight


def replayed_0rtt(recorder: Recorder, *, replay_to: str = "same-server") -> AlertError | None:
    """Replay a recorded 0-RTT flight to the server ("same-server") or to a
    replica sharing its ticket keys but not its anti-replay memory ("other-server")."""
    if replay_to not in ("same-server", "other-server"):
        raise ValueError(f"replay_to must be 'same-server' or 'other-server', not {replay_to!r}")
    store = ticket_store()
    flight = capture_early_flight(store)
    target = store if replay_to == "same-server" else replica_of(store)
    server = ServerConnection(
        server_config(recorder, session_store=target, session_tickets=1, max_early_data_size=MAX_EARLY_DATA)
    )
    where = "the same server"
    if replay_to == "other-server":
        where = "another server of the site, which shares the ticket keys"
    note(
        recorder,
        "server",
        f"an attacker replays, byte for byte, a client's first flight recorded from an earlier connection "
        f"(ClientHello, change_cipher_spec and 0-RTT data {EARLY_REQUEST.decode()!r}, which the server "
        f"accepted then) to {where}",
    )
    try:
        server.receive_data(flight)
    except AlertError as error:  # pragma: no cover - a replay is not a protocol error
        return error
    return None


REPLAYED_0RTT = Lab(
    name="replayed-0rtt",
    title="An attacker replays a client's 0-RTT early data",
    explanation=(
        "With a ticket from an earlier connection, a client may send data in its very first flight, before "
        "the handshake is done: 0-RTT early data (RFC 8446 §2.3). Here the client sends "
        '"POST /transfer amount=100 to=bob" that way and the server accepts it. Early data is encrypted with '
        "keys derived from the ticket's PSK and the ClientHello alone -- nothing from the server is mixed in "
        "yet. So an attacker who recorded the flight can send it again, byte for byte: the server would derive "
        "the same keys, decrypt the same request and make the transfer twice. The attacker learns nothing, "
        'but the server acts twice. RFC 8446 §8: "TLS does not provide inherent replay protections for 0-RTT '
        'data", and "The server MUST ensure that any instance of it [...] would accept 0-RTT for the same '
        '0-RTT handshake at most once" -- by single-use tickets (§8.1), a record of recent ClientHellos (§8.2) '
        "or equivalent means, with freshness checks on the ticket age (§8.3) to bound what must be remembered. "
        "teachtls's server remembers every ticket used for 0-RTT data and rejects early data offered with it "
        "again. This fault is caught "
        'without an alert: the trace shows the server\'s decision (early_data: rejected, "a replay"); it '
        "skips the 0-RTT records and carries on with an ordinary handshake, which the attacker cannot finish "
        "without the PSK and the client's key share. The request never reaches the application."
    ),
    exercise=(
        "Servers of a big site share their ticket keys, so any of them can resume any session. Replay the "
        "flight to another server that shares the keys but not the memory of used tickets: "
        'LABS["replayed-0rtt"].run(replay_to="other-server"). What happens to the transfer? What does '
        "RFC 8446 §8 ask of such deployments?"
    ),
    answer=(
        "The other server accepts the early data and delivers the request a second time "
        "(ApplicationDataReceived), and no check fails. RFC 8446 §8 only requires that each server instance "
        'accept the same 0-RTT handshake at most once: "this limits the number of replays to the number of '
        'server instances in the deployment". Accepting it once overall takes state shared by every server '
        "that can open the tickets (§8.1: single-use tickets need a shared session database), which not every "
        'deployment keeps. Hence the client-side rule: clients "MUST only send early data which they deem safe '
        'to be replayed" (§8); HTTP marks such requests with the Early-Data header and 425 Too Early (RFC 8470).'
    ),
    expected_check="early_data",
    expected_role="server",
    expected_alert=None,
    expected_reason="replay",
    rule="RFC 8446 §8.1",
    scenario=replayed_0rtt,
)


__all__ = ["EARLY_REQUEST", "REPLAYED_0RTT", "capture_early_flight", "replayed_0rtt"]
