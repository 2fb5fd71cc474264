"""Problems met while reading a tree that mikado recovered from: a damaged scan cache, a worker
process that died. The result is still right, but a person should know (a cache damaged on
every run points at a failing disk; a killed worker, at memory).

They are Python warnings, not prints: library code never writes to the terminal, a program
embedding mikado filters them like any other warning, and the command line prints each as one
``mikado: warning: ...`` line on stderr (:func:`mikado.cli.output.warnings_as_lines`).
"""

from __future__ import annotations

import warnings


class TreeWarning(UserWarning):
    """Reading the tree met a problem it recovered from; the message says what was done."""


def warn(message: str) -> None:
    # stacklevel 3: the warning points at the caller of the function that called warn().
    warnings.warn(message, TreeWarning, stacklevel=3)
