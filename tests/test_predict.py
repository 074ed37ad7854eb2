"""predict CLI / API on generated photos, a corrupt file, a truncated JPEG and a missing file."""

import io
import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from assembled_cnn import predict
from assembled_cnn.export import export_from_model_dir
from assembled_cnn.model_dir import save_model_checkpoint, save_model_config
from assembled_cnn.nets import build_model, model_info

NUM_CLASSES = 6
SIZE = 32
CLASS_NAMES = ["apple", "banana", "cherry", "date", "elder", "fig"]


def _photo(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, 128 + 0 * x], -1) * rng.uniform(0.3, 1.0, 3)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model_dir")
    model = build_model("resnet18", num_filters=8, num_classes=NUM_CLASSES, input_size=SIZE)
    save_model_config(str(directory), model_info(model).config)
    save_model_checkpoint(str(directory), model, step=1)
    return str(directory)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    paths = {"jpeg": root / "photo.jpg", "png": root / "gray.png", "rgba": root / "alpha.png"}
    Image.fromarray(_photo(48, 64, 0)).save(paths["jpeg"], quality=92)
    Image.fromarray(_photo(40, 40, 1)[..., 0]).save(paths["png"])  # 1-channel PNG
    Image.fromarray(np.dstack([_photo(36, 50, 2), np.full((36, 50), 200, np.uint8)])).save(
        paths["rgba"])
    paths["corrupt"] = root / "corrupt.jpg"
    paths["corrupt"].write_bytes(np.random.default_rng(3).bytes(500))
    buffer = io.BytesIO()
    Image.fromarray(_photo(64, 64, 4)).save(buffer, format="JPEG")
    paths["truncated"] = root / "truncated.jpg"
    paths["truncated"].write_bytes(buffer.getvalue()[:300])
    paths["missing"] = root / "missing.png"
    return {key: str(path) for key, path in paths.items()}


@pytest.fixture(scope="module")
def label_map(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "dataset_info.json"
    path.write_text(json.dumps({"num_classes": NUM_CLASSES, "label_map": dict(enumerate(CLASS_NAMES))}))
    return str(path)


def test_predict_files_ranks_classes_and_names_them(model_dir, images, label_map):
    good = [images["jpeg"], images["png"], images["rgba"]]
    results = predict.predict_files(good, model_dir=model_dir, top_k=3, label_map=label_map,
                                    preprocessing_type=f"imagenet_{SIZE}")
    assert [r.path for r in results] == good
    for result in results:
        assert result.ok and len(result.top) == 3
        probabilities = [score.probability for score in result.top]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0.0 < sum(probabilities) <= 1.0 + 1e-6
        assert all(score.name == CLASS_NAMES[score.index] for score in result.top)


def test_bad_files_are_reported_by_name_and_others_still_predicted(model_dir, images):
    order = ["jpeg", "corrupt", "missing", "truncated", "png"]
    results = predict.predict_files([images[k] for k in order], model_dir=model_dir)
    by_key = dict(zip(order, results))
    assert by_key["jpeg"].ok and by_key["png"].ok
    assert len(by_key["jpeg"].top) == 5 and by_key["jpeg"].top[0].name is None
    assert "not found" in by_key["missing"].error
    assert "decodable" in by_key["corrupt"].error
    assert not by_key["truncated"].ok


def test_saved_model_agrees_with_model_dir(model_dir, images, label_map, tmp_path):
    export_dir = export_from_model_dir(model_dir, str(tmp_path / "served"), label_map=label_map)
    paths = [images["jpeg"], images["rgba"], images["corrupt"]]
    from_export = predict.predict_files(paths, saved_model=export_dir)
    from_checkpoint = predict.predict_files(paths, model_dir=model_dir, label_map=label_map)
    for a, b in zip(from_export[:2], from_checkpoint[:2]):
        assert [s.index for s in a.top] == [s.index for s in b.top]
        assert [s.name for s in a.top] == [s.name for s in b.top]  # names from export_info
        np.testing.assert_allclose([s.probability for s in a.top],
                                   [s.probability for s in b.top], rtol=1e-4, atol=1e-6)
    assert not from_export[2].ok and "corrupt.jpg" == from_export[2].path.split("/")[-1]


def test_cli_prints_top5_and_fails_on_bad_files(model_dir, images, label_map, capsys):
    code = predict.main(["--model_dir", model_dir, "--label_map", label_map,
                         images["jpeg"], images["corrupt"], images["missing"], images["png"]])
    out, err = capsys.readouterr()
    assert code == 1
    assert images["jpeg"] in out and images["png"] in out
    assert out.count("  1. class") == 2 and out.count("  5. class") == 2
    ranked = re.findall(r"^  \d\. class +(\d+)  (\S+)  p=", out, flags=re.M)
    assert len(ranked) == 10 and all(CLASS_NAMES[int(index)] == name for index, name in ranked)
    assert images["corrupt"] in err and images["missing"] in err
    assert "2 of 4 image(s) could not be classified" in err


def test_cli_exit_zero_and_label_map_found_in_model_dir(model_dir, images, capsys, tmp_path):
    copy = tmp_path / "model_dir"
    shutil.copytree(model_dir, copy)
    (copy / "dataset_info.json").write_text(json.dumps({"label_map": dict(enumerate(CLASS_NAMES))}))
    assert predict.main(["--model_dir", str(copy), "--top_k", "2", images["jpeg"]]) == 0
    out = capsys.readouterr().out
    ranked = re.findall(r"^  \d\. class +(\d+)  (\S+)  p=", out, flags=re.M)
    assert len(ranked) == 2 and all(CLASS_NAMES[int(index)] == name for index, name in ranked)


def test_cli_needs_exactly_one_model_source(images, capsys):
    assert predict.main([images["jpeg"]]) == 2
    assert "--model_dir or --saved_model" in capsys.readouterr().err


def test_cli_reports_a_bad_saved_model_dir(images, tmp_path, capsys):
    assert predict.main(["--saved_model", str(tmp_path), images["jpeg"]]) == 2
    assert str(tmp_path) in capsys.readouterr().err
