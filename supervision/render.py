"""``supervisor.py graph``: a dataflow as text, as Mermaid and as an SVG picture.

Only what is drawn differs between the three; all come from one :class:`~supervision.dataflow.
Dataflow`. Boxes are the workers of the config (dashed: another board's workers and declared
``external:`` ones), edges the topics between them; the ``sys.heartbeat``/``sys.log``/
``sys.metric`` that every node publishes are left out. A gateway's link outside the bus (the
rtgw's shared-memory rings to the RT-Thread application) is a double line. The SVG needs no
library: columns from :mod:`supervision.graphlayout`, boxes and curves written by hand.
"""

from __future__ import annotations

import itertools
import re
from html import escape

from supervision.busgraph import Dataflow, Edge, Node
from supervision.graphlayout import Layout, layout

__all__ = ["drawn", "mermaid", "svg", "text"]

_KIND_ORDER = {"source": 0, "stage": 2, "gateway": 3, "sink": 4}
_ORIGIN_ORDER = {"external": 0, "supervisor": 1, "worker": 2, "peer": 2, "outside": 5}
_MERMAID_SHAPES = {
    "source": ('(["', '"])'),
    "stage": ('["', '"]'),
    "sink": ('[/"', '"/]'),
    "gateway": ('{{"', '"}}'),
}
_RESERVED = {"end", "graph", "subgraph", "flowchart", "style", "class", "classdef", "click"}
IMPLICIT_NOTE = "sys.heartbeat, sys.log and sys.metric (from every node) are not drawn"


def drawn(df: Dataflow) -> tuple[list[Node], list[Edge]]:
    """The nodes worth drawing (every worker, anything with an edge), sources first."""
    ends = {e.source for e in df.edges} | {e.target for e in df.edges}
    names = list(df.nodes)
    nodes = [n for n in df.nodes.values() if n.origin == "worker" or n.name in ends]
    nodes.sort(
        key=lambda n: (
            _ORIGIN_ORDER[n.origin],
            _KIND_ORDER[n.kind] if n.origin != "outside" else 9,
            names.index(n.name),
        )
    )
    return nodes, list(df.edges)


def _title(n: Node) -> str:
    return "outside" if n.origin == "outside" else n.name


def _caption(n: Node) -> str:
    if n.origin == "outside":
        return f"beyond {n.program}, off the bus"
    where = {"peer": "another board", "external": "external"}.get(n.origin, n.program)
    return f"{n.kind} · {where}" if where else n.kind


def text(df: Dataflow) -> str:
    """The dataflow as lines: each node, then each edge."""
    nodes, edges = drawn(df)
    place = _placement(nodes, edges)
    width = max((len(n.name) for n in nodes), default=0)
    out = [f"{df.where}: {len(nodes)} nodes, {len(edges)} edges"]
    for n in sorted(nodes, key=lambda n: place[n.name]):
        out.append(f"  {n.name:<{width}}  {_caption(n):<36} {n.summary}".rstrip())
    out.append("")
    for e in sorted(edges, key=lambda e: (place[e.source], place[e.target])):
        if e.bridge:
            out.append(f"  {e.source} <=={e.bridge}==> {e.target}")
        else:
            out.append(f"  {e.source} --{', '.join(e.topics)}--> {e.target}")
    out.append(f"  ({IMPLICIT_NOTE})")
    return "\n".join(out)


