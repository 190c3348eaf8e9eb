"""CLI helpers: the status table and how ``add`` reads its argument."""

from __future__ import annotations

import json
from pathlib import Path

from supervision.cli import _snippet, format_table, main


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


def test_add_takes_a_file_inline_yaml_or_a_module(tmp_path: Path) -> None:
    f = tmp_path / "w.yaml"
    f.write_text("w: {module: x}\n")
    assert _snippet(str(f), None) == "w: {module: x}\n"
    assert _snippet("w: {module: x}", None) == "w: {module: x}"
    assert json.loads(_snippet("workers.echo", None)) == {"echo": {"module": "workers.echo"}}
    assert json.loads(_snippet("workers.echo", "e2")) == {"e2": {"module": "workers.echo"}}


def test_check_validates_configs(tmp_path: Path, capsys: object) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("workers: {w: {module: workers.echo, cpus: big}}\n")
    assert main(["check", str(good)]) == 0
    typo = tmp_path / "typo.yaml"
    typo.write_text("workers: {w: {module: workers.echo, cpu: big}}\n")
    assert main(["check", str(typo)]) == 2


def test_tcp_without_keys_is_refused_by_the_cli(tmp_path: Path) -> None:
    cfg = tmp_path / "tcp.yaml"
    cfg.write_text("bus: {mode: tcp}\n")
    assert main([str(cfg)]) == 2
