# mutuelle — two commands: `make run` and `make test`.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(CURDIR)/.tools/bin:$(PATH)
UV := uv
MUTUELLE_HOME ?= $(CURDIR)/var
export MUTUELLE_HOME

.PHONY: run test install assets demo bench lint clean

install:
	@bash scripts/bootstrap.sh

## Install what is missing, create ./var with the demo territory if empty, serve on :8000.
run: install
	@$(UV) run mutuelle db upgrade
	@$(UV) run mutuelle demo --if-empty
	@$(UV) run mutuelle users bootstrap
	@$(UV) run mutuelle serve

## Install what is missing (PostgreSQL, Chromium included) and run the whole test suite.
test: install
	@bash scripts/ensure-postgres.sh
	@bash scripts/ensure-chromium.sh
	@$(UV) run pytest -q -p no:cacheprovider $(PYTEST_ARGS)

assets:
	@bash scripts/build-assets.sh

bench: install
	@$(UV) run --group bench python bench/ingest.py

## ruff on the code, tests and benches; mypy --strict on the typed core (run by .ci/run too).
lint: install
	@$(UV) run ruff check mutuelle tests bench
	@$(UV) run mypy --strict mutuelle/core mutuelle/query mutuelle/access mutuelle/store/sql.py

clean:
	rm -rf var test-artifacts bench/out mutuelle/web/static/vendor
