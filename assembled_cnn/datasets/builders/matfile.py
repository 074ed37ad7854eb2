"""Reading the official MATLAB annotation files (Stanford Cars, Flowers-102) with scipy."""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import DatasetLayoutError


def load_mat(path: Path) -> dict:
    """loadmat with squeezed arrays, so structs index like records and scalars like numbers."""
    try:
        from scipy.io import loadmat
    except ImportError as error:
        raise DatasetLayoutError(
            f"reading {path} needs scipy; install it with `pip install scipy`.") from error
    if not path.is_file():
        raise DatasetLayoutError(f"missing annotation file {path}; download it from the "
                                 "dataset's official page into --raw_dir.")
    return loadmat(str(path), squeeze_me=True, struct_as_record=True)
