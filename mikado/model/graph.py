"""The prerequisite graph: order, reach and cycles. networkx lives only in this module.

Ordering is a heap-driven Kahn pass written here on purpose: it is the hot path of every command
and networkx costs ~0.15 s just to import, half the start-up budget of `mikado status`. networkx
is imported only when that pass leaves nodes behind, to enumerate the cycles exactly.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence

MAX_CYCLES = 100  # past this many, one more finding says how many were left out


class Graph:
    """Cards and their ``requires`` edges; edges to unknown stems are ignored here."""

    def __init__(self, requires: Mapping[str, Sequence[str]]):
        self._requires: dict[str, tuple[str, ...]] = {
            stem: tuple(dict.fromkeys(r for r in reqs if r in requires and r != stem))
            if reqs
            else ()
            for stem, reqs in requires.items()
        }
        self._dependents: dict[str, list[str]] = {}
        for stem, reqs in self._requires.items():
            for req in reqs:
                self._dependents.setdefault(req, []).append(stem)
        self._linked_order, self._cyclic = self._kahn()
        self._order: list[str] | None = None
        self._position: dict[str, int] | None = None

    def _kahn(self) -> tuple[list[str], frozenset[str]]:
        """The order of the cards with an edge, and the cyclic ones. Most cards of a large
        tree are plain docs with no edge at all: they join the order only when it is asked
        for (see :meth:`_merged_order`)."""
        requires = self._requires
        waiting = {stem: len(reqs) for stem, reqs in requires.items() if reqs}
        waiting.update((stem, len(requires[stem])) for stem in self._dependents)
        heap = [stem for stem, count in waiting.items() if count == 0]
        heapq.heapify(heap)
        order: list[str] = []
        while heap:
            stem = heapq.heappop(heap)
            order.append(stem)
            for dependent in self._dependents.get(stem, ()):
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    heapq.heappush(heap, dependent)
        return order, frozenset(waiting.keys() - set(order))

    def _merged_order(self) -> list[str]:
        """Kahn's order over every card, smallest ready stem first. A card with no edge is
        always ready, so it comes right before the first card of the linked order that is
        greater than it: the two sorted runs merge as in a merge sort."""
        isolated = sorted(
            stem
            for stem, reqs in self._requires.items()
            if not reqs and stem not in self._dependents
        )
        linked = self._linked_order
        order: list[str] = []
        at = 0
        for stem in linked:
            while at < len(isolated) and isolated[at] < stem:
                order.append(isolated[at])
                at += 1
            order.append(stem)
        order.extend(isolated[at:])
        return order

    @property
    def order(self) -> list[str]:
        """Prerequisites before dependents; ties by stem. Cards on or behind a cycle are
        missing from it (see :attr:`cyclic`)."""
        if self._order is None:
            self._order = self._merged_order()
        return list(self._order)

    @property
    def cyclic(self) -> frozenset[str]:
        """Cards on a cycle or depending on one: they have no place in any order."""
        return self._cyclic

    def requires(self, stem: str) -> tuple[str, ...]:
        return self._requires.get(stem, ())

    def dependents(self, stem: str) -> tuple[str, ...]:
        return tuple(sorted(self._dependents.get(stem, ())))

    def reach(self, goal: str) -> set[str]:
        """The goal and every card it reaches through ``requires``."""
        seen = {goal}
        stack = [goal]
        while stack:  # iterative: a 10,000-deep chain must not hit the recursion limit
            for req in self._requires.get(stack.pop(), ()):
                if req not in seen:
                    seen.add(req)
                    stack.append(req)
        return seen

    def ordered(self, stems: Iterable[str]) -> list[str]:
        """``stems`` in :attr:`order`, without those that have no place in it."""
        # `status` orders every chain of the tree: sorting each by position costs its own
        # size, where walking the whole order per chain cost seconds at 100,000 docs.
        position = self._position
        if position is None:
            position = self._position = {stem: at for at, stem in enumerate(self.order)}
        return sorted((stem for stem in set(stems) if stem in position), key=position.__getitem__)

    def cycles(self) -> list[tuple[str, ...]]:
        """Each elementary cycle once, as ``(a, b, ..., a)`` read "a requires b requires ...",
        rotated to start at its smallest stem; sorted. At most :data:`MAX_CYCLES`."""
        if not self._cyclic:
            return []
        import networkx as nx

        digraph: nx.DiGraph[str] = nx.DiGraph()
        for stem in self._cyclic:
            digraph.add_node(stem)
            digraph.add_edges_from((stem, r) for r in self._requires[stem] if r in self._cyclic)
        found: list[tuple[str, ...]] = []
        for cycle in nx.simple_cycles(digraph):
            start = cycle.index(min(cycle))
            rotated = cycle[start:] + cycle[:start]
            found.append((*rotated, rotated[0]))
            if len(found) > MAX_CYCLES:
                break
        return sorted(found)
