"""CLI helpers: the status table and how ``add`` reads its argument."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supervision.cli import _snippet, format_table, main
from supervision.config import PROJECT_ROOT


def row(**kw: object) -> dict[str, object]:
    base = {
        "name": "echo",
        "state": "ready",
        "pid": 42,
        "cpus": [0, 1, 2],
        "restarts": 1,
        "uptime_s": 75.0,
        "last_exit": -9,
        "last_exit_text": "killed by SIGKILL",
        "detail": "",
    }
    return {**base, **kw}


def test_status_table_has_the_columns_and_a_line_for_failures() -> None:
    failed = row(name="asr", state="failed", pid=None, cpus=None, uptime_s=None,
                 detail="gave up after 5 restarts in 60 s")  # fmt: skip
    lines = format_table([row(), failed]).splitlines()
    assert lines[0].split() == [
        "NAME",
        "STATE",
        "PID",
        "CPUS",
        "RESTARTS",
        "UPTIME",
        "LAST",
        "EXIT",
    ]
    assert lines[1].split() == [
        "echo",
        "ready",
        "42",
        "0-2",
        "1",
        "1m15s",
        "killed",
        "by",
        "SIGKILL",
    ]
    assert lines[2].split()[:4] == ["asr", "failed", "-", "all"]
    assert lines[3] == "asr: failed: gave up after 5 restarts in 60 s"


def test_status_table_shows_the_reason_a_worker_gave_for_its_exit() -> None:
    why = "No model at /m.rkllm; copy it there."
    failed = row(name="llm", state="failed", last_exit=2, reason=why,
                 detail=f"cannot run as configured: {why} (fix it, then ...)")  # fmt: skip
    backoff = row(name="asr", state="backoff", last_exit=1, reason="KeyError: 'x'",
                  detail="restart 1/5 in 0.10 s")  # fmt: skip
    lines = format_table([failed, backoff]).splitlines()
    assert lines[3] == f"llm: failed: cannot run as configured: {why} (fix it, then ...)"
    assert lines[4] == "asr: backoff: restart 1/5 in 0.10 s; its last exit: KeyError: 'x'"


def test_add_takes_a_file_inline_yaml_or_a_module(tmp_path: Path) -> None:
    f = tmp_path / "w.yaml"
    f.write_text("w: {module: x}\n")
    assert _snippet(str(f), None) == "w: {module: x}\n"
    assert _snippet("w: {module: x}", None) == "w: {module: x}"
    assert json.loads(_snippet("workers.echo", None)) == {"echo": {"module": "workers.echo"}}
    assert json.loads(_snippet("workers.echo", "e2")) == {"e2": {"module": "workers.echo"}}


def test_check_validates_configs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("workers: {w: {module: workers.echo, cpus: big}}\n")
    assert main(["check", str(good)]) == 0
    assert f"{good}: ok (1 workers, bus ipc)" in capsys.readouterr().out
    typo = tmp_path / "typo.yaml"
    typo.write_text("workers: {w: {module: workers.echo, cpu: big}}\n")
    assert main(["check", str(typo)]) == 2


def test_check_lists_every_problem_and_the_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "workers:\n"
        "  vad: {module: workers.vad, depends_on: [mic], settings: {hangover_ms: -5}}\n"
        "  car: {command: rtos/build/rtapp}\n"
    )
    assert main(["check", str(bad), str(PROJECT_ROOT / "configs" / "host.yaml")]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{bad}: refused, 4 error(s):"
    assert "  error: workers.vad.depends_on: no worker named 'mic' (known: car, vad)" in out
    assert any(o.startswith("  error: workers.vad.settings.hangover_ms: ") for o in out)
    assert any(o.startswith("  error: workers.car.manifest: a command declares") for o in out)
    assert any(
        o.startswith("  error: workers.vad: consumes audio.frame, which nothing") for o in out
    )
    assert any(o.startswith("  warning: workers.vad: produces vad.segment") for o in out)
    assert any(o.endswith("host.yaml: ok (9 workers, bus ipc), 2 warning(s)") for o in out)


def test_every_shipped_config_passes_check(capsys: pytest.CaptureFixture[str]) -> None:
    configs = sorted(str(p) for p in (PROJECT_ROOT / "configs").glob("*.yaml"))
    assert main(["check", *configs]) == 0, capsys.readouterr().out


def test_graph_prints_the_dataflow_and_writes_mermaid_and_svg(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = PROJECT_ROOT / "configs" / "host.yaml"
    assert main(["graph", str(host), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "  wavsource --audio.frame--> vad" in out
    assert "  rtgw <==IVMR shared memory==> rtapp" in out
    assert (tmp_path / "host.mmd").read_text().startswith("flowchart LR\n")
    assert (tmp_path / "host.svg").read_text().startswith("<svg ")


def test_graph_of_a_refused_config_still_draws_but_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("workers: {vad: {module: workers.vad}}\n")
    assert main(["graph", str(bad), "--out", str(tmp_path)]) == 2
    assert (tmp_path / "bad.svg").exists()


def test_run_refuses_a_bad_config_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    vad = "{module: workers.vad, settings: {hangover_ms: -5}}"
    bad.write_text(f"bus: {{runtime_dir: {tmp_path / 'run'}}}\nworkers: {{vad: {vad}}}\n")
    assert main([str(bad)]) == 2
    assert "workers.vad.settings.hangover_ms" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # not even the runtime directory


def test_tcp_without_keys_is_refused_by_the_cli(tmp_path: Path) -> None:
    cfg = tmp_path / "tcp.yaml"
    cfg.write_text("bus: {mode: tcp}\n")
    assert main([str(cfg)]) == 2
