"""`mikado run`: plan a chain, run its actions leaves-first and record progress in the cards
(docs/reference.md#run); the actions, their context, settings, secrets, journal and lock."""
