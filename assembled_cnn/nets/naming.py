"""Reproduces the TF1 variable names of the original graph while the Keras model is built.

TF1 `tf.layers` named every layer by its type (`conv2d`, `batch_normalization`, `dense`) and
made the name unique inside the enclosing variable scope (`conv2d_1`, `conv2d_2`, ...), in
creation order. Building our layers in the original creation order and asking this namer for
each one's name gives the exact checkpoint names without hand-written tables.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict


class Tf1Namer:
    """A variable-scope stack with per-scope counters, like TF1's default layer naming."""

    def __init__(self, root: str = "resnet_model"):
        self._scopes = [root]
        self._counts: dict[tuple[str, str], int] = defaultdict(int)
        self.layer_to_tf1: dict[str, str] = {}

    @property
    def current(self) -> str:
        return "/".join(self._scopes)

    def unique(self, base: str) -> str:
        """`base`, `base_1`, `base_2`, ... within the current scope."""
        key = (self.current, base)
        count = self._counts[key]
        self._counts[key] += 1
        return base if count == 0 else f"{base}_{count}"

    @contextlib.contextmanager
    def scope(self, name: str, *, uniquify: bool = False):
        """Enter a variable scope; `uniquify` mimics `variable_scope(None, default_name=name)`."""
        self._scopes.append(self.unique(name) if uniquify else name)
        try:
            yield self.current
        finally:
            self._scopes.pop()

    def record(self, keras_name: str, base: str, *, scope: str | None = None) -> str:
        """Assign the next TF1 name of type `base` to the Keras layer called `keras_name`."""
        parent = self.current if scope is None else f"{self._scopes[0]}/{scope}"
        if scope is None:
            leaf = self.unique(base)
        else:
            key = (parent, base)
            leaf = base if self._counts[key] == 0 else f"{base}_{self._counts[key]}"
            self._counts[key] += 1
        path = f"{parent}/{leaf}"
        self.layer_to_tf1[keras_name] = path
        return path
