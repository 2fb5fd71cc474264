"""`mikado check`: the rules of the docs gate over a tree, as one report
(docs/reference.md#check-rules)."""
