# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export RAY_USAGE_STATS_ENABLED := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install js demo test lint typecheck pytest bench lock migration train-detector clean

# Front-end libraries (htmx, spark-md5) come from the npm registry, pinned by package-lock.json, and are
# copied into the static folder (git-ignored): the web app serves every script from its own origin.
NPM ?= npm
JS_STAMP := node_modules/.jikimi-stamp
VENDOR := src/jikimi/web/static/vendor
VENDORED := $(VENDOR)/htmx.min.js $(VENDOR)/htmx.LICENSE.txt $(VENDOR)/spark-md5.min.js $(VENDOR)/spark-md5.LICENSE.txt

$(STAMP): requirements.lock pyproject.toml scripts/sysdeps.sh
	bash scripts/sysdeps.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q "setuptools==80.9.0" wheel
	$(BIN)/pip install -q --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(JS_STAMP): package.json package-lock.json
	$(NPM) ci --ignore-scripts --no-audit --no-fund
	touch $@

$(VENDOR)/htmx.min.js: $(JS_STAMP)
	mkdir -p $(@D) && cp node_modules/htmx.org/dist/htmx.min.js $@
$(VENDOR)/htmx.LICENSE.txt: $(JS_STAMP)
	mkdir -p $(@D) && cp node_modules/htmx.org/LICENSE $@
$(VENDOR)/spark-md5.min.js: $(JS_STAMP)
	mkdir -p $(@D) && cp node_modules/spark-md5/spark-md5.min.js $@
$(VENDOR)/spark-md5.LICENSE.txt: $(JS_STAMP)
	mkdir -p $(@D) && cp node_modules/spark-md5/LICENSE $@

js: $(VENDORED)

install: $(STAMP) js

demo: install
	JIKIMI_HOME=$(CURDIR)/.jikimi-demo $(BIN)/jikimi demo --reset

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/run_all.py

# Rebuild the pinned lock from the current virtualenv (after adding a dependency).
lock:
	( echo "# Pinned, complete dependency set. Installed with --no-deps so the set is exactly this."; \
	  echo "# Regenerate with: make lock"; echo "setuptools==80.9.0"; \
	  $(BIN)/pip freeze --exclude-editable | grep -v -E '^(torch|jikimi)=' ; echo "torch==2.13.0" ) > requirements.lock

# Regenerate the initial Alembic migration from the models (pre-release schema).
migration: install
	$(BIN)/python scripts/regen_migration.py

train-detector: install
	$(BIN)/python -m jikimi.signals.faceswap_train --out src/jikimi/signals/models/faceswap.onnx --epochs 24 --minutes 88

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache node_modules $(VENDORED)
