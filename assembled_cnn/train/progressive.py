"""Progressive resizing: the first part of a run trains on smaller images, which costs less per
step, and the rest at the full training size, so the network ends adapted to the size it is
evaluated at (fast.ai's DAWNBench recipe; FixRes explains why the last phase matters)."""

from __future__ import annotations

from assembled_cnn.config import DataConfig


def size_phases(total_steps: int, data: DataConfig) -> list[tuple[int, int | None]]:
    """[(first step, training size)] in order; None is the preset's (or --train_size) size.

    The listed sizes share the first `progressive_until` of the steps equally; a run without
    progressive sizes is one phase at step 0."""
    sizes = [int(v) for v in data.progressive_sizes]
    if not sizes:
        return [(0, None)]
    small_steps = int(round(total_steps * data.progressive_until))
    starts = [round(i * small_steps / len(sizes)) for i in range(len(sizes))]
    phases = [(start, size) for start, size in zip(starts, sizes)] + [(small_steps, None)]
    return [phase for i, phase in enumerate(phases) if i + 1 == len(phases) or phases[i + 1][0] > phase[0]]


def size_at(phases: list[tuple[int, int | None]], step: int) -> int | None:
    """The training size of the phase that `step` belongs to."""
    return [size for start, size in phases if start <= step][-1]


def phase_starts(phases: list[tuple[int, int | None]]) -> set[int]:
    """Steps at which the input pipeline must be rebuilt for a new size."""
    return {start for start, _ in phases[1:]}
