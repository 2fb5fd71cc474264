"""The Mikado workflow around the engine, read from git: the branch invariant and commit
convention, and where to resume a chain (docs/reference.md#branch-invariant)."""
