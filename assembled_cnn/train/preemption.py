"""SIGTERM, the scheduler's "you are about to be stopped": finish the step, checkpoint, exit 143.

Why not `tf.distribute.experimental.PreemptionCheckpointHandler`: to learn its platform it sends
an HTTP request to the GCE metadata server (a 5 s wait, and outbound traffic, on every other
machine), it does not support CPU machines on GCP, and it restores the checkpoint itself when
constructed, behind the runner's resume and warm-start logic. A flag set by the signal handler and
checked between steps gives the same result for one worker.
"""

from __future__ import annotations

import signal
import threading

RESTARTABLE_EXIT_CODE = 143  # 128 + SIGTERM, the code TF's own handler exits with


class PreemptedError(RuntimeError):
    """Training stopped on SIGTERM after saving a checkpoint; the same command resumes it."""


class TerminationWatch:
    """While active (a `with` block in the main thread), SIGTERM only sets `requested`."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _on_sigterm(self, signum, frame):
        self.requested = True

    def __enter__(self) -> "TerminationWatch":
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None
