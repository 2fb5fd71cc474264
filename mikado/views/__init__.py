"""Turning results into text: status tables and trees, check reports, pull-request Markdown,
graphs and a run's progress. Pure functions and small printers; the CLI decides where the
text goes and whether it is coloured."""
