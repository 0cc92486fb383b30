"""A real browser against `teachtls serve --explain`: headless Chromium on 127.0.0.1.

The issue's promise, checked end to end: Chromium connects, and the page it
receives shows Chromium's own handshake -- its ClientHello (GREASE and the
X25519MLKEM768 key share a modern Chromium sends), the sequence diagram and
the key schedule -- rendered from the trace of that very connection.

Chromium runs headless with `--dump-dom` (the page's DOM after it loaded,
on stdout) and `--screenshot`; no WebDriver, so the Debian package
`chromium` is all it needs (`chromium-driver` is not used). When it is
missing, the test set-up installs it with apt-get (as root, or through
password-less sudo). Without apt the tests are skipped -- except under
CI=true, where a missing browser fails the run.

Trusting the server's certificate. The leaf is made here, for "localhost",
by a throwaway CA. Rather than turning certificate checks off altogether
(`--ignore-certificate-errors`), Chromium is told to accept this one key:
`--ignore-certificate-errors-spki-list` takes the base64 SHA-256 of the
leaf's SubjectPublicKeyInfo (the HPKP pin format, RFC 7469 §2.4). Every
other check still runs, and `test_without_the_pin_chromium_refuses` shows
that the pin is what makes the difference. The URL names localhost, so
Chromium sends it as the server name (RFC 6066 §3 allows no IP literal
there); `--host-resolver-rules` sends localhost to 127.0.0.1, where the
server listens, rather than trying ::1 first.

Set TEACHTLS_EXPLAIN_SCREENSHOT=/some/path.png to keep the screenshot.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptography.hazmat.primitives import serialization

from teachtls import Config
from teachtls.net.server import explain_handler, explaining, fixed_config, serve_in_thread
from teachtls.pki.generate import IssuedCertificate, issue_leaf, make_ca

CHROMIUM_NAMES = ("chromium", "chromium-browser")  # Debian's name, and Ubuntu's
DEBIAN_PACKAGES = ("chromium",)  # chromium-driver is not needed: no WebDriver here
CHROMIUM_TIMEOUT = 90  # seconds one headless run may take
INSTALL_TIMEOUT = 900  # seconds apt-get may take to download and install Chromium
SCREENSHOT_SIZE = (1400, 3000)

pytestmark = pytest.mark.timeout(INSTALL_TIMEOUT + 300)


# --- Chromium: found, or installed ------------------------------------------------------------------


def find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def apt_command() -> list[str] | None:
    """How to run apt-get here: as root, or with password-less sudo; None if we cannot."""
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return ["apt-get"]
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0:
        return [sudo, "-n", "apt-get"]
    return None


def install_chromium(apt: list[str]) -> str:
    """apt-get install chromium (after apt-get update, if the first try cannot find it); returns apt's output."""
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*apt, "install", "-y", "-q", "--no-install-recommends", *DEBIAN_PACKAGES]
    output = ""
    for step in ([install], [[*apt, "update", "-q"], install]):
        for command in step:
            result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=INSTALL_TIMEOUT)
            output += f"$ {' '.join(command)}\n{result.stdout}{result.stderr}"
        if result.returncode == 0:
            break
    return output


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is not None:
        return path
    in_ci = os.environ.get("CI", "").lower() == "true"
    apt = apt_command()
    if apt is None:
        message = f"Chromium is not installed, and apt-get cannot install it here ({' '.join(DEBIAN_PACKAGES)})"
        if in_ci:
            pytest.fail(message + "; under CI=true the browser test must run")
        pytest.skip(message)
    output = install_chromium(apt)
    path = find_chromium()
    if path is None:
        pytest.fail(f"apt-get could not install Chromium:\n{output[-3000:]}")
    return path


# --- the server ------------------------------------------------------------------------------------


@attrs.frozen
class ExplainServer:
    port: int
    log: list[str]
    spki_pin: str  # base64(SHA-256(SubjectPublicKeyInfo)) of the server's certificate

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/"


def spki_pin(leaf: IssuedCertificate) -> str:
    spki = leaf.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


