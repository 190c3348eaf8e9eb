"""The bus as a graph: nodes (what publishes or reads on it), edges (the topics between them,
or a link outside the bus) and what is wrong with the wiring.

Pure: the nodes come from :mod:`supervision.dataflow` (configs and manifests); here they are
joined. A consumed topic that no node produces is an error (a warning for workers added at run
time, whose producers may attach later); a produced topic that no node reads, nor one of the
taps that interpret it (:data:`supervision.catalogue.TAPS`), is a warning. Every Python node also
publishes ``sys.heartbeat``, ``sys.log`` and ``sys.metric``; edges for those are drawn only to a
node that names them without a glob (every node beats to the supervisor: not drawn).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from bus.manifest import IMPLICIT_PRODUCES, Manifest, WorkerKind, is_glob
from bus.topics import matcher
from supervision import catalogue
from supervision.config import SupervisorConfig

__all__ = ["OUTSIDE_SUFFIX", "Dataflow", "Edge", "Node", "Origin", "check_topics", "join"]

Origin = Literal["worker", "supervisor", "peer", "external", "outside"]
#: Name of the node drawn for the far side of a gateway that no worker of the config links to.
OUTSIDE_SUFFIX = ":outside"


@dataclass(frozen=True)
class Node:
    """One box of the graph: something that publishes or reads on the bus."""

    name: str
    origin: Origin
    kind: WorkerKind
    summary: str
    program: str
    """The module or command (or the peer's config file)."""
    consumes: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    implicit: bool = False
    """Publishes ``sys.heartbeat``, ``sys.log`` and ``sys.metric`` (a Python node)."""
    bridge: str = ""
    link: str | None = None
    path: str = ""
    """Where it is declared, for messages (``workers.vad``)."""


@dataclass(frozen=True)
class Edge:
    """Topics from one node to another, or a link outside the bus (``topics`` empty)."""

    source: str
    target: str
    topics: tuple[str, ...] = ()
    bridge: str = ""
    """For a link: what carries it (the gateway's ``bridge``)."""


@dataclass
class Dataflow:
    """Nodes, edges and problems of one config."""

    where: str
    config: SupervisorConfig | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing refuses the config (warnings allowed)."""
        return not self.errors


def link(df: Dataflow) -> None:
    """Edges for ``link:`` declarations, and the far side of a gateway nobody links to."""
    linked: set[str] = set()
    for node in list(df.nodes.values()):
        if node.link is None:
            continue
        gateway = df.nodes.get(node.link)
        if gateway is None or not gateway.bridge:
            gateways = sorted(n.name for n in df.nodes.values() if n.bridge) or ["none"]
            df.errors.append(
                f"{node.path}.manifest.link: {node.link!r} is not a gateway of this config "
                f"(gateways: {', '.join(gateways)})"
            )
            continue
        linked.add(gateway.name)
        df.edges.append(Edge(gateway.name, node.name, bridge=gateway.bridge))
    for node in list(df.nodes.values()):
        if node.bridge and node.origin == "worker" and node.name not in linked:
            far = node.name + OUTSIDE_SUFFIX
            what = f"What {node.name} bridges the bus to ({node.bridge})."
            df.nodes[far] = Node(far, "outside", "stage", what, node.name, path=node.path)
            df.edges.append(Edge(node.name, far, bridge=node.bridge))


def _produces(node: Node) -> tuple[str, ...]:
    return node.produces + (IMPLICIT_PRODUCES if node.implicit else ())


def _readers(topic: str, nodes: Iterable[Node], explicit_only: bool) -> list[Node]:
    """Nodes that read ``topic``; an implicit topic only where named without a glob."""
    out = []
    for n in nodes:
        patterns = [p for p in n.consumes if not (explicit_only and is_glob(p))]
        if matcher(patterns)(topic):
            out.append(n)
    return out


def connect(df: Dataflow) -> None:
    """One edge per (producer, consumer) with the topics between them."""
    local = ("worker", "supervisor")
    pairs: dict[tuple[str, str], list[str]] = {}
    for src in df.nodes.values():
        for topic in _produces(src):
            implicit = topic in IMPLICIT_PRODUCES
            for dst in _readers(topic, df.nodes.values(), explicit_only=implicit):
                if dst.name == src.name or (src.origin not in local and dst.origin not in local):
                    continue
                if implicit and dst.origin == "supervisor":
                    continue  # every node beats to the supervisor: not drawn
                pairs.setdefault((src.name, dst.name), []).append(topic)
    for (src_name, dst_name), topics in pairs.items():
        df.edges.append(Edge(src_name, dst_name, tuple(topics)))


def _hint(found: Callable[[Manifest], bool], verb: str) -> str:
    names = [e.where for e in catalogue.shipped() if found(e.manifest)]
    return f" ({verb} by {', '.join(names)})" if names else ""


def _producing(topic: str) -> Callable[[Manifest], bool]:
    return lambda m: topic in m.produces


def _reading(topic: str) -> Callable[[Manifest], bool]:
    return lambda m: matcher(m.consumes)(topic)


def check_topics(df: Dataflow, consumers_missing: Literal["error", "warning"]) -> None:
    """A consumed topic that nothing produces, a produced topic that nothing reads."""
    nodes = list(df.nodes.values())
    readers_of_taps = list(catalogue.TAPS.values())
    for node in nodes:
        if node.origin != "worker":
            continue
        for pattern in node.consumes:
            match = matcher([pattern])
            if any(match(t) for n in nodes if n.name != node.name for t in _produces(n)):
                continue
            hint = "" if is_glob(pattern) else _hint(_producing(pattern), "produced")
            df_list = df.errors if consumers_missing == "error" else df.warnings
            df_list.append(
                f"{node.path}: consumes {pattern}, which nothing on this bus produces{hint}; add "
                "the worker that does, or declare where it comes from under 'external:' (or "
                "bus.peers for another board)"
            )
        for topic in node.produces:
            others = [n for n in nodes if n.name != node.name]
            if _readers(topic, others, explicit_only=False):
                continue
            if any(matcher(m.consumes)(topic) for m in readers_of_taps):
                continue
            hint = _hint(_reading(topic), "read")
            df.warnings.append(f"{node.path}: produces {topic}, which nothing here reads{hint}")


def join(df: Dataflow, consumers_missing: Literal["error", "warning"]) -> None:
    """Links, edges and the topic checks of ``df``'s nodes, in that order."""
    link(df)
    connect(df)
    check_topics(df, consumers_missing)
