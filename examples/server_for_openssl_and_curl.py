"""A teachtls server for `openssl s_client` and `curl` to talk to.

Shows: a fresh CA and a "localhost" leaf, `serve_in_thread` with the HTTP
page behind `teachtls serve` (`http_handler`), on 127.0.0.1. It prints the
exact commands that reach it and verify it: openssl s_client and curl, both
trusting only our CA. Every connection is logged as it ends.

Run:  python examples/server_for_openssl_and_curl.py          serves until Ctrl-C
      python examples/server_for_openssl_and_curl.py --self-test
                  runs both commands itself, prints what they said, and exits
                  (curl is skipped if it is not installed)
Not for production: teachtls is for reading, not for protecting data.
"""

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from teachtls import Config
from teachtls.net.server import fixed_config, http_handler, serve_in_thread
from teachtls.pki.generate import issue_leaf, make_ca

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--self-test", action="store_true", help="run s_client and curl against the server, then exit")
parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free one)")
args = parser.parse_args()

with tempfile.TemporaryDirectory() as directory:
    ca = make_ca()
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    ca_file = Path(directory, "ca.pem")
    ca_file.write_bytes(ca.certificate_pem())
    config = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key)

    def log(line: str) -> None:
        print(f"server log: {line}", flush=True)

    with serve_in_thread("127.0.0.1", args.port, fixed_config(config), http_handler, log=log) as server:
        port = server.port
        s_client = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"]
        s_client += ["-CAfile", str(ca_file), "-verify_return_error", "-ign_eof"]
        curl = ["curl", "--silent", "--show-error", "--include", "--cacert", str(ca_file), f"https://localhost:{port}/"]
        print(f"teachtls is serving https://localhost:{port}/ (certificate issued by {ca.subject})")
        print(f"  {' '.join(s_client)}      (then type: GET / HTTP/1.0 and an empty line)")
        print(f"  {' '.join(curl)}")

        if not args.self_test:
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("\nCtrl-C: stopping")
        else:
            # -ign_eof: keep reading after our request (stdin's end) until the server closes.
            done = subprocess.run(
                s_client, input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=20, check=False
            )
            output = done.stdout.decode("utf-8", "replace").splitlines()
            print(f"openssl s_client: exit code {done.returncode}")
            for wanted in ("Verification:", "Cipher is", "HTTP/1.0"):
                print("openssl s_client: " + next((line.strip() for line in output if wanted in line), "?"))
            if shutil.which("curl") is None:
                print("curl: not installed, skipped")
            else:
                done = subprocess.run(curl, capture_output=True, timeout=20, check=False)
                status_line = done.stdout.decode("utf-8", "replace").split("\r\n", 1)[0]
                print(f"curl: exit code {done.returncode}, {status_line or done.stderr.decode().strip()}")
    # leaving the block: stop accepting, wait for open connections, close the socket
    print("server stopped")
