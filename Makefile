# cclab: `make lab-up` sets up and brings up the minimal lab; `make test` runs every tier.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
TOPOLOGY ?= minimal
BACKEND ?= netns
NAME ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup bpf lab-up lab-down lab-status lab-image connector-image engine test test-unit test-golden \
        test-netns test-docker test-load test-matrix test-times bench figures mutants mutmut load report pictures lint \
        typecheck clean

help:
	@echo "make lab-up [TOPOLOGY=minimal] [BACKEND=netns|docker]   set up and bring a lab up"
	@echo "make lab-image                    build the docker lab's images (debootstrap base)"
	@echo "make connector-image              build cclab/connector (entrypoint: python -m connector run)"
	@echo "make lab-down                     remove the lab and everything it made"
	@echo "make test                         run every test tier this machine can run"
	@echo "make test-unit|test-golden|test-netns|test-docker|test-load   one tier"
	@echo "make test-matrix                  the cloud topologies' whole matrix on docker (make test: a cover)"
	@echo "make test-times                   reports/bench/tests.json from the last make test's JUnit XML"
	@echo "make load [USERS=20 DURATION=30s WORKERS=0]  locust through the connector -> reports/load/"
	@echo "make bench                        benchmarks -> reports/bench/*.json, *.png, docs/figures.md"
	@echo "make figures                      *.png and docs/figures.md again from the JSONs there"
	@echo "make mutants [FAULTS=...]         hand-made faults vs the suites -> reports/mutation/"
	@echo "make mutmut                       mutation testing of connector/core -> reports/mutation/"
	@echo "make report                       Allure 3 report + reports/SUMMARY.md of the last make test"
	@echo "make pictures                     docs/img/TOPOLOGY.svg for every shipped topology"
	@echo "make lint | typecheck             ruff and the import contracts | mypy"

# The connector's fast paths (tc programs), compiled here, loaded by the connector when
# its config asks (runtime.geneve_fast_path, runtime.routed_fast_path), and the lab
# GWLB's (`--fast-path`);
# clang comes with install-system-deps.
BPF_OBJECTS := connector/bpf/geneve_direct.o connector/bpf/routed_direct.o lab/bpf/gwlb_encap.o
setup: $(VENV)/.installed $(BPF_OBJECTS)
bpf: $(BPF_OBJECTS)

$(BPF_OBJECTS): %.o: %.c | $(VENV)/.installed
	clang-14 -O2 -g -Wall -target bpf -I/usr/include/$$(uname -m)-linux-gnu -c $< -o $@
connector/bpf/geneve_direct.o connector/bpf/routed_direct.o: connector/bpf/direct_nat.h connector/bpf/zia_frame.h connector/bpf/dns_answer.h

$(VENV)/.installed: pyproject.toml scripts/install-system-deps
	scripts/install-system-deps
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# TRex's client in a virtualenv of its own: it brings its own scapy (lab/traffic/flood).
	test -x .venv-trex/bin/python || python3 -m venv .venv-trex
	.venv-trex/bin/python -m pip install -q 'lbr-trex-client>=3.4'
	touch $@

lab-up: setup $(if $(filter docker,$(BACKEND)),engine)
	$(VENV)/bin/cclab up $(TOPOLOGY) --backend $(BACKEND) $(if $(NAME),--name $(NAME))

# Without NAME: every lab on this machine (`cclab down --all`), a test's lab included.
lab-down:
	@if [ -x $(VENV)/bin/cclab ]; then $(VENV)/bin/cclab down $(if $(NAME),--name $(NAME),--all); \
	else echo "nothing to do: the project is not set up (make setup)"; fi

lab-status: setup
	$(VENV)/bin/cclab status $(if $(NAME),--name $(NAME))

# The docker engine for the docker backend and tier (started if installed and not running).
engine:
	@scripts/start-docker-engine || [ $$? -eq 3 ]

lab-image: setup engine
	$(PY) -m lab.images

