"""The topic table of ``docs/protocol.md``, drawn from the registry and the shipped manifests.

One row per core topic: its model, its raw field and who produces and reads it, from the
manifests of the workers under ``workers/``, of the examples, of the supervisor and of the taps
that interpret particular topics (:mod:`supervision.catalogue`). ``python -m supervision.docgen``
writes it between the markers of the page; a test keeps the page equal to it.
"""

from __future__ import annotations

from bus.manifest import IMPLICIT_PRODUCES, Manifest, is_glob
from bus.topics import matcher
from schemas.registry import CORE_PREFIXES, registry
from supervision import catalogue

__all__ = ["BEGIN", "END", "replace_table", "table"]

BEGIN = "<!-- topic table: generated from the manifests by python -m supervision.docgen -->"
END = "<!-- end of topic table -->"


def _reads(m: Manifest, topic: str) -> bool:
    # ``*`` (echo's default, a tap's) reads everything: that is said once, below the table.
    return matcher([p for p in m.consumes if p != "*"])(topic)


def _row(topic: str) -> str:
    model = registry.model_for(topic)
    assert model is not None
    producers = [e.name for e in catalogue.in_tree() if topic in e.manifest.produces]
    if topic in catalogue.SUPERVISOR.produces:
        producers.append("supervisor")
    if topic in IMPLICIT_PRODUCES:
        producers = ["every node"]
    if topic == "sys.bus":  # the proxy's own, read by every node that may send shared memory
        producers = ["proxy"]
    readers = [e.name for e in catalogue.in_tree() if _reads(e.manifest, topic)]
    if topic == "sys.bus":
        readers.append("every node (shared memory)")
    if _reads(catalogue.SUPERVISOR, topic):
        readers.append("supervisor")
    readers += [f"{e.name} (example)" for e in catalogue.examples() if _reads(e.manifest, topic)]
    readers += [f"{name} (tap)" for name, m in catalogue.TAPS.items() if _reads(m, topic)]
    raw = f"`{model.raw_field}`" if model.raw_field else ""
    flow = f"{', '.join(producers) or '-'} -> {', '.join(readers) or '-'}"
    return f"| `{topic}` | `{model.__module__}.{model.__name__}` | {raw} | {flow} |"


def table() -> str:
    """The Markdown table, markers included."""
    rows = [topic for topic, _ in registry if topic.startswith(CORE_PREFIXES)]
    order = {p: i for i, p in enumerate(CORE_PREFIXES)}
    rows.sort(key=lambda t: (order[t.split(".", 1)[0] + "."], t))
    globbing = sorted(
        e.name for e in catalogue.in_tree() if e.manifest.topics is not None or any(
            is_glob(p) for p in e.manifest.consumes)
    )  # fmt: skip
    lines = [
        BEGIN,
        "",
        "| topic | model | raw field | producer -> consumers |",
        "| --- | --- | --- | --- |",
        *(_row(t) for t in rows),
        "",
        "Every node publishes `sys.heartbeat`, `sys.log` and `sys.metric` itself. Workers whose "
        f"topics come from their settings ({', '.join(globbing) or 'none'}) and the taps `tap`, "
        "`record` and `top` read any topic they are given (`*` by default). "
        "`python supervisor.py graph CONFIG` draws who talks to whom in one config.",
        "",
        END,
    ]
    return "\n".join(lines)


def replace_table(page: str) -> str:
    """``page`` with its generated table replaced by :func:`table`."""
    if BEGIN not in page or END not in page:
        raise ValueError(f"The page has no generated topic table (markers {BEGIN!r} ... {END!r}).")
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + table() + tail
