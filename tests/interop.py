"""Helpers for the interop tests against the real `openssl` binary.

teachtls's core is sans-I/O: it turns bytes into events and never touches a
socket. To talk to `openssl s_server` and `openssl s_client` the tests need
the smallest possible I/O layer, written here on purpose *without*
`teachtls.net`, so that a bug there cannot hide (or cause) an interop failure:

* `SocketPump` drives one `ClientConnection` or `ServerConnection` over a
  blocking socket with a timeout: write whatever `data_to_send()` holds, read,
  feed `receive_data()`, repeat.
* `connect()` opens a teachtls client connection to a port on 127.0.0.1.
* `EchoServer` is a teachtls server on 127.0.0.1: a background thread accepts
  sockets one at a time, runs a `ServerConnection` on each, echoes the first
  line it receives and closes. What happened on each connection (the
  negotiated parameters, the error, the full trace) goes into a queue.
* `OpenSSLServer` runs `openssl s_server` on an ephemeral port (it is asked
  for port 0 and reports the real one on its "ACCEPT" line, so there is no
  free-port race) and collects its output in a background thread.
* `run_s_client()` runs `openssl s_client` to completion, with a timeout.
* `make_pki()` writes a demo CA, server leaves of each key type and client
  certificates as PEM files for openssl.

Everything is bounded in time: socket timeouts, process wait timeouts. Every
process and thread started here is stopped by the caller's fixture
finalizers (`stop()`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from teachtls import (
    ApplicationData,
    ClientConnection,
    CloseNotifyReceived,
    Config,
    HandshakeCompleted,
    LocalAlert,
    ServerConnection,
)
from teachtls.connection import Connection, Event
from teachtls.crypto.aead import CIPHER_SUITES as TLS13_CIPHER_SUITES
from teachtls.pki.generate import IssuedCertificate, KeyType, issue_leaf, make_ca
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import ContentType, ExtensionType
from teachtls.wire.messages import ClientHello, build_handshake, parse_handshake
from teachtls.wire.record import HEADER_LENGTH, build_header

OPENSSL = shutil.which("openssl")

HOST = "127.0.0.1"
# Per socket operation and per process step; a handshake on 127.0.0.1 takes
# milliseconds, so anything near this means something is stuck.
TIMEOUT = 10.0

# The server certificate types every interop test runs with. Each leaf is
# issued by the same ECDSA P-256 CA: cryptography's verifier does not accept
# Ed25519 signatures *on certificates*, only Ed25519 leaf keys.
CERT_TYPES: tuple[KeyType, ...] = ("ecdsa-p256", "rsa-2048", "ed25519")


# --- certificates ------------------------------------------------------------------


@attrs.frozen
class CertFiles:
    """A certificate and its key, in memory and as PEM files."""

    issued: IssuedCertificate
    cert_file: Path
    key_file: Path


@attrs.frozen
class Pki:
    """The demo CA and everything it issued for the interop tests."""

    ca: IssuedCertificate
    ca_file: Path
    servers: dict[str, CertFiles]  # key type -> leaf for "localhost" (serverAuth)
    clients: dict[str, CertFiles]  # key type -> client certificate (clientAuth)


def make_pki(directory: Path) -> Pki:
    """Write ca.pem, server-<type>.pem/.key and client-<type>.pem/.key into `directory`."""
    ca = make_ca()
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.certificate_pem())

    def issue(prefix: str, key_type: KeyType, *, server: bool) -> CertFiles:
        common_name = "localhost" if server else f"teachtls client {key_type}"
        leaf = issue_leaf(ca, common_name, dns_names=["localhost"], key_type=key_type, server=server)
        files = CertFiles(leaf, directory / f"{prefix}-{key_type}.pem", directory / f"{prefix}-{key_type}.key")
        leaf.write(files.cert_file, files.key_file)
        return files

    return Pki(
        ca=ca,
        ca_file=ca_file,
        servers={key_type: issue("server", key_type, server=True) for key_type in CERT_TYPES},
        clients={key_type: issue("client", key_type, server=False) for key_type in CERT_TYPES},
    )


# --- driving a sans-I/O connection over a socket ------------------------------------


class PeerClosedSocket(Exception):
    """The peer closed the TCP connection (recv returned b"")."""


class SocketPump:
    """Move bytes between one sans-I/O connection and one blocking socket."""

    def __init__(self, connection: Connection, sock: socket.socket) -> None:
        self.connection = connection
        self.sock = sock
        self.sock.settimeout(TIMEOUT)
        # events received but not yet consumed by handshake() / receive_until_close()
        self.pending: list[Event] = []

    def flush(self) -> None:
        data = self.connection.data_to_send()
        if data:
            self.sock.sendall(data)

    def receive(self) -> list[Event]:
        """One recv(), fed to the connection; send whatever it answers.

        A `LocalAlert` is re-raised after the alert record has been sent, so
        the peer learns why we hung up."""
        data = self.sock.recv(65536)
        if not data:
            raise PeerClosedSocket("the peer closed the TCP connection")
        try:
            events = self.connection.receive_data(data)
        except LocalAlert:
            self.flush_quietly()
            raise
        self.flush()
        return events

    def flush_quietly(self) -> None:
        # the peer may already be gone; a last alert is sent on a best-effort basis
        with contextlib.suppress(OSError):
            self.flush()

    def handshake(self) -> HandshakeCompleted:
        """Run the handshake to completion; return what was negotiated."""
        self.flush()
        while True:
            events = self.receive()
            for index, event in enumerate(events):
                if isinstance(event, HandshakeCompleted):
                    self.pending += events[index + 1 :]
                    return event

    def send(self, data: bytes) -> None:
        self.connection.send_application_data(data)
        self.flush()

    def receive_until(self, done: Callable[[bytes], bool]) -> bytes:
        """Application data until `done(data_so_far)` or the peer's close_notify / EOF."""
        received = b""
        while True:
            events, self.pending = self.pending, []
            for event in events:
                if isinstance(event, ApplicationData):
                    received += event.data
                elif isinstance(event, CloseNotifyReceived):
                    return received
            if done(received):
                return received
            try:
                self.pending = self.receive()
            except PeerClosedSocket:
                return received

    def receive_until_close(self) -> bytes:
        return self.receive_until(lambda _data: False)

    def close(self) -> None:
        """Send close_notify (if still open), then close the socket gracefully.

        Closing a socket with unread input makes the kernel send a TCP reset,
        which can destroy our last records before the peer reads them. So
        half-close first and read (briefly) until the peer closes its side."""
        if not self.connection.closed:
            self.connection.close()
        self.flush_quietly()
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(1.0)
            while self.sock.recv(65536):
                pass
        except OSError:
            pass  # reset, timeout or already gone: nothing left to protect
        finally:
            self.sock.close()


