"""examples/: every script runs, says what it claims, writes what it claims, and cleans up.

Each example runs in its own Python process (`sys.executable`), with a
timeout, in a fresh temporary directory as its working directory, against
this checkout's teachtls (PYTHONPATH). The expected lines are the facts each
example exists to show (`*` stands for any text); the files it writes are
checked by their magic numbers.

Every process an example starts must be stopped by the example itself.
Each run gets a unique marker in its environment, which every child process
inherits; after the example exits, no process may still carry it (Linux
/proc). That catches an `openssl s_server` left behind, for instance. (A
leftover that still held the example's stdout would instead keep
`subprocess.run` waiting, and fail the test by its timeout.)

openssl is needed for the two interop examples and Graphviz's `dot` for the
slide diagrams: without them those tests are skipped, except under CI (the
CI environment variable set), where a missing tool is a failure. tshark and
curl are optional: the examples say so and carry on, and so do the tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TIMEOUT = 60  # seconds per example; all of them together take a few seconds
MARKER = "TEACHTLS_EXAMPLE_RUN"

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PCAPNG_SECTION_HEADER = struct.pack("<I", 0x0A0D0D0A)
PCAPNG_DECRYPTION_SECRETS = 0x0000000A


def require(tool: str) -> None:
    if shutil.which(tool) is None:
        message = f"{tool} is not installed"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run this example")
        pytest.skip(message)


def processes_marked(marker: str) -> dict[int, str]:
    """The processes whose environment holds `marker`: their command lines, by process id."""
    found = {}
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if marker.encode() in (process / "environ").read_bytes():
                command = (process / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found[int(process.name)] = command
        except OSError:  # gone already, or not ours to read
            continue
    return found


def run_example(name: str, *arguments: str, cwd: Path) -> list[str]:
    """Run examples/<name> to completion; return its stdout lines. Checks the clean-up too."""
    marker = uuid.uuid4().hex
    env = {**os.environ, MARKER: marker, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stderr == "", result.stderr
    if Path("/proc/self/environ").exists():
        left = processes_marked(marker)
        for pid in left:  # the example's own leftovers, and only those
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert not left, f"{name} left processes running: {sorted(left.values())}"
    return result.stdout.splitlines()


def assert_lines(lines: list[str], patterns: list[str]) -> None:
    """Each pattern matches some line, in this order (`*` is any text)."""
    position = 0
    for pattern in patterns:
        regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
        for index in range(position, len(lines)):
            if regex.fullmatch(lines[index]):
                position = index + 1
                break
        else:
            pytest.fail(f"no line matches {pattern!r} after line {position} in:\n" + "\n".join(lines))


@pytest.mark.timeout(TIMEOUT + 10)
@pytest.mark.parametrize(
    ("version", "suite"), [("1.3", "TLS_AES_128_GCM_SHA256"), ("1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")]
)
def test_client_vs_openssl_server(tmp_path, version, suite):
    require("openssl")
    lines = run_example("client_vs_openssl_server.py", "--tls-version", version, cwd=tmp_path)
    assert_lines(
        lines,
        [
            f"openssl s_server -www is listening on 127.0.0.1:* (TLS {version} only)",
            "chain verified: CN=localhost <- CN=teachtls demo CA",
            f"version:          TLS {version}",
            f"cipher suite:     {suite}",
            "status line:      HTTP/1.0 200 ok",
            "openssl s_server stopped",
        ],
    )


@pytest.mark.timeout(TIMEOUT + 10)
def test_server_for_openssl_and_curl(tmp_path):
    require("openssl")
    lines = run_example("server_for_openssl_and_curl.py", "--self-test", cwd=tmp_path)
    expected = [
        "teachtls is serving https://localhost:*/ (certificate issued by CN=teachtls demo CA)",
        "  openssl s_client -connect 127.0.0.1:* -servername localhost -CAfile */ca.pem -verify_return_error -ign_eof*",
        "  curl --silent --show-error --include --cacert */ca.pem https://localhost:*/",
        "openssl s_client: exit code 0",
        "openssl s_client: Verification: OK",
        "openssl s_client: New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256",
        "openssl s_client: HTTP/1.0 200 OK",
    ]
    if shutil.which("curl"):
        expected.append("curl: exit code 0, HTTP/1.0 200 OK")
    else:
        expected.append("curl: not installed, skipped")
    assert_lines(lines, [*expected, "server stopped"])
    connections = 2 if shutil.which("curl") else 1
    assert sum(line.startswith("server log: connection ") for line in lines) == connections


@pytest.mark.timeout(TIMEOUT + 10)
def test_live_narration(tmp_path):
    lines = run_example("live_narration.py", cwd=tmp_path)
    assert_lines(
        lines,
        [
            "the client offers x25519 in its key_share, and * cipher suites",
            "the server chooses version TLS1_3 *",
            'the server derives server_handshake_traffic_secret ("s hs traffic", transcript through ServerHello)',
            "the server sends Finished",
            "✓ the client checks the certificate: certificate verified: CN=localhost <- CN=teachtls demo CA",
            "✓ the client verifies the CertificateVerify signature (ecdsa_secp256r1_sha256)",
            "✓ the server's Finished verifies",
            "the client sends Finished",
            "✓ the client's Finished verifies",
            "the server reads b'GET / HTTP/1.1\\r\\n\\r\\n'",
            "the client says goodbye (close_notify)",
            "recorded * events (* secrets derived)",
        ],
    )
    assert not any(line.startswith("✗") for line in lines)
    # the JSON Lines file holds the same events the Recorder counted
    recorded = int(re.search(r"recorded (\d+) events", "\n".join(lines)).group(1))
    trace_lines = (tmp_path / "trace.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(trace_lines[0])["schema"] == "teachtls-trace"
    assert len(trace_lines) == 1 + recorded


@pytest.mark.timeout(TIMEOUT + 10)
def test_wireshark_export(tmp_path):
    lines = run_example("wireshark_export.py", cwd=tmp_path)
    capture = (tmp_path / "capture.pcapng").read_bytes()
    assert capture[:4] == PCAPNG_SECTION_HEADER
    assert PCAPNG_DECRYPTION_SECRETS in walk_block_types(capture)
    keylog = (tmp_path / "keys.log").read_text(encoding="ascii")
    assert re.search(r"^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]{64}$", keylog, re.MULTILINE)
    assert_lines(lines, ["wrote capture.pcapng (with its Decryption Secrets Block) and keys.log", "  tshark -r *"])
    if shutil.which("tshark"):
        assert_lines(
            lines,
            [
                "tshark, decrypting with the secrets inside capture.pcapng:",
                "  Client Hello",
                "  Encrypted Extensions, Certificate, Certificate Verify, Finished",  # visible only decrypted
                "  GET / HTTP/1.1",
                "  HTTP/1.1 200 OK",
            ],
        )
    else:
        assert "tshark is not installed: nothing decrypted here" in lines


def walk_block_types(data: bytes) -> list[int]:
    """The block types of a little-endian pcapng file, in order."""
    types, offset = [], 0
    while offset < len(data):
        block_type, length = struct.unpack_from("<II", data, offset)
        types.append(block_type)
        offset += length
    return types


@pytest.mark.timeout(TIMEOUT + 10)
def test_slide_diagram(tmp_path):
    require("dot")
    lines = run_example("slide_diagram.py", cwd=tmp_path)
    for stem in ("handshake", "keyschedule"):
        png = (tmp_path / f"{stem}.png").read_bytes()
        assert png[:8] == PNG_MAGIC
        width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
        assert width <= 1920 and height <= 1080, (stem, width, height)
        assert (tmp_path / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
        assert (tmp_path / f"{stem}.svg").read_text(encoding="utf-8").startswith("<svg")
        for suffix in ("png", "svg", "pdf"):
            assert any(line.endswith(f"{stem}.{suffix}") for line in lines), (stem, suffix, lines)
    assert "RFC 8448 §3" in (tmp_path / "handshake.svg").read_text(encoding="utf-8")


# --- the README -------------------------------------------------------------------------------


def test_the_readme_lists_every_example_and_each_runs_in_a_test():
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    on_disk = {path.name for path in EXAMPLES.glob("*.py")}
    listed = set(re.findall(r"\[`(\w+\.py)`\]\(\1\)", readme))
    assert listed == on_disk
    mapping_tests = (ROOT / "tests" / "test_mapping_examples.py").read_text(encoding="utf-8")
    this_file = Path(__file__).read_text(encoding="utf-8")
    for name in on_disk:
        assert f'"{name}"' in this_file or f'"{name}"' in mapping_tests, f"{name} is run by no test"


@pytest.mark.parametrize(
    "name",
    [
        "client_vs_openssl_server.py",
        "server_for_openssl_and_curl.py",
        "live_narration.py",
        "wireshark_export.py",
        "slide_diagram.py",
    ],
)
def test_each_example_is_short_and_says_how_to_run_it(name):
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    docstring = text.split('"""')[1]
    assert "Run:" in docstring and "Not for production" in docstring
    assert len(text.splitlines()) <= 90
