# Two commands on a fresh machine: `make run` (the pipeline locally) and `make test`.
# Each creates .venv and installs what it needs the first time.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint unit bench sam-validate browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# aws-sam-cli lives in its own venv: it pins boto3 and cfn-lint versions that clash with the project's.
SAM_STAMP := .venv-sam/.installed
$(SAM_STAMP):
	$(PYTHON) -m venv .venv-sam
	.venv-sam/bin/pip install --quiet --upgrade pip
	.venv-sam/bin/pip install --quiet 'aws-sam-cli>=1.120,<2'
	touch $(SAM_STAMP)

sam-validate: $(SAM_STAMP)
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint --template template.yaml

run: $(STAMP)
	$(BIN)/email2chat simulate --report out/report.html --json out/results.json

lint: $(STAMP) sam-validate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

# Headless Chromium for the report test (Debian package; root on CI and the dev machines).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	    || echo "chromium could not be installed: the browser test will be skipped"; \
	  else echo "chromium missing: the browser test will be skipped (sudo apt-get install chromium)"; fi; }

test: $(STAMP) browser lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/pytest -q -m benchmark --benchmark-enable --benchmark-only tests/benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache out
