"""mikado: check, show and execute Mikado Method chains kept as Markdown cards."""

__version__ = "0.1.0"
