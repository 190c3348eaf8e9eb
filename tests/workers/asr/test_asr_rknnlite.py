"""The rknnlite runtime against a fake ``rknnlite.api`` module that records every call."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.workers.asr.conftest import EXPECTED_TEXT, FakeSenseVoice
from workers.asr.backends import open_recognizer
from workers.asr.errors import InferenceError, RuntimeUnavailable
from workers.asr.runtimes import RknnLiteRuntime
from workers.asr.settings import AsrSettings


class Plan:
    """What the fake returns: codes of load_rknn / init_runtime, and inference's result."""

    def __init__(self) -> None:
        self.load_ret = 0
        self.init_ret = 0
        self.outputs: Any = None  # a list, None, or a callable of the input tensor
        self.instances: list[FakeRKNNLite] = []


class FakeRKNNLite:
    """Records calls like the real class's API; returns what the test planted in ``plan``."""

    NPU_CORE_AUTO, NPU_CORE_0, NPU_CORE_1, NPU_CORE_2 = 0, 1, 2, 4
    NPU_CORE_0_1, NPU_CORE_0_1_2, NPU_CORE_ALL = 3, 7, 0xFFFF
    plan = Plan()

    def __init__(self, verbose: bool = False, verbose_file: str | None = None) -> None:
        self.calls: list[tuple[str, Any]] = [("__init__", verbose)]
        self.plan.instances.append(self)

    def load_rknn(self, path: str, key_path: str | None = None) -> int:
        self.calls.append(("load_rknn", path))
        return self.plan.load_ret

    def init_runtime(self, target: Any = None, device_id: Any = None, async_mode: bool = False,
                     core_mask: int = 0) -> int:  # fmt: skip
        self.calls.append(("init_runtime", core_mask))
        return self.plan.init_ret

    def inference(self, inputs: list[np.ndarray], **kw: Any) -> list[np.ndarray] | None:
        self.calls.append(("inference", [(x.shape, x.dtype) for x in inputs]))
        planted = self.plan.outputs
        return planted(inputs[0]) if callable(planted) else planted

    def release(self) -> None:
        self.calls.append(("release", None))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def fake_rknnlite(monkeypatch: pytest.MonkeyPatch) -> Plan:
    """Install a fake ``rknnlite.api`` module for one test; returns its fresh :class:`Plan`."""
    plan = Plan()
    package = types.ModuleType("rknnlite")
    api = types.ModuleType("rknnlite.api")
    api.RKNNLite = type("RKNNLite", (FakeRKNNLite,), {"plan": plan})  # type: ignore[attr-defined]
    package.api = api  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rknnlite", package)
    monkeypatch.setitem(sys.modules, "rknnlite.api", api)
    return plan


def test_load_init_with_core_mask_inference_release(fake_rknnlite: Plan, tmp_path: Path) -> None:
    planted = np.ones((1, 30, 171), dtype=np.float32)
    fake_rknnlite.outputs = [planted]
    rt = RknnLiteRuntime(tmp_path / "m.rknn", core_mask="0_1_2")
    x = np.zeros((1, 171, 560), dtype=np.float32)
    assert rt.run(x) is not None
    np.testing.assert_array_equal(rt.run(x), planted)
    rt.close()
    rt.close()
    (npu,) = fake_rknnlite.instances
    assert npu.calls[:3] == [
        ("__init__", False),
        ("load_rknn", str(tmp_path / "m.rknn")),
        ("init_runtime", 7),
    ]
    assert npu.calls[3] == ("inference", [((1, 171, 560), np.dtype(np.float32))])
    assert npu.names()[-1] == "release" and npu.names().count("release") == 1


@pytest.mark.parametrize(
    ("mask", "value"), [("auto", 0), ("0", 1), ("1", 2), ("2", 4), ("all", 0xFFFF)]
)
def test_core_mask_comes_from_config(fake_rknnlite: Plan, mask: str, value: int) -> None:
    RknnLiteRuntime(Path("m.rknn"), core_mask=mask)  # type: ignore[arg-type]
    assert ("init_runtime", value) in fake_rknnlite.instances[0].calls


def test_load_failure_raises_and_releases(fake_rknnlite: Plan) -> None:
    fake_rknnlite.load_ret = -1
    with pytest.raises(RuntimeUnavailable, match=r"load_rknn\(m.rknn\) returned -1"):
        RknnLiteRuntime(Path("m.rknn"))
    assert fake_rknnlite.instances[0].names() == ["__init__", "load_rknn", "release"]


def test_init_failure_raises_naming_the_core_mask_and_releases(fake_rknnlite: Plan) -> None:
    fake_rknnlite.init_ret = -1
    with pytest.raises(
        RuntimeUnavailable, match=r"init_runtime\(core_mask=NPU_CORE_0\) returned -1"
    ):
        RknnLiteRuntime(Path("m.rknn"))
    assert fake_rknnlite.instances[0].names()[-1] == "release"


@pytest.mark.parametrize("planted", [None, [], [None]], ids=["None", "empty", "None-output"])
def test_inference_without_output_raises(fake_rknnlite: Plan, planted) -> None:
    fake_rknnlite.outputs = planted
    rt = RknnLiteRuntime(Path("m.rknn"))
    with pytest.raises(InferenceError, match="returned no output"):
        rt.run(np.zeros((1, 171, 560), dtype=np.float32))


def test_missing_rknnlite_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rknnlite", None)
    monkeypatch.setitem(sys.modules, "rknnlite.api", None)
    with pytest.raises(RuntimeUnavailable, match=r"only for aarch64 Linux.*sensevoice-onnx"):
        RknnLiteRuntime(Path("m.rknn"))


def test_whole_pipeline_on_the_fake_npu(
    fake_rknnlite: Plan, fake_sensevoice: FakeSenseVoice
) -> None:
    fake_rknnlite.outputs = lambda x: [fake_sensevoice.logits(x)]
    settings = AsrSettings.model_validate(
        {
            "backend": "sensevoice-rknn",
            "language": "en",
            "use_itn": False,
            "sensevoice": {"model_dir": fake_sensevoice.dir, "core_mask": "1"},
        }
    )
    recognizer = open_recognizer(settings)
    audio = fake_sensevoice.tone_audio(EXPECTED_TEXT).astype(np.float32) / 32768
    t = recognizer.transcribe(audio)
    assert (t.text, t.language, t.emotion, t.event, t.itn) == (
        EXPECTED_TEXT,
        "en",
        "HAPPY",
        "Speech",
        False,
    )
    assert recognizer.name == "sensevoice-rknnlite"
    npu = fake_rknnlite.instances[0]
    assert ("init_runtime", 2) in npu.calls
    assert ("inference", [((1, 171, 560), np.dtype(np.float32))]) in npu.calls
    recognizer.close()
    assert npu.names()[-1] == "release"
