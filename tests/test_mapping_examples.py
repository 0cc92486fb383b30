"""docs/gnutls-openssl-mapping.md: every example it points to runs and shows what it claims.

Each `examples/gnutls_*.py` runs in its own Python process, with a timeout,
against servers of its own on 127.0.0.1 or a socket pair. The expected
lines below are the facts each example exists to show; lines whose order
depends on threads are checked for presence, not position.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PAGE = ROOT / "docs" / "gnutls-openssl-mapping.md"
TIMEOUT = 60

EXPECTED: dict[str, list[str]] = {
    "gnutls_handshake.py": [
        "client: handshake complete: TLS 1.3 TLS_AES_128_GCM_SHA256 x25519",
        "client: server certificate: CN=localhost",
        "server: received b'hello'",
        "client: received b'HELLO'",
        "client: the server closed (close_notify): True",
    ],
    "gnutls_nonblocking.py": [
        "  client: WouldBlock, direction 'read' (WANT_READ), * time(s)",
        "client: handshake complete: TLS 1.3, TLS_AES_128_GCM_SHA256",
        "server: handshake complete: TLS 1.3, TLS_AES_128_GCM_SHA256",
        "  client: WouldBlock, direction 'write' (WANT_WRITE), * time(s)",
        "server: received 2097152 bytes, intact: True",
        "client: WouldBlock, session.direction = 'read', fatal: False",
    ],
    "gnutls_interrupted.py": [
        "client: Interrupted while trying to write; fatal: False",
        "client: Interrupted while trying to read; fatal: False",
        "client: handshake complete: TLS 1.3",
        "client: received b'made it'",
    ],
    "gnutls_warning_alert.py": [
        "client: warning alert: level=warning description=user_canceled",
        "client: fatal? False -- calling handshake() again",
        "client: handshake complete: TLS 1.3",
        "client: received b'welcome'",
    ],
    "gnutls_handshake_timeout.py": [
        "blocking: HandshakeTimeout after about 0.* s (limit 0.3 s); fatal: True",
        "blocking: session closed: True",
        "non-blocking: +0 s: again (read), 5 s of the handshake left",
        "non-blocking: +3 s: again (read), 2 s of the handshake left",
        "non-blocking: +3 s: HandshakeTimeout: the handshake did not finish within 5000 ms; fatal: True",
    ],
    "gnutls_key_update.py": [
        "server: handshake() again changed nothing: True",
        "client: after handshake() again: write generation 1, read generation 0",
        "client: received b'PING': write generation 1, read generation 1",
        "client: received b'PONG': write generation 2, read generation 1",
        "server: write generation 1, read generation 2",
        'client trace: client_application_traffic_secret_1 = HKDF-Expand-Label(client_application_traffic_secret_0, "traffic upd", "", 32)',
        'client trace: server_application_traffic_secret_1 = HKDF-Expand-Label(server_application_traffic_secret_0, "traffic upd", "", 32)',
        'client trace: client_application_traffic_secret_2 = HKDF-Expand-Label(client_application_traffic_secret_1, "traffic upd", "", 32)',
    ],
    "gnutls_session_data.py": [
        "first:  resumed=False",
        "first:  you said hello",
        "saved session data: * bytes (keep them secret: they hold the PSK)",
        "second: resumed=True early_data_accepted=True",
        "second: server certificate sent again: False",
        "second: you said hello again (as 0-RTT data)",
    ],
    "gnutls_verify_cert.py": [
        "right name: verified CN=www.example.test; server says hello",
        "wrong name: refused, sent bad_certificate: certificate verify failed: hostname mismatch: *",
        "unknown CA: refused, sent unknown_ca: certificate verify failed: unknown CA: *",
        "callback accepts: verified CN=www.example.test; server says hello",
        "callback refuses: refused, sent bad_certificate: certificate verify failed: not the pinned leaf",
        "server log: connection 2: the client sent a fatal bad_certificate alert",
        "server log: connection 3: the client sent a fatal unknown_ca alert",
        "server log: connection 5: the client sent a fatal bad_certificate alert",
    ],
    "gnutls_ocsp.py": [
        "good: stapled OCSP response of * bytes accepted; server says b'hello'",
        "good: without status_request the server staples nothing: None",
        "revoked: refused, sent certificate_revoked: OCSP staple rejected: * was revoked at *",
    ],
    "gnutls_bye.py": [
        "client: sent close_notify; still reading",
        "server: the client closed its side (truncated: False) after b'the answer?'",
        "client: received b'42'",
        "client: then b'': the server's close_notify (truncated: False)",
        "client: closed: True",
    ],
    "gnutls_got_application_data.py": [
        "client: handshake complete: TLS 1.2 *",
        "client: recv() -> b'before the request'",
        "client: recv() -> RehandshakeRequested; fatal: False -- accepting",
        "client: handshake() -> ApplicationDataPending, 15 bytes; fatal: False",
        "client: recv() -> b'right behind it'; calling handshake() again",
        "client: re-handshake complete (handshake 2): TLS 1.2 *",
        "client: handshake() -> ApplicationDataPending, 9 bytes; fatal: False",
        "client: recv() -> b'in flight'; calling handshake() again",
        "client: re-handshake complete (handshake 3): TLS 1.2 *",
        "client trace: 3 ParametersNegotiated, 3 different master secrets",
        "server: received b'thanks'",
        "server: received b'thanks again'",
        "server: handshakes completed: 3",
    ],
    "gnutls_asyncio.py": [
        "client: TLS 1.3 with TLS_AES_128_GCM_SHA256",
        "connection 1: TLS 1.3, TLS_AES_128_GCM_SHA256, x25519",
        "client: received b'HELLO'",
        "client: received b'NEW KEYS'",
        "client: key generations (write, read) = (1, 1)",
        "client: closed after the server's close_notify: True",
    ],
}

# Where the order is fixed (one thread, or one side only), check it too.
ORDERED = {
    "gnutls_nonblocking.py",
    "gnutls_interrupted.py",
    "gnutls_warning_alert.py",
    "gnutls_handshake_timeout.py",
    "gnutls_session_data.py",
    "gnutls_verify_cert.py",
    "gnutls_ocsp.py",
    "gnutls_asyncio.py",
    "gnutls_got_application_data.py",
}


def matches(pattern: str, line: str) -> bool:
    """`*` stands for any text; everything else must match exactly."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), line) is not None


