"""The `teachtls` command: watch TLS 1.3 (and 1.2) happen, in memory or on the network.

    teachtls demo    [--trace FILE] [--out DIR] [--tls-version 1.3|1.2]
                     [--legacy-suites-for-teaching]
    teachtls serve   [--host H] [--port P] --cert CERT.pem --key KEY.pem
                     [--tls-version 1.3|1.2] [--trace-dir DIR] [--keylog FILE]
                     [--alpn PROTO ...] [--tickets N] [--early-data BYTES]
                     [--ocsp RESPONSE.der] [--legacy-suites-for-teaching] [--explain]
                     [--handshake-timeout S] [--idle-timeout S] [--max-connections N]
    teachtls connect HOST:PORT [--cafile CA.pem] [--servername NAME]
                     [--tls-version 1.3|1.2] [--trace FILE] [--keylog FILE]
                     [--insecure] [--path /] [--timeout SECONDS] [--alpn PROTO ...]
                     [--legacy-suites-for-teaching]

    teachtls diagram     TRACE -o OUT.svg [--detail messages|keys|records] [--title T]
    teachtls keyschedule TRACE -o OUT.svg [--role client|server]
    teachtls statechart  --role client|server [--trace TRACE] -o OUT.svg
    teachtls explain     TRACE -o OUT.html|.md|.rst [--title T]
    teachtls keylog      TRACE -o keys.txt
    teachtls pcap        TRACE -o capture.pcapng
    teachtls lab         [NAME] [--out DIR]
    teachtls compare     [TRACE12 TRACE13] -o OUT.svg|.png|.pdf|.dot|.html|.md

  (TRACE is a JSON Lines trace; `--scenario NAME` names a deterministic
  scenario instead, e.g. rfc8448-simple. Pictures are .svg, .png, .pdf or .dot.)

* `demo` runs a client and a server against each other in memory, with a
  freshly made CA and certificate: no sockets at all. Both sides report to
  one `Recorder`, so the trace is the whole conversation in order. It prints
  a step-by-step walkthrough and saves the trace as JSON Lines, with its
  sequence diagram (diagram.svg) and annotated page (page.html) beside it.
* `serve` is a small HTTPS server (teachtls/net/server.py) whose page shows
  what each connection negotiated. `--trace-dir` keeps one trace per
  connection; `--keylog` lets Wireshark decrypt a capture.
  `--tickets N` (2 by default, 0 for none) NewSessionTickets follow each
  handshake, all sealed by one `StatelessTickets` store shared by the whole
  server, so a client can resume on a later connection (RFC 8446 §2.2);
  `--early-data BYTES` lets those tickets carry up to BYTES of 0-RTT data
  (§2.3). `--ocsp` staples a DER OCSP response to the certificate for
  clients that ask (RFC 6066 §8); it is sent as it is, so a stale or
  revoked response shows what a client does with one.
  `--explain` makes the page show each visitor its own handshake: the
  browser's ClientHello, the sequence diagram, the server's key schedule and
  every byte, rendered from the trace of the connection that carries the page
  (`explain_handler`). It selects ALPN http/1.1 and prefers the hybrid
  X25519MLKEM768, so a modern browser's hybrid key share is the one used.
  `--handshake-timeout`, `--idle-timeout` and `--max-connections` set the
  server's limits (teachtls.net.server: 10 s, 10 s and 64 by default).
* `connect` is a tiny HTTPS client: handshake, `GET`, print the response.
  It works against `teachtls serve`, `openssl s_server -www` and real sites.
* `diagram`, `keyschedule`, `statechart` and `explain` draw and explain a
  saved trace (teachtls.render); `keylog` and `pcap` hand it to Wireshark.
* `lab` lists the break-it labs, or runs one: a handshake with one
  deliberate fault, the check that catches it and the alert (teachtls.labs).
* `compare` puts a TLS 1.2 and a TLS 1.3 handshake side by side and marks
  what each TLS 1.2 message became (teachtls.render.compare). Without
  traces it compares two deterministic scenarios, tls12-rfc8448-simple and
  rfc8448-simple: one server, one key share, two protocol versions.

Versions. `demo`, `serve` and `connect` speak TLS 1.3 and TLS 1.2 by default
(1.3 preferred, RFC 8446 §4.2.1); `--tls-version 1.2` or `1.3` allows only
that one: the server is capped at it, the client offers only it, the demo
runs both sides at it. `--legacy-suites-for-teaching` also enables the TLS
1.2 suites TLS 1.3 removed -- static RSA key transport (no forward secrecy)
and AES-CBC with HMAC (MAC-then-encrypt, padding oracles) -- for a lesson on
why; it is off unless asked for, and says so on stderr when it is on.

The command line is a contract (scripts and tests rely on it). Exit codes:
0 success, 1 the connection or handshake failed (one line on stderr says
why), 2 bad usage (argparse's convention), including an unknown
`--tls-version`. For the trace commands: 2 when the trace is
missing or malformed or -o has a suffix they cannot write, 1 when writing
fails.

Not for production: teachtls prints and stores secrets on purpose.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack

import attrs

from teachtls import __version__
from teachtls.config import Config
from teachtls.connection import Connection, Event
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.labs.command import add_lab_command
from teachtls.net.server import (
    HANDSHAKE_TIMEOUT,
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
    TLSServer,
    explain_handler,
    explaining,
    http_handler,
    serve,
    server_config,
)
from teachtls.net.session import DEFAULT_TIMEOUT, client_config, connect, describe_error
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.pki.verify import load_trust_store
from teachtls.render.walkthrough import render_walkthrough
from teachtls.sessions import SessionState, SessionStore, StatelessTickets
from teachtls.trace.events import TraceEvent
from teachtls.trace.jsonl import JsonlWriter, dump_jsonl
from teachtls.trace.keylog import KeylogWriter
from teachtls.trace.observer import Observer, Recorder, fan_out, flush_of, ignore
from teachtls.wire.enums import ProtocolVersion

# --tls-version VERSION -> the one protocol version a Config then allows.
SUPPORTED_TLS_VERSIONS: dict[str, int] = {"1.3": ProtocolVersion.TLS1_3, "1.2": ProtocolVersion.TLS1_2}

LEGACY_SUITES_WARNING = (
    "teachtls: warning: --legacy-suites-for-teaching: TLS 1.2 static RSA key transport (no forward secrecy) "
    "and AES-CBC with HMAC (padding oracles) are enabled; they are here to show why TLS 1.3 removed them. "
    "For teaching only."
)

# RFC 8446 §4.6.1: max_early_data_size is a uint32.
MAX_EARLY_DATA_SIZE = 2**32 - 1
# RFC 6066 §8: "opaque OCSPResponse<1..2^24-1>;"
MAX_OCSP_RESPONSE = 2**24 - 1


def tls_version(text: str) -> str:
    """argparse type for --tls-version: "1.3" or "1.2"."""
    if text in SUPPORTED_TLS_VERSIONS:
        return text
    raise argparse.ArgumentTypeError(f"unknown TLS version {text!r}; choose 1.3 or 1.2")


def add_version_options(parser: argparse.ArgumentParser, whose: str) -> None:
    """--tls-version and --legacy-suites-for-teaching, shared by demo, serve and connect."""
    parser.add_argument(
        "--tls-version",
        type=tls_version,
        default=None,
        metavar="VERSION",
        help=f"1.3 or 1.2: {whose} only that version (default: both, TLS 1.3 preferred)",
    )
    parser.add_argument(
        "--legacy-suites-for-teaching",
        action="store_true",
        help="TEACHING ONLY: also enable TLS 1.2 static RSA and AES-CBC suites (off by default)",
    )


def versioned(config: Config, args: argparse.Namespace) -> Config:
    """`config` with what --tls-version and --legacy-suites-for-teaching asked for."""
    if args.tls_version is not None:
        config = attrs.evolve(config, versions=(SUPPORTED_TLS_VERSIONS[args.tls_version],))
    if args.legacy_suites_for_teaching:
        config = attrs.evolve(config, legacy_suites_for_teaching=True)
    return config


def warn_about_legacy_suites(args: argparse.Namespace) -> None:
    if args.legacy_suites_for_teaching:
        print(LEGACY_SUITES_WARNING, file=sys.stderr, flush=True)


def count_between(low: int, high: int) -> Callable[[str], int]:
    """argparse type: an integer from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def positive_seconds(text: str) -> float:
    """argparse type for a server timeout: more than 0 seconds, at most a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 86_400:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 86400 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="teachtls",
        description="A readable, fully traced TLS 1.3 (and 1.2) for teaching. Not for production.",
    )
    parser.add_argument("--version", action="version", version=f"teachtls {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="an in-memory handshake between a teachtls client and server")
    demo.add_argument("--out", metavar="DIR", default="demo-output", help="output directory (default: %(default)s)")
    demo.add_argument("--trace", metavar="FILE", help="JSON Lines trace file (default: DIR/trace.jsonl)")
    add_version_options(demo, "both sides speak")
    demo.set_defaults(run=run_demo)

    server = commands.add_parser("serve", help="an HTTPS server that shows each connection's parameters")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    server.add_argument("--port", type=int, default=8443, help="port; 0 picks a free one (default: %(default)s)")
    server.add_argument("--cert", required=True, metavar="CERT.pem", help="certificate chain, leaf first (PEM)")
    server.add_argument("--key", required=True, metavar="KEY.pem", help="the leaf's private key (PEM)")
    add_version_options(server, "the server accepts")
    server.add_argument("--trace-dir", metavar="DIR", help="write DIR/connection-<n>.jsonl for each connection")
    server.add_argument("--keylog", metavar="FILE", help="append NSS key log lines (for Wireshark)")
    server.add_argument("--alpn", nargs="+", action="extend", default=[], metavar="PROTO", help="ALPN protocols")
    server.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS", help="per-connection socket timeout"
    )
    server.add_argument(
        "--tickets",
        type=count_between(0, 16),
        default=2,
        metavar="N",
        help="NewSessionTickets after each handshake, for resumption; 0 disables (default: %(default)s)",
    )
    server.add_argument(
        "--early-data",
        type=count_between(0, MAX_EARLY_DATA_SIZE),
        default=0,
        metavar="BYTES",
        help="accept this much 0-RTT data with a ticket; 0 refuses early data (default: %(default)s)",
    )
    server.add_argument(
        "--ocsp", metavar="RESPONSE.der", help="a DER OCSP response to staple for clients that ask (status_request)"
    )
    server.add_argument(
        "--explain",
        action="store_true",
        help="show each visitor its own handshake: ClientHello, diagram, key schedule, every byte",
    )
    server.add_argument(
        "--handshake-timeout",
        type=positive_seconds,
        default=HANDSHAKE_TIMEOUT,
        metavar="SECONDS",
        help="time a client has for the whole handshake (default: %(default)s)",
    )
    server.add_argument(
        "--idle-timeout",
        type=positive_seconds,
        default=IDLE_TIMEOUT,
        metavar="SECONDS",
        help="time a client has after the handshake to send its request (default: %(default)s)",
    )
    server.add_argument(
        "--max-connections",
        type=count_between(1, 10_000),
        default=MAX_CONNECTIONS,
        metavar="N",
        help="connections served at once; more are refused (default: %(default)s)",
    )
    server.set_defaults(run=run_serve)
    add_dtls_options(server, "serve DTLS over UDP instead of TLS over TCP (DTLS 1.3 and 1.2; --tls-version picks one)")

    client = commands.add_parser("connect", help="connect, send GET, print the response")
    client.add_argument("address", metavar="HOST:PORT", help="where to connect (port defaults to 443)")
    client.add_argument("--cafile", metavar="CA.pem", help="trusted root certificates (default: the system's)")
    client.add_argument("--servername", metavar="NAME", help="name to send and verify (default: HOST)")
    add_version_options(client, "the client offers")
    client.add_argument("--trace", metavar="FILE", help="write the trace as JSON Lines")
    client.add_argument("--keylog", metavar="FILE", help="append NSS key log lines (for Wireshark)")
    client.add_argument("--insecure", action="store_true", help="do NOT verify the server's certificate")
    client.add_argument("--path", default="/", help="the path to GET (default: %(default)s)")
    client.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS", help="socket timeout in seconds"
    )
    client.add_argument("--alpn", nargs="+", action="extend", default=[], metavar="PROTO", help="ALPN protocols")
    client.set_defaults(run=run_connect)
    add_dtls_options(client, "connect with DTLS over UDP instead of TLS over TCP (DTLS 1.2; --tls-version 1.3: 1.3)")
    add_render_commands(commands)
    add_compare_command(commands)
    add_lab_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `teachtls` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, usage errors
        return stop.code if isinstance(stop.code, int) else 2
    try:
        code: int = args.run(args)
    except BrokenPipeError:
        # `teachtls demo | head`: the reader left; don't add a traceback.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the docs' advice for EPIPE)
        return 1
    return code


def fail(message: str) -> int:
    print(f"teachtls: {message}", file=sys.stderr, flush=True)
    return 1


# --- teachtls demo ------------------------------------------------------------------


def run_demo(args: argparse.Namespace) -> int:
    trace_path = args.trace or os.path.join(args.out, "trace.jsonl")
    warn_about_legacy_suites(args)
    events = demo_trace(versioned(Config(), args))
    print(render_walkthrough(events, color=sys.stdout.isatty()), end="")

    for directory in {os.path.dirname(trace_path) or ".", args.out}:
        os.makedirs(directory, exist_ok=True)
    dump_jsonl(events, trace_path, metadata={"source": "teachtls demo"})
    walkthrough_path = os.path.join(args.out, "walkthrough.txt")
    with open(walkthrough_path, "w", encoding="utf-8") as file:
        file.write(render_walkthrough(events))
    print(f"teachtls: wrote the trace ({len(events)} events) to {trace_path}")
    print(f"teachtls: wrote the walkthrough to {walkthrough_path}")
    write_demo_pictures(events, args.out)
    return 0


def write_demo_pictures(events: list[TraceEvent], directory: str) -> None:
    """The sequence diagram and the annotated page, beside the trace; says where."""
    from teachtls.render.pages import write_page
    from teachtls.render.sequence import render_sequence

    diagram_path = os.path.join(directory, "diagram.svg")
    try:
        render_sequence(events, diagram_path)
    except RuntimeError as error:  # graphviz.ExecutableNotFound: no `dot` program
        print(f"teachtls: could not draw the sequence diagram ({error}); install Graphviz", file=sys.stderr)
    else:
        print(f"teachtls: wrote the sequence diagram to {diagram_path}")
    page_path = os.path.join(directory, "page.html")
    write_page(events, page_path)  # without Graphviz the page says why it has no diagram
    print(f"teachtls: wrote the annotated page (every byte explained) to {page_path}")


def demo_trace(base: Config | None = None) -> list[TraceEvent]:
    """A whole conversation in memory, both roles traced into one Recorder.

    A fresh CA and a leaf for "localhost" (ECDSA P-256); the client sends a
    small HTTP request, the server a reply; then both say close_notify.
    Both sides start from `base` (its versions and suites; TLS 1.3 and 1.2
    by default, so they agree on 1.3)."""
    base = base or Config()
    ca = make_ca("teachtls demo CA", "ecdsa-p256")
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"], key_type="ecdsa-p256")
    recorder = Recorder()  # events carry their role, so one recorder can serve both
    client = ClientConnection(
        attrs.evolve(base, server_name="localhost", trusted_certificates=(ca.certificate,), observer=recorder)
    )
    server = ServerConnection(
        attrs.evolve(base, certificate_chain=(leaf.certificate,), private_key=leaf.private_key, observer=recorder)
    )

    client.start_handshake()
    while not (client.handshake_complete and server.handshake_complete):
        deliver(client, server)
        deliver(server, client)

    client.send_application_data(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    deliver(client, server)
    server.send_application_data(b"HTTP/1.0 200 OK\r\nContent-Length: 17\r\n\r\nhello from server")
    deliver(server, client)
    client.close()
    deliver(client, server)
    server.close()
    deliver(server, client)
    return list(recorder.events)


def deliver(sender: Connection, receiver: Connection) -> list[Event]:
    """Move whatever `sender` has queued to `receiver`: the network, in one line."""
    data = sender.data_to_send()
    if not data or receiver.closed:
        return []
    return receiver.receive_data(data)


# --- teachtls serve ------------------------------------------------------------------


def run_serve(args: argparse.Namespace) -> int:
    if args.early_data and not args.tickets:
        # 0-RTT data rides on a ticket's PSK (RFC 8446 §2.3): no tickets, no early data.
        print("teachtls: --early-data needs session tickets (--tickets 1 or more)", file=sys.stderr)
        return 2
    try:
        base = server_config(args.cert, args.key, alpn=args.alpn)
    except (OSError, ValueError) as error:
        return fail(f"cannot load the certificate or key: {error}")
    if args.ocsp:
        try:
            with open(args.ocsp, "rb") as file:
                ocsp_response = file.read()
        except OSError as error:
            return fail(f"cannot read the OCSP response {args.ocsp}: {error.strerror or error}")
        if not 1 <= len(ocsp_response) <= MAX_OCSP_RESPONSE:
            return fail(f"the OCSP response {args.ocsp} must hold 1 to {MAX_OCSP_RESPONSE} bytes of DER")
        base = attrs.evolve(base, ocsp_response=ocsp_response)
    if args.tickets:
        # One store for every connection: a ticket sealed on connection 1 must
        # open on connection 2. Connections run in threads, hence the lock.
        store: SessionStore = LockedSessionStore(StatelessTickets(base.random, base.clock))
        base = attrs.evolve(base, session_tickets=args.tickets, session_store=store)
    base = attrs.evolve(versioned(base, args), max_early_data_size=args.early_data)
    warn_about_legacy_suites(args)
    if args.trace_dir:
        os.makedirs(args.trace_dir, exist_ok=True)
    keylog_lock = threading.Lock()

    @contextlib.contextmanager
    def config_for(number: int) -> Iterator[Config]:
        """Connection `number`'s Config: its own trace file and key log writer."""
        with ExitStack() as stack:
            observers: list[Observer] = []
            if args.trace_dir:
                path = os.path.join(args.trace_dir, f"connection-{number}.jsonl")
                observers.append(stack.enter_context(JsonlWriter(path, metadata={"connection": number})))
            if args.keylog:
                # One writer per connection (each follows its own handshake),
                # all appending to one file; the lock keeps lines whole.
                keylog = stack.enter_context(KeylogWriter(args.keylog))
                observers.append(Locked(keylog, keylog_lock))
            yield attrs.evolve(base, observer=fan_out(*observers) if observers else ignore)

    if args.dtls:
        if args.explain:
            print("teachtls: --explain serves HTTPS over TCP; it cannot be combined with --dtls", file=sys.stderr)
            return 2
        return serve_dtls(args, config_for, base)

    def ready(server: TLSServer) -> None:
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"teachtls: listening on https://{host}:{server.port}/", flush=True)
        if args.explain:
            print("teachtls: --explain: open that address in a browser to see its own handshake", flush=True)

    try:
        serve(
            args.host,
            args.port,
            explaining(config_for) if args.explain else config_for,
            explain_handler if args.explain else http_handler,
            ready=ready,
            timeout=args.timeout,
            handshake_timeout=args.handshake_timeout,
            idle_timeout=args.idle_timeout,
            max_connections=args.max_connections,
        )
    except OSError as error:
        return fail(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}")
    return 0


