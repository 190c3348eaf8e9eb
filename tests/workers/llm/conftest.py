"""Fixtures of the LLM worker tests: the rkllm stand-in library, compiled here with gcc."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def compile_c(
    source: Path, out: Path, abi: str, *, shared: bool = True, version: str | None = None
) -> Path:
    """Compile a C file against rkllm_stub.h for ABI ``"1.2"`` or ``"1.3"``.

    ``version`` is the runtime version the stand-in library reports ("" = no version string;
    None = the default of the ABI, 1.3.0 or 1.2.3).
    """
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the rkllm stand-in; apt-get install gcc.")
    flags = ["-shared", "-fPIC"] if shared else []
    cmd = [
        "gcc",
        *flags,
        "-O1",
        "-Wall",
        "-Werror",
        f"-DRKLLM_ABI={abi.replace('.', '')}",
        *(
            []
            if version is None
            else ["-DFAKE_RKLLM_NO_VERSION"]
            if version == ""
            else [f'-DFAKE_RKLLM_VERSION="{version}"']
        ),
        f"-I{HERE}",
        "-o",
        str(out),
        str(source),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


def _unescape(value: str) -> str:
    """Undo the stand-in's escaping of newlines and backslashes in recorded strings."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append("\n" if value[i + 1] == "n" else value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


class FakeRkllm:
    """The compiled stand-in librkllmrt.so and its test hooks."""

    def __init__(self, path: Path, abi: str) -> None:
        self.path = path
        self.abi = abi
        self.lib = ctypes.CDLL(str(path))
        self.lib.fake_plant.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self.lib.fake_record.restype = ctypes.c_char_p

    def plant(self, tokens: list[str], delay_us: int = 0) -> None:
        """Tokens to stream on the next run ("~WAIT" = a WAITING callback)."""
        self.lib.fake_plant("\n".join(tokens).encode(), delay_us)

    def reset(self) -> None:
        self.lib.fake_reset()

    def record(self) -> dict[str, str]:
        """Every ``key=value`` the library recorded (the last value of each key)."""
        text = (self.lib.fake_record() or b"").decode()
        pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
        return {k: _unescape(v) for k, v in pairs}

    def count(self, key: str) -> int:
        """How many times ``key`` was recorded."""
        text = (self.lib.fake_record() or b"").decode()
        return sum(1 for line in text.splitlines() if line.startswith(key + "="))

    @property
    def abort_calls(self) -> int:
        return int(self.lib.fake_abort_calls())

    @property
    def abort_in_callback(self) -> int:
        """rkllm_abort calls made from inside the result callback."""
        return int(self.lib.fake_abort_in_callback())


@pytest.fixture(scope="session", params=["1.3", "1.2"])
def fake_rkllm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> FakeRkllm:
    """The stand-in library for each supported ABI."""
    abi = request.param
    out = tmp_path_factory.mktemp(f"rkllm{abi}") / "librkllmrt.so"
    compile_c(HERE / "fake_rkllm.c", out, abi)
    return FakeRkllm(out, abi)


@pytest.fixture
def rkllm_model(tmp_path: Path) -> Path:
    """A model file for the stand-in (its content is never read)."""
    path = tmp_path / "model.rkllm"
    path.write_bytes(b"not a real model")
    return path