def connect(port: int, config: Config) -> SocketPump:
    """A teachtls client connected to 127.0.0.1:`port`, ClientHello not yet sent."""
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    connection = ClientConnection(config)
    connection.start_handshake()
    return SocketPump(connection, sock)


# --- a teachtls server in a background thread ---------------------------------------------


@attrs.define
class Served:
    """What happened on one connection accepted by `EchoServer`."""

    recorder: Recorder
    completed: HandshakeCompleted | None = None
    received: bytes = b""
    error: Exception | None = None


class EchoServer:
    """teachtls servers on 127.0.0.1, one `ServerConnection` per accepted socket.

    Each connection: handshake, read up to the first newline, answer
    ``b"teachtls echo: " + line``, close_notify, close. Connections are served
    one after another in a single background thread; each result is put on
    `results` once the socket is closed."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(0.2)  # so the thread notices stop() quickly
        self.port: int = self.listener.getsockname()[1]
        self.results: queue.Queue[Served] = queue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=f"teachtls-echo-{self.port}", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            self.results.put(self._serve_one(sock))

    def _serve_one(self, sock: socket.socket) -> Served:
        recorder = Recorder()
        served = Served(recorder=recorder)
        pump = SocketPump(ServerConnection(attrs.evolve(self.config, observer=recorder)), sock)
        try:
            served.completed = pump.handshake()
            served.received = pump.receive_until(lambda data: b"\n" in data)
            line = served.received.split(b"\n", 1)[0]
            pump.send(b"teachtls echo: " + line + b"\n")
        except Exception as error:  # reported to the test through `results`
            served.error = error
        finally:
            pump.close()
        return served

    def next_result(self) -> Served:
        """The outcome of the next connection served (waits up to TIMEOUT)."""
        return self.results.get(timeout=TIMEOUT)

    def stop(self) -> None:
        self.stopping.set()
        # shutdown() wakes a thread blocked in accept() at once (on Linux);
        # elsewhere the 0.2 s accept timeout does it.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(TIMEOUT)


# --- openssl processes --------------------------------------------------------------------


def _require_openssl() -> str:
    if OPENSSL is None:
        raise RuntimeError("the openssl binary is not on PATH")
    return OPENSSL


class OpenSSLServer:
    """`openssl s_server` listening on 127.0.0.1, its output collected as it comes."""

    ACCEPT_LINE = re.compile(r"ACCEPT \S+:(\d+)\r?\n")

    def __init__(self, args: Sequence[str | Path]) -> None:
        self.args = [_require_openssl(), "s_server", "-accept", f"{HOST}:0", *map(str, args)]
        self.process = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._output = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="s_server-output", daemon=True)
        self._reader.start()
        match = self.wait_for(self.ACCEPT_LINE)
        if match is None:
            self.stop()
            raise RuntimeError(f"openssl s_server did not start: {' '.join(self.args)}\n{self.output}")
        self.port = int(match.group(1))

    def _read(self) -> None:
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        # os.read returns whatever is there (no waiting for a full buffer); b"" at exit
        while chunk := os.read(descriptor, 65536):
            with self._lock:
                self._output += chunk

    @property
    def output(self) -> str:
        with self._lock:
            return self._output.decode("utf-8", "replace")

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = TIMEOUT) -> re.Match[str] | None:
        """Wait until the output matches `pattern` (None after `timeout` or exit)."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.output)
            if match is not None or time.monotonic() > deadline:
                return match
            if self.process.poll() is not None and not self._reader.is_alive():
                return re.search(pattern, self.output)
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the process and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()


