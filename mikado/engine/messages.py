"""What an action's process tells the engine while its card runs (docs/reference.md#run): its
log records, the outputs it records, the request it is waiting on, and how its hooks ended.

Each message is a tuple of plain values, pickled. The engine reads them with
:func:`decode`, which builds plain values only (text, numbers, tuples, lists, mappings):
whatever an action does in its process, a message cannot make the engine construct an object
of its choosing.
"""

from __future__ import annotations

import io
import pickle
import struct
from typing import Any

LOG = "log"  # (LOG, levelno, levelname, message, traceback text or None), masked
OUTPUT = "output"  # (OUTPUT, key, value): a value the action recorded, already checked
WAITING = "waiting"  # (WAITING, "zot: GET http://…" or None): a service request starts or ends
RESULT = "result"  # (RESULT, outcome, error or None, (stem, title, learned) or None)


class MessageError(Exception):
    """A message that is not one of the shapes above."""


# The largest message the engine accepts: a log record or an output is far smaller; a length
# beyond this is damage (or a write into the channel by the action), not a message.
MAX_MESSAGE = 64 * 1024 * 1024


class Frames:
    """Splits what arrives on the channel into messages, as multiprocessing's
    ``Connection.send_bytes`` framed them (a signed 4-byte big-endian length; -1 and an
    8-byte length for a huge one), without ever waiting for the rest of a message: the engine
    reads whatever is there and comes back for more."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        found: list[bytes] = []
        while len(self._buffer) >= 4:
            (size,) = struct.unpack("!i", self._buffer[:4])
            start = 4
            if size == -1:
                if len(self._buffer) < 12:
                    break
                (size,) = struct.unpack("!Q", self._buffer[4:12])
                start = 12
            if not 0 <= size <= MAX_MESSAGE:
                raise MessageError(f"a message of an impossible length ({size} bytes)")
            if len(self._buffer) < start + size:
                break
            found.append(bytes(self._buffer[start : start + size]))
            del self._buffer[: start + size]
        return found

    @property
    def partial(self) -> bool:
        return bool(self._buffer)


def encode(message: tuple[Any, ...]) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a message may not hold a {module}.{name}")


def decode(data: bytes) -> tuple[Any, ...]:
    """A message from an action's process, plain values only, or :class:`MessageError`."""
    try:
        message = _PlainUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # any damage to the bytes is the same refusal
        raise MessageError(f"an unreadable message ({type(exc).__name__})") from None
    if not (isinstance(message, tuple) and message and message[0] in _ARITY):
        raise MessageError("a message of no known kind")
    if len(message) != _ARITY[message[0]]:
        raise MessageError(f"a `{message[0]}` message of the wrong shape")
    return message


_ARITY = {LOG: 5, OUTPUT: 3, WAITING: 2, RESULT: 4}
