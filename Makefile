# The two commands of the README:
#
#   make demo   an in-memory TLS 1.3 handshake (no network); writes its trace
#               and walkthrough into demo-output/
#   make test   ruff, mypy, then the whole test suite (interop tests included)
#
# Both first run scripts/bootstrap.sh, which creates .venv, installs teachtls
# with its extras and apt-installs graphviz / openssl when they are missing.

VENV := .venv

.PHONY: setup demo test

setup:
	bash scripts/bootstrap.sh

demo: setup
	$(VENV)/bin/teachtls demo --trace demo-output/trace.jsonl

test: setup
	$(VENV)/bin/ruff check teachtls tests examples benchmarks
	$(VENV)/bin/mypy teachtls
	$(VENV)/bin/python -m pytest -q
