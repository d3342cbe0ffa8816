# Build glue: a venv with the pinned Python packages, and the JVM artifacts from Maven Central.
# `make demo` and `make test` do all of the set-up they need on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
JARS   := .cache/jars
MVN    := mvn -q -B -s jvm/settings.xml
POMS   := $(wildcard jvm/*/pom.xml)
STAMPS := $(patsubst jvm/%/pom.xml,$(JARS)/%/.resolved,$(POMS))

export PYSPARK_PYTHON := $(abspath $(BIN)/python)
export PYSPARK_DRIVER_PYTHON := $(abspath $(BIN)/python)
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: setup venv jars demo test test-fast lint clean

setup: venv jars

venv: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

jars: $(STAMPS)
# A module with sources (jvm/<name>/src, e.g. the s3-sqs source) is rebuilt when any of them changes.
.SECONDEXPANSION:
$(JARS)/%/.resolved: jvm/%/pom.xml jvm/settings.xml $$(shell find jvm/$$*/src -type f 2>/dev/null)
	@echo "resolving $* jars from Maven Central"
	rm -rf $(JARS)/$*
	$(MVN) -f jvm/$*/pom.xml -Djars.dir=$(abspath $(JARS)/$*)
	touch $@

demo: setup
	$(BIN)/sessionlake demo

# The pull-request checks, without the stack: ruff, source YAML, dbt parse, raw PII in models, sqlfluff
# (docs/contributing.md). `sessionlake check --changed` looks at a branch's changes only.
lint: venv
	$(BIN)/sessionlake check

# Two workers, each with its own local stack, each taking whole test modules, slowest first
# (tests/conftest.py); TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2
test: setup lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The fast tier: tests that need no stack and no Spark (tests/conftest.py marks them), in one process.
test-fast: venv
	$(BIN)/pytest -m fast -p no:xdist -q

clean:
	rm -rf $(VENV) .cache .sessionlake target logs
