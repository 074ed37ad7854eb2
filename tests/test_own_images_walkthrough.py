"""docs/own-images.md runs as written: its bash blocks, in order, on a tiny folder of photos."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "own-images.md"
sys.path.insert(0, str(REPO / "tests" / "train"))

from trainlib import toy_images  # noqa: E402

CLASSES = ["top", "upper", "lower", "bottom"]  # the toy images' band positions


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def write_image_folder(root: Path, per_class: int = 30) -> Path:
    images, labels = toy_images(per_class * len(CLASSES), seed=4)
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = root / CLASSES[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:03d}.png")
    return root


@pytest.mark.slow
def test_the_walkthrough_runs_as_written(tmp_path):
    blocks = bash_blocks(DOC.read_text())
    assert len(blocks) == 7 and blocks[0].lstrip().startswith("IMAGES=")
    images, work = write_image_folder(tmp_path / "images"), tmp_path / "work"
    settings = {"IMAGES": str(images), "WORK": str(work), "EPOCHS": "1", "SIZE": "cifar"}
    assert set(re.findall(r"^(\w+)=", blocks[0], flags=re.M)) == set(settings)  # the doc's knobs, no more
    prelude = "\n".join(["set -euo pipefail", f'python() {{ "{sys.executable}" "$@"; }}',
                         *(f"{k}={v}" for k, v in settings.items())])
    script = prelude + "\n" + "\n".join(blocks[1:])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]

    evals = [json.loads(line) for line in open(work / "run" / "metrics.jsonl") if '"eval"' in line]
    assert len(evals) == 2 and evals[0]["top1"] == evals[1]["top1"] and evals[0]["loss"] == evals[1]["loss"]
    ranked = re.findall(r"^  1\. class +(\d+)  (\w+)  p=", done.stdout, flags=re.M)
    assert len(ranked) == 6  # 3 images x (export, model_dir), each named by its class folder
    assert all(sorted(CLASSES)[int(index)] == name for index, name in ranked)  # folders sorted by name
    assert ranked[:3] == ranked[3:]  # the export and the model_dir agree
    report = json.loads((work / "robustness" / "mce.json").read_text())["result"]
    assert sorted(report["ce"]) == ["contrast", "defocus_blur", "gaussian_noise"] and report["severities"] == [1, 3]
    assert np.isclose(report["clean_error"], 1.0 - evals[-1]["top1"], atol=1e-9)
    assert (work / "robustness" / "mce.md").exists() and (work / "robustness" / "ce.png").exists()
