# Lastmile Gateway developer entry points. CI runs `.ci/run`, which ends in `make test`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test
MAKEFLAGS += --no-print-directory

# uv, wherever `pip install uv` put it (PATH, or only importable as a module).
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PYTEST_ARGS ?=
BENCH_ARGS ?=
DEMO_ARGS ?=

.PHONY: install system-deps lint test demo bench vendor-leaflet vendor-leaflet-check

## install: the Python environment (.venv) from uv.lock; quick when already in sync.
install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --break-system-packages uv
	@if [ -f uv.lock ]; then $(UV) sync --locked --quiet; else $(UV) sync --quiet; fi

## system-deps: Debian packages (postgresql, redis-server, chromium, fonts); root installs them.
system-deps:
	@bash .ci/system-deps

## lint: ruff and mypy --strict.
lint: install
	$(UV) run ruff check .
	$(UV) run mypy --strict gateway webhooks channels

## test: lint, then the whole pytest suite against a throwaway PostgreSQL and Redis.
# pytest exits 5 when it collected no tests: that must fail too, with a message saying so.
test: install system-deps
	@$(MAKE) lint
	@rc=0; $(UV) run pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

## demo: gateway, worker, embedded Redis and SQLite in one process tree (lastmile demo).
demo: install
	$(UV) run lastmile demo $(DEMO_ARGS)

## bench: the ingest benchmark (gateway vs. a bare aiohttp handler, same client, same run).
bench: install
	$(UV) run python benchmarks/ingest.py $(BENCH_ARGS)

## vendor-leaflet: re-vendor the newest Leaflet 1.9.x from npm into gateway/live/static (VENDORED.md).
vendor-leaflet:
	gateway/live/vendor-leaflet.sh $(LEAFLET)

## vendor-leaflet-check: re-fetch the recorded Leaflet from npm; fail unless the vendored files are its own.
vendor-leaflet-check:
	gateway/live/vendor-leaflet.sh --check
