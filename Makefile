# `make run`  - create .venv, install, start the gateway with its embedded broker
# `make test` - create .venv, install test tools (Mosquitto, node packages), lint, type-check,
#               build the wheel (dist/), test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run test lint typecheck pytest deps test-deps mosquitto chromium node-deps bench soak fuzz wheel clean \
        docker-engine docker-images docker-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

deps: $(VENV)/.installed

run: deps
	$(BIN)/ocpp-mqtt serve $(ARGS)

# Debian's mosquitto is what the integration tests run against; install it when missing.
# mosquitto-clients (mosquitto_sub, mosquitto_pub) count messages in bench/forward.py.
mosquitto:
	@{ command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; } \
	  && command -v mosquitto_sub >/dev/null 2>&1 || { \
	  echo "installing mosquitto and mosquitto-clients (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; }

# Debian's chromium is the browser the dashboard tests drive (Playwright with the system
# browser: no browser download); install it when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

node-deps: tests/interop/node_modules/.package-lock.json

tests/interop/node_modules/.package-lock.json: tests/interop/package.json tests/interop/package-lock.json
	cd tests/interop && npm ci --no-audit --no-fund --loglevel=error

test-deps: $(VENV)/.installed-test mosquitto chromium node-deps

lint: test-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/hadolint Dockerfile

typecheck: test-deps
	$(BIN)/mypy --strict src

pytest: test-deps
	$(BIN)/pytest -q $(ARGS)

# The wheel is built before the tests: tests/integration/test_packaging.py checks dist/'s wheel
# (contents, install into a fresh venv) rather than building its own.
test: lint typecheck wheel pytest

# The soak tests' long form: 1,000 charge points, faults repeated (a few minutes).
soak: test-deps
	$(BIN)/pytest -q -s tests/soak --soak-long --timeout 900 $(ARGS)

# The long fuzz run (issue 5): each atheris target for FUZZ_SECONDS (crashes are kept in
# test-artifacts/fuzz/), the property tests with 20,000 examples each, and 100,000 hostile
# frames against a live gateway. `make test` runs a short form of all three.
FUZZ_SECONDS ?= 60
fuzz: test-deps
	mkdir -p test-artifacts/fuzz
	for target in session downstream identity thingsboard; do \
	  PYTHONPATH=. $(BIN)/python -m tests.fuzz.atheris_targets $$target \
	    -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=test-artifacts/fuzz/ \
	    -print_final_stats=1 > test-artifacts/fuzz/$$target.log 2>&1; status=$$?; \
	  grep -v '^INFO: Instrumenting' test-artifacts/fuzz/$$target.log | tail -12; \
	  [ $$status = 0 ] || exit 1; \
	done
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider tests/unit/test_properties.py
	$(BIN)/python -m tests.fuzz.live --frames 100000

# The Docker image built and run for real (tests/packaging, a few minutes on a fresh machine,
# so not part of `make test`; .ci/run runs it after): Debian's engine installed and dockerd
# started when no daemon answers, then local stand-ins for python:3.11-slim and
# eclipse-mosquitto:2 built from Debian's archive (Docker Hub is out of reach here), cached for
# the day in .cache/docker/. Needs root.
docker-engine:
	tests/packaging/engine.sh

docker-images: docker-engine
	tests/packaging/base-images.sh

docker-test: test-deps docker-images
	$(BIN)/pytest -q -p no:cacheprovider --docker tests/packaging $(ARGS)

bench: test-deps
	$(BIN)/python bench/run.py $(ARGS)

# build/ is setuptools' staging area: a file deleted from src/ would stay in it, and in the wheel
wheel: $(BIN)/python
	rm -rf build dist/ocpp_mqtt-*.whl
	$(BIN)/pip wheel -q --no-deps -w dist .

clean:
	rm -rf $(VENV) dist build tests/interop/node_modules .cache/docker
