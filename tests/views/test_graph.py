"""`mikado graph`: Mermaid checked structurally, DOT rendered by Graphviz's real `dot`."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from system_tools import tool

from mikado.cli import run_cli
from mikado.config import load_config
from mikado.model.chains import Chain, Plan, State
from mikado.tree.loader import load_docs
from mikado.views.graph import PALETTE, dot, mermaid, node_ids

HOSTILE = 'Say "hi" <b>bold</b> & #35; `tick` | pipe \\N back; end'

# stem -> (status, requires, title); one card per state once the plan sees a live run.
CARDS: dict[str, tuple[str | None, list[str], str]] = {
    "done-card": (None, [], "Done Card"),
    "ready-card": ("active", ["done-card"], "Ready Card"),
    "failed-card": ("failed", ["done-card"], "Failed Card"),
    "blocked-card": ("active", ["failed-card"], "Blocked Card"),
    "running-card": ("running", ["done-card"], "Running Card"),
    "end": ("active", ["ready-card"], HOSTILE),  # waiting; `end` is a Mermaid keyword
    "a.b": ("active", ["done-card"], "Dotted"),
    "a_b": ("active", ["a.b"], "Underscored"),
    "goal": ("active", ["ready-card", "blocked-card", "running-card", "end", "a_b"], "Goal"),
    "other-goal": ("active", ["ready-card"], "Other Goal"),
}
EXPECTED_STATES = {
    "done-card": State.DONE,
    "ready-card": State.READY,
    "failed-card": State.FAILED,
    "blocked-card": State.BLOCKED,
    "running-card": State.RUNNING,
    "end": State.WAITING,
}


def write_cards(root: Path) -> None:
    for stem, (status, requires, title) in CARDS.items():
        quoted = "'" + title.replace("'", "''") + "'"
        lines = ["---", f"title: {quoted}", "modified: 2026-01-02"]
        if status:
            lines.append(f"status: {status}")
        if requires:
            lines.append("requires: [" + ", ".join(f"'{r}'" for r in requires) + "]")
        lines += ["tags: [t]", "---", "", f"# {stem}", ""]
        (root / f"{stem}.md").write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture
def plan(tmp_path: Path) -> Plan:
    docs = tmp_path / "cards"
    docs.mkdir()
    write_cards(docs)
    config = load_config(cwd=tmp_path, docs=docs)
    return Plan(load_docs(config, strict_graph=True), run_live=True)


_NODE = re.compile(r'  (c_[A-Za-z0-9_]+)(\(|\{\{)"([^"`]*)"(\)|\}\}):::([a-z]+)\Z')
_EDGE = re.compile(r"  (c_[A-Za-z0-9_]+) --> (c_[A-Za-z0-9_]+)\Z")
_CLASS = re.compile(r"  classDef ([a-z]+) (\S+)\Z")
_ENTITIES = {"quot": '"', "amp": "&", "lt": "<", "gt": ">"}


def unescape(label: str) -> list[str]:
    def entity(match: re.Match[str]) -> str:
        name = match.group(1)
        return chr(int(name)) if name.isdigit() else _ENTITIES[name]

    return [re.sub(r"#(\w+);", entity, part) for part in label.split("<br/>")]


def parse_mermaid(
    text: str,
) -> tuple[dict[str, tuple[str, list[str]]], list[tuple[str, str]], set[str]]:
    lines = text.splitlines()
    assert lines[0] == "flowchart BT"
    nodes: dict[str, tuple[str, list[str]]] = {}
    edges: list[tuple[str, str]] = []
    classes: set[str] = set()
    for line in lines[1:]:
        if node := _NODE.match(line):
            ident, _open, label, _close, state = node.groups()
            assert ident not in nodes, f"{ident} declared twice"
            # Nothing in a label may end it or open markup except our own line breaks.
            assert not set(label.replace("<br/>", "")) & set('"<>`|\\'), label
            nodes[ident] = (state, unescape(label))
        elif edge := _EDGE.match(line):
            edges.append((edge.group(1), edge.group(2)))
        elif cls := _CLASS.match(line):
            classes.add(cls.group(1))
        else:
            pytest.fail(f"unexpected Mermaid line {line!r}")
    return nodes, edges, classes


def test_mermaid_structure(plan: Plan) -> None:
    chain = plan.chain("goal")
    nodes, edges, classes = parse_mermaid(mermaid([chain]))
    ids = node_ids(card.stem for card in chain.cards)
    by_id = {ident: stem for stem, ident in ids.items()}
    assert len(set(ids.values())) == len(ids)
    assert ids["end"] != "end" and ids["a.b"] != ids["a_b"]
    # Every card once, with its stem, title and state in the label and its state's class.
    assert set(nodes) == set(ids.values())
    for ident, (state, label) in nodes.items():
        stem = by_id[ident]
        assert label[0].endswith(f" {stem}")
        assert label[1] == CARDS[stem][2]
        assert state == chain.state(stem).value
        assert label[-1].endswith(chain.state(stem).value)
    assert nodes[ids["end"]][1][1] == " ".join(HOSTILE.split())
    for stem, state in EXPECTED_STATES.items():
        assert nodes[ids[stem]][0] == state.value
    # Edges run prerequisite -> dependent, between declared nodes only.
    expected = {(ids[r], ids[c.stem]) for c in chain.cards for r in c.requires}
    assert set(edges) == expected and len(edges) == len(expected)
    assert {state.value for state in State} <= classes


def test_mermaid_of_several_chains_draws_shared_cards_once(plan: Plan) -> None:
    chains = [plan.chain("goal"), plan.chain("other-goal")]
    nodes, edges, _ = parse_mermaid(mermaid(chains))
    stems = {c.stem for chain in chains for c in chain.cards}
    assert len(nodes) == len(stems)
    assert len(edges) == len(set(edges))
    text = mermaid(chains)
    assert text.count('{{"') == 2  # both goals drawn as goals


def test_mermaid_without_chains_is_still_a_diagram() -> None:
    assert mermaid([]).splitlines()[0] == "flowchart BT"


def _svg(source: str) -> ET.Element:
    binary = tool("dot")
    done = subprocess.run(
        [binary, "-Tsvg"], input=source.encode(), capture_output=True, check=False, timeout=30
    )
    assert done.returncode == 0, done.stderr.decode()
    assert not done.stderr.strip(), done.stderr.decode()  # no syntax warnings either
    return ET.fromstring(done.stdout)


def test_dot_renders_with_graphviz(plan: Plan) -> None:
    chain = plan.chain("goal")
    svg = _svg(dot([chain]))
    ns = {"svg": "http://www.w3.org/2000/svg"}
    groups = svg.findall(".//svg:g", ns)
    node_groups = [g for g in groups if "node" in (g.get("class") or "").split()]
    edge_groups = [g for g in groups if g.get("class") == "edge"]
    assert len(node_groups) == chain.total
    assert len(edge_groups) == sum(len(c.requires) for c in chain.cards)
    ids = node_ids(c.stem for c in chain.cards)
    classes = {g.findtext("svg:title", namespaces=ns): g.get("class", "") for g in node_groups}
    for stem, state in EXPECTED_STATES.items():
        assert state.value in classes[ids[stem]].split()
    texts = ["".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    # The hostile title survives literally: no `\N` substitution, no broken string.
    assert " ".join(HOSTILE.split()) in texts
    fills = {p.get("fill") for p in svg.iter("{http://www.w3.org/2000/svg}path")}
    fills |= {p.get("fill") for p in svg.iter("{http://www.w3.org/2000/svg}polygon")}
    assert PALETTE[State.FAILED].fill in fills and PALETTE[State.DONE].fill in fills


def test_graph_command_writes_dot_for_all_open_chains(
    plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "chains.dot"
    assert run_cli(["graph", "--as", "dot", "--output", str(out)]) == 0
    # No run holds the lock here, so the command sees the `running` card as ready again.
    idle = Plan(plan.docs)
    open_chains: list[Chain] = idle.open_chains()
    assert [c.goal.stem for c in open_chains] == ["goal", "other-goal"]
    assert out.read_text(encoding="utf-8") == dot(open_chains)
    _svg(out.read_text(encoding="utf-8"))
    assert run_cli(["graph", "goal"]) == 0
    assert capsys.readouterr().out == mermaid([idle.chain("goal")])
    assert run_cli(["graph", "no-such-goal"]) == 2
    assert run_cli(["graph", "--as", "png"]) == 2
