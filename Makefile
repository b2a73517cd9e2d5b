.PHONY: run test test-sqlite test-postgres setup bench lint editor
run:            ## set everything up and run the app on http://127.0.0.1:8000
	scripts/run.sh
setup:          ## install what the app needs (idempotent)
	scripts/setup.sh
test:           ## set everything up for the tests and run the whole suite: on SQLite, then on PostgreSQL
	scripts/setup.sh --test
	env -u DATABASE_URL .venv/bin/python -m pytest
	DATABASE_URL="$$(scripts/postgres.sh)" .venv/bin/python -m pytest
test-sqlite:    ## the suite on SQLite only (a quicker round while developing)
	scripts/setup.sh --test
	env -u DATABASE_URL .venv/bin/python -m pytest
test-postgres:  ## the suite on PostgreSQL only (scripts/postgres.sh finds or starts a server)
	scripts/setup.sh --test
	DATABASE_URL="$$(scripts/postgres.sh)" .venv/bin/python -m pytest
bench:          ## compile-time and end-to-end benchmarks (medians), then a load test (LOAD_SECONDS=60 LOAD_CLIENTS=50)
	scripts/setup.sh
	.venv/bin/python scripts/bench.py
	.venv/bin/python scripts/bench_bigpage.py
	.venv/bin/python scripts/throughput.py --clients 12 --seconds 20 --workers 1,2,3
	.venv/bin/python scripts/loadtest.py --seconds $(or $(LOAD_SECONDS),60) --clients $(or $(LOAD_CLIENTS),50)
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
editor:         ## rebuild the CodeMirror bundle (needs npm; the built file is committed)
	cd static/editor-src && npm ci && npm run build
.PHONY: errorcheck
errorcheck:     ## errorcheck tests, raw compiler vs explorer: ours, and the Go repository's with GO_TEST_DIR=<copy of its test/>
	.venv/bin/python -m pytest tests/test_errorcheck.py -q -s