def _id(name: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return ident + "_" if ident.lower() in _RESERVED else ident


def mermaid(df: Dataflow) -> str:
    """A Mermaid ``flowchart`` of the dataflow (GitHub renders it in Markdown)."""
    nodes, edges = drawn(df)
    place = _placement(nodes, edges)
    lines = ["flowchart LR"]
    for n in sorted(nodes, key=lambda n: place[n.name]):
        label = f"{escape(_title(n))}<br/><small>{escape(_caption(n))}</small>"
        if n.origin == "outside":
            lines.append(f'  {_id(n.name)}>"{label}"]')
        elif n.origin == "supervisor":
            lines.append(f'  {_id(n.name)}[["{label}"]]')
        else:
            open_, close = _MERMAID_SHAPES[n.kind]
            lines.append(f"  {_id(n.name)}{open_}{label}{close}")
    for e in sorted(edges, key=lambda e: (place[e.source], place[e.target])):
        a, b = _id(e.source), _id(e.target)
        if e.bridge:
            lines.append(f'  {a} <==>|"{escape(e.bridge)}"| {b}')
        else:
            dotted = {df.nodes[e.source].origin, df.nodes[e.target].origin} & {"peer", "external"}
            arrow = "-.->" if dotted else "-->"
            lines.append(f'  {a} {arrow}|"{"<br/>".join(e.topics)}"| {b}')
    dashed = [_id(n.name) for n in nodes if n.origin in ("peer", "external", "outside")]
    if dashed:
        lines.append("  classDef other stroke-dasharray: 5 5")
        lines.append(f"  class {','.join(dashed)} other")
    return "\n".join(lines) + "\n"


def _layout(nodes: list[Node], edges: list[Edge]) -> Layout:
    return layout([n.name for n in nodes], [(e.source, e.target) for e in edges])


def _placement(nodes: list[Node], edges: list[Edge]) -> dict[str, tuple[int, int]]:
    lay = _layout(nodes, edges)
    col, row = lay.column_of(), lay.row_of()
    return {n.name: (col[n.name], row[n.name]) for n in nodes}


# --- SVG -------------------------------------------------------------------------------------

_BOX_H = 46
_PORT_GAP = 17
_WAY_H = 18
_GAP_Y = 22
_PAD = 24
_LABEL_CHAR_W = 6.3
_FILL = {"source": "#e3f2fd", "stage": "#f1f8e9", "sink": "#fff8e1", "gateway": "#fce4ec"}
_STYLE = (
    ".box{stroke:#546e7a;stroke-width:1.2}.name{font:bold 13px sans-serif;text-anchor:middle}"
    ".caption{font:11px sans-serif;fill:#455a64;text-anchor:middle}"
    ".edge{fill:none;stroke:#78909c;stroke-width:1.4}"
    ".link{fill:none;stroke:#6d4c41;stroke-width:6}.link-in{fill:none;stroke:#fff;stroke-width:2}"
    ".label{font:10.5px monospace;fill:#263238}"
)


def _box_w(n: Node) -> float:
    return max(len(_title(n)) * 8.0, len(_caption(n)) * 6.0) + 24


def _label(e: Edge) -> str:
    return e.bridge or ", ".join(e.topics)


def svg(df: Dataflow) -> str:
    """The dataflow as a standalone SVG document."""
    nodes, edges = drawn(df)
    by_name = {n.name: n for n in nodes}
    label_of = {(e.source, e.target): _label(e) for e in edges}
    lay = _layout(nodes, edges)
    # Ports: where each chain leaves a box (right side) and enters one (left side).
    out_ports: dict[str, list[int]] = {}
    in_ports: dict[str, list[int]] = {}
    for k, ch in enumerate(lay.chains):
        out_ports.setdefault(ch.left, []).append(k)
        in_ports.setdefault(ch.right, []).append(k)

    def height(item: str) -> float:
        if item not in by_name:
            return _WAY_H
        ports = max(len(out_ports.get(item, [])), len(in_ports.get(item, [])))
        return max(_BOX_H, _PORT_GAP * ports + 12)

    widest_label = max((len(s) for s in label_of.values()), default=0) * _LABEL_CHAR_W
    gap_x = max(90.0, widest_label + 36)
    col_w = [
        max((_box_w(by_name[i]) for i in c if i in by_name), default=40.0) for c in lay.columns
    ]
    col_x = [_PAD + sum(col_w[:i]) + gap_x * i for i in range(len(col_w))]
    col_h = [sum(height(i) for i in c) + _GAP_Y * (len(c) - 1) for c in lay.columns]
    tallest = max(col_h, default=0.0)
    box: dict[str, tuple[float, float, float, float]] = {}  # x, y, w, h
    for i, c in enumerate(lay.columns):
        y = _PAD + (tallest - col_h[i]) / 2
        for item in c:
            h = height(item)
            w = _box_w(by_name[item]) if item in by_name else col_w[i]
            box[item] = (col_x[i] + (col_w[i] - w) / 2, y, w, h)
            y += h + _GAP_Y
    port_y: dict[tuple[int, str], float] = {}
    for ports, side in ((out_ports, "out"), (in_ports, "in")):
        for item, ks in ports.items():
            x, y, w, h = box[item]

            def other(k: int, side: str = side) -> float:
                ch = lay.chains[k]
                path = [ch.left, *ch.waypoints, ch.right]
                near = path[1] if side == "out" else path[-2]
                return box[near][1] + box[near][3] / 2

            ks.sort(key=other)
            for j, k in enumerate(ks):
                port_y[(k, side)] = y + h * (j + 1) / (len(ks) + 1)
    parts: list[str] = []
    labels: list[str] = []
    for k, ch in enumerate(lay.chains):
        points = [(box[ch.left][0] + box[ch.left][2], port_y[(k, "out")])]
        for way in ch.waypoints:
            x, y, bw, bh = box[way]
            points += [(x, y + bh / 2), (x + bw, y + bh / 2)]
        points.append((box[ch.right][0], port_y[(k, "in")]))
        d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
        for j, ((x1, y1), (x2, y2)) in enumerate(itertools.pairwise(points)):
            if j % 2 == 0:  # across a gap between columns
                cx = (x1 + x2) / 2
                d += f" C{cx:.1f},{y1:.1f} {cx:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            else:  # through a column, beside its boxes
                d += f" L{x2:.1f},{y2:.1f}"
        source, target = ch.edge
        edge = next(e for e in edges if (e.source, e.target) == ch.edge)
        if edge.bridge:
            parts.append(f'<path d="{d}" class="link"/><path d="{d}" class="link-in"/>')
        else:
            marker = "marker-start" if ch.reversed else "marker-end"
            parts.append(f'<path d="{d}" class="edge" {marker}="url(#arrow)"/>')
        # The label sits by the producer's end of the edge.
        if ch.reversed:
            (lx, ly), anchor = points[-1], "end"
            lx -= 8
        else:
            (lx, ly), anchor = points[0], "start"
            lx += 8
        labels.append(
            f'<text x="{lx:.1f}" y="{ly - 4:.1f}" class="label" text-anchor="{anchor}" '
            f'paint-order="stroke" stroke="#fff" stroke-width="3">'
            f"{escape(label_of[(source, target)])}</text>"
        )
    for n in nodes:
        x, y, w, h = box[n.name]
        dashed = ' stroke-dasharray="5 4"' if n.origin in ("peer", "external", "outside") else ""
        fill = "#f5f5f5" if n.origin in ("outside", "supervisor") else _FILL[n.kind]
        mid = y + h / 2
        parts.append(
            f'<g><title>{escape(n.summary)}</title><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
            f'height="{h:.1f}" rx="8" fill="{fill}" class="box"{dashed}/>'
            f'<text x="{x + w / 2:.1f}" y="{mid - 4:.1f}" class="name">{escape(_title(n))}</text>'
            f'<text x="{x + w / 2:.1f}" y="{mid + 12:.1f}" class="caption">'
            f"{escape(_caption(n))}</text></g>"
        )
    width = (col_x[-1] + col_w[-1] + _PAD) if col_w else 2 * _PAD
    total_h = _PAD + tallest + 40
    note = (
        f'<text x="{_PAD}" y="{total_h - 12:.1f}" class="caption" text-anchor="start">'
        f"{escape(df.where)}: {IMPLICIT_NOTE}</text>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {width:.0f} {total_h:.0f}">\n'
        f"<style>{_STYLE}</style>\n"
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#78909c"/></marker></defs>\n'
        '<rect width="100%" height="100%" fill="#fff"/>\n'
        + "\n".join(parts + labels + [note])
        + "\n</svg>\n"
    )
