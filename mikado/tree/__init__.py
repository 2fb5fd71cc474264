"""Reading a docs tree: a folder of Markdown in, cards and link facts out (walk, front-matter,
links, the per-doc scan, its cache and the worker processes that share the reading)."""
