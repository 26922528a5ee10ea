#!/usr/bin/env bash
# Build a minimal Debian bookworm image with python3 + venv (and git, which the local GitLab
# runs) and import it into the local engine, for machines that cannot pull `python:3.12-slim`
# (ENVIRONMENT.md). Usage: base-image.sh [NAME]
set -euo pipefail
name=${1:-thoth-base:bookworm}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v mmdebstrap >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "base-image: mmdebstrap bookworm -> $name"
# shellcheck disable=SC2016  # the hook's $1 is expanded by mmdebstrap, not here
# minbase + python3 and venv (ensurepip), TLS roots, git (emulators/gitlab: git http-backend;
# containers cannot apt-get it offline), tzdata-free; apt lists and docs dropped.
as_root mmdebstrap --quiet --variant=minbase \
  --include=python3,python3-venv,ca-certificates,git \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$tmp/base.tar"
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  "$tmp/base.tar" "$name" >/dev/null
docker image ls "$name"