@attrs.frozen
class SClientResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_s_client(port: int, args: Sequence[str | Path], stdin: bytes = b"", timeout: float = TIMEOUT) -> SClientResult:
    """Run `openssl s_client -connect 127.0.0.1:<port> <args>` to completion.

    `stdin` is what s_client sends after the handshake. On timeout
    `subprocess.run` kills the process before raising `TimeoutExpired`."""
    command = [_require_openssl(), "s_client", "-connect", f"{HOST}:{port}", *map(str, args)]
    completed = subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, check=False)
    return SClientResult(
        returncode=completed.returncode,
        stdout=completed.stdout.decode("utf-8", "replace"),
        stderr=completed.stderr.decode("utf-8", "replace"),
    )


# --- session lifecycle helpers (tests/test_interop_lifecycle.py) --------------------------------
#
# Resumption, 0-RTT and KeyUpdate need a little more than the helpers above:
#
# * `LineEchoServer` is an `EchoServer` that keeps *every* event, including the
#   0-RTT `ApplicationData(early=True)` that arrives before HandshakeCompleted
#   (which `SocketPump.handshake()` steps over), and echoes several lines;
# * `OpenSSLProcess` runs `openssl s_server` or `s_client` with stdin left
#   open, so a test can type into it: both tools treat a line starting with
#   "k" or "K" as a KeyUpdate command, and s_server in its default mode quits
#   when its stdin ends.


@attrs.define
class Conversation(Served):
    """`Served`, plus every event in order and the 0-RTT data on its own."""

    events: list[Event] = attrs.Factory(list)
    early_data: bytes = b""


