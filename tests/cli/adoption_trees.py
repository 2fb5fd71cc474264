"""Small repositories shaped like an adopting operator's docs, for the adoption tests.

The shape, not the content, follows the operator's repository: a root ``docs/index.md`` with
``tags: []`` that links the four category indexes and ``[[CHANGELOG]]`` (a file the site build
copies in from the repository's top), ``<category>/<category>.md`` indexes linking every doc of
their category, how-to subfolders holding a Mikado chain whose cards link what they require,
changelog fragments without front-matter, and a non-Markdown site configuration. The content
(a greenhouse handbook) is ours.

Each tree is a mapping from a path (relative to the repository's top) to text. This module
imports nothing from mikado, so a script outside the project can build the same trees and run
other checkers on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Files = dict[str, str]


def _doc(title: str, body: str, *, tags: str = "[greenhouse]", extra: str = "") -> str:
    return f"---\ntitle: {title}\nmodified: 2026-03-01\n{extra}tags: {tags}\n---\n\n{body}"


def _card(title: str, body: str, *, requires: tuple[str, ...] = (), extra: str = "") -> str:
    needs = "".join(f"  - {stem}\n" for stem in requires)
    fields = "status: active\n" + (f"requires:\n{needs}" if requires else "") + extra
    links = "".join(f"- [[{stem}]]\n" for stem in requires)
    text = body + (f"\n## Requires\n\n{links}" if requires else "")
    return _doc(title, text, tags="[greenhouse, mikado]", extra=fields)


def clean() -> Files:
    """The tree every other one changes in one way; it passes every check."""
    return {
        "CHANGELOG.md": "# Changelog\n\n## 1.0.0\n\n- The handbook.\n",
        "docs/index.md": (
            "---\ntitle: Greenhouse Handbook\nmodified: 2026-03-01\naliases: []\nid: index\n"
            "tags: []\n---\n\nHow the greenhouse runs. New here? Start with [[tutorials]].\n\n"
            "- [[how-to]]\n- [[reference]]\n- [[explanation]]\n\n"
            "What changed lately: [[CHANGELOG|the changelog]].\n"
        ),
        "docs/site.config.ts": "export default { pageTitle: 'Greenhouse' }\n",
        "docs/changelog.d/+irrigation.feature.md": "Plan the irrigation chain.\n",
        "docs/tutorials/tutorials.md": _doc("Tutorials", "- [[first-shift]]\n"),
        "docs/tutorials/first-shift.md": _doc(
            "Your First Shift", "Water by hand until [[automate-irrigation]] is done.\n"
        ),
        "docs/how-to/how-to.md": _doc(
            "How-To",
            "## Irrigation\n\n- [[automate-irrigation]]\n- [[install-valves]]\n"
            "- [[wire-moisture-sensors]]\n- [[map-water-lines]]\n\n"
            "## Harvest\n\n- [[log-a-harvest]]\n",
        ),
        # A chain with a shared prerequisite: both middle cards need the water-line map.
        "docs/how-to/irrigation/automate-irrigation.md": _card(
            "Automate Irrigation",
            "# Automate Irrigation\n\nDrip lines open on a schedule, see [[valve-controller]].\n",
            requires=("install-valves", "wire-moisture-sensors"),
        ),
        "docs/how-to/irrigation/install-valves.md": _card(
            "Install Valves", "# Install Valves\n", requires=("map-water-lines",)
        ),
        "docs/how-to/irrigation/wire-moisture-sensors.md": _card(
            "Wire Moisture Sensors",
            "# Wire Moisture Sensors\n\nOne [[moisture-sensor]] per bed.\n",
            requires=("map-water-lines",),
        ),
        "docs/how-to/irrigation/map-water-lines.md": _card(
            "Map Water Lines", "# Map Water Lines\n\nWalk every line from the tap.\n"
        ),
        "docs/how-to/harvest/log-a-harvest.md": _doc(
            "Log a Harvest", "Weigh, then write it down. Why: [[why-drip-irrigation]].\n"
        ),
        "docs/reference/reference.md": _doc(
            "Reference", "## Hardware\n\n- [[valve-controller]]\n- [[moisture-sensor]]\n"
        ),
        "docs/reference/hardware/valve-controller.md": _doc(
            "Valve Controller", "Eight zones, 24 V AC. Fed by [[moisture-sensor]] readings.\n"
        ),
        "docs/reference/hardware/moisture-sensor.md": _doc(
            "Moisture Sensor", "Capacitive, one per bed; `[[not-a-link]]` in code.\n"
        ),
        "docs/explanation/explanation.md": _doc("Explanation", "- [[why-drip-irrigation]]\n"),
        "docs/explanation/why-drip-irrigation.md": _doc(
            "Why Drip Irrigation", "Less water, dry leaves. Start with [[log-a-harvest]].\n"
        ),
    }


def _changed(files: Files, edits: Mapping[str, str | None]) -> Files:
    """``files`` with each edit applied: a path to new text, or ``None`` to delete the file."""
    out = dict(files)
    for path, text in edits.items():
        if text is None:
            del out[path]
        else:
            out[path] = text
    return out


def _replace(files: Files, path: str, old: str, new: str) -> Files:
    assert old in files[path], (path, old)
    return {**files, path: files[path].replace(old, new, 1)}


def broken_link() -> Files:
    return _replace(
        clean(),
        "docs/reference/hardware/valve-controller.md",
        "Eight zones",
        "Eight zones (see [[flow-meter]])",
    )


def missing_from_index() -> Files:
    files = _replace(
        clean(),
        "docs/how-to/harvest/log-a-harvest.md",
        "Weigh,",
        "Weigh (scales: [[calibrate-scales]]),",
    )
    files["docs/how-to/harvest/calibrate-scales.md"] = _doc(
        "Calibrate Scales", "Zero them every morning.\n"
    )
    return files


def requires_missing() -> Files:
    files = clean()
    files["docs/how-to/irrigation/map-water-lines.md"] = _card(
        "Map Water Lines", "# Map Water Lines\n", requires=("survey-the-site",)
    )
    return files


def requires_cycle() -> Files:
    files = clean()
    files["docs/how-to/irrigation/map-water-lines.md"] = _card(
        "Map Water Lines", "# Map Water Lines\n", requires=("automate-irrigation",)
    )
    return files


def field_missing() -> Files:
    return _replace(
        clean(), "docs/explanation/why-drip-irrigation.md", "modified: 2026-03-01\n", ""
    )


def no_front_matter() -> Files:
    return _changed(clean(), {"docs/tutorials/tutorials.md": "# Tutorials\n\n- [[first-shift]]\n"})


def tags_empty() -> Files:
    return _replace(
        clean(), "docs/how-to/harvest/log-a-harvest.md", "tags: [greenhouse]", "tags: []"
    )


def tags_null() -> Files:
    return _replace(clean(), "docs/how-to/harvest/log-a-harvest.md", "tags: [greenhouse]", "tags:")


def no_changelog_file() -> Files:
    return _changed(clean(), {"CHANGELOG.md": None})


def goal_branch() -> Files:
    return _replace(
        clean(),
        "docs/how-to/irrigation/automate-irrigation.md",
        "status: active\n",
        "status: active\nbranch: mikado/automate-irrigation\n",
    )


def goal_branch_off_rule() -> Files:
    # The operator's rule is `mikado/<chain-stem>`; this goal names a shorter branch.
    return _replace(
        clean(),
        "docs/how-to/irrigation/automate-irrigation.md",
        "status: active\n",
        "status: active\nbranch: mikado/irrigation\n",
    )


TREES: Mapping[str, Callable[[], Files]] = {
    "clean": clean,
    "broken-link": broken_link,
    "missing-from-index": missing_from_index,
    "requires-missing": requires_missing,
    "requires-cycle": requires_cycle,
    "field-missing": field_missing,
    "no-front-matter": no_front_matter,
    "tags-empty": tags_empty,
    "tags-null": tags_null,
    "no-changelog-file": no_changelog_file,
    "goal-branch": goal_branch,
    "goal-branch-off-rule": goal_branch_off_rule,
}
