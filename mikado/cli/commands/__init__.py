"""One module per command or family of commands; each parses its options, calls the core
and prints."""
