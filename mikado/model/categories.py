"""Categories and their index docs (docs/reference.md#category-indexes): which doc must link which.

With ``index = "auto"`` every folder ``X`` below the root holding ``X/X.md`` is a category and
that doc its index. A doc must be linked from the index of its nearest enclosing category; a
category index itself from the index of the category enclosing its own (its parent's). With a
table, the configured folders are the categories and the named files their indexes; with
``false`` nothing is required, though ``X/X.md`` docs still count as indexes for ``orphan``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mikado.config import Config
from mikado.errors import ConfigError


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


def auto_categories(paths: Iterable[str]) -> dict[str, str]:
    """Folder → index path for every folder ``X`` holding ``X/X.md``."""
    found: dict[str, str] = {}
    for path in paths:
        folder, _, name = path.rpartition("/")
        if folder and name == folder.rpartition("/")[2] + ".md":
            found[folder] = path
    return found


class Categories:
    def __init__(self, indexes: Mapping[str, str], *, enforced: bool):
        self._indexes = dict(indexes)  # folder ("" = the root) → index path
        self.enforced = enforced
        self.index_paths = frozenset(self._indexes.values())

    @classmethod
    def from_config(cls, config: Config, paths: Iterable[str]) -> Categories:
        if config.index_mode == "table":
            known = set(paths)
            indexes: dict[str, str] = {}
            for folder, index in config.index_table.items():
                index = index.strip("/")
                if index not in known:
                    raise ConfigError(
                        f"`index` names `{index}` as the index of `{folder}`, but there is no "
                        f"such doc under {config.docs} (paths are relative to the docs root)",
                        path=str(config.source) if config.source else None,
                    )
                indexes["" if folder in ("", ".") else folder] = index
            return cls(indexes, enforced=True)
        return cls(auto_categories(paths), enforced=config.index_mode == "auto")

    def index_of(self, path: str) -> str | None:
        """The index doc that must link ``path``, or ``None`` when it needs none."""
        if not self.enforced:
            return None
        folder = _folder(path)
        while True:
            index = self._indexes.get(folder)
            if index is not None and index != path:
                return index
            if not folder:
                return None
            folder = _folder(folder)