class Locked:
    """`observer`, called (and flushed, should it buffer) by one thread at a time."""

    def __init__(self, observer: Observer, lock: threading.Lock) -> None:
        self.observer = observer
        self.flush_observer = flush_of(observer)
        self.lock = lock

    def __call__(self, event: TraceEvent) -> None:
        with self.lock:
            self.observer(event)

    def flush(self) -> None:
        with self.lock:
            self.flush_observer()


class LockedSessionStore:
    """A `SessionStore` shared by connection threads, used by one at a time.

    The sans-I/O core is single-threaded; a server's threads are not.
    `use_once` is where it matters: "seen this ticket?" and "remember it" must
    happen as one step, or two replays of the same 0-RTT data racing on two
    connections could both be accepted (RFC 8446 §8)."""

    def __init__(self, store: SessionStore) -> None:
        self.store_behind = store
        self._lock = threading.Lock()

    def store(self, state: SessionState) -> bytes:
        with self._lock:
            return self.store_behind.store(state)

    def retrieve(self, ticket: bytes, now: float) -> SessionState | None:
        with self._lock:
            return self.store_behind.retrieve(ticket, now)

    def use_once(self, ticket: bytes) -> bool:
        with self._lock:
            return self.store_behind.use_once(ticket)


# --- teachtls connect -----------------------------------------------------------------


