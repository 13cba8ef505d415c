# Jejak: the two commands of the quick start are `make run` and `make test`.
# Everything else here is what they are made of.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 5000
export JEJAK_INSTANCE_PATH ?= $(CURDIR)/instance
PYTEST_ARGS ?=

.PHONY: run test setup web system-deps demo-db bench-labels bench-decode bench-server bench-server-door bench-phone-flow bench-phone-decode clean help

help:
	@echo "make run   - set up, load the demo region into SQLite, serve http://$(HOST):$(PORT)"
	@echo "make test  - set up and run the whole test suite (SQLite; PostgreSQL with JEJAK_TEST_DATABASE_URL)"

# System libraries: libzbar0 (pyzbar), poppler-utils (pdftoppm in label tests),
# chromium (browser tests), postgresql (pg_createcluster and pg_basebackup: the replica
# tests start their own primary and streaming replica) and pgbouncer (the two-instance
# tests). Installed with apt-get when running as root, otherwise the exact command is printed.
RUN_PACKAGES  := libzbar0 fonts-dejavu-core
TEST_PACKAGES := $(RUN_PACKAGES) poppler-utils chromium postgresql pgbouncer
SYSTEM_PACKAGES ?= $(RUN_PACKAGES)
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || { echo "apt-get failed; run: sudo apt-get install -y$$missing" >&2; exit 1; }; \
	  else \
	    echo "missing system packages; run:  sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	@touch $@

setup: system-deps $(VENV)/.installed web

# The phone scanner's browser libraries (zxing-wasm, @noble/ed25519), pinned in package-lock.json,
# installed from the npm registry with `npm ci` (Debian's nodejs/npm, installed like the packages
# above when missing), checked against web-vendor.sha256, copied into server/static/scan/vendor/.
WEB_VENDOR := server/static/scan/vendor
web: $(WEB_VENDOR)/.installed
$(WEB_VENDOR)/.installed: package.json package-lock.json web-vendor.sha256
	@command -v npm >/dev/null 2>&1 || $(MAKE) --no-print-directory system-deps SYSTEM_PACKAGES="nodejs npm"
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	sha256sum --check --strict --quiet web-vendor.sha256
	mkdir -p $(WEB_VENDOR)/zxing-wasm/reader
	cp node_modules/zxing-wasm/dist/es/share.js $(WEB_VENDOR)/zxing-wasm/share.js
	cp node_modules/zxing-wasm/dist/es/reader/index.js $(WEB_VENDOR)/zxing-wasm/reader/index.js
	cp node_modules/zxing-wasm/dist/reader/zxing_reader.wasm $(WEB_VENDOR)/zxing-wasm/reader/zxing_reader.wasm
	cp node_modules/@noble/ed25519/index.js $(WEB_VENDOR)/noble-ed25519.js
	@touch $@

# demo-login.txt is written last by `jejak-server demo`: it marks a finished demo.
DEMO_DONE := $(JEJAK_INSTANCE_PATH)/demo-login.txt
demo-db: setup
	@if [ -n "$(FORCE)" ] || { [ ! -f "$(JEJAK_INSTANCE_PATH)/jejak.sqlite3" ] && [ ! -f "$(DEMO_DONE)" ]; }; then \
	  rm -f "$(JEJAK_INSTANCE_PATH)"/jejak.sqlite3* "$(DEMO_DONE)"; \
	  $(VENV)/bin/jejak-server init-db && $(VENV)/bin/jejak-server demo; \
	elif [ ! -f "$(DEMO_DONE)" ]; then \
	  $(VENV)/bin/jejak-server init-db; \
	  echo "$(JEJAK_INSTANCE_PATH)/jejak.sqlite3 holds no finished demo (interrupted, or your own data);" \
	       "serving it as it is - 'make demo-db FORCE=1' rebuilds the demo and deletes it"; \
	else \
	  $(VENV)/bin/jejak-server init-db; \
	  echo "demo database already at $(JEJAK_INSTANCE_PATH)/jejak.sqlite3 ('make demo-db FORCE=1' rebuilds it)"; \
	  cat "$(DEMO_DONE)"; \
	fi

# The login block is printed once: by `jejak-server demo` when it just ran, else from the file.
run: demo-db
	@echo "open http://$(HOST):$(PORT)/ (database: $(JEJAK_INSTANCE_PATH)/jejak.sqlite3)"
	$(VENV)/bin/jejak-server run --host $(HOST) --port $(PORT)

test: SYSTEM_PACKAGES = $(TEST_PACKAGES)
test: setup
	$(PY) -m pytest -q -n 2 $(PYTEST_ARGS)

bench-labels: setup
	$(PY) benchmarks/labels.py

bench-decode: setup
	$(PY) benchmarks/decode.py

# PostgreSQL database for the server benchmark (created if absent; must hold no scans).
BENCH_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/jejak_bench
bench-server: setup
	$(PY) benchmarks/server.py ingest --database-url $(BENCH_DATABASE_URL)

# Issue 15's warehouse-door run: 20,000 distinct packages, gunicorn -w 2, 2 client threads.
bench-server-door: setup
	$(PY) benchmarks/server.py ingest --database-url $(BENCH_DATABASE_URL) --pattern door \
	    --scans 20000 --baseline 1000 --inprocess 0 --heads 0 --workers 2 --clients 2

# The phone scanner: the flow through Chromium's fake camera, and the decode worker on the
# shared frame set beside the browser peers (SHARED: the shared bench folder; DATA: its frames,
# generated there when missing).
bench-phone-flow: SYSTEM_PACKAGES = $(TEST_PACKAGES)
bench-phone-flow: setup
	$(PY) benchmarks/phone_flow.py --labels 6 --repeat 2

SHARED ?= ../shared/bench
DATA   ?= /tmp/decode-data
bench-phone-decode: SYSTEM_PACKAGES = $(TEST_PACKAGES)
bench-phone-decode: setup
	$(PY) benchmarks/phone_decode.py --shared $(SHARED) --data $(DATA)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache node_modules $(WEB_VENDOR)
