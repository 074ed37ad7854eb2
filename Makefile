# Two entry points for a new machine: `make demo` and `make test`. Both set everything up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv sysdeps test test-latest lock demo bench clean

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

# Installs exactly what requirements.lock pins (hashes checked), then this package without deps.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

venv: $(STAMP) sysdeps

# Two pytest processes (pytest-xdist), each test file in one of them (module fixtures are built
# once): much of the suite is single-threaded Python (tracing, conversion), so 2 cores finish it
# sooner together. TEST_WORKERS=0 runs it in one process. The 15 slowest items are listed at the
# end, so every CI log says where the suite's time went.
TEST_WORKERS ?= 2
test: venv
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15 tests

# The newest versions pyproject.toml allows, in a separate venv: does the next lock still pass?
test-latest: sysdeps
	test -x .venv-latest/bin/python || $(PY) -m venv .venv-latest
	.venv-latest/bin/python -m pip install -q --upgrade -e '.[test,robustness,deploy]'
	.venv-latest/bin/python -m pip freeze --exclude-editable
	.venv-latest/bin/python -m pip check
	.venv-latest/bin/python -m pytest -q tests

# Re-resolve requirements.lock from pyproject.toml (newest allowed versions, sha256 of every file).
UV_VERSION := 0.13.9
lock:
	test -x .tools/uv/bin/uv || $(PY) -m pip install -q --target .tools/uv uv==$(UV_VERSION)
	{ echo "# Exact versions (with hashes) that CI and the README's figures were measured with."; \
	  echo "# Refresh: make lock   (see README, \"Reproducible installs\")."; \
	  PYTHONPATH=.tools/uv .tools/uv/bin/uv pip compile pyproject.toml --extra test --extra robustness --extra deploy -c lock-constraints.txt \
	    --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header -q; \
	} > requirements.lock.new && mv requirements.lock.new requirements.lock

demo: venv
	$(BIN)/python -m assembled_cnn.demo --output_dir runs/demo

bench: venv
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_train.py

clean:
	rm -rf $(VENV) .venv-latest .tools build *.egg-info
