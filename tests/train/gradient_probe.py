"""Run by the multi-worker tests: the global gradient of the first training step, per variable.

Same flags as main_classification.py plus --gradients_out (a .npz written by the chief). Each
replica computes `ClassificationTask.replica_gradients` (what the runner's train step applies),
and the sum over replicas is the gradient the optimizer receives.
"""

import sys
from pathlib import Path

from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from assembled_cnn.flags import config_from_flags, define_flags  # noqa: E402

define_flags(flags.FLAGS)
flags.DEFINE_string("gradients_out", None, "where the chief writes the gradients (.npz)")


def main(_argv):
    import numpy as np
    import tensorflow as tf

    from assembled_cnn.train.runner import Runner

    runner = Runner(config_from_flags(flags.FLAGS))
    runner.restore_or_initialize()
    strategy, model = runner.strategy, runner.model
    replicas = strategy.num_replicas_in_sync

    def replica_fn(inputs):
        features, targets = inputs
        grads, _, _ = runner.task.replica_gradients(model, features, targets, runner.parts, replicas)
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)

    @tf.function
    def global_gradients(iterator):
        per_replica = strategy.run(replica_fn, args=(next(iterator),))
        return [strategy.experimental_local_results(g)[0] for g in per_replica]

    grads = global_gradients(iter(runner._train_dataset(0)))
    if runner.chief:
        np.savez(flags.FLAGS.gradients_out, **{v.path: g.numpy() for v, g in zip(model.trainable_variables, grads)})
    runner.close()


if __name__ == "__main__":
    app.run(main)
