"""The dataflow check: a config against its workers' manifests, every problem at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from supervision.config import PROJECT_ROOT, parse_config
from supervision.dataflow import Dataflow, analyse, inspect_file


def check(data: dict[str, Any]) -> Dataflow:
    return analyse(parse_config(data, defer_checks=True))


def test_every_problem_is_reported_at_once_with_its_dotted_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "workers:\n"
        "  vad:\n"
        "    module: workers.vad\n"
        "    depends_on: [mic]\n"
        "    settings: {hangover_ms: -5, aggresiveness: 2}\n"
        "  wav:\n"
        "    module: workers.wavsource\n"
        "    settings: {files: [a.wav], frame_ms: 25}\n"
    )
    df = inspect_file(path)
    assert not df.ok
    joined = "\n".join(df.errors)
    assert "workers.vad.depends_on: no worker named 'mic'" in joined
    assert "workers.vad.settings.hangover_ms: Input should be greater than or equal to 10" in joined
    assert "workers.vad.settings.aggresiveness: unknown key (check its spelling)" in joined
    assert "workers.wav.settings.frame_ms: frame_ms must be 10, 20 or 30" in joined


def test_unknown_keys_are_reported_before_the_manifests(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("workers:\n  vad: {module: workers.vad, cpu: big}\n  x: {modul: y}\n")
    df = inspect_file(path)
    assert df.config is None
    assert "workers.vad.cpu: unknown key (check its spelling)" in df.errors
    assert "workers.x.modul: unknown key (check its spelling)" in df.errors


def test_a_consumed_topic_that_nothing_produces_is_an_error_naming_who_would() -> None:
    df = check(
        {"workers": {"asr": {"module": "workers.asr"}, "dialog": {"module": "workers.dialog"}}}
    )
    (err,) = [e for e in df.errors if "vad.segment" in e]
    assert err.startswith("workers.asr: consumes vad.segment, which nothing on this bus produces")
    assert "(produced by workers.vad)" in err and "external:" in err


def test_an_external_declaration_or_a_peer_board_provides_the_topic(tmp_path: Path) -> None:
    # the ASR reads the open segment at each pause too (speculative, its default)
    ext = {"probe": {"kind": "source", "produces": ["vad.segment", "vad.partial"]}}
    assert check({"workers": {"asr": {"module": "workers.asr"}}, "external": ext}).ok
    peer = tmp_path / "a.yaml"
    peer.write_text("workers:\n  vad: {module: workers.vad}\n  dialog: {module: workers.dialog}\n")
    curve = {
        k: str(tmp_path / k)
        for k in ("server_secret", "server_public", "clients_dir", "client_secret")
    }
    bus = {"mode": "tcp", "curve": curve, "peers": [str(peer)]}
    df = check({"bus": bus, "workers": {"asr": {"module": "workers.asr"}}})
    assert df.ok, df.errors
    assert not df.warnings  # asr.text is read by the peer's dialog
    assert df.nodes["vad"].origin == "peer"


def test_peers_need_a_tcp_bus() -> None:
    with pytest.raises(Exception, match="peers share a bus across boards"):
        parse_config({"bus": {"peers": ["configs/two-boards.yaml"]}})


def test_a_produced_topic_nobody_reads_is_a_warning_unless_a_tap_reads_it() -> None:
    df = check({"workers": {"vad": {"module": "workers.vad"}}, "external": {
        "mic": {"kind": "source", "produces": ["audio.frame"]}}})  # fmt: skip
    assert df.ok
    assert any(
        w.startswith("workers.vad: produces vad.segment, which nothing here reads")
        for w in df.warnings
    )
    # dialog.turn is read by the taps top and metrics: no warning for it
    df = check({"workers": {"dialog": {"module": "workers.dialog"}}})
    assert not any("dialog.turn" in w for w in df.warnings)
    assert any("dialog.state" in w and "examples/state_led" in w for w in df.warnings)


def test_a_worker_without_a_manifest_is_told_how_to_add_one() -> None:
    df = check({"workers": {
        "plain": {"module": "tests.supervision.workers.relay"},
        "pkg": {"module": "tests.supervision.workers"},
        "gone": {"module": "workers.nosuch"},
        "cmd": {"command": "sleep", "args": ["1"]},
    }})  # fmt: skip
    errors = "\n".join(df.errors)
    assert (
        "workers.plain.manifest: module tests.supervision.workers.relay has no manifest" in errors
    )
    assert "'manifest: tests.supervision.workers.relay_manifest'" in errors
    assert (
        "workers.pkg.manifest: package tests.supervision.workers has no manifest module" in errors
    )
    assert "workers.gone.manifest: no module named 'workers.nosuch'" in errors
    assert "workers.cmd.manifest: a command declares its dataflow in the config" in errors


def test_a_worker_that_takes_no_settings_refuses_them() -> None:
    spec = {"module": "tests.supervision.workers.crash", "settings": {"x": 1},
            "manifest": "tests.supervision.workers.manifests:CRASH"}  # fmt: skip
    df = check({"workers": {"c": spec}})
    assert "workers.c.settings: this worker takes no settings" in df.errors[0]


def test_echo_consumes_the_globs_of_its_settings_and_refuses_an_unknown_topic() -> None:
    ext = {"src": {"kind": "source", "produces": ["audio.frame"]}}
    echo = {"module": "workers.echo", "settings": {"topics": ["audio.*"]}}
    df = check({"workers": {"echo": echo}, "external": ext})
    assert df.ok and df.nodes["echo"].consumes == ("audio.*",)
    assert [(e.source, e.target, e.topics) for e in df.edges] == [("src", "echo", ("audio.frame",))]
    df = check(
        {"workers": {"echo": {"module": "workers.echo", "settings": {"topics": ["asr.txt"]}}}}
    )
    assert (
        "workers.echo.settings: Manifest consumes 'asr.txt', which is not a registered"
        in df.errors[0]
    )
    df = check({"workers": {"echo": {"module": "workers.echo", "settings": {"topics": ["vad.*"]}}}})
    assert "workers.echo: consumes vad.*, which nothing on this bus produces" in df.errors[0]


def test_the_rtapp_is_linked_to_the_gateway_by_shared_memory_not_by_the_bus() -> None:
    df = inspect_file(PROJECT_ROOT / "configs" / "host.yaml")
    assert df.ok, df.errors
    links = [e for e in df.edges if e.bridge]
    assert [(e.source, e.target, e.bridge) for e in links] == [
        ("rtgw", "rtapp", "IVMR shared memory")
    ]
    assert not any(e.topics and "rtapp" in (e.source, e.target) for e in df.edges)
    # On the board the RT side is another VM: the graph shows the far side of the gateway.
    df = inspect_file(PROJECT_ROOT / "configs" / "rock5b.yaml")
    assert ("rtgw", "rtgw:outside") in [(e.source, e.target) for e in df.edges if e.bridge]


def test_a_link_must_name_a_gateway() -> None:
    car = {"command": "sleep", "manifest": {"kind": "stage", "link": "vad"}}
    ext = {"mic": {"kind": "source", "produces": ["audio.frame"]}}
    df = check({"workers": {"car": car, "vad": {"module": "workers.vad"}}, "external": ext})
    assert "workers.car.manifest.link: 'vad' is not a gateway of this config" in df.errors[0]


def test_the_dialog_reads_lifecycle_events_from_the_supervisor() -> None:
    df = inspect_file(PROJECT_ROOT / "configs" / "host.yaml")
    assert ("supervisor", "dialog", ("sys.lifecycle",)) in [
        (e.source, e.target, e.topics) for e in df.edges
    ]
    assert "rtos.link" not in df.nodes["dialog"].consumes


def test_an_out_of_tree_manifest_is_imported_from_the_workers_cwd() -> None:
    spec = {"module": "spotter", "cwd": "examples/keyword_spotter", "manifest": "spotter_manifest"}
    ext = {"asr": {"kind": "source", "produces": ["asr.text"]}}
    df = check({"workers": {"spotter": {**spec, "settings": {"keywords": []}}}, "external": ext})
    assert "workers.spotter.settings.keywords: List should have at least 1 item" in df.errors[0]
    df = check({"workers": {"spotter": spec}, "external": ext})
    assert df.ok and df.nodes["spotter"].produces == ("ext.spotter.keyword",)


def test_manifest_modules_import_no_heavy_library() -> None:
    heavy = ["numpy", "scipy", "webrtcvad", "pyaudio", "faster_whisper", "llama_cpp",
             "sentencepiece", "kaldi_native_fbank", "onnxruntime", "ctranslate2"]  # fmt: skip
    code = (
        "import sys\n"
        "from supervision.dataflow import inspect_file\n"
        "for c in ('host', 'rock5b', 'two-boards', 'two-boards-asr', 'demo'):\n"
        "    inspect_file(__import__('pathlib').Path(f'configs/{c}.yaml'))\n"
        "from supervision import catalogue\n"
        "catalogue.shipped()\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    # numpy only when a frame_ms is validated (wavsource/mic settings), never for importing.
    assert done.stdout.strip() in ("[]", "['numpy']"), done.stdout
    code_import_only = (
        "import sys\nfrom supervision import catalogue\ncatalogue.shipped()\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code_import_only], cwd=PROJECT_ROOT, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "[]", done.stdout
