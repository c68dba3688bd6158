# eduscore tasks. On a fresh machine: `make serve` (sets up .venv, serves the shipped model)
# and `make test` (sets up .venv, runs lint and the whole suite against real servers).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: install proto lint test serve bench train evaluate docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of PyTorch first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[server,train,dev,ray,datatrove]'
	touch $@

install: $(STAMP)  ## create .venv with eduscore (every extra), CPU PyTorch and the dev tools

proto: $(STAMP)  ## regenerate service/eduscore/v1 from proto/
	$(PY) -m grpc_tools.protoc -Iproto --python_out=service --pyi_out=service \
		--grpc_python_out=service proto/eduscore/v1/eduscore.proto

lint: $(STAMP)
	$(VENV)/bin/ruff check service tests bench
	$(VENV)/bin/lint-imports

test: lint  ## the whole suite; starts real servers on loopback ports
	$(PY) -m pytest -q

serve: $(STAMP)  ## serve the shipped model: gRPC :50051, metrics :9100
	HF_HUB_OFFLINE=1 $(VENV)/bin/eduscore serve

bench: $(STAMP)  ## throughput/latency against the in-process ceiling
	$(PY) -m bench

train: $(STAMP)  ## retrain models/current: both tiers, their file models, grouped CV (~10 min; --finetune: +~23 min per fold and for the final run)
	$(VENV)/bin/eduscore train --data ../shared/data/edu-annotations/corpus.jsonl --files ../shared/data/edu-annotations/files.jsonl --pool ../shared/data/code-pool/pool.jsonl.gz --out models/current

docs: $(STAMP)  ## rewrite README.md's figures from models/current and bench/results (after train or bench)
	$(PY) -m bench.report

evaluate: $(STAMP)  ## grouped-CV report of the shipped recipe
	$(VENV)/bin/eduscore evaluate ../shared/data/edu-annotations/corpus.jsonl --cv 5 --out reports/cv
