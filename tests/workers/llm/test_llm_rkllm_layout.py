"""Every ctypes field offset and struct size of both rkllm ABIs equals the C compiler's."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import pytest

from tests.workers.llm.conftest import HERE, compile_c
from workers.llm.backends.rkllm_abi import ABIS


def field_paths(cls: type, prefix: str = "", base: int = 0) -> list[tuple[str, int]]:
    """(C member designator, offset) of every field, nested structs and unions included."""
    out: list[tuple[str, int]] = []
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for name, ctype, *_ in cls._fields_:  # type: ignore[attr-defined]
        offset = base + getattr(cls, name).offset
        is_record = isinstance(ctype, type) and issubclass(ctype, ctypes.Structure | ctypes.Union)
        if name in anonymous:
            out += field_paths(ctype, prefix, offset)
            continue
        path = f"{prefix}{name}"
        out.append((path, offset))
        if is_record:
            out += field_paths(ctype, f"{path}.", offset)
    return out


@pytest.mark.parametrize("abi", sorted(ABIS))
def test_ctypes_layout_matches_the_c_header(abi: str, tmp_path: Path) -> None:
    structs = ABIS[abi].structs
    lines = ['#include "rkllm_stub.h"', "#include <stdio.h>", "int main(void) {"]
    expected: list[str] = []
    for cname, cls in structs.items():
        lines.append(f'printf("{cname} sizeof %zu\\n", sizeof({cname}));')
        expected.append(f"{cname} sizeof {ctypes.sizeof(cls)}")
        for path, offset in field_paths(cls):
            lines.append(f'printf("{cname} {path} %zu\\n", offsetof({cname}, {path}));')
            expected.append(f"{cname} {path} {offset}")
    lines.append("return 0; }")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = compile_c(src, tmp_path / "layout", abi, shared=False)
    got = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n")
    assert [g for g in got if g] == expected
    assert len(expected) > 100  # the walk really reached the nested members


def test_the_two_abis_really_differ_where_the_header_changed() -> None:
    p13, p12 = ABIS["1.3"].structs["RKLLMParam"], ABIS["1.2"].structs["RKLLMParam"]
    assert ctypes.sizeof(p13) != ctypes.sizeof(p12)
    assert hasattr(p13, "ignore_eos_token") and not hasattr(p12, "ignore_eos_token")
    assert hasattr(ABIS["1.3"].infer_param, "max_new_tokens")
    assert not hasattr(ABIS["1.2"].infer_param, "sampling_params")
    assert (HERE / "rkllm_stub.h").is_file()
