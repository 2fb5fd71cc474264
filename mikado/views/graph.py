"""Chains as pictures (`mikado graph`): Mermaid for Markdown hosts, DOT for Graphviz.

Nodes are cards, labelled with stem, title and state and coloured by state; edges run from a
prerequisite to its dependent, so arrows follow the order work happens in. Several chains are
drawn as one graph in which a shared prerequisite appears once.

Card titles are user text: every label is escaped for its language, and node ids are derived
from stems but restricted to ``[A-Za-z0-9_]`` (plus a prefix that keeps them clear of keywords
such as Mermaid's ``end``), so no title or stem can break the diagram or inject syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mikado.model.card import Card
from mikado.model.chains import Chain, State
from mikado.views.status import MARKS

FORMATS = ("mermaid", "dot")


@dataclass(frozen=True, slots=True)
class Palette:
    fill: str
    stroke: str
    text: str


# Readable on light and dark page backgrounds: pale fills with dark text.
PALETTE: Mapping[State, Palette] = {
    State.DONE: Palette("#d3f9d8", "#2b8a3e", "#1b4d2a"),
    State.READY: Palette("#d0ebff", "#1971c2", "#0b3a66"),
    State.WAITING: Palette("#f1f3f5", "#868e96", "#343a40"),
    State.RUNNING: Palette("#fff3bf", "#e67700", "#5c3c00"),
    State.FAILED: Palette("#ffe3e3", "#c92a2a", "#5c1111"),
    State.BLOCKED: Palette("#f3d9fa", "#862e9c", "#3d1447"),
}


@dataclass(frozen=True, slots=True)
class Node:
    card: Card
    state: State
    is_goal: bool


@dataclass(frozen=True, slots=True)
class Picture:
    """What both renderers draw: nodes in run order and prerequisite → dependent edges."""

    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]


def picture(chains: Iterable[Chain]) -> Picture:
    nodes: dict[str, Node] = {}
    goals: set[str] = set()
    for chain in chains:
        goals.add(chain.goal.stem)
        for card in chain.cards:
            nodes.setdefault(card.stem, Node(card, chain.state(card.stem), False))
    edges: list[tuple[str, str]] = []
    for stem, node in nodes.items():
        for required in dict.fromkeys(node.card.requires):
            if required in nodes and required != stem:
                edges.append((required, stem))
    ordered = tuple(Node(node.card, node.state, node.card.stem in goals) for node in nodes.values())
    return Picture(ordered, tuple(edges))


def node_ids(stems: Iterable[str]) -> dict[str, str]:
    """A distinct safe id per stem, readable where the stem allows it."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for stem in stems:
        base = "c_" + re.sub(r"[^A-Za-z0-9_]", "_", stem)
        candidate, suffix = base, 1
        while candidate in taken:
            suffix += 1
            candidate = f"{base}_{suffix}"
        taken.add(candidate)
        ids[stem] = candidate
    return ids


def _label_lines(node: Node) -> list[str]:
    lines = [f"{MARKS[node.state]} {node.card.stem}"]
    if node.card.title and node.card.title != node.card.stem:
        lines.append(node.card.title)
    lines.append(f"{'goal · ' if node.is_goal else ''}{node.state.value}")
    return lines


def _single_line(text: str) -> str:
    return " ".join(text.split())


# --- Mermaid ---------------------------------------------------------------------------------

_MERMAID_ENTITIES = {
    "#": "#35;",
    '"': "#quot;",
    "&": "#amp;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",
    "|": "#124;",
    "\\": "#92;",
}


def mermaid_escape(text: str) -> str:
    """Text safe inside a quoted Mermaid label: Mermaid entity codes for every character
    that could end the label, start markup or be read as HTML."""
    return "".join(_MERMAID_ENTITIES.get(ch, ch) for ch in _single_line(text))


def mermaid(chains: Iterable[Chain]) -> str:
    """A ``flowchart`` that GitHub and Forgejo render inside a ```` ```mermaid ```` fence.

    Bottom to top: the goal sits on top and arrows climb from the leaves towards it."""
    drawing = picture(chains)
    ids = node_ids(node.card.stem for node in drawing.nodes)
    lines = ["flowchart BT"]
    if not drawing.nodes:
        lines.append("  %% no open chains")
    for node in drawing.nodes:
        label = "<br/>".join(mermaid_escape(part) for part in _label_lines(node))
        # A goal is a hexagon, every other card a rounded box.
        shape = ('{{"', '"}}') if node.is_goal else ('("', '")')
        lines.append(f"  {ids[node.card.stem]}{shape[0]}{label}{shape[1]}:::{node.state.value}")
    for source, target in drawing.edges:
        lines.append(f"  {ids[source]} --> {ids[target]}")
    for state, colours in PALETTE.items():
        lines.append(
            f"  classDef {state.value} fill:{colours.fill},stroke:{colours.stroke},"
            f"color:{colours.text},stroke-width:2px"
        )
    return "\n".join(lines) + "\n"


# --- DOT -------------------------------------------------------------------------------------


def dot_escape(text: str) -> str:
    """Text safe inside a double-quoted DOT string (an escString): backslash and quote are
    escaped so no ``\\N``/``\\G`` substitution or early end of string can happen."""
    return _single_line(text).replace("\\", "\\\\").replace('"', '\\"')


def dot(chains: Iterable[Chain]) -> str:
    """A ``digraph`` for ``dot -Tsvg`` (or any Graphviz layout)."""
    drawing = picture(chains)
    ids = node_ids(node.card.stem for node in drawing.nodes)
    lines = [
        "digraph mikado {",
        "  rankdir=BT;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", penwidth=2];',
        '  edge [color="#495057"];',
    ]
    for node in drawing.nodes:
        colours = PALETTE[node.state]
        label = "\\n".join(dot_escape(part) for part in _label_lines(node))
        shape = ", shape=hexagon" if node.is_goal else ""
        lines.append(
            f'  {ids[node.card.stem]} [label="{label}", fillcolor="{colours.fill}", '
            f'color="{colours.stroke}", fontcolor="{colours.text}", '
            f'class="{node.state.value}", tooltip="{dot_escape(node.card.path)}"{shape}];'
        )
    for source, target in drawing.edges:
        lines.append(f"  {ids[source]} -> {ids[target]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(chains: Iterable[Chain], as_: str) -> str:
    if as_ == "dot":
        return dot(chains)
    return mermaid(chains)