connector-image: setup engine
	$(PY) -m lab.images --connector

# `make test` installs nothing: it needs `make setup` (or `make lab-up`) once.
define need_setup
	@test -f $(VENV)/.installed || { echo "not set up: run 'make setup' first (installs Debian packages and .venv)" >&2; exit 2; }
endef

# Six workers (pytest-xdist) on this 2-core machine: most lab tests wait on packets and
# events, not the CPU (a netns cloud module uses 0.2 of a core). The docker tier is two
# groups (the cloud suites' labs, the other modules' labs), each run on one worker from
# the start, its next lab brought up while the last one serves its tests; each netns lab
# module is a group of its own, unit and golden tests spread (suites/fixtures/
# parallel_groups.py; docs/decisions.md, "Two docker groups, six workers"). Then the tests
# that measure rates and thresholds, and those of the host's own state (`quiet`), with
# the machine to themselves.
JOBS ?= 6
PARALLEL = -n $(JOBS) --dist loadgroup --no-loadscope-reorder

# Compiled Python in one folder outside the source tree, written once and read by every
# Python process a test run starts: each lab node's services, each probe, each pytest
# worker. With PYTHONDONTWRITEBYTECODE in the environment (so that no __pycache__ lands
# in the tree) each of them compiled its modules from source again: a worker's
# collection 5.7 CPU-s against 2.9, a connector's start 0.33 against 0.26 (docs/
# decisions.md, "Compiled Python cached for a test run"). The tree stays clean.
TEST_TARGETS := test test-unit test-golden test-netns test-docker test-load test-matrix
$(TEST_TARGETS): export PYTHONPYCACHEPREFIX := $(abspath $(VENV))/pycache
$(TEST_TARGETS): export PYTHONDONTWRITEBYTECODE :=

# Each pytest run also writes JUnit XML to reports/junit/; `make test-times` turns the
# last run's into reports/bench/tests.json (per tier wall and test time, per module).
JUNIT := reports/junit

# The tests `-m $(1)` selects (all, if empty): side by side on the workers, then the
# `quiet` ones alone; $(2) and $(3): more arguments for each of the two runs. The second
# run's exit 5 (no quiet test selected) is not a failure; either run's failure is.
define side_by_side_then_quiet
	@status=0; \
	$(PY) -m pytest $(PARALLEL) -m "$(if $(1),$(1) and )not quiet" $(2) $(PYTEST_ARGS) \
	  || status=$$?; \
	$(PY) -m pytest -m "$(if $(1),$(1) and )quiet" --keep-results $(3) $(PYTEST_ARGS) \
	  || { s=$$?; [ $$s -eq 5 ] || status=$$s; }; \
	exit $$status
endef

test: engine
	$(need_setup)
	@rm -rf $(JUNIT)
	$(call side_by_side_then_quiet,,--junitxml=$(JUNIT)/parallel.xml,--junitxml=$(JUNIT)/quiet.xml)

test-times:
	$(need_setup)
	$(PY) -m reports.test_times

# One tier, as `make test` runs it.
test-docker: engine
test-unit test-golden test-netns test-docker test-load:
	$(need_setup)
	$(call side_by_side_then_quiet,$(subst test-,,$@))

# The cloud matrix whole on docker too: `make test` runs a covering subset of the cloud
# topologies there (each docker lab costs its serial docker group and quiet part 20-35 s);
# this lifts every subset (CCLAB_DOCKER_COVER=all), side-by-side part then quiet part.
# Long (about 40 docker labs): outside `make test`, like bench.
test-matrix: engine
	$(need_setup)
	@status=0; \
	CCLAB_DOCKER_COVER=all $(PY) -m pytest -m "docker and not quiet" suites/functional/cloud \
	  $(PYTEST_ARGS) || status=$$?; \
	CCLAB_DOCKER_COVER=all $(PY) -m pytest -m "docker and quiet" --keep-results \
	  suites/functional/cloud $(PYTEST_ARGS) || status=$$?; \
	exit $$status

