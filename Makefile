# Two commands set everything up on a fresh machine with Python 3.11/3.12, pip and make:
#   make demo   sandbox APIs + Airflow UI on embedded defaults (SQLite)
#   make test   the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test audit bench bench-sync bench-reconcile bench-celery bench-latency lint lock sandbox clean

$(STAMP): requirements.txt requirements-dev.txt requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# three test processes (each starts its own sandboxes, Airflow home and databases); one file stays on one
# process so its module fixtures are built once. PYTEST_ARGS="-n 0" runs everything in this process.
PYTEST_ARGS ?= -n 3 --dist loadfile
# tests that need a test process of their own (they read Airflow's process-wide metadata DB and secrets
# state, or run a LocalExecutor whose timing the parallel run disturbs); they run after the rest, in one process
OWN_PROCESS_TESTS := tests/security/test_secrets_grep.py tests/security/test_oauth_flow.py tests/security/test_connection_writeback.py tests/webhooks/test_registration.py tests/hooks/test_hubspot_token_persistence.py

test: $(STAMP)
	scripts/ensure_chromium.sh
	$(BIN)/python -m ruff check .
	$(BIN)/python scripts/audit_dependencies.py
	$(BIN)/python -m pytest $(PYTEST_ARGS) $(addprefix --ignore=,$(OWN_PROCESS_TESTS))
	$(BIN)/python -m pytest -n 0 $(OWN_PROCESS_TESTS)

# known vulnerabilities of requirements.lock (pip-audit; exceptions in audit-exceptions.toml); it says how many
# packages it could not audit, and fails on them only with WOOHUB_AUDIT_STRICT=1 (see the script's docstring)
audit: $(STAMP)
	$(BIN)/python scripts/audit_dependencies.py $(AUDIT_ARGS)

bench: $(STAMP)
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

bench-sync: $(STAMP)
	$(BIN)/python scripts/bench_sync.py $(BENCH_ARGS)
	$(BIN)/python scripts/bench_h2w.py $(BENCH_H2W_ARGS)

bench-reconcile: $(STAMP)
	$(BIN)/python scripts/bench_reconcile.py $(BENCH_RECONCILE_ARGS)

# the initial woocommerce_to_hubspot load on 1, 2 and 4 Celery workers (native PostgreSQL + Redis, see the script)
bench-celery: $(STAMP)
	$(BIN)/python scripts/bench_celery.py $(BENCH_CELERY_ARGS)

# webhook latency, order -> deal and deal -> order, on a real Airflow (LocalExecutor) woken by the sandboxes'
# webhooks: p50/p95/max (e.g. BENCH_LATENCY_ARGS="--orders 20 --deals 20"; see the script's docstring)
bench-latency: $(STAMP)
	$(BIN)/python scripts/bench_webhook_latency.py $(BENCH_LATENCY_ARGS)

sandbox: $(STAMP)
	$(BIN)/python -m woohub.sandbox $(SANDBOX_ARGS)

lint: $(STAMP)
	$(BIN)/python -m ruff check .

# Regenerate requirements.lock from a clean virtualenv built from requirements*.txt alone.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -r requirements-dev.txt
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^woohub' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .airflow .demo .pytest_cache .ruff_cache