def run_connect(args: argparse.Namespace) -> int:
    try:
        host, port = split_address(args.address)
    except ValueError as error:
        print(f"teachtls: {error}", file=sys.stderr)
        return 2
    servername = args.servername or host
    warn_about_legacy_suites(args)
    if args.insecure:
        print(
            f"teachtls: warning: --insecure: the server's certificate is NOT verified; "
            f"anyone could be pretending to be {servername}",
            file=sys.stderr,
            flush=True,
        )
    else:
        try:
            load_trust_store(args.cafile)  # fail now, with a clear message, not mid-handshake
        except (OSError, ValueError) as error:
            return fail(f"cannot load trusted certificates: {error}")

    with ExitStack() as stack:
        observers: list[Observer] = []
        try:
            if args.trace:
                observers.append(stack.enter_context(JsonlWriter(args.trace)))
            if args.keylog:
                observers.append(stack.enter_context(KeylogWriter(args.keylog)))
        except OSError as error:
            return fail(f"cannot write {error.filename}: {error.strerror}")
        config = versioned(
            client_config(
                servername=servername,
                cafile=args.cafile,
                insecure=args.insecure,
                observer=fan_out(*observers) if observers else ignore,
                alpn=args.alpn,
            ),
            args,
        )
        where = f"{host}:{port}"
        if args.dtls:
            return connect_dtls_and_get(args, config, host, port, servername)
        try:
            session = connect(host, port, config, timeout=args.timeout)
        except TimeoutError:
            return fail(f"timed out after {args.timeout:g} s connecting to {where} or waiting for its handshake")
        except ConnectionRefusedError:
            return fail(f"connection refused by {where} (is a server listening there?)")
        except Exception as error:
            return fail(describe_error(error, peer="server"))

        with session:
            request = f"GET {args.path} HTTP/1.1\r\nHost: {servername}\r\nConnection: close\r\n\r\n"
            try:
                session.send(request.encode("ascii"))
                response = session.recv_all()
            except TimeoutError:
                return fail(f"timed out after {args.timeout:g} s waiting for the response from {where}")
            except Exception as error:
                return fail(describe_error(error, peer="server"))
        sys.stdout.write(response.decode("utf-8", "replace"))
        sys.stdout.flush()
    return 0