@pytest.fixture
def server() -> Iterator[ExplainServer]:
    ca = make_ca("teachtls browser-test CA")
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"])
    config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)
    log: list[str] = []
    running = serve_in_thread(
        "127.0.0.1", 0, explaining(fixed_config(config)), explain_handler, idle_timeout=5.0, log=log.append
    )
    try:
        yield ExplainServer(running.port, log, spki_pin(leaf))
    finally:
        running.shutdown()


def run_chromium(chromium: str, profile: Path, *options: str, url: str) -> subprocess.CompletedProcess[bytes]:
    """One headless Chromium run, with a fresh profile and nothing that phones home."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # needed as root; the page is our own
        "--disable-gpu",
        "--disable-quic",  # TLS over TCP: the server has no QUIC
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP localhost 127.0.0.1",
        *options,
        url,
    ]
    return subprocess.run(command, capture_output=True, timeout=CHROMIUM_TIMEOUT)


def wait_for_log(log: list[str], text: str, timeout: float = 10.0) -> str:
    """The first log line containing `text`; connection threads may log a moment after Chromium exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in log if text in line]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no log line with {text!r} in {log}")


# --- the tests ---------------------------------------------------------------------------------------


def test_chromium_sees_its_own_handshake(chromium, server, tmp_path):
    result = run_chromium(
        chromium,
        tmp_path / "profile",
        f"--ignore-certificate-errors-spki-list={server.spki_pin}",
        "--dump-dom",
        url=server.url,
    )
    dom = result.stdout.decode("utf-8", "replace")
    assert "Your browser's TLS handshake" in dom, result.stderr.decode("utf-8", "replace")[-3000:]

    # what was negotiated, as the page names it -- and as the server logged it
    assert 'id="negotiated-version">TLS 1.3<' in dom
    assert 'id="negotiated-group">X25519MLKEM768<' in dom
    assert 'id="negotiated-alpn">http/1.1<' in dom  # Chromium offered h2 too; --explain selects http/1.1
    assert 'id="negotiated-server-name">localhost<' in dom
    wait_for_log(server.log, ": TLS 1.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768")

    # Chromium's ClientHello, taken apart: GREASE, its 1216-byte hybrid key share, its User-Agent
    assert '<span class="chip grease"' in dom or '<li class="chip grease"' in dom
    assert "1216 B" in dom
    assert "HeadlessChrome/" in dom

    # the diagrams, inline SVG
    assert '<figure class="diagram" id="sequence-diagram"><svg' in dom
    assert '<figure class="diagram" id="key-schedule"><svg' in dom
    assert "TLS 1.3 handshake: TLS_AES_128_GCM_SHA256, X25519MLKEM768" in dom  # the diagram's title
    assert '<iframe class="bytes" id="every-byte"' in dom


def test_screenshot(chromium, server, tmp_path):
    picture = tmp_path / "explain.png"
    width, height = SCREENSHOT_SIZE
    result = run_chromium(
        chromium,
        tmp_path / "profile",
        f"--ignore-certificate-errors-spki-list={server.spki_pin}",
        f"--screenshot={picture}",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        url=server.url,
    )
    assert picture.exists(), result.stderr.decode("utf-8", "replace")[-3000:]
    data = picture.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == SCREENSHOT_SIZE  # IHDR
    wait_for_log(server.log, "X25519MLKEM768")
    keep = os.environ.get("TEACHTLS_EXPLAIN_SCREENSHOT")
    if keep:
        shutil.copyfile(picture, keep)


def test_without_the_pin_chromium_refuses(chromium, server, tmp_path):
    """The pin, not a blanket exception, is what makes Chromium accept the throwaway certificate."""
    result = run_chromium(chromium, tmp_path / "profile", "--dump-dom", url=server.url)
    assert "Your browser's TLS handshake" not in result.stdout.decode("utf-8", "replace")
    # Chromium's answer to a certificate it cannot verify: an alert (RFC 8446 §6.2), which the server logs
    wait_for_log(server.log, "the client sent a fatal certificate_unknown alert")
    assert not any("X25519MLKEM768" in line for line in server.log)  # no handshake completed
