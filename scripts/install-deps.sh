#!/usr/bin/env bash
# Create .venv (if missing) and install Thoth, its dev tools and the Cloud Tasks emulator.
# torch comes first and CPU-only: a bare `torch` requirement would pull multi-GB CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TORCH_VERSION=2.13.0
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
stamp="$VENV/.thoth-installed"
inputs=$(cat pyproject.toml emulators/*/pyproject.toml tools/*/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
# Both services encode with the model's ONNX files (fp32 and int8), and neither imports torch;
# making them needs torch (the `export` extra, in .[dev]), so it happens here and in the
# images' exporter stage, never when a service starts.
export_onnx() { HF_HUB_OFFLINE=1 "$VENV/bin/thoth" model export-onnx; }
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  echo "dependencies up to date ($VENV)"
  export_onnx
  exit 0
fi
"$PY" -m pip install -q --upgrade pip
if ! "$PY" -c "import torch" 2>/dev/null; then
  local_wheel=$(ls /opt/wheels/torch-${TORCH_VERSION}+cpu-*.whl 2>/dev/null | head -n1 || true)
  if [ -n "$local_wheel" ]; then
    "$PY" -m pip install -q "$local_wheel"
  else
    "$PY" -m pip install -q "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu
  fi
fi
"$PY" -m pip install -q -e ".[dev]"
# The emulators and the local stack: development tools, never in the runtime images.
packages=()
for package in emulators/*/ tools/*/; do
  if [ -f "$package/pyproject.toml" ]; then packages+=(-e "$package"); fi
done
"$PY" -m pip install -q "${packages[@]}"
export_onnx
echo "$inputs" > "$stamp"
echo "installed into $VENV"
