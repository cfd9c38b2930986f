# Switchyard: `make run` serves on 127.0.0.1:8080 (SQLite, no Redis); `make test` runs the whole suite.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test bench venv dev-venv clean

$(BIN)/.runtime: requirements.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(BIN)/.dev: requirements-dev.txt $(BIN)/.runtime
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(BIN)/.runtime
dev-venv: $(BIN)/.dev

run: $(BIN)/.runtime
	$(BIN)/flask --app app bootstrap
	HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn -c deploy/gunicorn.conf.py wsgi:app

# gevent patches the test process before pytest and the app are imported, as a gunicorn gevent worker does
# (tests/conftest.py refuses a run that was not patched so). It takes its own --options only before the module's
# name: everything after `pytest` is pytest's argv.
test: $(BIN)/.dev
	$(BIN)/python -m gevent.monkey --module pytest $(PYTEST_ARGS)

bench: $(BIN)/.dev
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
