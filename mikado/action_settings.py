"""Stable import path for actions (docs/actions.md): declaring the keys of a settings table.
It lives in :mod:`mikado.engine.settings`."""

from mikado.engine.settings import TableKeys

__all__ = ["TableKeys"]
