"""Train / evaluate / export an (Assemble-)ResNet classifier with the original's absl flags.

    python main_classification.py --dataset_name=food101 --data_dir=... --model_dir=... \
        --resnet_version=2 --use_sk_block --anti_alias_type=sconv --anti_alias_filter_size=3 ...

See scripts/ for the original recipes and `--helpfull` for every flag.
"""

from absl import app, flags

from assembled_cnn.flags import config_from_flags, define_flags

define_flags(flags.FLAGS)
flags.FLAGS.set_default("train_epochs", 90)


def main(_argv):
    import sys

    import tensorflow as tf

    from assembled_cnn.config import ConfigError
    from assembled_cnn.train.preemption import RESTARTABLE_EXIT_CODE, PreemptedError
    from assembled_cnn.train.runner import run

    fv = flags.FLAGS
    try:
        config = config_from_flags(fv)
        if fv.inter_op_parallelism_threads:
            tf.config.threading.set_inter_op_parallelism_threads(fv.inter_op_parallelism_threads)
        if fv.intra_op_parallelism_threads:
            tf.config.threading.set_intra_op_parallelism_threads(fv.intra_op_parallelism_threads)
        results = run(config)
    except ConfigError as error:  # a user's mistake: one line naming the flag, no traceback
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except PreemptedError as stopped:  # SIGTERM: a checkpoint of the current step was saved
        print(f"stopped: {stopped}", file=sys.stderr)
        sys.exit(RESTARTABLE_EXIT_CODE)
    except tf.errors.UnavailableError as error:  # multi-worker: a peer died (its collectives were aborted)
        reason = str(error).strip().splitlines()[0][:200]
        print(f"error: lost contact with another worker ({reason}); restart every worker with the same "
              f"command: training resumes from the last checkpoint in {fv.model_dir}", file=sys.stderr)
        sys.exit(3)
    if results:
        print("final: " + ", ".join(f"{k}={v:.4f}" for k, v in results.items() if isinstance(v, float)))


if __name__ == "__main__":
    app.run(main)
