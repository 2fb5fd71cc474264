"""Stable import path for actions (docs/actions.md): the card an action gets as ``ctx.card``.
The model lives in :mod:`mikado.model.card`."""

from mikado.model.card import Card

__all__ = ["Card"]
