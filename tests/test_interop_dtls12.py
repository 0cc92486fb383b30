"""DTLS 1.2 against the real thing: openssl and GnuTLS over UDP on 127.0.0.1, both ways.

* teachtls client -> `openssl s_server -dtls1_2` (which does the cookie
  exchange), for each certificate type, with ChaCha20-Poly1305 and with a
  small MTU (`-mtu`) so that both sides fragment handshake messages;
* `openssl s_client -dtls1_2` -> teachtls `DTLSServer` (stateless cookie
  check, then an echo), likewise, with `-mtu`;
* teachtls client -> `gnutls-serv --udp --echo` (with `--mtu` too);
* `gnutls-cli --udp` -> teachtls `DTLSServer`.

Each conversation is: handshake, one line each way, close. Every process is
started here and stopped in a `finally`; every wait is bounded. Skipped
when a binary is missing (`apt-get install gnutls-bin` gives GnuTLS's).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence

import attrs
import pytest
from interop import HOST, TIMEOUT, InteractiveOpenSSLServer, InteractiveSClient, Pki, make_pki

from teachtls.config import Config
from teachtls.crypto.signature import load_certificate_chain, load_private_key
from teachtls.dtls import DTLSSettings
from teachtls.handshake.alerts import RemoteAlert
from teachtls.net.udp import DTLSSession, connect_dtls, serve_dtls_in_thread
from teachtls.trace import events as trace
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import AlertDescription

OPENSSL = shutil.which("openssl")
GNUTLS_SERV = shutil.which("gnutls-serv")
GNUTLS_CLI = shutil.which("gnutls-cli")

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
needs_gnutls = pytest.mark.skipif(
    GNUTLS_SERV is None or GNUTLS_CLI is None, reason="gnutls-bin is not installed (gnutls-serv, gnutls-cli)"
)

CERT_TYPES = ("ecdsa-p256", "rsa-2048", "ed25519")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("dtls-pki"))


def client_config(pki: Pki, recorder: Recorder, **overrides: object) -> Config:
    return Config(server_name="localhost", cafile=str(pki.ca_file), observer=recorder, **overrides)  # type: ignore[arg-type]


def server_config(pki: Pki, cert_type: str, recorder: Recorder) -> Config:
    files = pki.servers[cert_type]
    return Config(
        certificate_chain=tuple(load_certificate_chain(files.cert_file.read_bytes())),
        private_key=load_private_key(files.key_file.read_bytes()),
        observer=recorder,
    )


def datagram_sizes(recorder: Recorder, role: str) -> list[int]:
    return [len(e.raw) for e in recorder.events if isinstance(e, trace.RecordSent) and e.role == role]


def fragment_notes(recorder: Recorder) -> list[str]:
    return [e.text for e in recorder.events if isinstance(e, trace.Note) and e.text.startswith("fragment of")]


# --- teachtls client -> openssl s_server ------------------------------------------------------


@contextlib.contextmanager
def openssl_server(args: Sequence[str]) -> Iterator[InteractiveOpenSSLServer]:
    server = InteractiveOpenSSLServer(["-dtls1_2", *args])
    try:
        yield server
    finally:
        server.stop()


def openssl_round_trip(server: InteractiveOpenSSLServer, session: DTLSSession) -> None:
    """One line to s_server (it prints it), one line typed into s_server back to us."""
    session.send(b"hello from teachtls\n")
    assert server.wait_for("hello from teachtls"), server.output
    server.type(b"hello from openssl\n")
    assert session.recv() == b"hello from openssl\n"
    session.close(timeout=0.2)


@needs_openssl
@pytest.mark.parametrize("cert_type", ["ecdsa-p256", "rsa-2048"])
def test_teachtls_client_to_openssl_server(pki: Pki, cert_type: str) -> None:
    files = pki.servers[cert_type]
    recorder = Recorder()
    with openssl_server(["-cert", str(files.cert_file), "-key", str(files.key_file)]) as server:
        session = connect_dtls(HOST, server.port, client_config(pki, recorder), timeout=TIMEOUT)
        assert session.completed is not None and session.completed.version == "DTLS 1.2"
        openssl_round_trip(server, session)
    # s_server does the cookie exchange too (RFC 6347 §4.2.1)
    names = [e.name for e in recorder.events if isinstance(e, trace.MessageReceived)]
    assert names[0] == "HelloVerifyRequest"


@needs_openssl
def test_openssl_server_has_no_ed25519_over_dtls(pki: Pki) -> None:
    """OpenSSL 3.0 offers no cipher suite for an Ed25519 certificate over DTLS 1.2
    (its own s_client gets "no shared cipher" too), so s_server ends our
    handshake with handshake_failure -- which we report, and nothing more."""
    files = pki.servers["ed25519"]
    with openssl_server(["-cert", str(files.cert_file), "-key", str(files.key_file)]) as server:
        with pytest.raises(RemoteAlert) as caught:
            connect_dtls(HOST, server.port, client_config(pki, Recorder()), timeout=TIMEOUT)
        assert caught.value.description == AlertDescription.handshake_failure
        assert server.wait_for("no shared cipher"), server.output


@needs_openssl
def test_teachtls_client_to_openssl_server_chacha20_and_small_mtu(pki: Pki) -> None:
    """openssl's -mtu 300 (link MTU, IP and UDP headers included) and ours of 256:
    both sides fragment the certificate flight, and reassemble the other's."""
    files = pki.servers["rsa-2048"]
    recorder = Recorder()
    args = ["-cert", str(files.cert_file), "-key", str(files.key_file), "-mtu", "300"]
    with openssl_server([*args, "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"]) as server:
        session = connect_dtls(HOST, server.port, client_config(pki, recorder), DTLSSettings(mtu=256), timeout=TIMEOUT)
        assert session.completed is not None
        assert session.completed.cipher_suite == "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        openssl_round_trip(server, session)
    assert max(datagram_sizes(recorder, "client")) <= 256
    assert any("Certificate" in note for note in fragment_notes(recorder))  # openssl's fragments, reassembled


