# Two commands do all the set-up from a clean clone:
#   make run    install and start the service on its embedded defaults
#   make test   install what the tests need, then lint, type-check and run every test
# and these print benchmark figures:
#   make bench             the counter API (verify) under load, on SQLite and on PostgreSQL
#   make bench-applicants  10 applicants at once through online registration, on SQLite
#   make bench-import      the ILS patron import, 100,000 rows, twice
#   make bench-uploads     10 applicants uploading phone photos at once: memory and time
#   make bench-offline     the signed revocation feed: a full sync of 100,000 and a delta of 10

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BENCH_PG ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
AXE_CORE_VERSION := 4.14.1
AXE_JS := $(VENV)/axe/node_modules/axe-core/axe.min.js

.PHONY: run test bench bench-applicants bench-import bench-uploads bench-offline lint

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@# The browser tests drive Debian's Chromium; the Japanese font renders the pages' text.
	@command -v chromium >/dev/null && fc-list | grep -qi ipagothic || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-ipafont-gothic)
	touch $(VENV)/.installed $@

# axe-core, which the browser tests run on every page: the npm package, kept in the venv.
$(AXE_JS):
	@command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm)
	npm install --silent --no-save --no-audit --no-fund --prefix $(VENV)/axe axe-core@$(AXE_CORE_VERSION)

run: $(VENV)/.installed
	$(BIN)/cardservice demo

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy cardservice passes

test: lint $(AXE_JS)
	@# The suite runs on SQLite and on the local PostgreSQL; start it if it is installed but stopped.
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
	  (command -v pg_ctlcluster >/dev/null && \
	   pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start) || true
	@# One worker more than the cores: much of the suite waits on real servers, timers and
	@# subprocesses (the recovery pages' fixed answer time, the crash and key rotation tests),
	@# and the extra worker uses that time (on 2 cores: 15 minutes against 18 with two).
	$(BIN)/pytest -q -p no:cacheprovider -n $$(( $$(nproc) + 1 )) --durations=10

bench: $(VENV)/.test-installed
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python tests/bench/verify.py
	@# The same on PostgreSQL (a scratch database of its own) when the local server answers.
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  $(BIN)/python tests/bench/verify.py --database-url $(BENCH_PG); \
	else echo "PostgreSQL not reachable at 127.0.0.1:5432: its figures are skipped"; fi

bench-applicants: $(VENV)/.test-installed
	$(BIN)/python tests/bench/applicants.py

bench-import: $(VENV)/.test-installed
	$(BIN)/python tests/bench/import_patrons.py --rows 100000

bench-uploads: $(VENV)/.test-installed
	$(BIN)/python tests/bench/uploads.py

bench-offline: $(VENV)/.test-installed
	$(BIN)/python tests/bench/offline_feed.py
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  $(BIN)/python tests/bench/offline_feed.py --database-url $(BENCH_PG); \
	else echo "PostgreSQL not reachable at 127.0.0.1:5432: its figures are skipped"; fi
