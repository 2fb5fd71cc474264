"""The generated benchmark corpus: clean when asked, and with defects exactly its manifest."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from mikado.checks.gate import check_docs
from mikado.config import load_config
from mikado.tree.loader import load_docs

PROJECT = Path(__file__).resolve().parents[2]


def gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_docs", PROJECT / "benchmarks" / "gen_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_docs"] = module
    spec.loader.exec_module(module)
    return module


def test_findings_on_a_corpus_with_defects_equal_its_manifest(tmp_path: Path) -> None:
    # 1,500 docs: enough for the worker pool to take part
    manifest = gen_docs().generate(tmp_path / "tree", 1500, seed=7, defects=True)
    assert json.loads((tmp_path / "tree" / "manifest.json").read_text()) == manifest
    report = check_docs(load_config(cwd=tmp_path / "tree"))
    found = [
        {"rule": f.rule, "severity": f.severity.value, "path": f.path, "line": f.line,
         "target": f.target}
        for f in report.findings
    ]  # fmt: skip
    key = lambda f: (f["path"], f["line"] or 0, f["rule"], f["target"] or "")  # noqa: E731
    assert sorted(found, key=key) == manifest
    assert {f["rule"] for f in manifest} >= {
        "frontmatter-missing", "frontmatter-invalid", "field-missing", "field-type",
        "field-misplaced", "status-invalid", "duplicate-stem", "requires-missing",
        "requires-self", "cycle", "branch-name", "done-requires-open", "broken-link",
        "ambiguous-link", "path-link", "spaced-link", "orphan", "index-missing",
        "action-missing",
    }  # fmt: skip
    assert report.docs > 1500


def test_a_clean_corpus_has_no_findings_and_real_chains(tmp_path: Path) -> None:
    assert gen_docs().generate(tmp_path / "tree", 600, seed=3) == []
    config = load_config(cwd=tmp_path / "tree")
    assert check_docs(config).findings == ()
    docs = load_docs(config, strict_graph=True)
    cards = [card for card in docs.cards.values() if card.is_mikado]
    assert 0.05 < len(cards) / len(docs.paths) < 0.12
    depths = {}
    for stem in docs.graph.order:
        requires = docs.graph.requires(stem)
        depths[stem] = 1 + max((depths[r] for r in requires), default=0)
    assert max(depths.values()) >= 3
    shared = [s for s in docs.cards if len(docs.graph.dependents(s)) > 1]
    assert shared  # some prerequisites serve several cards
