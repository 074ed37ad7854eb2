"""Console output of a run: log lines above the progress bars, and only on the chief.

A tqdm bar redraws its line with carriage returns; a `print` or an absl log line written while it
is drawn lands in the middle of the bar ("train:  40%|####  eval at step 8: top1=..."). Within
`console_output()` every line written to stdout or stderr, and every absl / Python log record,
goes through `tqdm.write`, which clears the active bars, writes the line and redraws them.
The bars' own drawing passes through untouched.

In a multi-worker run every worker executes the same library code; with `chief=False` the
worker's stdout lines and INFO logs are dropped, so the console shows one run, while warnings,
errors and anything written to stderr still appear on every worker.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator, TextIO

from tqdm import tqdm


def _written_by_tqdm() -> bool:
    """True for the bars' own drawing: tqdm wraps its stream, so its write calls come from tqdm."""
    frame = sys._getframe(2)
    return frame is not None and str(frame.f_globals.get("__name__", "")).startswith("tqdm")


class LinesAboveBars:
    """A text stream that writes whole lines through `tqdm.write` (above the bars) to `target`;
    with `keep=False` it drops them instead. Partial lines wait for their end."""

    def __init__(self, target: TextIO, keep: bool = True):
        self.target = target
        self.keep = keep
        self._pending = ""

    def write(self, text: str) -> int:
        if _written_by_tqdm():
            return self.target.write(text)
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            if self.keep:
                tqdm.write(line, file=self.target)
                self.target.flush()  # before the bars are drawn again, also where stdout is a buffered pipe
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def close_pending(self) -> None:
        """Write out a last line that never got its newline."""
        if self._pending and self.keep:
            self.target.write(self._pending)
        self._pending = ""
        self.target.flush()

    def __eq__(self, other) -> bool:
        # tqdm clears a bar before writing to "its" stream: this stream stands for `target`.
        other = getattr(other, "_wrapped", other)
        return other is self or other is self.target

    def __hash__(self) -> int:
        return hash(id(self.target))

    def __getattr__(self, name):  # isatty, fileno, encoding, ... of the real stream
        return getattr(self.target, name)


def _console_handlers() -> list[logging.StreamHandler]:
    """The log handlers that write to the console: Python's, and absl's inner handler."""
    found = []
    for handler in logging.getLogger().handlers:
        handler = getattr(handler, "python_handler", handler)  # absl.logging.ABSLHandler
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.__stdout__, sys.__stderr__,
                                                                              sys.stdout, sys.stderr):
            found.append(handler)
    return found


@contextlib.contextmanager
def _info_dropped(drop: bool) -> Iterator[None]:
    """Raise the console loggers (Python's root, absl's, TensorFlow's) to WARNING while `drop`."""
    loggers = [logging.getLogger(name) for name in ("", "absl", "tensorflow")] if drop else []
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.level, logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def console_output(chief: bool = True) -> Iterator[None]:
    """Within the block: print and log lines above the progress bars; stdout and INFO logs on the
    chief only (`chief=False` on the other workers of a multi-worker run). Inside an outer
    `console_output` (a command around a library call) the outer one stays in charge."""
    if isinstance(sys.stdout, LinesAboveBars):
        yield
        return
    out, err = LinesAboveBars(sys.stdout, keep=chief), LinesAboveBars(sys.stderr)
    streams = {id(sys.stdout): out, id(sys.stderr): err, id(sys.__stdout__): out, id(sys.__stderr__): err}
    handlers = [(h, h.stream) for h in _console_handlers()]
    sys.stdout, sys.stderr = out, err
    for handler, stream in handlers:
        handler.setStream(streams.get(id(stream), err))
    try:
        with _info_dropped(not chief):
            yield
    finally:
        sys.stdout, sys.stderr = out.target, err.target
        for handler, stream in handlers:
            handler.setStream(stream)
        out.close_pending()
        err.close_pending()