class LineEchoServer(EchoServer):
    """teachtls servers that echo `lines` lines, then close_notify.

    Unlike `EchoServer`, the whole conversation is one loop over
    `receive_data()` events, so 0-RTT data (RFC 8446 §2.3), which the server
    reports before the handshake completes, is kept in `early_data`. Early
    data is not echoed (the handshake is not complete when it arrives); each
    complete line of 1-RTT data is answered with ``b"teachtls echo: " + line``."""

    def __init__(self, config: Config, lines: int = 1) -> None:
        self.lines = lines
        super().__init__(config)

    def next_conversation(self) -> Conversation:
        served = self.next_result()
        assert isinstance(served, Conversation)
        return served

    def _serve_one(self, sock: socket.socket) -> Served:
        recorder = Recorder()
        served = Conversation(recorder=recorder)
        pump = SocketPump(ServerConnection(attrs.evolve(self.config, observer=recorder)), sock)
        unanswered, answered = b"", 0
        try:
            pump.flush()
            while answered < self.lines:
                try:
                    events = pump.receive()
                except PeerClosedSocket:
                    break
                served.events += events
                for event in events:
                    if isinstance(event, HandshakeCompleted):
                        served.completed = event
                    elif isinstance(event, ApplicationData) and event.early:
                        served.early_data += event.data
                    elif isinstance(event, ApplicationData):
                        served.received += event.data
                        unanswered += event.data
                while b"\n" in unanswered and answered < self.lines:
                    line, unanswered = unanswered.split(b"\n", 1)
                    pump.send(b"teachtls echo: " + line + b"\n")
                    answered += 1
                if any(isinstance(event, CloseNotifyReceived) for event in events):
                    break
        except Exception as error:  # reported to the test through `results`
            served.error = error
        finally:
            pump.close()
        return served


class OpenSSLProcess:
    """An `openssl` command whose stdin stays open and whose output
    (stdout and stderr, interleaved) is collected as it comes."""

    def __init__(self, command: Sequence[str | Path]) -> None:
        self.args = [_require_openssl(), *map(str, command)]
        self.process = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._output = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name=f"openssl-{command[0]}-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        while chunk := os.read(descriptor, 65536):
            with self._lock:
                self._output += chunk

    @property
    def output(self) -> str:
        with self._lock:
            return self._output.decode("utf-8", "replace")

    def type(self, line: bytes) -> None:
        """Write `line` to the process's stdin, as if typed (one read() on its side)."""
        assert self.process.stdin is not None
        self.process.stdin.write(line)
        self.process.stdin.flush()

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = TIMEOUT, count: int = 1) -> bool:
        """Wait until `pattern` occurs `count` times in the output (False after `timeout` or exit)."""
        deadline = time.monotonic() + timeout
        while True:
            if len(re.findall(pattern, self.output)) >= count:
                return True
            exited = self.process.poll() is not None and not self._reader.is_alive()
            if exited or time.monotonic() > deadline:
                return len(re.findall(pattern, self.output)) >= count
            time.sleep(0.02)

    def finish(self, timeout: float = TIMEOUT) -> int:
        """Close stdin and wait for the process to exit; its return code."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            returncode = self.process.wait(timeout)
        finally:
            self.stop()
        return returncode

    def stop(self) -> None:
        """Kill the process (if still running) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class InteractiveOpenSSLServer(OpenSSLProcess):
    """`openssl s_server` on 127.0.0.1 in its default mode: what the client
    sends is printed, what is typed is sent, "k"/"K" lines send a KeyUpdate."""

    def __init__(self, args: Sequence[str | Path]) -> None:
        super().__init__(["s_server", "-accept", f"{HOST}:0", *args])
        if not self.wait_for(OpenSSLServer.ACCEPT_LINE):
            self.stop()
            raise RuntimeError(f"openssl s_server did not start: {' '.join(self.args)}\n{self.output}")
        match = OpenSSLServer.ACCEPT_LINE.search(self.output)
        assert match is not None
        self.port = int(match.group(1))


class InteractiveSClient(OpenSSLProcess):
    """`openssl s_client -connect 127.0.0.1:<port> <args>`, typed into line by line."""

    def __init__(self, port: int, args: Sequence[str | Path]) -> None:
        super().__init__(["s_client", "-connect", f"{HOST}:{port}", *args])


# --- TLS 1.2 helpers (tests/test_interop_tls12.py) ----------------------------------------------
#
# * `openssl_cipher_name()` maps an RFC (IANA) suite name to OpenSSL's own
#   ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" -> "ECDHE-ECDSA-AES128-GCM-SHA256"),
#   as `openssl ciphers -stdname` prints it: `-cipher` wants OpenSSL's names.
# * `ScriptedServer` runs one teachtls server conversation written as a
#   function of the `SocketPump`, for exchanges an echo loop cannot express
#   (a server-initiated renegotiation).
# * `DowngradeProxy` is the man in the middle of RFC 8446 §4.1.3: it relays
#   127.0.0.1 traffic to a server, but first strips TLS 1.3 from the
#   ClientHello (`strip_tls13`), so a 1.3-capable pair falls back to 1.2.


