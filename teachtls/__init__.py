"""teachtls: TLS 1.3 done for real, every step traced, for teaching.

Not for production: teachtls favours readability and complete traces over
speed and side-channel hardening. Use it to learn, teach and debug.
"""

from teachtls.config import Config
from teachtls.connection import (
    ApplicationData,
    CloseNotifyReceived,
    HandshakeCompleted,
    HelloRequestReceived,
    KeyUpdated,
    SessionTicketReceived,
    WarningAlertReceived,
)
from teachtls.handshake.alerts import AlertError, LocalAlert, RemoteAlert, TLSError
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.trace.trace import Trace

__version__ = "0.1.0"

__all__ = [
    "AlertError",
    "ApplicationData",
    "ClientConnection",
    "CloseNotifyReceived",
    "Config",
    "HandshakeCompleted",
    "HelloRequestReceived",
    "KeyUpdated",
    "LocalAlert",
    "RemoteAlert",
    "ServerConnection",
    "SessionTicketReceived",
    "TLSError",
    "Trace",
    "WarningAlertReceived",
]
