"""Deterministic, in-memory handshakes: RFC 8448's and teachtls's own.

Scenarios need no network: a client and a server connection are wired
together in memory (`memory.run`), which is how `teachtls demo`, the
documentation and the golden tests produce their traces.
"""
