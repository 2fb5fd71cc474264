"""Stable import path for actions (docs/actions.md): the ``ctx`` every hook gets.
It lives in :mod:`mikado.engine.context`."""

from mikado.engine.context import Context

__all__ = ["Context"]
