#!/usr/bin/env bash
# Create .venv (if missing) and install Thoth, its dev tools and the project's emulators.
# torch comes first and CPU-only: a bare `torch` requirement would pull multi-GB CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TORCH_VERSION=2.13.0
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
stamp="$VENV/.thoth-installed"
inputs=$(cat pyproject.toml emulators/{cloud-tasks,cloud-run,metadata-server}/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
# The MCP server embeds queries with the model's ONNX export (~3x faster than without);
# making it needs torch, so it happens here and in the images, never when a server starts.
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
for emulator in cloud-tasks cloud-run metadata-server; do
  if [ -f "emulators/$emulator/pyproject.toml" ]; then
    "$PY" -m pip install -q -e "emulators/$emulator"
  fi
done
export_onnx
echo "$inputs" > "$stamp"
echo "installed into $VENV"