# --- openssl s_client -> teachtls server ------------------------------------------------------------


@contextlib.contextmanager
def teachtls_server(config: Config, settings: DTLSSettings | None = None) -> Iterator[int]:
    with serve_dtls_in_thread(HOST, 0, config, settings=settings) as running:
        yield running.port


def s_client_round_trip(port: int, pki: Pki, extra: Sequence[str] = ()) -> str:
    client = InteractiveSClient(
        port, ["-dtls1_2", "-CAfile", str(pki.ca_file), "-servername", "localhost", "-verify_return_error", *extra]
    )
    try:
        assert client.wait_for(r"Verify return code: 0 \(ok\)"), client.output
        client.type(b"hello from openssl\n")
        assert client.wait_for("hello from openssl"), client.output  # our echo, printed by s_client
        client.finish()
    finally:
        client.stop()
    return str(client.output)


@needs_openssl
@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_openssl_client_to_teachtls_server(pki: Pki, cert_type: str) -> None:
    recorder = Recorder()
    with teachtls_server(server_config(pki, cert_type, recorder)) as port:
        output = s_client_round_trip(port, pki)
    assert re.search(r"Protocol *: DTLSv1.2", output), output
    received = [e for e in recorder.events if isinstance(e, trace.MessageReceived) and e.name == "ClientHello"]
    assert len(received) == 1  # the first ClientHello met the stateless check, before any connection existed
    assert received[0].fields[2].value == "1"  # so the connection saw message_seq 1, with the cookie


