# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export RAY_USAGE_STATS_ENABLED := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test lint typecheck pytest bench lock migration train-detector clean

$(STAMP): requirements.lock pyproject.toml scripts/sysdeps.sh
	bash scripts/sysdeps.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q "setuptools==80.9.0" wheel
	$(BIN)/pip install -q --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)

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
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
