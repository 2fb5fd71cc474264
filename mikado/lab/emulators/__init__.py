"""Emulators of Authentik, Forgejo and zot: real HTTP servers on 127.0.0.1 for tests and the lab.

They share no code with mikado's own clients of these services (`mikado.services`), so a client
bug cannot hide behind a twin; each follows the services' published facts and schemas.
"""

from mikado.lab.emulators._server import (
    EmulatorError,
    Fault,
    FaultKind,
    RecordedRequest,
)
from mikado.lab.emulators.authentik import AuthentikEmulator
from mikado.lab.emulators.forgejo import ForgejoEmulator
from mikado.lab.emulators.zot import ZotEmulator
from mikado.lab.emulators.zot_config import ConfigRefused

__all__ = [
    "AuthentikEmulator",
    "ConfigRefused",
    "EmulatorError",
    "Fault",
    "FaultKind",
    "ForgejoEmulator",
    "RecordedRequest",
    "ZotEmulator",
]
