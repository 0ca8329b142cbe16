# mediaflow: one entry point for set-up, tests, the demo, benchmarks and checks.
# `make setup` is idempotent and fast once done (stamps under .tools/stamps keyed on pyproject.toml).

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
TOOLS := $(ROOT)/.tools

# Tests run in parallel (pytest-xdist) with a per-test time limit; override on the command line,
# e.g. `make test PYTEST_WORKERS=0 PYTEST_ARGS="-k light"`.
PYTEST_WORKERS ?= auto
PYTEST_TIMEOUT ?= 300
PYTEST_ARGS ?=

export PATH := $(TOOLS)/bin:$(VENV)/bin:$(PATH)
export U2NET_HOME ?= $(TOOLS)/u2net
export MEDIAFLOW_U2NET_HOME ?= $(TOOLS)/u2net
export NUMBA_CACHE_DIR ?= $(TOOLS)/numba-cache
export MEDIAFLOW_NUMBA_CACHE_DIR ?= $(TOOLS)/numba-cache
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_SESSION_TOKEN ?= testing
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: setup test demo bench lint golden sam-validate clean requirements docs-screenshots deploy-dashboard

setup:
	@bash .ci/setup.sh

test: setup
	$(PY) -m pytest tests -n $(PYTEST_WORKERS) --timeout=$(PYTEST_TIMEOUT) $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/mediaflow demo --out out

bench: setup
	$(PY) bench/run.py

MYPY_TARGETS = layers/core/mediaflow $(if $(wildcard functions/*.py functions/*/*.py),functions)

lint: setup
	$(VENV)/bin/ruff check layers tests $(wildcard functions bench)
	$(VENV)/bin/mypy $(MYPY_TARGETS)

# layers/*/requirements.txt from the pyproject extras layer-core, image-vips, image-ffmpeg, image-rembg
requirements:
	python3 layers/deployables.py write

golden: setup
	$(PY) -m mediaflow.compiler.golden

SAM_VENV := $(TOOLS)/sam-venv
sam-validate:
	@if [[ ! -f template.yaml ]]; then echo "sam-validate: no template.yaml yet, nothing to validate"; exit 0; fi; \
	if [[ ! -x "$(SAM_VENV)/bin/sam" ]]; then \
	  python3 -m venv "$(SAM_VENV)" && "$(SAM_VENV)/bin/python" -m pip install -q --disable-pip-version-check aws-sam-cli; \
	fi; \
	"$(SAM_VENV)/bin/sam" validate --lint --template-file template.yaml --region us-east-1

# docs/img/dashboard-*.png, taken by the browser tests that show those pages
docs-screenshots: setup
	MEDIAFLOW_DOCS_SCREENSHOTS=1 $(PY) -m pytest tests/browser -n 0 -q \
	  -k "build_from_a_template or accessibility"

# Upload the dashboard's build to a stack deployed with DeployDashboard=true (STACK=<stack name>)
STACK ?= mediaflow-dev
DIST := layers/core/mediaflow/dashboard_dist
deploy-dashboard: setup
	@output() { aws cloudformation describe-stacks --stack-name "$(STACK)" \
	  --query "Stacks[0].Outputs[?OutputKey=='$$1'].OutputValue" --output text; }; \
	bucket="$$(output DashboardBucketName)"; distribution="$$(output DashboardDistributionId)"; \
	[[ -n "$$bucket" && "$$bucket" != "None" ]] || { echo "$(STACK) has no dashboard: deploy with DeployDashboard=true"; exit 1; }; \
	aws s3 sync "$(DIST)/assets" "s3://$$bucket/assets" --cache-control "public, max-age=31536000, immutable"; \
	aws s3 sync "$(DIST)" "s3://$$bucket" --delete --exclude "assets/*" --cache-control no-cache; \
	aws cloudfront create-invalidation --distribution-id "$$distribution" --paths /index.html >/dev/null; \
	echo "dashboard: $$(output DashboardUrl)"

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache tests-output
