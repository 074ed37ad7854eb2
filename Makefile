# Two entry points for a new machine: `make demo` and `make test`. Both set everything up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv sysdeps test demo bench clean

# ImageMagick's MagickWand for the reference corruption protocol (Wand). Installed with apt when
# missing and we are root; otherwise a note (the fast TF corruptions do not need it).
sysdeps:
	@if ! ldconfig -p 2>/dev/null | grep -q libMagickWand; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -q libmagickwand-6.q16-6 >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libmagickwand-6.q16-6 >/dev/null)) \
	    && echo "installed ImageMagick (libmagickwand) for Wand"; \
	  else echo "note: ImageMagick's libMagickWand is missing; reference-mode motion blur/snow will fail"; fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,robustness]'
	touch $(STAMP)

venv: $(STAMP) sysdeps

test: venv
	$(BIN)/python -m pytest -q tests

demo: venv
	$(BIN)/python -m assembled_cnn.demo --output_dir runs/demo

bench: venv
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_train.py

clean:
	rm -rf $(VENV) build *.egg-info
