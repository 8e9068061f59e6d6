# Two entry points: `make demo` (the main job) and `make test` (the whole suite). Each creates
# .venv on first use and installs PyTorch's CPU build from the wheel this machine has.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint docs bench gpu-check gpu-check-cpu clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,plot,progress,dask,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo_digits.py

test: $(STAMP)
	$(PY) -m pytest -q --doctest-modules smoothcert tests

lint: $(STAMP)
	$(VENV)/bin/ruff check smoothcert tests benchmarks examples

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

docs: $(STAMP)
	rm -rf docs/gen_modules  # generated API stubs: stale ones would break -W
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(PY) benchmarks/bench_certify.py

# The GPU check (benchmarks/gpu_check.py; about 4 minutes on an H200): CUDA tests, a linear model
# against its exact radius, throughput of ResNet-20 and ResNet-50, bf16 versus float32. Not built on
# $(STAMP): the venv holds PyTorch's CPU build, so on a GPU machine run it with a CUDA-enabled
# Python, e.g. `make gpu-check PY=python3 ARGS="--out /tmp/gpu_check.json"`.
gpu-check:
	$(PY) benchmarks/gpu_check.py $(ARGS)

# The same script on this machine's CPU with tiny sizes (under a minute): that it runs.
gpu-check-cpu: $(STAMP)
	$(PY) benchmarks/gpu_check.py --device cpu --quick $(ARGS)

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples docs/gen_modules
