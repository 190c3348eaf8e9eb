"""A layered layout of a dataflow graph (pure): columns from sources to sinks, rows within.

The classic recipe (Sugiyama) in its simplest form. The graph has cycles (the dialog asks the
LLM and reads its replies), so a depth-first search from the sources finds the edges that close
a cycle; they are laid out reversed (and drawn pointing back). A node's column is then the
longest path to it. An edge spanning several columns gets a waypoint in each column between,
which takes a row like a node does, so no edge crosses a box. Rows are ordered by the mean row
of each item's neighbours, sweeping left to right and back a few times.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Chain", "Layout", "layout"]

_SWEEPS = 4


@dataclass(frozen=True)
class Chain:
    """How one edge runs: from ``left`` to ``right`` through waypoints, one per column between."""

    edge: tuple[str, str]
    """The edge as given (source, target)."""
    left: str
    right: str
    waypoints: tuple[str, ...]
    reversed: bool
    """True when the edge points from ``right`` back to ``left``."""


@dataclass(frozen=True)
class Layout:
    """Columns (left to right) of node names and waypoint ids, in row order; and the chains."""

    columns: tuple[tuple[str, ...], ...]
    chains: tuple[Chain, ...]

    def column_of(self) -> dict[str, int]:
        """Item -> its column."""
        return {item: i for i, col in enumerate(self.columns) for item in col}

    def row_of(self) -> dict[str, int]:
        """Item -> its row in its column."""
        return {item: j for col in self.columns for j, item in enumerate(col)}


def _back_edges(order: Sequence[str], succ: dict[str, list[str]]) -> set[tuple[str, str]]:
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(n: str) -> None:
        state[n] = 1
        for m in succ[n]:
            if state.get(m) == 1:
                back.add((n, m))
            elif m not in state:
                visit(m)
        state[n] = 2

    for n in order:
        if n not in state:
            visit(n)
    return back


def _columns(nodes: Sequence[str], arcs: list[tuple[str, str]]) -> dict[str, int]:
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in arcs:
        pred[b].append(a)
    column: dict[str, int] = {}

    def col(n: str) -> int:
        if n not in column:
            column[n] = 0  # the arcs are acyclic; this only guards the recursion
            column[n] = max((col(p) + 1 for p in pred[n]), default=0)
        return column[n]

    for n in nodes:
        col(n)
    return column


def layout(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> Layout:
    """Lay out ``nodes`` (in preference order: sources first) joined by ``edges``."""
    rank = {n: i for i, n in enumerate(nodes)}
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if a != b and b not in succ[a]:
            succ[a].append(b)
    for n in nodes:
        succ[n].sort(key=rank.__getitem__)
    has_pred = {b for targets in succ.values() for b in targets}
    roots = [n for n in nodes if n not in has_pred]
    back = _back_edges(roots + list(nodes), succ)
    arcs = sorted({(b, a) if (a, b) in back else (a, b) for a, b in edges if a != b})
    column = _columns(nodes, arcs)
    chains: list[Chain] = []
    item_col = dict(column)
    neighbours: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if a == b:
            continue
        rev = (a, b) in back
        left, right = (b, a) if rev else (a, b)
        ways = tuple(f"~{a}>{b}~{c}" for c in range(column[left] + 1, column[right]))
        for w, c in zip(ways, range(column[left] + 1, column[right]), strict=True):
            item_col[w] = c
            neighbours[w] = []
        path = [left, *ways, right]
        for p, q in itertools.pairwise(path):
            neighbours[p].append(q)
            neighbours[q].append(p)
        chains.append(Chain((a, b), left, right, ways, rev))
    n_cols = max(item_col.values(), default=-1) + 1
    cols: list[list[str]] = [[] for _ in range(n_cols)]
    for item in sorted(item_col, key=lambda k: rank.get(k, len(rank))):
        cols[item_col[item]].append(item)
    for sweep in range(_SWEEPS):
        order = range(n_cols) if sweep % 2 == 0 else range(n_cols - 1, -1, -1)
        side = -1 if sweep % 2 == 0 else 1
        for c in order:
            row = {item: j for col in cols for j, item in enumerate(col)}

            def weight(item: str, c: int = c, side: int = side, row: dict[str, int] = row) -> float:
                near = [m for m in neighbours[item] if item_col[m] == c + side]
                if not near:
                    return float(row[item])
                return sum(row[m] for m in near) / len(near)

            cols[c].sort(key=weight)
    return Layout(tuple(tuple(c) for c in cols), tuple(chains))