def run_example(name: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stderr == "", result.stderr
    return result.stdout.splitlines()


@pytest.mark.timeout(TIMEOUT + 10)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_shows_what_it_claims(name):
    lines = run_example(name)
    positions = []
    for pattern in EXPECTED[name]:
        found = [index for index, line in enumerate(lines) if matches(pattern, line)]
        assert found, f"{name}: no line matches {pattern!r} in:\n" + "\n".join(lines)
        positions.append(found[0])
    if name in ORDERED:
        assert positions == sorted(positions), f"{name}: lines out of order:\n" + "\n".join(lines)


def test_every_example_is_on_the_page_and_tested():
    page = PAGE.read_text(encoding="utf-8")
    on_disk = {path.name for path in EXAMPLES.glob("gnutls_*.py")}
    linked = set(re.findall(r"\(\.\./examples/(gnutls_\w+\.py)\)", page))
    assert on_disk == linked == set(EXPECTED)
    for name in on_disk:
        assert "Not for production" in (EXAMPLES / name).read_text(encoding="utf-8")


def test_the_page_covers_the_manual_page():
    page = PAGE.read_text(encoding="utf-8")
    for name in (
        "gnutls_handshake",
        "GNUTLS_E_AGAIN",
        "GNUTLS_E_INTERRUPTED",
        "GNUTLS_E_WARNING_ALERT_RECEIVED",
        "GNUTLS_E_GOT_APPLICATION_DATA",
        "GNUTLS_E_REHANDSHAKE",
        "gnutls_rehandshake",
        "GNUTLS_E_LARGE_PACKET",
        "gnutls_handshake_set_timeout",
        "gnutls_record_get_direction",
        "gnutls_error_is_fatal",
        "gnutls_session_key_update",
        "gnutls_session_set_data",
        "gnutls_session_get_data",
        "gnutls_session_set_verify_cert",
        "gnutls_certificate_verify_peers3",
        "gnutls_certificate_set_verify_function",
        "SSL_do_handshake",
        "SSL_get_error",
        "SSL_ERROR_WANT_READ",
        "SSL_ERROR_WANT_WRITE",
        "SSL_key_update",
        "SSL_SESSION",
    ):
        assert name in page, name
    assert "```{warning}\nNot for production." in page


def test_the_names_on_the_page_exist():
    """Every teachtls name the page promises is importable."""
    from teachtls.net import aio, nonblocking, session

    for module, names in (
        (
            nonblocking,
            ["WouldBlock", "Again", "Interrupted", "WarningAlert", "is_fatal", "NON_FATAL", "retry", "wait_for",
             "PacketTooLarge", "ApplicationDataPending", "RehandshakeRequested"],
        ),
        (session, ["TLSSession", "Transport", "connect", "ConnectionClosedDuringHandshake"]),
        (aio, ["TLSStream", "open_connection", "start_server"]),
    ):
        for name in names:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    for method in (
        "handshake", "rehandshake", "send", "recv", "key_update", "shutdown_write", "close", "get_session_data"
    ):
        assert hasattr(session.TLSSession, method) and hasattr(aio.TLSStream, method)
    assert hasattr(session.TLSSession, "direction") or "direction" in session.TLSSession.__init__.__code__.co_names
    for condition in (nonblocking.ApplicationDataPending, nonblocking.RehandshakeRequested):
        assert condition in nonblocking.NON_FATAL
