"""Acme's CI functions, called from the Forgejo workflows with `dagger call`."""

from .main import AcmeCi as AcmeCi
