"""A custom trace observer: a live narration of a handshake, one sentence per step.

Shows: an observer is just a function taking a TraceEvent. `narrate` below
prints a sentence for the events worth saying out loud, as they happen;
`fan_out` hands every event to it, to a `Recorder` (the trace in memory)
and to a `JsonlWriter` (the trace on disk) at once. The handshake runs in
memory (teachtls.scenarios.memory.run): no sockets.

Run:  python examples/live_narration.py [--out DIR]     writes DIR/trace.jsonl
Not for production: teachtls is for reading, not for protecting data.
"""

import argparse
from pathlib import Path

from teachtls import ClientConnection, Config, ServerConnection
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.scenarios.memory import run
from teachtls.trace import events
from teachtls.trace.jsonl import JsonlWriter
from teachtls.trace.observer import Recorder, fan_out


def narrate(event: events.TraceEvent) -> None:
    """Print one human sentence for an interesting event; stay silent for the rest."""
    who = f"the {event.role}"
    match event:
        case events.MessageSent(name="ClientHello"):
            shares = [field.value for field in event.fields if field.path.endswith("client_shares[0].group")]
            suites = [field for field in event.fields if "cipher_suites[" in field.path]
            print(f"{who} offers {', '.join(shares)} in its key_share, and {len(suites)} cipher suites")
        case events.MessageSent():
            print(f"{who} sends {event.name}")
        case events.ChoiceMade():
            print(f"{who} chooses {event.subject} {event.choice}" + (f" ({event.reason})" if event.reason else ""))
        case events.KeyExchangeComputed():
            print(f"{who} combines the two {event.group} key shares into the shared secret")
        case events.SecretDerived(label=label) if "traffic" in label:
            print(f'{who} derives {event.name} ("{label}", transcript through {event.transcript_through})')
        case events.CertificateChecked(ok=True):
            print(f"✓ {who} checks the certificate: {event.reason}")
        case events.SignatureVerified(ok=True):
            print(f"✓ {who} verifies the CertificateVerify signature ({event.scheme})")
        case events.FinishedVerified(ok=True):
            print(f"✓ the {event.sender}'s Finished verifies")
        case events.ApplicationDataReceived():
            print(f"{who} reads {event.data!r}")
        case events.AlertSent(description="close_notify"):
            print(f"{who} says goodbye (close_notify)")
        case events.AlertSent(level="fatal") | events.AlertReceived(level="fatal"):
            print(f"✗ {who} meets a fatal {event.description} alert" + (f": {event.reason}" if event.reason else ""))


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("."), help="where trace.jsonl goes (default: here)")
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

ca = make_ca()
leaf = issue_leaf(ca, "localhost", dns_names=["localhost"])
recorder = Recorder()
with JsonlWriter(args.out / "trace.jsonl") as writer:
    # One observer for both sides: events carry their role ("client"/"server").
    observer = fan_out(narrate, recorder, writer)
    client = ClientConnection(
        Config(server_name="localhost", trusted_certificates=(ca.certificate,), observer=observer)
    )
    server = ServerConnection(
        Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key, observer=observer)
    )
    run(client, server, client_data=b"GET / HTTP/1.1\r\n\r\n", server_data=b"HTTP/1.1 200 OK\r\n\r\nhello")

print(f"recorded {len(recorder)} events ({len(recorder.of_type(events.SecretDerived))} secrets derived)")
print(f"wrote {args.out / 'trace.jsonl'}; draw it with: teachtls diagram {args.out / 'trace.jsonl'} -o diagram.svg")
