"""Front-matter keys mikado does not read (docs/reference.md#check-rules): ``field-typo`` for
a key a letter or two away from a field (``requries:`` is silently no prerequisite at all, so
the chain splits and its goal looks ready), ``field-unknown`` for any other key when the
configuration lists the ``allowed_fields``.

Most docs carry only known keys, and most share one set of keys (the loader shares equal key
sets between cards), so each distinct set is looked at once and a known key costs one set
lookup; only the rest is compared, by edit distance, with the fields.
"""

from __future__ import annotations

from collections.abc import Iterable

from mikado.config import Config
from mikado.model.card import FIELDS, Card
from mikado.model.findings import Finding, warning

KEY_RULES = frozenset({"field-typo", "field-unknown"})
# One wrong, missing, extra or swapped letter is one edit (`tgas`, `requries`); a longer key
# of the same stem (`modified_by`, `requirements`) is several away: a name of its own.
_SHORT = 5  # keys this long or shorter may be one edit from a field, longer ones two

# (rule, key, message) for one key of a card; path and line are the card's own.
_Problem = tuple[str, str, str]


class KeyCheck:
    """The key rules that are ``enabled`` over the cards of one tree."""

    def __init__(self, config: Config, enabled: frozenset[str]):
        allowed = config.allowed_fields
        self.known = frozenset((*FIELDS, *config.required, *(allowed or ())))
        self.restricted = allowed is not None
        self.enabled = enabled
        self._known_lowered = {key.lower(): key for key in self.known}
        self._seen: dict[frozenset[str], tuple[_Problem, ...]] = {}

    def findings(self, cards: Iterable[Card]) -> list[Finding]:
        found: list[Finding] = []
        seen = self._seen
        for card in cards:
            problems = seen.get(card.keys)
            if problems is None:
                problems = seen[card.keys] = self._problems(card.keys)
            for rule, key, message in problems:
                found.append(warning(rule, card.path, card.line_of(key), message, key))
        return found

    def _problems(self, keys: frozenset[str]) -> tuple[_Problem, ...]:
        problems: list[_Problem] = []
        for key in sorted(keys):
            if key in self.known:
                continue
            meant = self.meant(key)
            if meant is not None:
                if "field-typo" in self.enabled:
                    problems.append(
                        (
                            "field-typo",
                            key,
                            f"`{key}` is no field mikado reads, so it is ignored: did you mean "
                            f"`{meant}`? (if `{key}` is meant, list it in `allowed_fields`)",
                        )
                    )
            elif self.restricted and "field-unknown" in self.enabled:
                problems.append(
                    (
                        "field-unknown",
                        key,
                        f"`{key}` is not an allowed front-matter key; remove it, or add it to "
                        "`allowed_fields` in the configuration",
                    )
                )
        return tuple(problems)

    def meant(self, key: str) -> str | None:
        """The known key ``key`` is likely a misspelling of, or ``None``."""
        lowered = key.strip().lower()
        same = self._known_lowered.get(lowered)
        if same is not None:
            return same  # `Title`, `status ` (a quoted key with a blank)
        # A typo keeps the first letter and is a slip or two away: one edit (a swap of two
        # neighbours counts as one) for a short key, two for a longer one. `caption` is no
        # `action`, nor `task` a `tags`, though each is as similar by ratio.
        allowed = 1 if len(lowered) <= _SHORT else 2
        for candidate, known in self._known_lowered.items():
            if candidate[:1] == lowered[:1] and _edits(lowered, candidate, allowed) <= allowed:
                return known
        return None


def _edits(a: str, b: str, limit: int) -> int:
    """The optimal-string-alignment distance of ``a`` and ``b`` (insertions, deletions,
    substitutions and swaps of neighbours), or ``limit + 1`` once it is certainly more."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] | None = None
    row = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, other in enumerate(b, 1):
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (char != other))
            if before is not None and i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == other:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]
