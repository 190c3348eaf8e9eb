"""The config models: defaults, validation, and errors that name the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervision.config import (
    PROJECT_ROOT,
    SupervisorConfig,
    WorkerSpec,
    load_config,
    order_by_dependencies,
    parse_config,
    parse_workers,
)
from supervision.errors import ConfigError


def bad(data: object) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return str(info.value)


def test_unknown_keys_are_rejected_with_their_dotted_path() -> None:
    assert "workers.asr.modul: unknown key" in bad({"workers": {"asr": {"modul": "x"}}})
    assert "bus.hostt: unknown key" in bad({"bus": {"hostt": "x"}})
    assert "workers.asr.restart.max_restart: unknown key" in bad(
        {"workers": {"asr": {"module": "x", "restart": {"max_restart": 3}}}}
    )
    assert "heartbeat: unknown key" in bad({"heartbeat": 500})


def test_tcp_without_keys_is_refused_with_a_clear_error() -> None:
    msg = bad({"bus": {"mode": "tcp"}})
    assert "bus: tcp mode needs CURVE keys (unauthenticated tcp is refused)" in msg
    assert "python -m bus.curve keygen" in msg


def test_tcp_with_missing_key_files_is_refused_at_start(tmp_path: Path) -> None:
    from supervision.buslayout import BusLayout

    cfg = parse_config(
        {
            "bus": {
                "mode": "tcp",
                "curve": {
                    "server_secret": str(tmp_path / "bus.key_secret"),
                    "server_public": str(tmp_path / "bus.key"),
                    "clients_dir": str(tmp_path),
                    "client_secret": str(tmp_path / "me.key_secret"),
                },
            }
        }
    )
    with pytest.raises(ConfigError, match="bus.curve: CURVE key file .* does not exist"):
        BusLayout.from_config(cfg.bus)


def test_shared_memory_is_on_from_64_kib_on_ipc_unless_the_bus_section_turns_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bus.nodeconfig import SHM_MIN_BYTES
    from supervision.buslayout import BusLayout

    monkeypatch.setenv("VOICEBUS_RUNTIME_DIR", str(tmp_path))
    default = BusLayout.from_config(parse_config({}).bus)
    assert SHM_MIN_BYTES == 65536
    assert default.node_config("w", 500).shm_min_bytes == SHM_MIN_BYTES
    assert default.bus_file_data(500)["shm_min_bytes"] == SHM_MIN_BYTES
    off = BusLayout.from_config(parse_config({"bus": {"shm_min_bytes": 0}}).bus)
    assert off.node_config("w", 500).shm_min_bytes == 0
    assert off.bus_file_data(500)["shm_min_bytes"] == 0
    curve = {"server_secret": "a", "server_public": "b", "clients_dir": "c", "client_secret": "d"}
    assert "shm_min_bytes needs an ipc bus" in bad(
        {"bus": {"mode": "tcp", "shm_min_bytes": 65536, "curve": curve}}
    )
    tcp = parse_config({"bus": {"mode": "tcp", "curve": curve}}).bus  # the default is no error
    assert tcp.shm_min_bytes == SHM_MIN_BYTES


def test_the_shared_memory_hold_reaches_every_node_and_is_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bus.nodeconfig import SHM_HOLD_MS
    from supervision.buslayout import BusLayout

    monkeypatch.setenv("VOICEBUS_RUNTIME_DIR", str(tmp_path))
    default = BusLayout.from_config(parse_config({"bus": {"shm_min_bytes": 65536}}).bus)
    assert default.node_config("w", 500).shm_hold_ms == SHM_HOLD_MS
    on = BusLayout.from_config(
        parse_config({"bus": {"shm_min_bytes": 65536, "shm_hold_ms": 250}}).bus
    )
    assert on.node_config("w", 500).shm_hold_ms == 250
    assert on.bus_file_data(500)["shm_hold_ms"] == 250
    assert "bus.shm_hold_ms" in bad({"bus": {"shm_hold_ms": -1}})
    assert "bus.shm_hold_ms" in bad({"bus": {"shm_hold_ms": "soon"}})
    assert "bus.shm_hold_ms" in bad({"bus": {"shm_hold_ms": 60_001}})


def test_worker_needs_exactly_one_program() -> None:
    assert "exactly one of 'module'" in bad({"workers": {"w": {}}})
    assert "exactly one of 'module'" in bad({"workers": {"w": {"module": "a", "command": "b"}}})
    assert "standby works for 'module' workers only" in bad(
        {"workers": {"w": {"command": "b", "standby": True}}}
    )


def test_dependencies_must_exist_and_not_loop() -> None:
    assert "workers.b.depends_on: no worker named 'zz'" in bad(
        {"workers": {"b": {"module": "x", "depends_on": ["zz"]}}}
    )
    msg = bad(
        {
            "workers": {
                "a": {"module": "x", "depends_on": ["b"]},
                "b": {"module": "x", "depends_on": ["a"]},
            }
        }
    )
    assert "dependency cycle a -> b -> a" in msg


def test_order_puts_dependencies_first() -> None:
    cfg = parse_config(
        {
            "workers": {
                "c": {"module": "x", "depends_on": ["b"]},
                "b": {"module": "x", "depends_on": ["a"]},
                "a": {"module": "x"},
                "d": {"module": "x"},
            }
        }
    )
    assert order_by_dependencies(cfg.workers) == ["a", "b", "c", "d"]


def test_cpus_heartbeat_and_names_are_checked() -> None:
    assert "workers.w.cpus: must be 'big', 'little'" in bad(
        {"workers": {"w": {"module": "x", "cpus": "medium"}}}
    )
    assert "workers.w.cpus" in bad({"workers": {"w": {"module": "x", "cpus": [-1]}}})
    assert "workers.w.heartbeat_timeout_s" in bad(
        {"heartbeat_ms": 2000, "workers": {"w": {"module": "x"}}}
    )
    assert "'supervisor' is reserved" in bad({"workers": {"supervisor": {"module": "x"}}})
    assert "workers.w.sched_fifo" in bad({"workers": {"w": {"module": "x", "sched_fifo": 100}}})


def test_defaults_and_shorthands() -> None:
    spec = WorkerSpec(module="workers.echo")
    assert spec.readiness == "heartbeat" and spec.heartbeat_timeout_s == 3.0
    assert WorkerSpec(command="rtos/build/rtapp").readiness == "started"
    cfg = parse_config({"workers": {"w": {"module": "x", "restart": "always", "cpus": [3, 1, 1]}}})
    assert cfg.workers["w"].restart.policy == "always"
    assert cfg.workers["w"].cpus == (1, 3)
    assert cfg.heartbeat_ms == 500 and cfg.bus.mode == "ipc"
    with pytest.raises(Exception, match="frozen"):
        cfg.heartbeat_ms = 1


def test_snippets_for_add_are_validated_like_the_file() -> None:
    specs = parse_workers("late: {module: workers.echo, depends_on: [echo]}", {"echo"}, 500)
    assert specs["late"].depends_on == ("echo",)
    with pytest.raises(ConfigError, match="workers.late.cpu: unknown key"):
        parse_workers("late: {module: x, cpu: [0]}", set(), 500)
    with pytest.raises(ConfigError, match="already exists"):
        parse_workers("echo: {module: x}", {"echo"}, 500)
    with pytest.raises(ConfigError, match="must map worker names"):
        parse_workers("- a\n- b\n", set(), 500)
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_workers("a: {module: [", set(), 500)


def test_load_config_reports_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("workers:\n  w:\n    module: x\n    nicee: 3\n")
    with pytest.raises(ConfigError, match=r"c.yaml: workers.w.nicee: unknown key"):
        load_config(path)
    with pytest.raises(ConfigError, match="Cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_every_config_in_configs_validates() -> None:
    paths = sorted((PROJECT_ROOT / "configs").glob("*.yaml"))
    assert paths
    for path in paths:
        assert isinstance(load_config(path), SupervisorConfig)
