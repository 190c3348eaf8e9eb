"""docs/protocol.md stays true: its example bytes and its topic table match the code."""

from __future__ import annotations

import re
from pathlib import Path

import schemas
from bus.framing import decode, encode
from schemas.base import Message
from schemas.registry import CORE_PREFIXES, Registry

DOC = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()


class Example(Message):
    """The model of the documented example."""

    text: str
    """Some text."""
    n: int
    """A number."""


def _doc_frame(label: str) -> bytes:
    block = DOC.split("```")[1]
    hexes: list[str] = []
    started = False
    for line in block.splitlines():
        if line.startswith(label):
            started = True
            line = line[len(label) :]
        elif line.startswith("frame"):
            started = False
        if started:
            hexes += re.findall(r"\b[0-9a-f]{2}\b", line.split('"')[0])
    return bytes.fromhex("".join(hexes))


def test_example_bytes_in_the_doc_are_what_the_encoder_writes() -> None:
    frames = encode(
        "ext.doc.example",
        Example(text="hi", n=3),
        source="w1",
        instance=0x1234ABCD,
        seq=7,
        ts_ns=1_000_000_000,
        trace="t1",
    )
    assert _doc_frame("frame 0:") == frames[0]
    assert _doc_frame("frame 1:") == frames[1]
    reg = Registry()
    reg.register("ext.doc.example", Example)
    assert decode(frames, reg).payload == Example(text="hi", n=3)


def test_topic_table_lists_every_core_topic_with_its_model() -> None:
    rows = dict(re.findall(r"^\| `([a-z.]+)` \| `schemas\.([a-z.A-Z]+)` \|", DOC, re.M))
    for topic, model in schemas.registry:
        if not topic.startswith(CORE_PREFIXES):
            continue  # ext. topics registered by other tests
        assert topic in rows, f"docs/protocol.md does not list {topic}"
        assert rows[topic] == f"{model.__module__.split('.', 1)[1]}.{model.__name__}"


def test_topic_table_is_the_one_generated_from_the_manifests() -> None:
    from supervision.docgen import COMMAND
    from supervision.topictable import replace_table

    assert replace_table(DOC) == DOC, (
        f"The topic table of docs/protocol.md differs from the workers' manifests; run {COMMAND}"
    )


def test_topic_table_says_who_produces_and_reads_what_the_code_does() -> None:
    rows = dict(re.findall(r"^\| `([a-z.]+)` \|[^|]*\|[^|]*\| (.+) \|$", DOC, re.M))
    assert rows["rtos.link"] == "rtgw -> -"  # the dialog does not read it
    assert rows["sys.lifecycle"] == "supervisor -> dialog, top (tap)"
    assert rows["speaker.stop"] == "dialog -> speaker, tts"
    assert rows["tts.audio"].startswith("tts -> dialog, speaker")
