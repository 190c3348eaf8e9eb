"""Every shipped pipeline config is valid for the supervisor and for each worker's manifest.

The settings models come from the workers' manifests (no table of them here): a new worker is
covered as soon as it has a manifest, and a config whose settings its worker would refuse fails
here, not at start on the board.
"""

from pathlib import Path

import pytest

from supervision.config import PROJECT_ROOT, read_config
from supervision.dataflow import inspect_file
from supervision.manifests import manifest_of

CONFIGS = sorted((PROJECT_ROOT / "configs").glob("*.yaml"))
WORKERS = sorted(p.parent.name for p in (PROJECT_ROOT / "workers").glob("*/__main__.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_is_valid_for_the_supervisor_and_every_workers_manifest(path: Path) -> None:
    df = inspect_file(path)
    assert df.ok, "\n".join(df.errors)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_module_worker_of_a_config_has_a_settings_model(path: Path) -> None:
    for name, spec in read_config(path).workers.items():
        if spec.module is not None and spec.module.startswith("workers."):
            manifest = manifest_of(spec, None)
            assert manifest.settings is not None, f"{path.name}: workers.{name}"
            manifest.settings.model_validate(spec.settings)


def test_every_worker_package_has_a_manifest() -> None:
    assert WORKERS  # the glob found the packages
    for name in WORKERS:
        assert (PROJECT_ROOT / "workers" / name / "manifest.py").is_file(), name


def test_the_demo_pipeline_has_every_stage() -> None:
    cfg = read_config(PROJECT_ROOT / "configs" / "host.yaml")
    programs = {s.module or s.command for s in cfg.workers.values()}
    for needed in ("workers.wavsource", "workers.vad", "workers.asr", "workers.dialog",
                   "workers.llm", "workers.tts", "workers.speaker", "workers.rtgw",
                   "rtos/build/rtapp"):  # fmt: skip
        assert needed in programs
