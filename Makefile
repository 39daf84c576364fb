# Porteiro — one virtualenv for the whole repository; every target runs from it.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SERVICES := gateway speech concierge directory dialer register
GENERATED := libs/porteiro-common/src/porteiro
PROTOS := $(shell find protos -name '*.proto')
STAMP := $(VENV)/.installed
# Optional dependencies installed into .venv so their tests run (images choose them with EXTRAS).
DEV_EXTRAS_concierge := [llm]
DEV_EXTRAS_speech := [azure]

.PHONY: setup protos protos-check run demo eval test test-all lint bench images clean

setup: $(STAMP)

$(STAMP): constraints.txt requirements-dev.txt libs/porteiro-common/pyproject.toml $(wildcard services/*/pyproject.toml) sim/pyproject.toml \
		services/gateway/setup.py $(wildcard services/gateway/src/porteiro_gateway/_*.[ch])
	@missing=""; command -v espeak-ng >/dev/null || missing="espeak-ng sox"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	if [ "$$(id -u)" = 0 ] && [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -r requirements-dev.txt \
		-e libs/porteiro-common $(foreach s,$(SERVICES),-e 'services/$(s)$(DEV_EXTRAS_$(s))') -e sim
	$(PY) -m porteiro_speech.model_assets --assemble
	touch $(STAMP)

# Regenerate the Python code of every proto into the shared package.
protos: $(STAMP)
	bash scripts/gen-protos.sh $(PY) libs/porteiro-common/src

# Fails when the committed generated code differs from what `make protos` gives.
protos-check: $(STAMP)
	bash scripts/check-protos.sh $(PY)

# All services on the offline defaults, one supervisor; Ctrl-C stops them all.
run: $(STAMP)
	$(VENV)/bin/honcho -f Procfile start

# The whole stack plus visitor and PBX simulators; one scripted call.
SCENARIO ?= delivery
demo: $(STAMP)
	$(PY) -m porteiro_sim.demo --scenario $(SCENARIO)

# Seeded simulated calls through the whole stack; recognition and outcome figures (sim/README.md).
eval: $(STAMP)
	$(PY) -m porteiro_sim.evaluation $(EVAL_ARGS)

# Two tiers (README, "The two commands"). The fast one: everything but whole-stack calls (e2e)
# and the real offline recogniser (acoustic).
FAST_TIER := not e2e and not acoustic
# Both run in parallel (pytest-xdist): each test file is one unit on one worker (module-scoped
# stacks and databases set up once, tests in file order), heavy files handed out first
# (tests/conftest.py). The fast tier is mostly CPU: one worker per core. Whole-stack calls mostly
# wait on real time: more workers than cores. PYTEST_ARGS="-n 0" runs serially; plain `pytest`
# is serial too.
TEST_WORKERS ?= 2
TEST_ALL_WORKERS ?= 5
PARALLEL := --dist loadfile --no-loadscope-reorder
test: $(STAMP) protos-check
	$(PY) -m pytest -n $(TEST_WORKERS) $(PARALLEL) -m "$(FAST_TIER)" $(PYTEST_ARGS)

# Everything, the fast tier plus e2e and acoustic tests: what .ci/run runs. The gateway's tests
# run once more on its pure-Python media path (the fallback when the native edge is not built).
test-all: $(STAMP) protos-check
	$(PY) -m pytest -n $(TEST_ALL_WORKERS) $(PARALLEL) $(PYTEST_ARGS)
	PORTEIRO_GATEWAY_MEDIA_ENGINE=python $(PY) -m pytest -n $(TEST_WORKERS) $(PARALLEL) tests/gateway

lint: $(STAMP)
	$(VENV)/bin/ruff check libs services sim tests bench
	$(VENV)/bin/ruff format --check libs services sim tests bench
	$(VENV)/bin/mypy  # the shared library, every service and sim: the list is in mypy.ini

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

IMAGE_PREFIX ?= porteiro
IMAGE_TAG ?= dev
images:
	@for s in $(SERVICES); do \
		docker build -f services/Dockerfile --target $$s -t $(IMAGE_PREFIX)/$$s:$(IMAGE_TAG) $(DOCKER_BUILD_ARGS) . || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
