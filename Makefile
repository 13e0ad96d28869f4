# The two commands of README.md:  `make demo` (set up + main job)  and  `make test` (set up + tests).
# Set-up installs the local CPU build of PyTorch 2.13.0 first, so nothing pulls the CUDA build.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-exhaustive lint typecheck bench mutation clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The main job: enumerate the paper's grammar, then a complete small search over its terms on
# icl-regression (embedded Optuna journal file results/demo/journal.log; re-running resumes it),
# the leaderboard, and the winner exported as standalone PyTorch.
DEMO := --study demo --trials 20 --steps 300 --space width=16,32 --task-option d=4

demo: setup
	$(BIN)/archsearch enumerate --grammar paper
	$(BIN)/archsearch search $(DEMO) $$(test -f results/demo/journal.log && echo --resume)
	$(BIN)/archsearch export --study demo -o results/demo/winner.py --weights results/demo/winner.safetensors

lint: setup
	$(BIN)/ruff check archsearch tests benchmarks tools

# mypy on the package (settings in pyproject.toml [tool.mypy]): zero errors
typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/pytest -n 2 -q

# what the default run leaves out: the enumerator against Burnside at order 16 in the complex field (minutes)
test-exhaustive: setup
	$(BIN)/pytest -q -m exhaustive

bench: setup
	$(BIN)/python benchmarks/enumeration_speed.py

# Mutation testing of one core module (not in .ci/run: minutes to an hour a module); the copy it mutates is
# .mutation/<module>/, results are summarised in results/quality/mutation.md.
#   make mutation MODULE=archsearch/families/canonical.py
#   make mutation MODULE=archsearch/compiler/plan.py FUNCTIONS="perm_to permute_expr"   (some functions only)
#   make mutation MODULE=archsearch/search/study.py SURVIVORS=1   (re-check the last run's survivors)
#   make mutation MODULE=archsearch/compiler/order.py TIMEOUT=1.5   (give up on slow mutants sooner)
MODULE ?= archsearch/families/canonical.py
FUNCTIONS ?=
SURVIVORS ?=
TIMEOUT ?=
mutation: setup
	$(BIN)/pip install -q -e '.[mutation]'
	nice -n 15 $(BIN)/python tools/mutation.py $(MODULE) $(if $(FUNCTIONS),--only $(FUNCTIONS)) $(if $(SURVIVORS),--survivors) $(if $(TIMEOUT),--timeout-multiplier $(TIMEOUT))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mutation
