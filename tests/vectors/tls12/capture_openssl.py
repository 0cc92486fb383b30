"""Capture real TLS 1.2 sessions between `openssl s_client` and `openssl s_server`.

Regenerates `openssl-sessions.json` (see README.md in this folder). For every
cipher suite teachtls implements it

1. starts `openssl s_server -tls1_2 -rev` (an echo server that answers each
   line reversed) with a fresh RSA or P-256 certificate on 127.0.0.1,
2. puts a recording TCP relay between it and `openssl s_client -tls1_2
   -keylogfile ...`, so both byte streams are captured exactly as sent,
3. sends one line, waits for the answer, closes stdin (the client then sends
   an encrypted close_notify alert) and keeps the NSS key log line
   (`CLIENT_RANDOM <client_random> <master_secret>`).

The client runs with `-no_ticket` (no NewSessionTicket in the transcript) and
`-no_etm` (RFC 7366 encrypt-then-MAC would change the CBC record format).
Two extra sessions switch off the extended master secret (RFC 7627) through
an OpenSSL config file (`Options = -ExtendedMasterSecret`), so both master
secret formulas are covered.

Nothing from teachtls is imported: the capture is independent of the code it
checks. Run from the repository root::

    .venv/bin/python tests/vectors/tls12/capture_openssl.py
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pathlib
import socket
import subprocess
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

HERE = pathlib.Path(__file__).parent
OUTPUT = HERE / "openssl-sessions.json"
MESSAGE = b"hello from teachtls\n"

# (IANA name, code, OpenSSL name, certificate key type)
SUITES = [
    ("TLS_RSA_WITH_AES_128_CBC_SHA", 0x002F, "AES128-SHA", "rsa"),
    ("TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003C, "AES128-SHA256", "rsa"),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009C, "AES128-GCM-SHA256", "rsa"),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", 0x009D, "AES256-GCM-SHA384", "rsa"),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xC009, "ECDHE-ECDSA-AES128-SHA", "ec"),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC013, "ECDHE-RSA-AES128-SHA", "rsa"),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xC023, "ECDHE-ECDSA-AES128-SHA256", "ec"),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xC027, "ECDHE-RSA-AES128-SHA256", "rsa"),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256", "ec"),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384", "ec"),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC02F, "ECDHE-RSA-AES128-GCM-SHA256", "rsa"),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xC030, "ECDHE-RSA-AES256-GCM-SHA384", "rsa"),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305", "rsa"),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305", "ec"),
]
# Static RSA sessions let the tests decrypt the pre_master_secret; these two
# are captured once more without the extended master secret.
WITHOUT_EMS = ["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384"]

NO_EMS_CONFIG = """\
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_section
[ssl_section]
system_default = system_default_section
[system_default_section]
Options = -ExtendedMasterSecret
"""


def self_signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RecordingRelay:
    """Accept one connection on `port`, connect to `target`, copy both ways, record."""

    def __init__(self, port: int, target: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.target = target
        self.client_to_server = bytearray()
        self.server_to_client = bytearray()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        client, _ = self.listener.accept()
        # s_server may still be starting; a probe connection of our own is
        # not an option, since -naccept 1 would count it. So retry.
        deadline = time.monotonic() + 10
        while True:
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        pumps = [
            threading.Thread(target=self._pump, args=(client, server, self.client_to_server)),
            threading.Thread(target=self._pump, args=(server, client, self.server_to_client)),
        ]
        for pump in pumps:
            pump.start()
        for pump in pumps:
            pump.join()
        client.close()
        server.close()
        self.listener.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, record: bytearray) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            record += data
            sink.sendall(data)


def capture(workdir: pathlib.Path, name: str, openssl_cipher: str, key_type: str, ems: bool) -> dict[str, object]:
    server_port, relay_port = free_port(), free_port()
    client: subprocess.Popen[bytes] | None = None
    environment = dict(os.environ)
    if not ems:
        config = workdir / "no-ems.cnf"
        config.write_text(NO_EMS_CONFIG)
        environment["OPENSSL_CONF"] = str(config)
    server = subprocess.Popen(
        ["openssl", "s_server", "-tls1_2", "-rev", "-naccept", "1", "-accept", f"127.0.0.1:{server_port}",
         "-cert", str(workdir / f"{key_type}-cert.pem"), "-key", str(workdir / f"{key_type}-key.pem"),
         "-cipher", openssl_cipher, "-quiet"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        relay = RecordingRelay(relay_port, server_port)
        keylog = workdir / f"{name}-{'ems' if ems else 'noems'}.keylog"
        client = subprocess.Popen(
            ["openssl", "s_client", "-tls1_2", "-connect", f"127.0.0.1:{relay_port}", "-cipher", openssl_cipher,
             "-no_ticket", "-no_etm", "-keylogfile", str(keylog), "-quiet", "-no_ign_eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=environment,
        )  # fmt: skip
        assert client.stdin is not None and client.stdout is not None
        client.stdin.write(MESSAGE)
        client.stdin.flush()
        answer = client.stdout.readline()
        client.stdin.close()
        client.wait(timeout=10)
        server.wait(timeout=10)
        relay.thread.join(timeout=10)
    finally:
        for process in (client, server):
            if process is not None and process.poll() is None:
                process.kill()
    if answer != MESSAGE[:-1][::-1] + b"\n":
        raise RuntimeError(f"{name}: unexpected answer {answer!r}")
    keylog_line = next(line for line in keylog.read_text().splitlines() if line.startswith("CLIENT_RANDOM"))
    return {
        "suite": name,
        "openssl_cipher": openssl_cipher,
        "certificate_key": key_type,
        "client_configured_ems": ems,
        "keylog": keylog_line,
        "client_to_server": relay.client_to_server.hex(),
        "server_to_client": relay.server_to_client.hex(),
        "client_application_data": MESSAGE.decode(),
        "server_application_data": answer.decode(),
    }


def main() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    with tempfile.TemporaryDirectory() as directory:
        workdir = pathlib.Path(directory)
        for key_type, key in (("rsa", rsa_key), ("ec", ec_key)):
            (workdir / f"{key_type}-key.pem").write_bytes(key.private_bytes(pem, pkcs8, none))
            (workdir / f"{key_type}-cert.pem").write_bytes(self_signed(key).public_bytes(pem))
        sessions = [capture(workdir, name, cipher, key_type, True) for name, _, cipher, key_type in SUITES]
        for name, _, cipher, key_type in SUITES:
            if name in WITHOUT_EMS:
                sessions.append(capture(workdir, name, cipher, key_type, False))
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=True).stdout.strip()
    document = {
        "source": "captured by tests/vectors/tls12/capture_openssl.py (see README.md)",
        "openssl_version": version,
        "captured": datetime.date.today().isoformat(),
        "rsa_private_key_pem": rsa_key.private_bytes(pem, pkcs8, none).decode(),
        "sessions": sessions,
    }
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(sessions)} sessions to {OUTPUT}")


if __name__ == "__main__":
    main()
