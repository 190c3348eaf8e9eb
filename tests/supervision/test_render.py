"""The dataflow drawn: layered layout, Mermaid text and the SVG picture."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from supervision import render
from supervision.cli import main
from supervision.config import PROJECT_ROOT
from supervision.dataflow import inspect_file
from supervision.graphlayout import layout

SVG = "{http://www.w3.org/2000/svg}"


def test_layout_puts_each_edge_left_to_right_and_reverses_the_cycles() -> None:
    lay = layout(["mic", "vad", "dialog", "llm"], [
        ("mic", "vad"), ("vad", "dialog"), ("dialog", "llm"), ("llm", "dialog"), ("mic", "dialog"),
    ])  # fmt: skip
    col = lay.column_of()
    assert [col[n] for n in ("mic", "vad", "dialog", "llm")] == [0, 1, 2, 3]
    chains = {c.edge: c for c in lay.chains}
    assert chains[("llm", "dialog")].reversed and not chains[("dialog", "llm")].reversed
    assert (chains[("llm", "dialog")].left, chains[("llm", "dialog")].right) == ("dialog", "llm")
    # mic -> dialog spans a column: one waypoint there, in a row of its own
    (way,) = chains[("mic", "dialog")].waypoints
    assert col[way] == 1 and way in lay.columns[1]


def test_layout_of_a_graph_without_edges_is_one_column() -> None:
    lay = layout(["a", "b"], [])
    assert lay.columns == (("a", "b"),) and lay.chains == ()


def test_the_svg_has_a_box_per_node_and_a_line_per_edge() -> None:
    df = inspect_file(PROJECT_ROOT / "configs" / "host.yaml")
    root = ET.fromstring(render.svg(df))
    assert root.tag == f"{SVG}svg"
    names = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "name"]
    nodes, edges = render.drawn(df)
    assert sorted(names) == sorted(n.name for n in nodes)
    assert "rtapp" in names and "supervisor" in names
    lines = [p for p in root.iter(f"{SVG}path") if p.get("class") in ("edge", "link")]
    assert len(lines) == len(edges)
    labels = {t.text for t in root.iter(f"{SVG}text") if t.get("class") == "label"}
    assert {
        "audio.frame",
        "vad.segment, vad.partial",
        "IVMR shared memory",
        "llm.delta, llm.reply, llm.wait",
    } <= labels


def test_mermaid_declares_every_node_and_edge_with_its_topics() -> None:
    df = inspect_file(PROJECT_ROOT / "configs" / "host.yaml")
    text = render.mermaid(df)
    assert text.startswith("flowchart LR\n")
    assert '  wavsource -->|"audio.frame"| vad' in text
    assert '  llm -->|"llm.delta<br/>llm.reply<br/>llm.wait"| dialog' in text
    assert '  rtgw <==>|"IVMR shared memory"| rtapp' in text
    assert '  rtgw{{"rtgw<br/><small>gateway · workers.rtgw</small>"}}' in text


def test_other_boards_workers_are_drawn_dashed() -> None:
    df = inspect_file(PROJECT_ROOT / "configs" / "two-boards-asr.yaml")
    text = render.mermaid(df)
    assert '  vad -.->|"vad.segment<br/>vad.partial"| asr' in text
    assert "  class " in text and "vad" in text.rsplit("  class ", 1)[1]
    assert "stage · another board" in render.text(df)


@pytest.mark.parametrize(
    "path", sorted((PROJECT_ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name
)
def test_graph_draws_every_shipped_config(path: Path, tmp_path: Path) -> None:
    assert main(["graph", str(path), "--out", str(tmp_path)]) == 0
    root = ET.fromstring((tmp_path / f"{path.stem}.svg").read_text())
    names = {t.text for t in root.iter(f"{SVG}text") if t.get("class") == "name"}
    workers = set(inspect_file(path).config.workers)  # type: ignore[union-attr]
    assert workers <= names
    mmd = (tmp_path / f"{path.stem}.mmd").read_text()
    assert all(f"  {w}" in mmd for w in workers)