# --- --dtls: DTLS 1.3 and 1.2 over UDP (teachtls.dtls, teachtls.net.udp) ----------------------


def add_dtls_options(parser: argparse.ArgumentParser, what: str) -> None:
    """--dtls and --mtu, for serve and connect."""
    from teachtls.dtls.connection import DEFAULT_MTU, MAXIMUM_MTU, MINIMUM_MTU

    parser.add_argument("--dtls", action="store_true", help=f"{what} (RFC 6347, RFC 9147)")
    parser.add_argument(
        "--mtu",
        type=count_between(MINIMUM_MTU, MAXIMUM_MTU),
        default=DEFAULT_MTU,
        metavar="BYTES",
        help="with --dtls: the largest datagram to send (default: %(default)s)",
    )


def dtls_versions(args: argparse.Namespace) -> tuple[str, ...]:
    """The DTLS versions --tls-version allows: "1.3" is DTLS 1.3 (RFC 9147), "1.2" DTLS 1.2 (RFC 6347).

    Without it a server speaks both (by each client's ClientHello) and a
    client DTLS 1.2: a DTLS 1.3 client cannot fall back to DTLS 1.2 in
    teachtls, and DTLS 1.2 is what the openssl and GnuTLS at hand speak."""
    return (args.tls_version,) if args.tls_version else ("1.3", "1.2")


