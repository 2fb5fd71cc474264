"""The names and severities of the check rules (docs/reference.md#check-rules), in one place.

The configuration validates ``ignore`` against these names, the loader reports the rules it can
already see while reading, and `check` adds the rest.
"""

from __future__ import annotations

from mikado.model.findings import Severity

E, W = Severity.ERROR, Severity.WARNING

RULES: dict[str, Severity] = {
    "unreadable": E,  # not UTF-8, or an I/O error: nothing else can be said of the doc
    "frontmatter-missing": E,
    "frontmatter-invalid": E,
    "frontmatter-uneditable": E,  # a card the engine could not change half-way through a run
    "field-missing": E,
    "field-type": E,
    "field-misplaced": E,
    "field-duplicate": E,
    "field-typo": W,  # a key close to a field's name: the field is silently not there
    "field-unknown": W,  # a key not in `allowed_fields`, when the configuration lists them
    "status-invalid": E,
    "duplicate-stem": E,
    "requires-missing": E,
    "requires-self": E,
    "cycle": E,
    "branch-name": W,
    "done-requires-open": W,
    "broken-link": E,
    "ambiguous-link": E,
    "path-link": E,
    "spaced-link": E,
    "orphan": E,
    "index-missing": E,
    "action-missing": W,
}

RULE_NAMES = frozenset(RULES)

# Rules whose findings make the prerequisite graph itself untrustworthy: `status`, `next` and
# `run` refuse to answer while any of them is an error, since a wrong graph gives a wrong plan.
GRAPH_RULES = frozenset(
    {
        "unreadable",
        "frontmatter-missing",
        "frontmatter-invalid",
        "field-type",
        "status-invalid",
        "duplicate-stem",
        "requires-missing",
        "requires-self",
        "cycle",
    }
)

# Fields whose wrong type changes the graph (a mistyped `title` does not).
GRAPH_FIELDS = frozenset({"status", "requires", "branch", "action"})
