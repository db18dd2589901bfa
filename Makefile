# Cantor — the README's two commands: `make demo` and `make test`. Both set everything up first and are
# idempotent: a second run skips what is already installed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_DATA := build/demo-data

.PHONY: setup debian-packages demo test lint format clean bench-deps

setup: debian-packages $(VENV)/.installed

# FluidSynth and the soundfonts used for rendering (FluidR3_GM; MuseScore_General, OPL-3 FM and Csound's GM bank
# add variety; avldrums' two recorded kits for --drum-soundfont);
# python3-venv for a Debian system Python. Only missing packages are installed.
DEBIAN_PACKAGES := fluidsynth fluid-soundfont-gm musescore-general-soundfont-small opl3-soundfont \
	csound-soundfont avldrums.lv2-soundfont python3-venv
debian-packages:
	@command -v dpkg >/dev/null || { echo "Cantor's set-up needs Debian or Ubuntu (dpkg/apt-get)"; exit 1; }
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# torch is pinned to the CPU build (2.13.0); installing it first keeps pip from pulling a CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/cantor data build --preset band --songs 6 --seconds 20 --seed 0 --out $(DEMO_DATA) -j 2
	$(BIN)/cantor data stats $(DEMO_DATA)
	$(BIN)/cantor models
	$(BIN)/cantor separate examples/band-example/mixture.flac --model band -o build/demo-separated --overwrite
	$(BIN)/python examples/score_example.py build/demo-separated/band/mixture
	$(BIN)/cantor vocode build/demo-separated/band/mixture/bass.wav -o build/demo-vocoded/bass-gan.wav --model gan --overwrite
	$(BIN)/cantor analyze examples/band-example/mixture.flac -o build/demo-analysis --overwrite
	$(BIN)/cantor generate sample --style chorale --n 2 --bars 8 --seed 1 -o build/demo-generated --overwrite
	$(BIN)/cantor generate sample --style band --n 1 --bars 8 --seed 1 -o build/demo-generated --overwrite
	$(BIN)/cantor generate variations examples/band-example/mixture.flac --stem melody --n 2 --seed 1 -o build/demo-variations --overwrite

# Peers and metrics for benchmarks/ only, never runtime dependencies. openunmix and asteroid declare torchaudio
# (which would replace the CPU torch), so they go in with --no-deps; the benchmarks use only their model classes.
bench-deps: setup
	$(BIN)/pip install -q --no-deps openunmix==1.3.0 asteroid==0.7.0 asteroid-filterbanks==0.4.0 museval==0.4.1
	$(BIN)/pip install -q pandas==2.2.3 simplejson==4.3.0 jsonschema==4.26.0 mir_eval==0.8.2
	$(BIN)/pip install -q huggingface_hub==2.4.0 visqol-python==3.8.0 numba==0.68.1
	# basic-pitch's wheel carries its ONNX model; without its TensorFlow pin it runs on onnxruntime
	# (resampy 0.4.3: 0.4.2 imports pkg_resources, which current setuptools no longer has)
	$(BIN)/pip install -q --no-deps basic-pitch==0.4.0 resampy==0.4.3
	$(BIN)/pip install -q onnxruntime==1.23.2 scikit-learn

lint: setup
	$(BIN)/ruff check src tests benchmarks examples recipes
	$(BIN)/ruff format --check src tests benchmarks examples recipes

# The studio's end-to-end test drives Debian's Chromium (Playwright never downloads a browser here).
test: setup lint
	@$(MAKE) --no-print-directory debian-packages DEBIAN_PACKAGES=chromium
	$(BIN)/python -m pytest -q

format: setup
	$(BIN)/ruff format src tests benchmarks examples recipes
	$(BIN)/ruff check --fix src tests benchmarks examples recipes

clean:
	rm -rf build .pytest_cache .ruff_cache