def serve_dtls(
    args: argparse.Namespace,
    config_for: Callable[[int], contextlib.AbstractContextManager[Config]],
    stateless_config: Config | None = None,
) -> int:
    """`teachtls serve --dtls`: one UDP socket; a page for an HTTP request line, an echo otherwise."""
    from teachtls.dtls.connection import DTLSSettings
    from teachtls.net.server import log_to_stderr
    from teachtls.net.udp import DTLSServer, page_or_echo_handler

    versions = dtls_versions(args)
    try:
        server = DTLSServer(
            (args.host, args.port),
            config_for,
            page_or_echo_handler,
            settings=DTLSSettings(mtu=args.mtu),
            log=log_to_stderr,
            versions=versions,
            stateless_config=stateless_config,
        )
    except OSError as error:
        return fail(f"cannot listen on {args.host}:{args.port} (UDP): {error.strerror or error}")
    host = f"[{args.host}]" if ":" in args.host else args.host
    spoken = " and ".join(f"DTLS {version}" for version in versions)
    print(f"teachtls: listening on dtls://{host}:{server.port}/ (UDP, {spoken}, MTU {args.mtu})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def connect_dtls_and_get(args: argparse.Namespace, config: Config, host: str, port: int, servername: str) -> int:
    """`teachtls connect --dtls`: handshake over UDP, one GET, print what comes back.

    A datagram service has no end of stream: the answer ends with the
    server's close_notify, or after `--timeout` seconds without a datagram."""
    from teachtls.dtls.connection import DTLSSettings, PacketTooLarge
    from teachtls.net.udp import connect_dtls

    version = "1.3" if args.tls_version == "1.3" else "1.2"
    where = f"{host}:{port} (UDP)"
    try:
        session = connect_dtls(host, port, config, DTLSSettings(mtu=args.mtu), timeout=args.timeout, version=version)
    except TimeoutError:
        return fail(f"timed out after {args.timeout:g} s waiting for {where} to answer")
    except ConnectionRefusedError:
        return fail(f"{where} refused the datagrams (ICMP port unreachable: is a DTLS server listening?)")
    except Exception as error:
        return fail(describe_error(error, peer="server"))
    chunks: list[bytes] = []
    with session:
        request = f"GET {args.path} HTTP/1.0\r\nHost: {servername}\r\n\r\n"
        try:
            session.send(request.encode("ascii"))
            while data := session.recv():
                chunks.append(data)
        except TimeoutError:
            if not chunks:
                return fail(f"timed out after {args.timeout:g} s waiting for the response from {where}")
        except PacketTooLarge as error:
            return fail(f"{error} (try a larger --mtu)")
        except Exception as error:
            return fail(describe_error(error, peer="server"))
    sys.stdout.write(b"".join(chunks).decode("utf-8", "replace"))
    sys.stdout.flush()
    return 0


def split_address(address: str) -> tuple[str, int]:
    """ "host:port", "[v6]:port" or "host" (port 443) -> (host, port)."""
    host, port = address, "443"
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
    elif address.count(":") == 1:
        host, port = address.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad address {address!r}; expected HOST:PORT")
    return host, int(port)


# --- teachtls diagram / keyschedule / statechart / explain / keylog / pcap -------------
#
# Each reads a saved trace (a JSON Lines file, or `--scenario NAME` for one of
# the named deterministic scenarios) and writes one file; the format follows
# the suffix of -o. The renderers are imported inside these functions: they
# pull in Graphviz, which `serve` and `connect` never need.
#
# Exit codes: 2 when the input is wrong (no such trace, not a trace, an output
# suffix no renderer writes), as for any other bad usage; 1 when writing
# fails (a missing directory, Graphviz's `dot` not installed).


class UsageError(Exception):
    """Bad input to a command: exit 2 with the message."""


def add_render_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the commands that turn a saved trace into pictures, pages and captures."""
    from teachtls.render.sequence import DETAILS
    from teachtls.scenarios.named import SCENARIOS

    def command(
        name: str, summary: str, run: Callable[[argparse.Namespace], int], output: str
    ) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=summary)
        parser.add_argument("-o", "--output", required=True, metavar=output, help="the file to write")
        parser.set_defaults(run=run)
        return parser

    def trace_source(parser: argparse.ArgumentParser, *, positional: bool = True) -> None:
        if positional:
            parser.add_argument("trace", nargs="?", metavar="TRACE", help="a JSON Lines trace file")
        else:
            parser.add_argument("--trace", metavar="TRACE", help="a JSON Lines trace file whose path to highlight")
        parser.add_argument("--scenario", choices=list(SCENARIOS), metavar="NAME", help="a named scenario instead")

    diagram = command("diagram", "draw a trace's sequence diagram", run_diagram, "OUT.svg|.png|.pdf|.dot")
    trace_source(diagram)
    diagram.add_argument("--detail", choices=DETAILS, default="messages", help="(default: %(default)s)")
    diagram.add_argument("--title", help="the diagram's title (default: the negotiated parameters)")

    keyschedule = command("keyschedule", "draw one side's key schedule", run_keyschedule, "OUT.svg|.png|.pdf|.dot")
    trace_source(keyschedule)
    keyschedule.add_argument("--role", choices=("client", "server"), default="client", help="(default: %(default)s)")

    statechart = command("statechart", "draw a state machine, and the path a trace took", run_statechart, "OUT.svg")
    trace_source(statechart, positional=False)
    statechart.add_argument("--role", choices=("client", "server"), required=True, help="whose state machine")

    explain = command("explain", "write the annotated page: every byte explained", run_explain, "OUT.html|.md|.rst")
    trace_source(explain)
    explain.add_argument("--title", help="the page's title (default: the negotiated parameters)")

    keylog = command("keylog", "write the trace's secrets as an NSS key log (Wireshark)", run_keylog, "keys.txt")
    trace_source(keylog)

    pcap = command("pcap", "write the trace's records as a pcapng capture", run_pcap, "capture.pcapng")
    trace_source(pcap)


def run_diagram(args: argparse.Namespace) -> int:
    from teachtls.render.sequence import render_sequence
    from teachtls.render.style import FORMATS

    return render_command(
        args,
        "the sequence diagram",
        lambda events: render_sequence(events, args.output, detail=args.detail, title=args.title),
        sorted(FORMATS),
    )


def run_keyschedule(args: argparse.Namespace) -> int:
    from teachtls.render.keyschedule import render_keyschedule
    from teachtls.render.style import FORMATS

    return render_command(
        args,
        f"the {args.role}'s key schedule",
        lambda events: render_keyschedule(events, args.output, args.role),
        sorted(FORMATS),
    )


def run_statechart(args: argparse.Namespace) -> int:
    from teachtls.render.statechart import render_statechart
    from teachtls.render.style import FORMATS

    optional = args.trace is None and args.scenario is None  # the bare chart, no path on it
    return render_command(
        args,
        f"the {args.role}'s state chart",
        lambda events: render_statechart(args.role, args.output, None if optional else events),
        sorted(FORMATS),
        needs_trace=not optional,
    )


def run_explain(args: argparse.Namespace) -> int:
    from teachtls.render.pages import RENDERERS, write_page

    return render_command(
        args, "the annotated page", lambda events: write_page(events, args.output, title=args.title), sorted(RENDERERS)
    )


def run_keylog(args: argparse.Namespace) -> int:
    from teachtls.trace.keylog import write_keylog

    return render_command(args, "the key log", lambda events: write_keylog(events, args.output), needs_secrets=True)


def run_pcap(args: argparse.Namespace) -> int:
    from teachtls.trace.pcap import write_pcapng

    return render_command(args, "the capture", lambda events: write_pcapng(events, args.output))


def render_command(
    args: argparse.Namespace,
    what: str,
    write: Callable[[list[TraceEvent]], object],
    formats: Sequence[str] | None = None,
    *,
    needs_trace: bool = True,
    needs_secrets: bool = False,
) -> int:
    """Check the output suffix, read the trace, write `what`; returns the exit code."""
    suffix = os.path.splitext(args.output)[1].lower()
    try:
        if formats is not None and suffix not in formats:
            raise UsageError(f"cannot write {args.output}: use one of {', '.join(formats)}")
        events = read_trace(args, needs_secrets=needs_secrets) if needs_trace else []
    except UsageError as error:
        print(f"teachtls: {error}", file=sys.stderr)
        return 2
    try:
        write(events)
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}")
    except RuntimeError as error:  # graphviz.ExecutableNotFound: no `dot` program
        return fail(f"cannot draw {what}: {error} (install Graphviz)")
    print(f"teachtls: wrote {what} to {args.output}")
    return 0


def read_trace(args: argparse.Namespace, *, needs_secrets: bool = False) -> list[TraceEvent]:
    """The trace named by TRACE (or --trace) or --scenario; raises `UsageError`."""
    from teachtls.scenarios.named import run_scenario

    path, scenario = args.trace, args.scenario
    if (path is None) == (scenario is None):
        raise UsageError("give a TRACE file or --scenario NAME (one of them)")
    if scenario is not None:
        return run_scenario(scenario)
    return load_trace_file(path, needs_secrets=needs_secrets)


def load_trace_file(path: str, *, needs_secrets: bool = False) -> list[TraceEvent]:
    """The events of the JSON Lines trace at `path`; raises `UsageError`."""
    from teachtls.trace.jsonl import load_jsonl_with_header

    try:
        header, events = load_jsonl_with_header(path)
    except OSError as error:
        raise UsageError(f"cannot read the trace {path}: {error.strerror or error}") from None
    except ValueError as error:  # TraceFormatError, or not even UTF-8 text
        raise UsageError(f"{path} is not a teachtls trace: {error}") from None
    if needs_secrets and header.get("redacted"):
        raise UsageError(f"{path} was written redacted: it holds no secrets to write")
    return events


# --- teachtls compare -------------------------------------------------------------------
#
# Two traces, TLS 1.2 first, side by side (teachtls.render.compare). Without
# traces, two deterministic scenarios that share a server certificate, key
# shares and application data: RFC 8448 §3 and its TLS 1.2 counterpart.

COMPARE_SCENARIOS = ("tls12-rfc8448-simple", "rfc8448-simple")


def add_compare_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = commands.add_parser(
        "compare", help="a TLS 1.2 and a TLS 1.3 handshake side by side: what each message became"
    )
    compare.add_argument(
        "traces",
        nargs="*",
        metavar="TRACE12 TRACE13",
        help=f"a TLS 1.2 and a TLS 1.3 JSON Lines trace (default: the scenarios {' and '.join(COMPARE_SCENARIOS)})",
    )
    compare.add_argument(
        "-o", "--output", required=True, metavar="OUT.svg|.png|.pdf|.dot|.html|.md", help="the file to write"
    )
    compare.add_argument("--title", help="the figure's and the page's title")
    compare.set_defaults(run=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from teachtls.render.compare import FORMATS, render_compare
    from teachtls.scenarios.named import run_scenario

    suffix = os.path.splitext(args.output)[1].lower()
    try:
        if suffix not in FORMATS:
            raise UsageError(f"cannot write {args.output}: use one of {', '.join(FORMATS)}")
        if len(args.traces) == 2:
            tls12, tls13 = (load_trace_file(path) for path in args.traces)
        elif not args.traces:
            tls12, tls13 = (run_scenario(name) for name in COMPARE_SCENARIOS)
        else:
            raise UsageError("give two traces, TRACE12 TRACE13 (TLS 1.2 first), or none")
        written = render_compare(tls12, tls13, args.output, title=args.title)
    except UsageError as error:
        print(f"teachtls: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # a trace of the wrong version
        print(f"teachtls: cannot compare: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}")
    except RuntimeError as error:  # graphviz.ExecutableNotFound: no `dot` program
        return fail(f"cannot draw the comparison: {error} (install Graphviz)")
    print(f"teachtls: wrote the TLS 1.2 / TLS 1.3 comparison to {written}")
    if suffix in (".md", ".markdown"):
        print(f"teachtls: wrote its figure to {written.with_suffix('.svg')}")
    return 0


__all__ = ["main", "demo_trace", "split_address"]
