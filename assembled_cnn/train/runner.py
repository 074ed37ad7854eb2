"""The generic runner: strategy, train/eval loops, checkpoints, resume, summaries and modes.

What a step computes, and a new run's initialisation (warm start), belong to the Task.

Checkpoints hold model, optimizer (with its step counter), EMA shadow weights, L2-SP anchors
and DropBlock seed states, so a resumed run continues exactly; in `--deterministic` mode the
input pipeline also restarts at the record where the checkpoint stopped.
"""

from __future__ import annotations

import glob
import math
import os
import shutil
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from assembled_cnn.config import ConfigError, ExperimentConfig
from assembled_cnn.experiment import HPARAMS_FILE, read_class_names, save_dataset_info
from assembled_cnn.model_dir import save_model_config
from assembled_cnn.nets import ModelConfig, model_info
from assembled_cnn.retrieval.evaluate import embedding_model, extract_embeddings, make_embed_fn, retrieval_metrics
from assembled_cnn.train import metrics as metrics_lib
from assembled_cnn.train import progressive
from assembled_cnn.train.clean import clean_model_dir
from assembled_cnn.train.checkpoints import BestCheckpointKeeper, all_finite
from assembled_cnn.train.preemption import PreemptedError, TerminationWatch
from assembled_cnn.train.schedules import LrScheduleSpec, OriginalLrSchedule, learning_rate
from assembled_cnn.train.strategy import is_chief, make_strategy
from assembled_cnn.train.summaries import EVAL_RESULTS_FILE, WARM_START_FILE, RunLog, read_metrics
from assembled_cnn.train.task import ClassificationTask
from assembled_cnn.utils.console import console_output
from assembled_cnn.utils.io import write_json_atomic


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the last finite checkpoint is kept."""


def eval_boundaries(total_steps: int, steps_per_epoch: int, epochs_between_evals: float,
                    ratio_fine_eval: float) -> list[int]:
    """Steps after which to evaluate: every cycle, then every epoch past `ratio_fine_eval`."""
    cycle = max(1, int(round(epochs_between_evals * steps_per_epoch)))
    points = set(range(cycle, total_steps + 1, cycle)) | {total_steps}
    if ratio_fine_eval < 1.0:
        fine_start = int(total_steps * ratio_fine_eval)
        points |= set(range(fine_start + steps_per_epoch, total_steps, steps_per_epoch))
    return sorted(p for p in points if 0 < p <= total_steps)


class Runner:
    def __init__(self, config: ExperimentConfig, task: ClassificationTask | None = None):
        self.config = config.validate()
        run = config.run
        self.strategy = make_strategy(run.distribution_strategy, run.num_gpus)
        if config.data.deterministic:  # the same initial weights, DropBlock draws and data order
            keras.utils.set_random_seed(config.data.seed)
        if run.op_determinism:
            tf.config.experimental.enable_op_determinism()
        self.chief = is_chief(self.strategy)
        self.task = task or ClassificationTask(config)
        info, t = self.task.info, config.train
        self.steps_per_epoch = max(1, info.train_size // t.batch_size)
        self.total_steps = t.max_train_steps or max(1, int(round(t.train_epochs * self.steps_per_epoch)))
        self.size_phases = progressive.size_phases(self.total_steps, config.data)
        self.lr_spec = LrScheduleSpec(
            t.learning_rate_decay_type, t.base_learning_rate, self.steps_per_epoch, self.total_steps,
            t.lr_warmup_epochs, t.num_epochs_per_decay, t.learning_rate_decay_factor, t.end_learning_rate,
            tuple(t.piecewise_lr_boundary_epochs), tuple(t.piecewise_lr_decay_rates))
        self.metric_name = "recall_at_1" if run.zeroshot_eval else info.primary_metric
        if run.clean and self.chief and run.mode in ("train", "train_and_eval"):
            kept = clean_model_dir(run.model_dir)
            if kept:
                print(f"--clean kept {len(kept)} entries it did not write in {run.model_dir}: {', '.join(kept[:10])}")
        self.model_dir = self._writable_dir(run.model_dir)
        with self.strategy.scope():
            self._build_state()
        self.log = RunLog(run.model_dir, enabled=self.chief)
        self._train_fn = self._eval_fn = self._embed_fn = None
        self.termination = TerminationWatch()

    def _writable_dir(self, model_dir: str) -> str:
        """Non-chief workers of multi-worker training save into a scratch dir (TF's rule)."""
        if self.chief:
            os.makedirs(model_dir, exist_ok=True)
            return model_dir
        resolver = self.strategy.cluster_resolver
        return os.path.join(model_dir, f".worker_{resolver.task_type}_{resolver.task_id}")

    def _build_state(self) -> None:
        t = self.config.train
        self.model = self.task.build_model()
        optimizer = keras.optimizers.SGD(OriginalLrSchedule(self.lr_spec), momentum=t.momentum, nesterov=t.nesterov)
        if t.dtype == "fp16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=t.loss_scale or 2.0 ** 15,
                                                            dynamic_growth_steps=2000)
        self.optimizer = optimizer
        self.optimizer.build(self.model.trainable_variables)
        self.parts = self.task.build_step_parts(self.model, self.total_steps)
        parts = dict(model=self.model, optimizer=self.optimizer, **self.parts.checkpoint_items())
        self.checkpoint = tf.train.Checkpoint(**parts)
        keep = self.config.run.keep_checkpoint_max or None
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.model_dir, max_to_keep=keep)

    @property
    def step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    # ------------------------------------------------------------------ steps
    def _make_train_fn(self):
        strategy, task, model, optimizer, parts = self.strategy, self.task, self.model, self.optimizer, self.parts
        replicas = strategy.num_replicas_in_sync

        @tf.function
        def train_fn(iterator):
            parts.begin_step(optimizer.iterations)
            per_replica = strategy.run(lambda inputs: task.train_step(inputs, model, optimizer, parts, replicas),
                                       args=(next(iterator),))
            out = {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per_replica.items()}
            parts.end_step(optimizer.iterations)
            return out
        return train_fn

    def _make_eval_fn(self):
        strategy, task, model = self.strategy, self.task, self.model

        @tf.function(reduce_retracing=True)
        def eval_fn(inputs):
            features, targets = inputs
            stats = strategy.run(task.eval_step, args=(model, features, targets))
            return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in stats.items()}
        return eval_fn

    # ------------------------------------------------------------------ state
    def restore_or_initialize(self) -> int:
        """Resume from the latest checkpoint, else warm start from -pmcp; returns the step.

        Every worker resumes from the chief's checkpoint in model_dir: a non-chief worker's scratch
        copy may be a step behind when it was killed before writing it, and workers that resume
        from different steps run different collectives ("Shape mismatch in the collective")."""
        latest = tf.train.latest_checkpoint(self.config.run.model_dir)
        if latest and int(latest.rsplit("-", 1)[1]) == self.step > 0:
            return self.step  # this runner already holds that state (a later train() call)
        if latest:
            self._restore_own(latest)
            print(f"resumed from {latest} at step {self.step}")
            return self.step
        report = self.task.initialize(self.model, self.parts)
        if report is not None:
            if self.chief:
                write_json_atomic(os.path.join(self.config.run.model_dir, WARM_START_FILE), report)
            print(f"warm start from {report['source']} ({report['format']}): restored {len(report['restored'])} "
                  f"weights, not restored {len(report['not_restored'])}: "
                  f"{', '.join(report['not_restored'][:10])}{' ...' if len(report['not_restored']) > 10 else ''}")
        return 0

    def _restore_own(self, path: str) -> None:
        """Resume from a checkpoint of this model_dir; another network's is a one-line error."""
        status = None
        try:
            status = self.checkpoint.restore(path)
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as error:
            if status is not None:
                status.expect_partial()  # no "value not found" warnings at exit on top of the message
            raise ConfigError(f"--model_dir={self.config.run.model_dir} holds checkpoints of another network "
                              f"({network_difference(self.config.run.model_dir, self.config.model)}); pass the "
                              "flags it was trained with, or a new --model_dir") from error

    def _write_run_files(self) -> None:
        if not self.chief:
            return
        run_dir = self.config.run.model_dir
        write_json_atomic(os.path.join(run_dir, HPARAMS_FILE), self.config.to_dict())
        save_model_config(run_dir, model_info(self.model).config)
        save_dataset_info(run_dir, self.config.data.data_dir)  # class names travel with the model

    def _recover_run_files(self, step: int) -> None:
        """After a kill: forget metrics logged past the restored step and half-written checkpoints."""
        if not self.chief:
            return
        dropped = self.log.rewind(step)
        for path in glob.glob(os.path.join(self.model_dir, "ckpt-*_temp*")):
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        if dropped:
            print(f"dropped {dropped} metrics.jsonl lines logged after step {step} by an interrupted run")

    def save(self) -> str:
        return self.manager.save(checkpoint_number=self.step)

    # ------------------------------------------------------------------ loops
    def _train_dataset(self, start_step: int):
        """The input from `start_step` on, at that step's progressive-resizing size."""
        strategy = self.strategy
        per_pipeline = max(1, strategy.num_replicas_in_sync // max(1, _num_input_pipelines(strategy)))
        start_batch = start_step * per_pipeline if self.config.data.deterministic else 0
        size = progressive.size_at(self.size_phases, start_step)
        if size and self.chief:
            print(f"progressive resizing: training at {size} px from step {start_step}")
        return strategy.distribute_datasets_from_function(
            lambda ctx: self.task.build_inputs(True, ctx, start_batch=start_batch, train_size=size))

    def train(self, until_step: int | None = None, evaluate: bool = False) -> dict:
        """Train to `until_step` (default: the end), evaluating at the eval boundaries."""
        self.task.check_training_records()
        start = self.restore_or_initialize()
        self._write_run_files()
        self._recover_run_files(start)
        warning = bn_momentum_warning(self.config.model.bn_momentum, self.total_steps - start)
        if warning and self.chief:
            print(f"warning: {warning}", file=sys.stderr)
        target = min(until_step or self.total_steps, self.total_steps)
        if start >= target:
            return self.evaluate() if evaluate else {}
        self._train_fn = self._train_fn or self._make_train_fn()
        iterator = iter(self._train_dataset(start))
        run = self.config.run
        save_every = run.save_checkpoints_steps or max(1, int(run.save_checkpoints_epochs * self.steps_per_epoch))
        stops = set(eval_boundaries(self.total_steps, self.steps_per_epoch, run.epochs_between_evals,
                                    run.ratio_fine_eval)) if evaluate else set()
        resizes = progressive.phase_starts(self.size_phases)
        results: dict = {}
        if start in stops and not any(r["step"] == start for r in read_metrics(run.model_dir, "eval")):
            results = self._evaluate_and_keep(self.manager.latest_checkpoint)  # killed before this evaluation
        with tqdm(total=target, initial=start, desc="train", unit="step", disable=not self.chief) as bar, \
                self.termination:
            while self.step < target:
                losses = self._run_steps(iterator, self._next_stop(target, save_every, stops | resizes), bar)
                if self.termination.requested:
                    raise PreemptedError(f"SIGTERM: saved {self._checked_save(losses)} at step {self.step}; "
                                         "run the same command to resume")
                if self.step % save_every == 0 or self.step in stops or self.step == target:
                    self._checked_save(losses)
                if self.step in resizes and self.step < target:
                    iterator = iter(self._train_dataset(self.step))
                if self.step in stops:
                    results = self._evaluate_and_keep(self.manager.latest_checkpoint)
                    if run.stop_threshold is not None and results[self.metric_name] >= run.stop_threshold:
                        print(f"stop_threshold {run.stop_threshold} reached at step {self.step}")
                        break
        return results

    def _next_stop(self, target: int, save_every: int, stops: set) -> int:
        step, log = self.step, self.config.run.log_every_n_steps
        candidates = [target, (step // save_every + 1) * save_every, (step // log + 1) * log]
        candidates += [s for s in stops if s > step]
        return min(c for c in candidates if c > step)

    def _run_steps(self, iterator, stop: int, bar) -> dict:
        start_step, started = self.step, time.perf_counter()
        losses = {}
        for _ in range(stop - start_step):  # no per-step read of the step counter: no host sync
            if self.termination.requested:
                break
            losses = self._train_fn(iterator)
            bar.update(1)
        if not losses:
            return {}
        values = {k: float(v) for k, v in losses.items()}
        if not np.isfinite(values.get("loss", 0.0)):
            raise TrainingDivergedError(
                f"loss is {values['loss']} at step {self.step}; the last finite checkpoint "
                f"{self.manager.latest_checkpoint} is kept in {self.config.run.model_dir}. Lower "
                "--base_learning_rate, add --lr_warmup_epochs or --grad_clip_norm, or check the inputs.")
        seconds = time.perf_counter() - started
        values["learning_rate"] = float(learning_rate(self.lr_spec, self.step - 1))
        values["images_per_sec"] = (self.step - start_step) * self.config.train.batch_size / max(seconds, 1e-9)
        bar.set_postfix(loss=f"{values['loss']:.4f}", lr=f"{values['learning_rate']:.4g}")
        self.log.write("train", self.step, values)
        return values

    def _checked_save(self, losses: dict) -> str:
        if not (np.isfinite(losses.get("loss", 0.0)) and all_finite(self.model.weights)):
            raise TrainingDivergedError(
                f"weights became non-finite at step {self.step}; the last finite checkpoint "
                f"{self.manager.latest_checkpoint} is kept. Lower --base_learning_rate or use --grad_clip_norm.")
        return self.save()

    def evaluate(self) -> dict:
        """Metrics of the current weights (the EMA copy when EMA is on) on the validation set."""
        if self.config.run.zeroshot_eval:
            return self.evaluate_retrieval()
        self._eval_fn = self._eval_fn or self._make_eval_fn()
        dataset = self.strategy.distribute_datasets_from_function(lambda ctx: self.task.build_inputs(False, ctx))
        total = None
        with self.parts.evaluation_weights():
            for inputs in tqdm(dataset, desc="eval", unit="batch", disable=not self.chief, leave=False):
                total = metrics_lib.accumulate(total, {k: v.numpy() for k, v in self._eval_fn(inputs).items()})
        results = metrics_lib.summarize(total)
        self.log.write("eval", self.step, results)
        print(f"eval at step {self.step}: " + ", ".join(f"{k}={v:.4f}" for k, v in results.items()
                                                          if isinstance(v, float)))
        return results

    def evaluate_retrieval(self) -> dict:
        """`--zeroshot_eval`: Recall@K of the validation embeddings (every image queries all others)."""
        if self._embed_fn is None:
            self._embed_fn = make_embed_fn(self.strategy, embedding_model(self.model))
        dataset = self.strategy.distribute_datasets_from_function(lambda ctx: self.task.build_inputs(False, ctx))
        with self.parts.evaluation_weights():
            embeddings, labels = extract_embeddings(self._embed_fn, dataset)
        run = self.config.run
        results = retrieval_metrics(embeddings, labels, run.recall_at_k, run.eval_similarity)
        self.log.write("eval", self.step, results)
        print(f"retrieval eval at step {self.step} ({run.eval_similarity}, {results['num_queries']} queries): "
              + ", ".join(f"{k}={v:.4f}" for k, v in results.items() if k.startswith("recall_at_")))
        return results

    def _evaluate_and_keep(self, checkpoint_path: str) -> dict:
        results = self.evaluate()
        if self.chief:
            keeper = BestCheckpointKeeper(self.config.run.model_dir, self.config.run.num_best_ckpt_to_keep,
                                          self.metric_name)
            keeper.offer(checkpoint_path, self.step, results[self.metric_name])
            write_json_atomic(os.path.join(self.config.run.model_dir, EVAL_RESULTS_FILE),
                              {"step": self.step, "checkpoint": os.path.basename(checkpoint_path), **results})
        return results

    def evaluate_checkpoint(self, path: str | None = None) -> dict:
        """`--mode=eval` / `--eval_only`: restore one checkpoint (default: latest) and evaluate it."""
        path = path or self.manager.latest_checkpoint
        if path is None:
            raise FileNotFoundError(f"no checkpoint to evaluate in {self.config.run.model_dir}")
        self.checkpoint.restore(path).expect_partial()
        return self._evaluate_and_keep(path)

    def continuous_eval(self, timeout: float = 3600.0) -> dict:
        """Evaluate every new checkpoint until the one of the final step (or `timeout` idle seconds)."""
        results: dict = {}
        for path in tf.train.checkpoints_iterator(self.config.run.model_dir, timeout=timeout):
            results = self.evaluate_checkpoint(path)
            if self.step >= self.total_steps:
                break
        return results

    def export(self, export_dir: str) -> str:
        from assembled_cnn.export import export_saved_model

        with self.parts.evaluation_weights():
            names = read_class_names(self.config.run.model_dir, int(self.model.output_shape[-1]))
            return export_saved_model(self.model, export_dir, self.task.preprocess_config(), class_names=names)

    def close(self) -> None:
        self.log.close()
        if not self.chief and os.path.isdir(self.model_dir):
            shutil.rmtree(self.model_dir, ignore_errors=True)


def bn_momentum_warning(momentum: float, steps: int, residual: float = 0.05) -> str | None:
    """A message when BN moving averages cannot converge in `steps` (they keep momentum**steps
    of their initial mean 0 / variance 1, which evaluation then uses)."""
    if steps <= 0 or momentum <= 0 or momentum ** steps <= residual:
        return None
    needed = math.ceil(math.log(residual) / math.log(momentum))
    suggested = math.floor(residual ** (1.0 / steps) * 1000) / 1000
    return (f"--bn_momentum={momentum}: after {steps} steps the BN moving averages still hold "
            f"{momentum ** steps:.0%} of their initial values, so evaluation will use statistics that are not "
            f"the network's (near-chance accuracy, a huge eval loss); use --bn_momentum={suggested} or lower for "
            f"this run, or train at least {needed} steps")


def network_difference(model_dir: str, model: ModelConfig) -> str:
    """Which settings differ between the network that wrote model_dir and this one."""
    from assembled_cnn.model_dir import MODEL_CONFIG_FILE, load_model_config

    try:
        recorded = load_model_config(model_dir)
    except FileNotFoundError:
        return f"no {MODEL_CONFIG_FILE} says which"
    ignore = {"tf1_scope"}
    diffs = [f"{name}={getattr(recorded, name)} there, {getattr(model, name)} now"
             for name in recorded.to_dict() if name not in ignore and getattr(recorded, name) != getattr(model, name)]
    return f"{MODEL_CONFIG_FILE}: " + ("; ".join(diffs[:4]) if diffs else "same settings, other variables")


def _num_input_pipelines(strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    workers = resolver.cluster_spec().as_dict().get("worker", [])
    chiefs = resolver.cluster_spec().as_dict().get("chief", [])
    return max(1, len(workers) + len(chiefs))


def _finish_together(runner: Runner) -> None:
    """Multi-worker: no worker leaves while another still runs a collective with it. Without this
    barrier the chief could exit after its last checkpoint while a worker was still pulling data
    from it ("Socket closed"). A worker that loses the chief inside the barrier itself only lost a
    chief that had finished: that is success."""
    if _num_input_pipelines(runner.strategy) <= 1:
        return
    strategy = runner.strategy
    try:
        strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)
    except tf.errors.UnavailableError:
        if runner.chief:
            raise


def run(config: ExperimentConfig) -> dict:
    """Run `config.run.mode`; returns the last evaluation metrics (or {} for train/export only).
    Log lines go above the progress bars, and only the chief prints progress."""
    runner = Runner(config)
    try:
        with console_output(chief=runner.chief):
            return _run_mode(runner, config)
    finally:
        runner.close()


def _run_mode(runner: Runner, config: ExperimentConfig) -> dict:
    mode, results = config.run.mode, {}
    if mode in ("train", "train_and_eval"):
        results = runner.train(evaluate=(mode == "train_and_eval"))
        _finish_together(runner)
    elif mode == "eval":
        results = runner.evaluate_checkpoint()
    elif mode == "continuous_eval":
        results = runner.continuous_eval()
    elif mode == "export_only":
        path = runner.manager.latest_checkpoint
        if path is None:
            raise FileNotFoundError(f"--export_only: no checkpoint in {config.run.model_dir}")
        runner.checkpoint.restore(path).expect_partial()
    if config.run.export_dir and runner.chief:
        print(f"exported SavedModel to {runner.export(config.run.export_dir)}")
    return results
