"""Oxford Flowers-102: ``jpg/image_%05d.jpg`` with ``imagelabels.mat`` and ``setid.mat``.

Label = official label - 1 (0..101); train = trnid + valid (2,040), validation = tstid
(6,149), matching the original data_config sizes. The dataset ships no class names,
so they are ``class_001`` .. ``class_102`` (the official 1-based ids).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  find_root, require_dir)
from assembled_cnn.datasets.builders.matfile import load_mat

HINT = "Download 102flowers.tgz, imagelabels.mat and setid.mat into --raw_dir and extract the tgz."


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = find_root(raw_dir, "imagelabels.mat", ["flowers102", "oxford_flowers102"])
    images = require_dir(root / "jpg", "image folder", HINT)
    labels = np.atleast_1d(load_mat(root / "imagelabels.mat")["labels"]).astype(int)
    setid = load_mat(root / "setid.mat")
    num_classes = int(labels.max())
    names = [f"class_{i:03d}" for i in range(1, num_classes + 1)]

    def items(key_names: tuple[str, ...]) -> list[RawItem]:
        result = []
        for key in key_names:
            for image_id in np.atleast_1d(setid[key]).astype(int):
                if not 1 <= image_id <= len(labels):
                    raise DatasetLayoutError(f"{root / 'setid.mat'}: {key} has id {image_id} but "
                                             f"imagelabels.mat has {len(labels)} labels")
                name = f"image_{image_id:05d}.jpg"
                label = int(labels[image_id - 1]) - 1
                result.append(RawItem(str(images / name), label, filename=name, text=names[label]))
        return result

    return RawDataset({TRAIN: items(("trnid", "valid")), VALIDATION: items(("tstid",))}, names)