@functools.cache
def openssl_cipher_names() -> dict[str, str]:
    """IANA name -> OpenSSL name, for every suite this openssl knows."""
    listing = subprocess.run(
        [_require_openssl(), "ciphers", "-stdname", "ALL:@SECLEVEL=0"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    ).stdout
    names = {}
    for line in listing.splitlines():
        # "TLS_RSA_WITH_AES_128_CBC_SHA  - AES128-SHA  SSLv3 Kx=RSA ..."
        fields = line.split()
        if len(fields) >= 3 and fields[1] == "-":
            names[fields[0]] = fields[2]
    return names


def openssl_cipher_name(iana_name: str) -> str:
    return openssl_cipher_names()[iana_name]


def next_events(pump: SocketPump, wanted: Callable[[Event], bool]) -> list[Event]:
    """Events (pending first, then newly received) up to and including the first `wanted` one."""
    seen: list[Event] = []
    while True:
        events, pump.pending = pump.pending, []
        for index, event in enumerate(events):
            seen.append(event)
            if wanted(event):
                pump.pending = events[index + 1 :]
                return seen
        pump.pending = pump.receive()


class ScriptedServer(EchoServer):
    """teachtls servers whose conversation is `script(pump, served)`, run in
    the background thread for each accepted socket; afterwards the socket is
    closed (close_notify first) and `served` is put on `results`."""

    def __init__(self, config: Config, script: Callable[[SocketPump, Conversation], None]) -> None:
        self.script = script
        super().__init__(config)

    def _serve_one(self, sock: socket.socket) -> Served:
        recorder = Recorder()
        served = Conversation(recorder=recorder)
        pump = SocketPump(ServerConnection(attrs.evolve(self.config, observer=recorder)), sock)
        try:
            self.script(pump, served)
        except Exception as error:  # reported to the test through `results`
            served.error = error
        finally:
            pump.close()
        return served

    def next_conversation(self) -> Conversation:
        served = self.next_result()
        assert isinstance(served, Conversation)
        return served


def strip_tls13(client_hello_record: bytes) -> bytes:
    """The ClientHello record as a 1.2-only client would have sent it: without
    supported_versions, key_share, psk_key_exchange_modes or TLS 1.3 suites.
    Built with the codec, so the result is a well-formed ClientHello."""
    hello, _spans = parse_handshake(client_hello_record[HEADER_LENGTH:])
    assert isinstance(hello, ClientHello)
    tls13_only = {ExtensionType.supported_versions, ExtensionType.key_share, ExtensionType.psk_key_exchange_modes}
    stripped = attrs.evolve(
        hello,
        cipher_suites=tuple(suite for suite in hello.cipher_suites if suite not in TLS13_CIPHER_SUITES),
        extensions=tuple(e for e in hello.extensions if e.extension_type not in tls13_only),
    )
    body = build_handshake(stripped)
    legacy_record_version = int.from_bytes(client_hello_record[1:3], "big")
    return build_header(ContentType.handshake, len(body), legacy_record_version) + body


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise PeerClosedSocket("the peer closed the TCP connection")
        data += chunk
    return data


class DowngradeProxy:
    """A man in the middle on 127.0.0.1: accepts one client, connects to
    `server_port`, rewrites the client's first record (its ClientHello) with
    `strip_tls13`, then relays bytes both ways unchanged until either side closes."""

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, name=f"downgrade-proxy-{self.port}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            client, _address = self.listener.accept()
        except OSError as error:
            self.error = error
            return
        with client, socket.create_connection((HOST, self.server_port), timeout=TIMEOUT) as server:
            client.settimeout(TIMEOUT)
            try:
                header = _read_exactly(client, HEADER_LENGTH)
                record = header + _read_exactly(client, int.from_bytes(header[3:5], "big"))
                server.sendall(strip_tls13(record))
            except Exception as error:  # reported through `error`
                self.error = error
                return
            back = threading.Thread(target=self._relay, args=(server, client), daemon=True)
            back.start()
            self._relay(client, server)
            back.join(TIMEOUT)

    @staticmethod
    def _relay(source: socket.socket, destination: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                destination.sendall(data)
            destination.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # one side reset or timed out: the relay ends

    def stop(self) -> None:
        self.listener.close()
        self.thread.join(TIMEOUT)
