"""docs/dataflow.md and its picture are the graph of configs/host.yaml as the manifests draw it."""

from __future__ import annotations

import pytest

from supervision.config import PROJECT_ROOT
from supervision.docgen import COMMAND, PAGES, main


@pytest.mark.parametrize("page", ["docs/dataflow.md", "docs/dataflow-host.svg"])
def test_the_generated_page_is_current(page: str) -> None:
    path = PROJECT_ROOT / page
    assert path.exists(), f"{page} is missing; run {COMMAND}"
    assert path.read_text() == PAGES[page](), f"{page} is out of date; run {COMMAND}"


def test_the_page_shows_the_mermaid_graph_and_the_picture() -> None:
    text = (PROJECT_ROOT / "docs" / "dataflow.md").read_text()
    assert "```mermaid\nflowchart LR\n" in text
    assert "![the dataflow of configs/host.yaml](dataflow-host.svg)" in text
    assert '  rtgw <==>|"IVMR shared memory"| rtapp' in text


def test_docgen_check_reports_a_stale_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PAGES, "docs/dataflow.md", lambda: "something else\n")
    assert main(["--check"]) == 1
