# Thoth developer commands. `make up` and `make test` are the quickstart.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT := false
export NO_GCE_CHECK := true

.PHONY: help install test lint typecheck format static

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: ## create .venv and install everything (CPU torch, Thoth, dev tools, emulators)
	@scripts/install-deps.sh

test: install ## run the whole test suite (unit, integration against real emulators, e2e)
	$(PY) -m pytest

lint: install ## ruff, ruff format --check, then typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) typecheck

typecheck: ## mypy (strict) on src/, tools/, every emulator and bench/
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy emulators/cloud-tasks/src
	$(VENV)/bin/mypy emulators/cloud-run/src
	$(VENV)/bin/mypy emulators/metadata-server/src
	$(VENV)/bin/mypy emulators/gitlab/src
	@# the benches import one another by file name, as `python bench/X.py` runs them
	cd bench && MYPYPATH=..:../src:../tools/devstack/src $(abspath $(VENV))/bin/mypy \
		--config-file ../pyproject.toml --explicit-package-bases *.py

static: install ## actionlint, hadolint, terraform fmt + provider-schema check, checkov
	bash scripts/static-checks.sh

format: install ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: up down status logs
up: install ## start the local stack (no Docker), ingest examples/handbook, print endpoints
	$(VENV)/bin/thoth dev up

down: ## stop the local stack started by `make up`
	@if [ -x $(VENV)/bin/thoth ]; then $(VENV)/bin/thoth dev down; else echo "nothing to stop"; fi

status: ## show the local stack's processes and health
	$(VENV)/bin/thoth dev status

logs: ## tail the local stack's logs (make logs S=mcp)
	$(VENV)/bin/thoth dev logs $(S)

.PHONY: docker-setup docker-up docker-down
docker-setup: ## Docker engine, compose plugin, offline base image + wheelhouse (machines without a registry)
	scripts/docker-setup.sh

docker-up: docker-setup ## the stack as containers, built offline; returns when searchable
	eval "$$(scripts/docker-setup.sh --env)" && docker compose up --build -d --wait

docker-down: ## stop the compose stack and drop its volume
	docker compose down -v
