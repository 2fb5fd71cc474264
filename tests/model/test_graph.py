from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mikado.model.graph import Graph

_STEMS = st.sampled_from([f"s{n:02d}" for n in range(24)] + ["a", "zz"])


def _smallest_ready_first(requires: dict[str, list[str]]) -> list[str]:
    """Kahn's order by definition: again and again, the smallest stem whose known
    prerequisites are all placed."""
    placed: list[str] = []
    left = set(requires)
    while True:
        ready = [
            stem
            for stem in left
            if all(r in placed or r not in requires or r == stem for r in requires[stem])
        ]
        if not ready:
            return placed
        placed.append(min(ready))
        left.remove(min(ready))


@given(st.dictionaries(_STEMS, st.lists(_STEMS, max_size=3), max_size=20))
def test_order_takes_the_smallest_ready_stem_first(requires: dict[str, list[str]]) -> None:
    graph = Graph(requires)
    assert graph.order == _smallest_ready_first(requires)
    assert graph.cyclic == frozenset(requires) - set(graph.order)


def test_order_puts_prerequisites_first_and_breaks_ties_by_stem() -> None:
    graph = Graph({"goal": ("b", "a"), "a": ("c",), "b": (), "c": (), "z": ()})
    assert graph.order == ["b", "c", "a", "goal", "z"]


def test_order_is_independent_of_insertion_order() -> None:
    requires = {"goal": ("x", "y"), "x": ("leaf",), "y": ("leaf",), "leaf": ()}
    reversed_requires = dict(reversed(list(requires.items())))
    assert Graph(requires).order == Graph(reversed_requires).order == ["leaf", "x", "y", "goal"]


def test_reach_follows_requires_through_a_diamond() -> None:
    graph = Graph({"g": ("a", "b"), "a": ("s",), "b": ("s",), "s": (), "other": ()})
    assert graph.reach("g") == {"g", "a", "b", "s"}
    assert graph.ordered(graph.reach("g")) == ["s", "a", "b", "g"]
    assert graph.dependents("s") == ("a", "b")


def test_unknown_and_self_requirements_do_not_enter_the_graph() -> None:
    graph = Graph({"a": ("a", "missing")})
    assert graph.order == ["a"]
    assert graph.cycles() == []


def test_cycles_are_listed_once_each_from_their_smallest_stem() -> None:
    graph = Graph({"b": ("a",), "a": ("b",), "c": ("d",), "d": ("e",), "e": ("c",), "f": ("a",)})
    assert graph.cycles() == [("a", "b", "a"), ("c", "d", "e", "c")]
    assert graph.cyclic == {"a", "b", "c", "d", "e", "f"}
    assert "f" not in graph.order


def test_a_ten_thousand_deep_chain_needs_no_recursion() -> None:
    depth = 10_000
    requires = {f"c{i:05d}": (f"c{i + 1:05d}",) for i in range(depth)}
    requires[f"c{depth:05d}"] = ()
    graph = Graph(requires)
    assert graph.order[0] == f"c{depth:05d}" and graph.order[-1] == "c00000"
    assert len(graph.reach("c00000")) == depth + 1
