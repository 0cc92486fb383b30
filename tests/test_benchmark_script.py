"""Smoke test of benchmarks/bench.py: it runs and prints every row.

No timing is asserted: the numbers depend on the machine and on its
neighbours. What must hold is that the script still works against the
current code -- both sides negotiate what each row says (the script checks
that itself and fails otherwise) -- and that no row has gone missing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_bench(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def rows() -> tuple[str, ...]:
    return load_bench().ROWS  # type: ignore[no-any-return]


def test_there_is_a_row_for_everything_the_issue_asked_for(rows):
    asked = ("ECDSA P-256", "RSA-2048", "X25519MLKEM768", "resumption", "TLS 1.2", "Bulk", "Recorder", "JsonlWriter")
    for what in asked:
        assert any(what in row for row in rows), what
    assert any("sequence_svg" in row and "render_html" in row for row in rows)


def test_quick_markdown_run_prints_every_row(rows):
    output = run_bench("--markdown")
    table = [line for line in output.splitlines() if line.startswith("| ")]
    for row in rows:
        assert sum(line.startswith(f"| {row} |") for line in table) == 1, row
    # the environment the numbers came from
    for key in ("date", "machine", "Python", "cryptography", "ssl module"):
        assert any(line.startswith(f"| {key} |") for line in table), key
    assert "no ML-KEM" in output  # the hybrid row says what it is compared with


def test_quick_plain_run_prints_every_row(rows):
    output = run_bench()
    for row in rows:
        assert any(line.startswith(row) for line in output.splitlines()), row


# What each entry of bench.FLOOR_CALLS is, as cProfile names the call.
PROFILED_CALLS = {
    "x25519 key generation": lambda name: name == "<built-in method x25519.generate_key>",
    "x25519 exchange": lambda name: name.startswith("<method 'exchange' of") and "X25519PrivateKey" in name,
    "ECDSA signature (CertificateVerify)": lambda name: name.startswith("<method 'sign' of") and "ECPrivateKey" in name,
    "ECDSA verification (CertificateVerify)": lambda name: name.startswith("<method 'verify' of")
    and "ECPublicKey" in name,
    "certificate parsing": lambda name: "load_der_x509_certificate" in name,
    "chain verification (x509.verification)": lambda name: name.startswith("<method 'verify' of")
    and "ServerVerifier" in name,
    "HKDF-Expand": lambda name: name.startswith("<method 'derive' of") and "HKDFExpand" in name,
    "HKDF-Extract": lambda name: name == "<built-in method extract>",
    "HMAC (Finished)": lambda name: name.startswith("<method 'finalize' of") and "hmac.HMAC" in name,
    "AES-256-GCM seal or open": lambda name: name.startswith(("<method 'encrypt' of", "<method 'decrypt' of"))
    and "AESGCM" in name,
}


def profiled_calls(run) -> dict[str, int]:
    """How often `run()` makes each call of PROFILED_CALLS."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.runcall(run)
    counts = dict.fromkeys(PROFILED_CALLS, 0)
    for (_, _, name), (_, calls, *_) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        for what, matches in PROFILED_CALLS.items():
            if matches(name):
                counts[what] += calls
    return counts


def test_the_floor_row_makes_the_calls_of_a_real_handshake(tmp_path):
    """The "calls into cryptography alone" row stands for a handshake's
    unavoidable work only while it makes the same calls: count both."""
    bench = load_bench()
    identity = bench.make_identity("ecdsa-p256", str(tmp_path))
    setup = bench.teachtls_setup(identity)
    bench.teachtls_handshake(setup)  # warm: lazy imports and caches
    floor = bench.cryptography_floor(identity)
    expected = {what: count for what, count in bench.FLOOR_CALLS.items() if what in PROFILED_CALLS}
    assert profiled_calls(lambda: bench.teachtls_handshake(setup)) == expected
    assert profiled_calls(floor) == expected
