"""Every shipped pipeline config is valid for the supervisor and for each worker's settings."""

import importlib
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from supervision.config import load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))

SETTINGS = {
    "workers.dialog": "workers.dialog.settings:DialogSettings",
    "workers.tts": "workers.tts.synth:TtsSettings",
    "workers.speaker": "workers.speaker.settings:SpeakerSettings",
    "workers.vad": "workers.vad.pipeline:VadSettings",
    "workers.asr": "workers.asr.settings:AsrSettings",
    "workers.llm": "workers.llm.settings:LlmSettings",
    "workers.rtgw": "workers.rtgw.gateway:GatewaySettings",
    "workers.wavsource": "workers.wavsource.settings:WavSourceSettings",
    "workers.mic": "workers.mic.settings:MicSettings",
}


def _model(ref: str) -> type[BaseModel]:
    module, name = ref.split(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_is_valid_for_the_supervisor_and_every_worker(path: Path) -> None:
    load_config(path)
    raw = yaml.safe_load(path.read_text())
    for spec in raw["workers"].values():
        ref = SETTINGS.get(spec.get("module", ""))
        if ref is not None:
            _model(ref).model_validate(spec.get("settings", {}))


def test_the_demo_pipeline_has_every_stage() -> None:
    raw = yaml.safe_load((ROOT / "configs/host.yaml").read_text())
    modules = {s.get("module") or s.get("command") for s in raw["workers"].values()}
    for needed in ("workers.wavsource", "workers.vad", "workers.asr", "workers.dialog",
                   "workers.llm", "workers.tts", "workers.speaker", "workers.rtgw",
                   "rtos/build/rtapp"):  # fmt: skip
        assert needed in modules
