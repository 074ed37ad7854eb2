"""Deployment formats beside the SavedModel: TFLite (float32, full-integer int8) and ONNX.

* `convert`: a Keras network (BatchNorm folded) → TFLite / ONNX bytes;
* `data`: real images of a model_dir's validation split, preprocessed as the run evaluated
  them (the int8 representative dataset and the images of the export check);
* `runtime`: one callable per export (SavedModel, TFLite via LiteRT, ONNX Runtime):
  a float batch of preprocessed images → float32 logits;
* `check`: the export's logits against the Keras model's on those images, as JSON;
* `formats`: `export_format(...)`, what ``python -m assembled_cnn.export --format`` runs.

Preprocessing (decode, resize, crop, normalise) sits outside the TFLite and ONNX graphs, at the
boundary: they take the float32 NHWC batch the SavedModel's ``serving_float`` takes, and
``export_info.json`` beside the model records the preset that makes it (``predict`` applies it).
"""
