# gridmap: `make demo` serves the 新街口 demo, `make test` runs every check. Both install what is missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
VENDOR := frontend/node_modules/.installed-stamp
GRIDMAP_PORT ?= 8000
export GRIDMAP_PORT

.PHONY: install system demo test lint typecheck unit bench bench-partition bench-geocode clean

install: system $(STAMP) $(VENDOR)

system:
	@bash scripts/install-system.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

# Browser libraries (Leaflet, Bootstrap, Chart.js…) pinned in frontend/package-lock.json, served locally: no CDN.
$(VENDOR): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --ignore-scripts --no-audit --no-fund
	@touch $(VENDOR)

demo: install
	$(BIN)/gridmap demo

lint: install
	$(BIN)/ruff check gridmap tests benchmarks

typecheck: install
	$(BIN)/mypy --strict gridmap

unit: install
	$(BIN)/pytest -q

test: lint typecheck unit

bench-geocode: install
	$(BIN)/gridmap db start
	$(BIN)/python -m benchmarks.geocode.run
	$(BIN)/python -m benchmarks.geocode.point_grid

bench-partition: install
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.partition.run
	$(BIN)/python -m benchmarks.partition.stability
	$(BIN)/python -m benchmarks.partition.scale --buildings 100000 1000000 --repeat 3

bench: bench-partition bench-geocode

clean:
	-$(BIN)/gridmap db stop
	rm -rf $(VENV) .gridmap
