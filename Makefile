# keyrelay: `make run` starts the whole stack, `make test` runs every test.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
DISTS  := libs/common libs/launcher services/keyvault-svc services/llm-router-svc services/rag-svc services/portal-api
PYPROJECTS := $(addsuffix /pyproject.toml,$(DISTS))

.PHONY: run test install protos lint clean-data bench

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a pyproject or the dev requirements change.
$(STAMP): $(PY) $(PYPROJECTS) requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	$(PIP) install --quiet --no-build-isolation $(addprefix -e ,$(DISTS))
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/keyrelay up

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest $(PYTEST_ARGS)

# Regenerate the gRPC stubs from protos/ (never edit them by hand).
protos: install
	$(PY) -m keyrelay.common.protogen

lint: install
	$(VENV)/bin/ruff check .

clean-data:
	rm -rf .keyrelay
