"""The shipped manifests tell the truth about their workers' code."""

from __future__ import annotations

import re

import pytest

import schemas  # noqa: F401  (registers every core topic)
from schemas.registry import registry
from supervision import catalogue
from supervision.config import PROJECT_ROOT

IMPLICIT = {"sys.heartbeat", "sys.log", "sys.metric"}


@pytest.mark.parametrize("entry", catalogue.in_tree(), ids=lambda e: e.name)
def test_every_topic_a_workers_code_names_is_in_its_manifest(entry: catalogue.Entry) -> None:
    topics = {t for t, _ in registry}
    declared = set(entry.manifest.consumes) | set(entry.manifest.produces) | IMPLICIT
    folder = PROJECT_ROOT / "workers" / entry.name
    named: dict[str, str] = {}
    for path in folder.rglob("*.py"):
        if path.name != "manifest.py":
            for topic in set(re.findall(r'"([a-z]+\.[a-z_]+)"', path.read_text())) & topics:
                named.setdefault(topic, str(path.relative_to(PROJECT_ROOT)))
    missing = {t: where for t, where in named.items() if t not in declared}
    assert not missing, f"topics named in the code but not in workers/{entry.name}/manifest.py"


def test_the_catalogue_has_every_worker_and_example() -> None:
    assert [e.name for e in catalogue.in_tree()] == sorted(
        p.parent.name for p in (PROJECT_ROOT / "workers").glob("*/__main__.py")
    )
    assert {e.name for e in catalogue.examples()} == {"spotter", "state_led"}