# Hand-made faults (suites/mutants), each against the tests that must catch it;
# FAULTS="id ..." runs some. Long (lab tests): outside `make test`, like bench. Some
# faults are caught only by docker tests, so the engine is started first (without it
# they would skip, and the fault read as survived).
FAULTS ?=
# Never compiled code cached here: a fault written and taken back within one second, at
# the same size, would leave the fault's bytecode for the next run to load as the fix.
mutants: export PYTHONDONTWRITEBYTECODE := 1
mutants: engine
	$(need_setup)
	$(PY) -m suites.mutants $(FAULTS)

# The pictures and docs/figures.md are generated from reports/bench/*.json, never
# written by hand: `make bench` measures and regenerates them, `make figures`
# only regenerates them from the JSONs already there.
bench:
	$(need_setup)
	$(PY) -m bench
	$(PY) -m reports.plots
	$(PY) -m reports.figures

figures:
	$(need_setup)
	$(PY) -m reports.plots
	$(PY) -m reports.figures

# Mutation testing of connector/core against the unit tier ([tool.mutmut] in pyproject.toml):
# long, so not part of `make test`. A fresh run each time (mutants/ is mutmut's work space),
# one worker (MUTMUT_WORKERS), then reports/mutation/core.md and core.json.
MUTMUT_WORKERS ?= 1
mutmut:
	$(need_setup)
	rm -rf mutants
	start=$$(date +%s); HYPOTHESIS_PROFILE=mutmut $(VENV)/bin/mutmut run --max-children $(MUTMUT_WORKERS) && \
	  $(PY) -m suites.mutants.mutmut_report --seconds $$(( $$(date +%s) - start )) \
	    --workers $(MUTMUT_WORKERS)

# Locust from workload1 through the connector; thresholds decide the exit code.
USERS ?= 20
DURATION ?= 30s
WORKERS ?= 0
load: setup
	$(PY) -m lab.traffic.load_run --topology $(TOPOLOGY) --users $(USERS) --duration $(DURATION) \
	  --workers $(WORKERS)

# Allure 3 from npm (Node.js, no Java), pinned in tools/allure/package-lock.json.
ALLURE := tools/allure/node_modules/.bin/allure

$(ALLURE): tools/allure/package.json tools/allure/package-lock.json
	@command -v npm >/dev/null || { echo "make report needs npm (apt-get install npm)" >&2; exit 2; }
	cd tools/allure && npm ci --no-audit --no-fund --silent
	touch $@

# The report of the last `make test` (reports/allure-results) with history kept
# in reports/allure-history.jsonl, and reports/SUMMARY.md beside it.
report: $(ALLURE)
	$(need_setup)
	@test -n "$$(ls reports/allure-results/*-result.json 2>/dev/null)" || \
	  { echo "no test results: run make test first" >&2; exit 2; }
	$(PY) -m reports.summary
	$(ALLURE) generate reports/allure-results --config reports/allurerc.mjs
	@echo "report: reports/allure-report/index.html (serve it: $(ALLURE) open reports/allure-report)"

# Topology pictures for the docs (docs/img/TOPOLOGY.svg), from `cclab graph`.
pictures:
	$(need_setup)
	mkdir -p docs/img
	for t in $$($(PY) -c "from lab.catalog import shipped_topologies as s; print(*s())"); do \
	  $(VENV)/bin/cclab graph $$t -o docs/img/$$t.svg || exit 1; done

# ruff, then the architecture's import contracts ([tool.importlinter] in pyproject.toml).
lint:
	$(need_setup)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# mypy, strict for every package it checks ([tool.mypy] in pyproject.toml).
typecheck:
	$(need_setup)
	$(VENV)/bin/mypy lab connector reports yamlissues tcbpf

clean: lab-down
	rm -rf reports/allure-results reports/allure-report .pytest_cache tools/allure/node_modules
