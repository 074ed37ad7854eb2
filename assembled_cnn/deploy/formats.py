"""``python -m assembled_cnn.export --format F``: one model_dir → one export directory, checked.

    saved_model  E/saved_model.pb …, E/assets/export_info.json   (signatures: see export.py)
    tflite       E/model.tflite (float32 in/out), E/export_info.json
    tflite_int8  E/model.tflite (int8 in/out, every op int8), E/export_info.json
    onnx         E/model.onnx (input ``images`` float32 NHWC, opset 17), E/export_info.json

and E/export_check.json for each: the export against the Keras model on the first
``num_check`` validation images of the model_dir's data. int8 is calibrated on the next
``num_calibration`` validation images (disjoint from the checked ones). The network, its weights
(the EMA copy when the run kept one), its eval preprocessing and class names come from
`experiment.load_experiment`, as for the runner's evaluation. TFLite and ONNX take preprocessed
images; ``export_info.json`` names the preset (``predict`` applies it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from assembled_cnn import export as saved
from assembled_cnn.deploy import check, convert, data, runtime
from assembled_cnn.experiment import load_experiment
from assembled_cnn.preprocessing import PreprocessConfig

FORMATS = ("saved_model", "tflite", "tflite_int8", "onnx")
MODEL_FILES = {"tflite": runtime.TFLITE_FILE, "tflite_int8": runtime.TFLITE_FILE, "onnx": runtime.ONNX_FILE}


@dataclass
class ExportRequest:
    model_dir: str
    export_dir: str
    format: str = "saved_model"
    preprocessing_type: str | None = None
    checkpoint: str | None = None
    label_map: str | None = None
    data_dir: str | None = None
    num_check: int = 64
    num_calibration: int = 200
    overwrite: bool = False


def _images(request: ExportRequest, preprocess: PreprocessConfig, count: int):
    source = data.data_source(request.model_dir, request.data_dir)
    if source is None:
        return None, None
    return data.read_images(source, preprocess, count)


def _write_model(request: ExportRequest, model, preprocess, staging: str, calibration) -> None:
    shape = preprocess.output_shape(False)
    if request.format == "onnx":
        blob = convert.to_onnx(model, shape)
    else:
        representative = None
        if request.format == "tflite_int8":
            if calibration is None or not len(calibration):
                raise convert.ConversionError(
                    "tflite_int8 needs calibration images: the model_dir records no data_dir and "
                    "--data_dir was not given (or its validation split has too few records)")
            representative = data.representative_dataset(calibration)
        blob = convert.to_tflite(model, shape, representative)
    with open(os.path.join(staging, MODEL_FILES[request.format]), "wb") as handle:
        handle.write(blob)


def _info(request: ExportRequest, model, preprocess, class_names, calibrated: int, source: dict) -> dict:
    payload = saved.export_info_payload(model, preprocess, class_names, source)
    payload.update(format=request.format, signatures=None, model_file=MODEL_FILES[request.format],
                   input={"name": convert.INPUT_NAME, "dtype": "float32",
                          "shape": [None, *preprocess.output_shape(False)],
                          "preprocessing": "outside the model: apply preprocessing_type"},
                   output="logits float32 [None, num_classes]")
    if request.format == "onnx":
        payload["onnx_opset"] = convert.ONNX_OPSET
    if request.format == "tflite_int8":
        payload["calibration_images"] = calibrated
    return payload


def _source(request: ExportRequest, experiment) -> dict:
    return {"model_dir": os.path.abspath(request.model_dir), "checkpoint": experiment.checkpoint,
            "weights": experiment.weights,
            "label_map": os.path.abspath(request.label_map) if request.label_map else None}


def _class_names(request: ExportRequest, experiment):
    if request.label_map is None:
        return experiment.class_names
    return saved.load_class_names(request.label_map, experiment.num_classes)


def _write_converted(request, model, preprocess, class_names, staging, calibration, source) -> None:
    served = saved._folded_if_possible(model)
    _write_model(request, served, preprocess, staging, calibration)
    calibrated = 0 if calibration is None else len(calibration)
    saved.write_json_atomic(os.path.join(staging, runtime.INFO_FILE),
                            _info(request, served, preprocess, class_names, calibrated, source))


def export_format(request: ExportRequest) -> tuple[str, dict | None]:
    """Write and check the export; returns (export_dir, the check's result or None without data)."""
    if request.format not in FORMATS:
        raise saved.ExportError(f"--format={request.format!r}: choose one of {', '.join(FORMATS)}")
    experiment = load_experiment(request.model_dir, checkpoint=request.checkpoint,
                                 preprocessing_type=request.preprocessing_type)
    model, preprocess = experiment.model, experiment.preprocess
    class_names = _class_names(request, experiment)
    saved._check_compatible(model, preprocess, class_names)
    source = _source(request, experiment)
    want = request.num_check + (request.num_calibration if request.format == "tflite_int8" else 0)
    images, labels = _images(request, preprocess, want)
    checked = None if images is None else images[:request.num_check]
    calibration = None if images is None else images[request.num_check:]
    if request.format == "saved_model":
        return _saved_model(request, model, preprocess, class_names, checked, labels, source)
    export_dir = os.path.abspath(request.export_dir)
    saved._prepare_destination(export_dir, request.overwrite)
    os.makedirs(os.path.dirname(export_dir), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(export_dir)}.tmp-", dir=os.path.dirname(export_dir))
    try:
        _write_converted(request, model, preprocess, class_names, staging, calibration, source)
        result = _check(model, staging, checked, labels)
        saved._make_readable(staging, *[os.path.join(staging, f) for f in os.listdir(staging)])
        saved._move_into_place(staging, export_dir, request.overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return export_dir, result


def _check(model, folder: str, images, labels) -> dict | None:
    if images is None or not len(images):
        return None
    runner = runtime.load_export(folder)
    keras_logits = convert.logits_function(model, tuple(images.shape[1:]))
    result = check.check_export(lambda x: keras_logits(x).numpy(), runner.logits, images,
                                labels[:len(images)], runner.format)
    check.write_check(folder, result)
    return result


def _saved_model(request, model, preprocess, class_names, images, labels, source):
    path = saved.export_saved_model(model, request.export_dir, preprocess, class_names,
                                    request.overwrite, source)
    return path, _check(model, path, images, labels)


def describe(result: dict | None) -> str:
    if result is None:
        return "not checked (no validation data: pass --data_dir)"
    figures = (f"top-1 agreement {result['top1_agreement']:.2%}"
               + (f", accuracy drop {result['accuracy_drop']:+.2%}" if "accuracy_drop" in result else "")
               if result["format"] == "tflite_int8" else
               f"max |Δlogit| {result['max_abs_diff_logits']:.2e} ({result['max_rel_diff_logits']:.2e} relative)")
    verdict = "passed" if result["passed"] else "FAILED"
    return f"check on {result['num_images']} validation images {verdict}: {figures}"
