"""The model of a docs tree: cards, findings and rules, categories, the prerequisite graph,
and the chains and states read from it. Plain data and pure functions; nothing here reads
files."""
