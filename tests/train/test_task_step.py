"""The Task owns its step: per-group LR, clipping, DropBlock schedule, EMA and warm start work
through ClassificationTask alone, without a runner or a strategy."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from trainlib import toy_config

from assembled_cnn.train.layer_groups import variable_groups
from assembled_cnn.train.runner import Runner
from assembled_cnn.train.task import ClassificationTask

LR = 0.1


def setup(toy_data, model_dir, model=None, **train):
    config = toy_config(toy_data, model_dir, train=train, model=model or {})
    task = ClassificationTask(config.validate())
    model = task.build_model()
    optimizer = keras.optimizers.SGD(LR)  # no momentum: one step moves each weight by -LR * gradient
    optimizer.build(model.trainable_variables)
    parts = task.build_step_parts(model, total_steps=10)
    features, targets = next(iter(task.build_inputs(True)))
    return task, model, optimizer, parts, (features, targets)


def step_deltas(task, model, optimizer, parts, batch):
    """(gradients without multipliers or clipping, how far one train_step moved each weight)."""
    before = [v.numpy() for v in model.trainable_variables]
    grads, _, _ = task.replica_gradients(model, *batch, parts, 1)
    task.train_step(batch, model, optimizer, parts, 1)
    return [g.numpy() for g in grads], [v.numpy() - b for v, b in zip(model.trainable_variables, before)]


def test_per_group_learning_rates_scale_each_groups_update(toy_data, tmp_path):
    task, model, optimizer, parts, batch = setup(toy_data, tmp_path, lr_multipliers={"stem": 0.0, "head": 3.0})
    grads, deltas = step_deltas(task, model, optimizer, parts, batch)
    group_of = {id(v): g for g, variables in variable_groups(model).items() for v in variables}
    checked = set()
    for variable, grad, delta in zip(model.trainable_variables, grads, deltas):
        multiplier = {"stem": 0.0, "head": 3.0}.get(group_of[id(variable)], 1.0)
        np.testing.assert_allclose(delta, -LR * multiplier * grad, rtol=1e-4, atol=1e-7, err_msg=variable.path)
        checked.add(group_of[id(variable)])
    assert {"stem", "stage1", "head"} <= checked
    stem = [d for v, d in zip(model.trainable_variables, deltas) if group_of[id(v)] == "stem"]
    assert all(not d.any() for d in stem)


def test_gradient_clipping_bounds_the_global_norm_of_the_update(toy_data, tmp_path):
    task, model, optimizer, parts, batch = setup(toy_data, tmp_path, grad_clip_norm=1e-3)
    grads, deltas = step_deltas(task, model, optimizer, parts, batch)
    raw_norm = np.sqrt(sum(float((g ** 2).sum()) for g in grads))
    update_norm = np.sqrt(sum(float((d ** 2).sum()) for d in deltas))
    assert raw_norm > 0.1
    assert update_norm == pytest.approx(LR * 1e-3, rel=1e-3)


def test_dropblock_schedule_and_ema_are_parts_of_the_step(toy_data, tmp_path):
    task, model, optimizer, parts, batch = setup(toy_data, tmp_path, model={"use_dropblock": True},
                                                 dropblock_kp=[1.0, 0.8], ema_decay=0.5)
    parts.begin_step(tf.constant(5))
    assert float(parts.dropblock.keep_prob.read()) == pytest.approx(0.9)
    shadow_before = [s.numpy() for s in parts.ema.shadow]
    task.train_step(batch, model, optimizer, parts, 1)
    parts.end_step(tf.constant(100))  # decay min(0.5, 101/110) = 0.5
    for shadow, old, weight in zip(parts.ema.shadow, shadow_before, model.weights):
        np.testing.assert_allclose(shadow.numpy(), 0.5 * old + 0.5 * weight.numpy(), rtol=1e-5, atol=1e-7)
    assert set(parts.checkpoint_items()) == {"dropblock_seeds", "ema"}


def test_warm_start_is_the_tasks_initialisation_and_restarts_ema_and_l2sp_anchors(toy_data, tmp_path):
    source = Runner(toy_config(toy_data, tmp_path / "source", train={"max_train_steps": 1},
                               run={"mode": "train", "op_determinism": False}))
    source.train()
    source.close()
    task, model, optimizer, parts, batch = setup(
        toy_data, tmp_path / "target", ema_decay=0.9, l2sp_alpha=0.01)
    task.config.run.pretrained_model_checkpoint_path = str(tmp_path / "source")
    report = task.initialize(model, parts)
    loaded = {v.path: v.numpy() for v in source.model.weights}
    kernel = next(v for v in model.trainable_variables if "stem" in v.path and "kernel" in v.path)
    assert kernel.path in " ".join(report["restored"]) or any(kernel.path.endswith(r) for r in report["restored"])
    np.testing.assert_array_equal(kernel.numpy(), loaded[kernel.path])
    for weight, shadow in zip(model.weights, parts.ema.shadow):  # the EMA copy restarts from the loaded weights
        np.testing.assert_array_equal(shadow.numpy(), weight.numpy())
    regularization = parts.regularization  # at the anchors the L2-SP term vanishes: only weight decay is left
    assert regularization.anchors is not None
    weight_decay_only = regularization.weight_decay * sum(
        float(tf.nn.l2_loss(v)) for v in regularization.decayed)
    assert float(regularization.loss()) == pytest.approx(weight_decay_only, rel=1e-5)


def test_eval_flip_averages_the_softmax_of_the_image_and_its_mirror(toy_data, tmp_path):
    """--eval_flip: the evaluation's predictions are the mean of the two softmaxes, not one view's."""
    config = toy_config(toy_data, tmp_path, run={"eval_flip": True})
    task = ClassificationTask(config.validate())
    plain = ClassificationTask(toy_config(toy_data, tmp_path).validate())
    features, targets = next(iter(task.build_inputs(False)))
    image = features["image"]
    # A linear classifier with small weights: soft predictions that change under a mirror.
    model = keras.Sequential([keras.Input(image.shape[1:]), keras.layers.Flatten(),
                              keras.layers.Dense(4, kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3))])
    direct = tf.nn.softmax(model(image, training=False)).numpy()
    mirrored = tf.nn.softmax(model(tf.image.flip_left_right(image), training=False)).numpy()
    assert np.abs(direct - mirrored).max() > 1e-4  # the two views disagree, so the average is visible
    expected = (direct + mirrored) / 2
    labels = targets["label"].numpy().reshape(-1)
    stats = task.eval_step(model, features, targets)
    loss = -np.log(expected[np.arange(len(labels)), labels]).sum()
    assert float(stats["loss_sum"]) == pytest.approx(loss, rel=1e-4)
    assert float(stats["correct"]) == (expected.argmax(-1) == labels).sum()
    unflipped = plain.eval_step(model, features, targets)
    assert float(unflipped["loss_sum"]) == pytest.approx(-np.log(direct[np.arange(len(labels)), labels]).sum(), rel=1e-4)


def test_eval_shift_averages_the_softmax_of_six_views(toy_data, tmp_path):
    """--eval_flip --eval_shift 2: the image, its mirror and its four 2-px shifts (black border)."""
    from assembled_cnn.config import ConfigError
    from assembled_cnn.preprocessing import normalize
    from assembled_cnn.train.task import preprocess_config_of

    config = toy_config(toy_data, tmp_path, run={"eval_flip": True, "eval_shift": 2}).validate()
    task = ClassificationTask(config)
    features, targets = next(iter(task.build_inputs(False)))
    image = features["image"].numpy()
    black = normalize.black_pixel(preprocess_config_of(config.data), image.shape[-1]).numpy()
    padded = np.pad(image - black, [(0, 0), (2, 2), (2, 2), (0, 0)]) + black
    h, w = image.shape[1:3]
    views = [image, image[:, :, ::-1]] + [padded[:, 2 - dy:2 - dy + h, 2 - dx:2 - dx + w]
                                         for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2))]
    model = keras.Sequential([keras.Input(image.shape[1:]), keras.layers.Flatten(),
                              keras.layers.Dense(4, kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3))])
    expected = np.mean([tf.nn.softmax(model(v, training=False)).numpy() for v in views], axis=0)
    labels = targets["label"].numpy().reshape(-1)
    stats = task.eval_step(model, features, targets)
    assert float(stats["loss_sum"]) == pytest.approx(-np.log(expected[np.arange(len(labels)), labels]).sum(), rel=1e-4)
    from assembled_cnn.train.task import eval_view_count

    assert eval_view_count(config.run) == len(task.test_time_views(features["image"])) == 6
    flip_only = ClassificationTask(toy_config(toy_data, tmp_path, run={"eval_flip": True}).validate())
    assert eval_view_count(flip_only.config.run) == len(flip_only.test_time_views(features["image"])) == 2
    assert float(flip_only.eval_step(model, features, targets)["loss_sum"]) != pytest.approx(
        float(stats["loss_sum"]), rel=1e-4)
    with pytest.raises(ConfigError, match="--eval_shift=-1 is invalid"):
        toy_config(toy_data, tmp_path, run={"eval_shift": -1}).validate()
    size = image.shape[1]
    with pytest.raises(ConfigError, match=f"--eval_shift={size // 2} is invalid: .* half the {size}-px"):
        ClassificationTask(toy_config(toy_data, tmp_path, run={"eval_shift": size // 2}).validate())


def test_eval_shift_in_a_traced_step_logs_no_autograph_warning(toy_data, tmp_path, caplog):
    """The border colour is computed when the task is built: AutoGraph never sees the preset code."""
    import logging

    task = ClassificationTask(toy_config(toy_data, tmp_path, run={"eval_flip": True, "eval_shift": 2}).validate())
    features, targets = next(iter(task.build_inputs(False)))
    model = keras.Sequential([keras.Input(features["image"].shape[1:]), keras.layers.Flatten(), keras.layers.Dense(4)])
    with caplog.at_level(logging.WARNING):
        stats = tf.function(lambda f, t: task.eval_step(model, f, t))(features, targets)
    assert float(stats["loss_sum"]) > 0
    assert not [r for r in caplog.records if "AutoGraph" in r.getMessage()]