@needs_openssl
def test_openssl_client_with_small_mtu_to_teachtls_server(pki: Pki) -> None:
    recorder = Recorder()
    with teachtls_server(server_config(pki, "rsa-2048", recorder), DTLSSettings(mtu=256)) as port:
        s_client_round_trip(port, pki, ["-mtu", "300"])
    assert max(datagram_sizes(recorder, "server")) <= 256
    # The server's certificate went out in pieces of at most 256 - 13 - 12 bytes.
    (certificate,) = [e for e in recorder.events if isinstance(e, trace.MessageSent) and e.name == "Certificate"]
    pieces = [
        e
        for e in recorder.events
        if isinstance(e, trace.RecordSent) and e.epoch == 0 and e.raw[13] == certificate.msg_type
    ]
    assert len(pieces) == -(-(len(certificate.raw) - 12) // (256 - 25))


# --- GnuTLS ------------------------------------------------------------------------------------------


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@attrs.define
class Process:
    """A process with stdin open and its output collected as it comes."""

    process: subprocess.Popen[bytes]
    output: bytes = b""
    reader: threading.Thread | None = None

    @classmethod
    def start(cls, command: Sequence[str]) -> Process:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started = cls(process)
        started.reader = threading.Thread(target=started._read, daemon=True)
        started.reader.start()
        return started

    def _read(self) -> None:
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        while chunk := os.read(descriptor, 65536):  # whatever is there, b"" at exit
            self.output += chunk

    def wait_for(self, pattern: bytes, timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.output):
                return True
            if self.process.poll() is not None and self.reader is not None and not self.reader.is_alive():
                break
            time.sleep(0.02)
        return bool(re.search(pattern, self.output))

    def type(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line)
        self.process.stdin.flush()

    def stop(self) -> None:
        """Close stdin (gnutls-cli then says goodbye and exits), end the process, reap it."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(0.5)
        if self.process.poll() is None:
            self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(1)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)
        if self.reader is not None:
            self.reader.join(TIMEOUT)


@needs_gnutls
@pytest.mark.parametrize("mtu", [None, 300])
def test_teachtls_client_to_gnutls_server(pki: Pki, mtu: int | None) -> None:
    files = pki.servers["ecdsa-p256"]
    port = free_udp_port()
    command = [str(GNUTLS_SERV), "--udp", "--echo", "-p", str(port), "--x509certfile", str(files.cert_file),
               "--x509keyfile", str(files.key_file)]  # fmt: skip
    if mtu:
        command += ["--mtu", str(mtu)]
    server = Process.start(command)
    recorder = Recorder()
    try:
        assert server.wait_for(rb"listening on IPv4 .* port \d+\.\.\.done"), server.output
        settings = DTLSSettings(mtu=mtu or 1200)
        session = connect_dtls(HOST, port, client_config(pki, recorder), settings, timeout=TIMEOUT)
        assert session.completed is not None and session.completed.version == "DTLS 1.2"
        session.send(b"hello gnutls\n")
        assert session.recv() == b"hello gnutls\n"  # the echo
        session.close(timeout=0.2)
    finally:
        server.stop()
    names = [e.name for e in recorder.events if isinstance(e, trace.MessageReceived)]
    assert names[0] == "HelloVerifyRequest"  # gnutls-serv asks for a cookie
    if mtu:
        assert max(datagram_sizes(recorder, "client")) <= mtu


@needs_gnutls
@pytest.mark.parametrize("mtu", [None, 300])
def test_gnutls_client_to_teachtls_server(pki: Pki, mtu: int | None) -> None:
    recorder = Recorder()
    settings = DTLSSettings(mtu=mtu or 1200)
    with teachtls_server(server_config(pki, "ecdsa-p256", recorder), settings) as port:
        command = [str(GNUTLS_CLI), "--udp", "--x509cafile", str(pki.ca_file), "-p", str(port), "localhost"]
        if mtu:
            command += ["--mtu", str(mtu)]
        client = Process.start(command)
        try:
            assert client.wait_for(rb"Handshake was completed"), client.output
            assert b"DTLS1.2" in client.output
            client.type(b"hello from gnutls\n")
            assert client.wait_for(rb"hello from gnutls"), client.output
        finally:
            client.stop()
    completed = [e for e in recorder.events if isinstance(e, trace.ParametersNegotiated)]
    assert completed and completed[0].version == "DTLS 1.2"
    if mtu:
        assert max(datagram_sizes(recorder, "server")) <= mtu
