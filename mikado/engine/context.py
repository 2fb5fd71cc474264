"""What an action gets (docs/actions.md#the-context): its card, its settings, the shared HTTP
client, a masking logger, ``dry_run``, and the outputs store that carries non-secret values to later
actions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mikado.engine.outputs import Outputs
from mikado.engine.secrets import Masker
from mikado.model.card import Card

LOGGER_PREFIX = "mikado.action"


class MaskingFilter(logging.Filter):
    """Renders each record's message (and traceback) with every secret masked."""

    def __init__(self, masker: Masker):
        super().__init__()
        self.masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.masker(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.masker(record.exc_text)
        if record.stack_info:
            record.stack_info = self.masker(record.stack_info)
        return True


def action_logger(stem: str, masker: Masker) -> logging.Logger:
    logger = logging.getLogger(f"{LOGGER_PREFIX}.{stem}")
    if not any(isinstance(f, MaskingFilter) and f.masker is masker for f in logger.filters):
        for old in [f for f in logger.filters if isinstance(f, MaskingFilter)]:
            logger.removeFilter(old)
        logger.addFilter(MaskingFilter(masker))
    return logger


@dataclass(frozen=True)
class Context:
    """The argument of every action hook.

    ``settings`` holds the tables the action declares in ``SETTINGS``, secrets resolved;
    ``base`` is the configuration file's folder, against which relative paths in settings
    resolve;
    ``cancelled`` is set when the run gives up on the action (timeout, Ctrl-C), so a long
    action can stop early.
    """

    card: Card
    path: Path
    docs: Path
    base: Path
    settings: Mapping[str, Mapping[str, Any]]
    http: httpx.Client
    log: logging.Logger
    dry_run: bool
    outputs: Outputs
    cancelled: threading.Event

    @property
    def stem(self) -> str:
        return self.card.stem
