"""Key schedules as pure functions: bytes in, bytes out, no state, no tracing.

`tls13` holds the TLS 1.3 key schedule of RFC 8446 §7. The connection calls
these functions, stores each result under its RFC name and emits the trace
events; every function here can be checked against RFC 8448 in one assertion.
"""
