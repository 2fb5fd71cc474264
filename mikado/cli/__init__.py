"""The `mikado` command: a thin layer that parses arguments, calls the core, prints, and turns
errors into exit codes (docs/reference.md#commands)."""

from mikado.cli.app import cli, main, run_cli

__all__ = ["cli", "main", "run_cli"]
