"""Changing docs safely: durable whole-file writes, surgical front-matter edits, growing the
graph with new cards, completing and finalizing cards."""
