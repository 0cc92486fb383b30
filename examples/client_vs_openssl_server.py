"""A teachtls client against the real `openssl s_server`, with a verified chain.

Shows: a fresh CA and a "localhost" leaf (teachtls.pki.generate), OpenSSL
serving its -www status page on 127.0.0.1, and a teachtls client that
verifies the chain and the name, then asks for the page. It prints what the
handshake negotiated and the HTTP status line, and stops openssl again.

Run:  python examples/client_vs_openssl_server.py [--tls-version 1.3|1.2]
By hand, the server half is:
      openssl s_server -www -accept 127.0.0.1:4433 -cert leaf.pem -key leaf.key
Not for production: teachtls is for reading, not for protecting data.
"""

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

from teachtls import Config
from teachtls.net.session import connect
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.wire.enums import ProtocolVersion

VERSIONS = {"1.3": ProtocolVersion.TLS1_3, "1.2": ProtocolVersion.TLS1_2}

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--tls-version", choices=sorted(VERSIONS), default="1.3")
args = parser.parse_args()

with tempfile.TemporaryDirectory() as directory:
    ca = make_ca()
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    cert, key = Path(directory, "leaf.pem"), Path(directory, "leaf.key")
    leaf.write(cert, key)

    # Port 0: the kernel picks a free port, and s_server says which ("ACCEPT 127.0.0.1:PORT").
    # -naccept 1: serve one connection, then exit (we stop it below anyway).
    command = ["openssl", "s_server", "-www", "-accept", "127.0.0.1:0", "-naccept", "1"]
    command += ["-cert", str(cert), "-key", str(key), f"-tls{args.tls_version.replace('.', '_')}"]
    server = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:  # ends if openssl exits without a word of ACCEPT
            if accept := re.match(r"ACCEPT \S+:(\d+)", line):
                break
        else:
            raise SystemExit(f"openssl s_server did not start: {' '.join(command)}")
        port = int(accept.group(1))
        print(f"openssl s_server -www is listening on 127.0.0.1:{port} (TLS {args.tls_version} only)")

        config = Config(
            server_name="localhost",  # sent as SNI, and checked against the leaf's subjectAltName
            trusted_certificates=(ca.certificate,),  # the one root we trust
            versions=(VERSIONS[args.tls_version],),
        )
        with connect("127.0.0.1", port, config) as session:
            completed = session.completed
            assert completed is not None
            print(f"chain verified: {completed.peer_certificates[0].subject.rfc4514_string()} <- {ca.subject}")
            print(f"version:          {completed.version}")
            print(f"cipher suite:     {completed.cipher_suite}")
            print(f"group:            {completed.group}")
            print(f"signature scheme: {completed.signature_scheme}")
            session.send(b"GET / HTTP/1.0\r\n\r\n")
            status_line = session.recv_all().split(b"\r\n", 1)[0]
        print(f"status line:      {status_line.decode('latin-1')}")
    finally:
        server.terminate()  # every process we start, we stop
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
        print("openssl s_server stopped")
