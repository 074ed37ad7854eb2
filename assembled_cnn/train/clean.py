"""`--clean`: remove a previous run's files from its model_dir, and nothing else.

The default model_dir used to be /tmp and `--clean` called rmtree on it. Now a folder is only
cleaned when it is a model_dir this project wrote (it has hparams.json or model_config.json),
and even then only the files a run writes are removed; anything else in it is kept and named.
"""

from __future__ import annotations

import fnmatch
import os
import shutil

from assembled_cnn.config import ConfigError
from assembled_cnn.experiment import DATASET_INFO_FILE, HPARAMS_FILE
from assembled_cnn.model_dir import MODEL_CONFIG_FILE
from assembled_cnn.train.checkpoints import BEST_DIR
from assembled_cnn.train.summaries import EVAL_RESULTS_FILE, METRICS_FILE, SUMMARY_DIRS, WARM_START_FILE

RUN_MARKERS = (HPARAMS_FILE, MODEL_CONFIG_FILE)
# Everything the runner, its best-checkpoint keeper, summaries and the demo write in a model_dir:
# CheckpointManager's files, the run's records, TensorBoard dirs, multi-worker scratch dirs, the
# demo's export, and half-written files of an interrupted write.
RUN_ENTRIES = ("checkpoint", "ckpt-*", *RUN_MARKERS, DATASET_INFO_FILE, METRICS_FILE, EVAL_RESULTS_FILE,
               WARM_START_FILE, *SUMMARY_DIRS, BEST_DIR, ".worker_*", "export", "*_temp*", ".*.tmp*",
               "events.out.tfevents.*")


def is_run_entry(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in RUN_ENTRIES)


def clean_model_dir(model_dir: str) -> list[str]:
    """Delete a previous run's files from `model_dir`; returns the other entries, which are kept.

    Raises ConfigError (one line) when the folder exists, is not empty and is not a model_dir.
    """
    if not os.path.isdir(model_dir):
        if os.path.exists(model_dir):
            raise ConfigError(f"--clean: --model_dir={model_dir} is a file, not a model_dir; pass a folder")
        return []
    entries = sorted(os.listdir(model_dir))
    if not entries:
        return []
    if not any(os.path.isfile(os.path.join(model_dir, m)) for m in RUN_MARKERS):
        raise ConfigError(f"--clean refused: --model_dir={model_dir} is not a model_dir written by assembled_cnn "
                          f"(no {' or '.join(RUN_MARKERS)}); nothing was deleted. Pass a new or an earlier run's "
                          "--model_dir, or drop --clean")
    kept = []
    for name in entries:
        path = os.path.join(model_dir, name)
        if not is_run_entry(name):
            kept.append(name)
        elif os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return kept
