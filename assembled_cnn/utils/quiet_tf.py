"""No CUDA noise on a CPU machine: TensorFlow's start-up lines that say nothing, filtered out.

When TensorFlow is imported and lists its devices, its C++ runtime writes lines such as

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. ...
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ...

straight to file descriptor 2, before absl logging is initialised, so TF_CPP_MIN_LOG_LEVEL does
not remove them (and cuInit's is an ERROR). `import_tensorflow_quietly` imports TensorFlow and
lists the devices with descriptor 2 redirected to a temporary file, then writes back to stderr
every line that is not one of the known harmless ones below: nothing else is swallowed.
Every command line calls it first (main_classification.py, and `python -m assembled_cnn.*`
through the package's `__init__`); `--debug`, or a TF_CPP_MIN_LOG_LEVEL the user set, keeps
TensorFlow's own output untouched.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator, Mapping, Sequence

# Lines TensorFlow writes at import / device initialisation on a machine without (usable) CUDA.
HARMLESS = tuple(re.compile(pattern) for pattern in (
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"\] oneDNN custom operations are on\.",
    r"\] Could not find cuda drivers on your machine, GPU will not be used\.",
    r"\] failed call to cuInit: ",
    r"\] This TensorFlow binary is optimized to use available CPU instructions in performance-critical",
    r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.$",
    r"\] Unable to register cu(DNN|FFT|BLAS) factory: Attempting to register factory for plugin",
    r"TF-TRT Warning: Could not find TensorRT",
))

_DONE = False


def wants_quiet(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Filter unless the user asked for TensorFlow's own output (--debug, TF_CPP_MIN_LOG_LEVEL)."""
    debug = any(arg == "--debug" or (arg.startswith("--debug=") and arg.split("=", 1)[1].lower() not in
                                     ("false", "0", "no")) for arg in argv)
    return not debug and "TF_CPP_MIN_LOG_LEVEL" not in environ


def is_harmless(line: str) -> bool:
    return any(pattern.search(line) for pattern in HARMLESS)


def without_harmless_lines(data: bytes) -> bytes:
    """`data` less the harmless lines; every other byte is kept as it was."""
    kept = [line for line in data.splitlines(keepends=True)
            if not is_harmless(line.decode("utf-8", errors="replace").rstrip("\r\n"))]
    return b"".join(kept)


@contextlib.contextmanager
def harmless_stderr_lines_dropped() -> Iterator[None]:
    """Within the block, descriptor 2 goes to a temporary file; afterwards (also after an error)
    everything written there but the harmless lines is written to the real stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            _write_all(2, without_harmless_lines(capture.read()))


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def import_tensorflow_quietly(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Import TensorFlow and initialise its devices without the harmless start-up lines (once)."""
    global _DONE
    if _DONE or not wants_quiet(sys.argv if argv is None else argv, os.environ if environ is None else environ):
        return
    _DONE = True
    with harmless_stderr_lines_dropped():
        import tensorflow as tf

        tf.config.list_physical_devices()
