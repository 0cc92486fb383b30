#!/usr/bin/env bash
# Set up everything `make demo` and `make test` need, on a fresh Debian
# machine that has only python3, or on a developer's machine that already
# has most of it. Safe to run again and again: each step checks first.
#
#   1. Debian packages the tests use, installed only when their binaries are
#      missing: `dot` (graphviz, for the diagrams), `openssl` (the interop
#      tests run `openssl s_server` / `s_client` on 127.0.0.1), `tshark`
#      (the pcapng export is checked by opening it in tshark), `chromium`
#      (headless, it visits `teachtls serve --explain`), `curl`, and
#      `gnutls-cli`/`gnutls-serv` (gnutls-bin, the DTLS interop peer).
#   2. A virtual environment in .venv (python3-venv is installed first when
#      this python3 cannot make one, as on a fresh Debian).
#   3. teachtls itself, editable, with its `test` and `docs` extras; skipped
#      when pyproject.toml has not changed since the last install.
#
# apt-get runs only as root or through password-less sudo; otherwise the
# script says what to install by hand and carries on.
set -euo pipefail

cd "$(dirname "$0")/.."

say() { printf 'bootstrap: %s\n' "$*"; }

# --- 1. Debian packages ------------------------------------------------------

apt_prefix=()
apt_allowed=yes
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        apt_prefix=(sudo -n)
    else
        apt_allowed=no
    fi
fi
apt_updated=no

# apt_install PACKAGE... : install Debian packages, running `apt-get update`
# once per run first. Returns non-zero when it cannot (not root, no apt).
apt_install() {
    if [ "$apt_allowed" != yes ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    if [ "$apt_updated" != yes ]; then
        say "apt-get update"
        "${apt_prefix[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        apt_updated=yes
    fi
    say "apt-get install $*"
    "${apt_prefix[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

# binary -> Debian package that provides it
for pair in dot:graphviz openssl:openssl tshark:tshark chromium:chromium curl:curl gnutls-cli:gnutls-bin; do
    binary=${pair%%:*}
    package=${pair#*:}
    if command -v "$binary" >/dev/null 2>&1; then
        continue
    fi
    if ! apt_install "$package"; then
        say "WARNING: '$binary' is missing and cannot be installed automatically"
        say "         (needs root, password-less sudo and apt-get)."
        say "         Install it yourself, e.g.:  sudo apt-get install $package"
        say "         Tests that need it will fail until then."
    fi
done

# --- 2. The virtual environment ----------------------------------------------

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
    say "ERROR: $python not found; teachtls needs Python >= 3.11"
    exit 1
fi
"$python" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"bootstrap: ERROR: teachtls needs Python >= 3.11, this is {sys.version.split()[0]}")
PY

# A .venv without a working pip is what a failed `python3 -m venv` leaves
# behind (Debian without python3-venv): start again from scratch.
if [ -d .venv ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    say "removing broken .venv"
    rm -rf .venv
fi

if [ ! -d .venv ]; then
    # Debian splits venv's pip bootstrap (ensurepip) into python3-venv.
    if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        if ! apt_install python3-venv; then
            say "ERROR: '$python -m venv' cannot work here: the python3-venv package is missing."
            say "       Install it (sudo apt-get install python3-venv) and run this again."
            exit 1
        fi
    fi
    say "creating .venv with $("$python" --version)"
    "$python" -m venv .venv
fi

# --- 3. teachtls and its extras ----------------------------------------------

stamp=.venv/.teachtls-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    say ".venv is up to date (pyproject.toml unchanged since the last install)"
else
    say "upgrading pip"
    .venv/bin/python -m pip install -q --upgrade pip
    say "pip install -e '.[test,docs]'"
    .venv/bin/python -m pip install -q -e '.[test,docs]'
    printf '%s\n' "$wanted" > "$stamp"
fi
say "ready: .venv/bin/teachtls, .venv/bin/pytest, .venv/bin/ruff, .venv/bin/mypy"
