"""Named deterministic scenarios: a whole traced conversation, by name.

The documentation (`teachtls.sphinxext`), the command line
(`teachtls diagram --scenario NAME`) and notebooks (`Trace.from_scenario`)
all need "the RFC 8448 handshake, traced" without wiring two connections
together themselves. This module gives each such conversation a name:

    rfc8448-simple        RFC 8448 §3: a full 1-RTT handshake, then a session ticket
    rfc8448-resumed-0rtt  §4: resumption with a PSK and 0-RTT early data
    rfc8448-hrr           §5: a HelloRetryRequest asks for a P-256 key share
    rfc8448-client-auth   §6: the server asks for, and gets, a client certificate
    rfc8448-compat        §7: middlebox compatibility mode (RFC 8446 §D.4)
    bad-certificate       §3's handshake with certificate checking turned on:
                          the client rejects the server's certificate

Each is a client and a server (`teachtls.scenarios.rfc8448`) run against
each other in memory (`teachtls.scenarios.memory`), both reporting to one
`Recorder`, so the trace holds both roles in the order things happened.
The RFC fixes every random input, so every run produces the same trace, byte
for byte -- that is what lets a documentation build redraw its figures
without the figures changing.

Why "bad-certificate" fails. RFC 8448's server certificate (CN=rsa) has no
subjectAltName at all, while its client asks for "server": with
verification on, RFC 8446 §4.4.2.4 has the client abort with
bad_certificate ("hostname mismatch"). The client trusts exactly that
certificate, so the result never depends on the machine's CA bundle, and its
clock is fixed an hour after the RFC's: RFC 8448's handshakes are dated
00:36:40 UTC on 2016-07-30, 47 minutes before its certificates become valid,
so at the RFC's own clock the certificate would be refused as not yet valid
(certificate_expired) before its name is even looked at.

Abbreviations: hrr (HelloRetryRequest), psk (pre-shared key), 0-RTT (early
data, sent before the handshake completes).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import attrs

from teachtls.handshake.alerts import AlertError
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.scenarios import memory, rfc8448
from teachtls.trace.events import TraceEvent
from teachtls.trace.observer import Recorder

# An hour after RFC 8448's clock: inside its certificates' validity (see above).
BAD_CERTIFICATE_CLOCK = rfc8448.TIMESTAMP + 3600


def rfc8448_run(scenario: str) -> list[TraceEvent]:
    """RFC 8448's `scenario` ("simple_1rtt", ...), both roles traced into one Recorder.

    The RFC's script: the handshake (with 0-RTT data in §4), the 50 bytes of
    application data each side sends in §3 and §4, then close_notify both
    ways."""
    recorder = Recorder()
    client = ClientConnection(rfc8448.client_config(scenario, recorder))
    server = ServerConnection(rfc8448.server_config(scenario, recorder))
    memory.run(
        client,
        server,
        client_data=rfc8448.application_data(scenario, "client"),
        server_data=rfc8448.application_data(scenario, "server"),
        early_data=rfc8448.early_data(scenario),
    )
    return list(recorder.events)


def bad_certificate() -> list[TraceEvent]:
    """RFC 8448 §3 with the client checking the server's certificate: bad_certificate.

    The client sends a fatal alert and closes; the server reads the alert and
    closes too. Both sides' view is in the trace."""
    recorder = Recorder()
    server_config = rfc8448.server_config("simple_1rtt", recorder)
    client_config = attrs.evolve(
        rfc8448.client_config("simple_1rtt", recorder),
        verify_peer=True,
        trusted_certificates=server_config.certificate_chain[-1:],
        clock=lambda: BAD_CERTIFICATE_CLOCK,
    )
    client = ClientConnection(client_config)
    server = ServerConnection(server_config)
    try:
        memory.run(client, server)
    except AlertError:
        pass  # the client refused the certificate: the point of the scenario
    else:
        raise AssertionError("the bad-certificate scenario completed its handshake")
    # Deliver the client's alert, so the trace shows the server learning why
    # (it raises RemoteAlert: told, it closes).
    with contextlib.suppress(AlertError):
        server.receive_data(client.data_to_send())
    return list(recorder.events)


SCENARIOS: dict[str, Callable[[], list[TraceEvent]]] = {
    "rfc8448-simple": functools.partial(rfc8448_run, "simple_1rtt"),
    "rfc8448-resumed-0rtt": functools.partial(rfc8448_run, "resumed_0rtt"),
    "rfc8448-hrr": functools.partial(rfc8448_run, "hello_retry_request"),
    "rfc8448-client-auth": functools.partial(rfc8448_run, "client_authentication"),
    "rfc8448-compat": functools.partial(rfc8448_run, "compatibility_mode"),
    "bad-certificate": bad_certificate,
}
"""Every named scenario: name -> a function that runs it and returns its trace."""


@functools.cache
def _cached_run(name: str) -> tuple[TraceEvent, ...]:
    return tuple(SCENARIOS[name]())


def run_scenario(name: str) -> list[TraceEvent]:
    """The trace of the scenario called `name` (see `SCENARIOS`).

    Runs once per process and is cached: every call returns a new list of the
    same (frozen) events, so a caller may change its list freely.
    Raises `KeyError` for an unknown name, listing the known ones."""
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    return list(_cached_run(name))


__all__ = ["SCENARIOS", "BAD_CERTIFICATE_CLOCK", "bad_certificate", "rfc8448_run", "run_scenario"]
