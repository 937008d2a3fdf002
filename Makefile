# The two set-up commands of the README:
#   make repro   virtualenv (.venv) + install + `dvc repro` (every notebook, every report)
#   make test    install test extras + run the test suite
# Both are idempotent: the install step re-runs only when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1
export MPLBACKEND := Agg

.PHONY: help repro test lab kernel fan bench paper clean-notebooks clean
.DEFAULT_GOAL := help

help:
	@echo "make repro   create $(VENV), install fernb, run the whole pipeline (dvc repro)"
	@echo "make test    install test extras and run pytest"
	@echo "make lab     install JupyterLab and the 'fernb' kernel, then open the notebooks"
	@echo "make fan     install the face-alignment (FAN) face backend; its weights download on first use"
	@echo "make bench   print the timing benchmarks (pipeline, FER2013 store, faces, model latency, training throughput)"
	@echo "make paper DATASET=fer2013   the papers' scale on a GPU box (a DVC experiment; real data from FERNB_DATA)"
	@echo "make clean-notebooks   strip outputs from notebooks/ before committing (tests require it)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "fernb needs Python 3.10-3.12, but $(PYTHON) is %d.%d: run make PYTHON=python3.11" % v)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

repro: $(VENV)/.installed
	$(BIN)/dvc repro

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(VENV)/.installed-lab: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[lab]'
	@touch $@ $(VENV)/.installed

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

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_faces.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_train.py

# The papers' scale (GPU box): full training split, HAFEM with EfficientNet-B5 at 224 px and
# d_model 2048 for 140 epochs (10 warm-up), LANMSFF at 64 px for up to 100 epochs, SEEDS each.
DATASET ?= fer2013
SEEDS ?= [0,1,2]
PAPER_ARGS ?=
paper: $(VENV)/.installed
	$(BIN)/dvc exp run -S "datasets=[$(DATASET)]" -S data.dataset=$(DATASET) \
	  -S hafem.backbone=efficientnet_b5 -S hafem.img_size=224 -S hafem.d_model=null -S hafem.epochs=140 \
	  -S hafem.warmup_epochs=10 -S hafem.batch_size=64 -S 'hafem.loss_weights=[0.6,0.25,0.15]' -S hafem.augment=hafem \
	  -S hafem.max_train=null -S 'hafem.seeds=$(SEEDS)' \
	  -S lanmsff.img_size=64 -S lanmsff.epochs=100 -S lanmsff.max_train=null -S 'lanmsff.seeds=$(SEEDS)' \
	  $(PAPER_ARGS)

clean-notebooks: $(VENV)/.installed
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

clean:
	rm -rf $(VENV) .pytest_cache
