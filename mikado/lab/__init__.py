"""The built-in lab: local stand-ins for the services a chain talks to (`mikado run --lab`)."""

from mikado.errors import MikadoError


class LabError(MikadoError):
    """The lab cannot be set up: a workspace part is unreadable or in the way."""
