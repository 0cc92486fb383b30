"""The `teachtls` command: watch TLS 1.3 happen, in memory or on the network.

    teachtls demo    [--trace FILE] [--out DIR]
    teachtls serve   [--host H] [--port P] --cert CERT.pem --key KEY.pem
                     [--tls-version 1.3] [--trace-dir DIR] [--keylog FILE]
                     [--alpn PROTO ...]
    teachtls connect HOST:PORT [--cafile CA.pem] [--servername NAME]
                     [--tls-version 1.3] [--trace FILE] [--keylog FILE]
                     [--insecure] [--path /] [--timeout SECONDS] [--alpn PROTO ...]

* `demo` runs a client and a server against each other in memory, with a
  freshly made CA and certificate: no sockets at all. Both sides report to
  one `Recorder`, so the trace is the whole conversation in order. It prints
  a step-by-step walkthrough and saves the trace as JSON Lines.
* `serve` is a small HTTPS server (teachtls/net/server.py) whose page shows
  what each connection negotiated. `--trace-dir` keeps one trace per
  connection; `--keylog` lets Wireshark decrypt a capture.
* `connect` is a tiny HTTPS client: handshake, `GET`, print the response.
  It works against `teachtls serve`, `openssl s_server -www` and real sites.

The command line is a contract (scripts and tests rely on it). Exit codes:
0 success, 1 the connection or handshake failed (one line on stderr says
why), 2 bad usage (argparse's convention), including `--tls-version 1.2`,
which is not implemented yet.

Not for production: teachtls prints and stores secrets on purpose.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack

import attrs

from teachtls import __version__
from teachtls.config import Config
from teachtls.connection import Connection, Event
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.net.server import TLSServer, http_handler, serve, server_config
from teachtls.net.session import DEFAULT_TIMEOUT, client_config, connect, describe_error
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.pki.verify import load_trust_store
from teachtls.render.walkthrough import render_walkthrough
from teachtls.trace.events import TraceEvent
from teachtls.trace.jsonl import JsonlWriter, dump_jsonl
from teachtls.trace.keylog import KeylogWriter
from teachtls.trace.observer import Observer, Recorder, fan_out, ignore

SUPPORTED_TLS_VERSIONS = ("1.3",)


def tls_version(text: str) -> str:
    """argparse type for --tls-version: only 1.3 for now."""
    if text in SUPPORTED_TLS_VERSIONS:
        return text
    if text == "1.2":
        raise argparse.ArgumentTypeError("TLS 1.2 is not implemented yet; teachtls speaks only TLS 1.3 for now")
    raise argparse.ArgumentTypeError(f"unknown TLS version {text!r}; choose 1.3")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="teachtls",
        description="A readable, fully traced TLS 1.3 for teaching. Not for production.",
    )
    parser.add_argument("--version", action="version", version=f"teachtls {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="an in-memory handshake between a teachtls client and server")
    demo.add_argument("--out", metavar="DIR", default="demo-output", help="output directory (default: %(default)s)")
    demo.add_argument("--trace", metavar="FILE", help="JSON Lines trace file (default: DIR/trace.jsonl)")
    demo.set_defaults(run=run_demo)

    server = commands.add_parser("serve", help="an HTTPS server that shows each connection's parameters")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    server.add_argument("--port", type=int, default=8443, help="port; 0 picks a free one (default: %(default)s)")
    server.add_argument("--cert", required=True, metavar="CERT.pem", help="certificate chain, leaf first (PEM)")
    server.add_argument("--key", required=True, metavar="KEY.pem", help="the leaf's private key (PEM)")
    server.add_argument("--tls-version", type=tls_version, default="1.3", metavar="VERSION", help="only 1.3 for now")
    server.add_argument("--trace-dir", metavar="DIR", help="write DIR/connection-<n>.jsonl for each connection")
    server.add_argument("--keylog", metavar="FILE", help="append NSS key log lines (for Wireshark)")
    server.add_argument("--alpn", nargs="+", action="extend", default=[], metavar="PROTO", help="ALPN protocols")
    server.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS", help="per-connection socket timeout"
    )
    server.set_defaults(run=run_serve)

    client = commands.add_parser("connect", help="connect, send GET, print the response")
    client.add_argument("address", metavar="HOST:PORT", help="where to connect (port defaults to 443)")
    client.add_argument("--cafile", metavar="CA.pem", help="trusted root certificates (default: the system's)")
    client.add_argument("--servername", metavar="NAME", help="name to send and verify (default: HOST)")
    client.add_argument("--tls-version", type=tls_version, default="1.3", metavar="VERSION", help="only 1.3 for now")
    client.add_argument("--trace", metavar="FILE", help="write the trace as JSON Lines")
    client.add_argument("--keylog", metavar="FILE", help="append NSS key log lines (for Wireshark)")
    client.add_argument("--insecure", action="store_true", help="do NOT verify the server's certificate")
    client.add_argument("--path", default="/", help="the path to GET (default: %(default)s)")
    client.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS", help="socket timeout in seconds"
    )
    client.add_argument("--alpn", nargs="+", action="extend", default=[], metavar="PROTO", help="ALPN protocols")
    client.set_defaults(run=run_connect)
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
    events = demo_trace()
    print(render_walkthrough(events, color=sys.stdout.isatty()), end="")

    for directory in {os.path.dirname(trace_path) or ".", args.out}:
        os.makedirs(directory, exist_ok=True)
    dump_jsonl(events, trace_path, metadata={"source": "teachtls demo"})
    walkthrough_path = os.path.join(args.out, "walkthrough.txt")
    with open(walkthrough_path, "w", encoding="utf-8") as file:
        file.write(render_walkthrough(events))
    print(f"teachtls: wrote the trace ({len(events)} events) to {trace_path}")
    print(f"teachtls: wrote the walkthrough to {walkthrough_path}")
    return 0


def demo_trace() -> list[TraceEvent]:
    """A whole TLS 1.3 conversation in memory, both roles traced into one Recorder.

    A fresh CA and a leaf for "localhost" (ECDSA P-256); the client sends a
    small HTTP request, the server a reply; then both say close_notify."""
    ca = make_ca("teachtls demo CA", "ecdsa-p256")
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"], key_type="ecdsa-p256")
    recorder = Recorder()  # events carry their role, so one recorder can serve both
    client = ClientConnection(
        Config(server_name="localhost", trusted_certificates=(ca.certificate,), observer=recorder)
    )
    server = ServerConnection(
        Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key, observer=recorder)
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
    try:
        base = server_config(args.cert, args.key, alpn=args.alpn)
    except (OSError, ValueError) as error:
        return fail(f"cannot load the certificate or key: {error}")
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
                observers.append(locked(keylog, keylog_lock))
            yield attrs.evolve(base, observer=fan_out(*observers) if observers else ignore)

    def ready(server: TLSServer) -> None:
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"teachtls: listening on https://{host}:{server.port}/", flush=True)

    try:
        serve(args.host, args.port, config_for, http_handler, ready=ready, timeout=args.timeout)
    except OSError as error:
        return fail(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}")
    return 0


def locked(observer: Observer, lock: threading.Lock) -> Observer:
    """`observer`, called by one thread at a time."""

    def call(event: TraceEvent) -> None:
        with lock:
            observer(event)

    return call


# --- teachtls connect -----------------------------------------------------------------


def run_connect(args: argparse.Namespace) -> int:
    try:
        host, port = split_address(args.address)
    except ValueError as error:
        print(f"teachtls: {error}", file=sys.stderr)
        return 2
    servername = args.servername or host
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
        config = client_config(
            servername=servername,
            cafile=args.cafile,
            insecure=args.insecure,
            observer=fan_out(*observers) if observers else ignore,
            alpn=args.alpn,
        )
        where = f"{host}:{port}"
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


def split_address(address: str) -> tuple[str, int]:
    """"host:port", "[v6]:port" or "host" (port 443) -> (host, port)."""
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


__all__ = ["main", "demo_trace", "split_address"]
