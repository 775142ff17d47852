# The two commands a new user needs: `make report` (the pipeline) and `make test`.
# Both create the virtual environment in .venv on first use.
PYTHON_FOR_VENV ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
STAMP := $(VENV)/.installed
CORES ?= 4

.PHONY: all venv report test test-cluster bench lint dry-run verify verify-repair clean

all: report

$(STAMP): pyproject.toml
	command -v $(PYTHON_FOR_VENV) >/dev/null || { echo "needs $(PYTHON_FOR_VENV) (torch 2.14.1 wheels are for CPython 3.11); set PYTHON_FOR_VENV" >&2; exit 1; }
	$(PYTHON_FOR_VENV) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## Run the whole pipeline on the default config (results/ and, later, report/).
report: $(STAMP)
	$(SNAKEMAKE) --cores $(CORES)

## Unit tests, config checks, Snakemake lint and a small end-to-end DAG run.
test: $(STAMP)
	$(VENV)/bin/ruff check scripts tests
	$(PY) -m pytest

## The small end-to-end run through a real single-node SLURM on localhost (needs root: it
## installs slurm-wlm and starts slurmctld and slurmd; tests/cluster/stop_slurm.sh stops them).
test-cluster: $(STAMP)
	tests/cluster/start_slurm.sh
	$(PY) -m pytest -m cluster -s tests/test_cluster.py

## Training speed: the tutorial loop vs the pipeline's trainer (results/bench/train.json).
bench: $(STAMP)
	$(PY) bench/bench_training.py

## Check every artifact under results/ and report/ against its SHA-256 record.
verify: $(STAMP)
	$(PY) -m cnnlab.verify verify results report

## As verify, and move what cannot be trusted to results/damaged/ so the next run rebuilds it
## (refused while a running Snakemake holds its lock: its fresh outputs have no records yet).
verify-repair: $(STAMP)
	$(PY) -m cnnlab.verify verify --repair results report

lint: $(STAMP)
	$(VENV)/bin/ruff check scripts tests
	$(SNAKEMAKE) --lint

dry-run: $(STAMP)
	$(SNAKEMAKE) -n --cores $(CORES)

## Remove generated results (keeps .venv and data/).
clean:
	rm -rf results report .snakemake
