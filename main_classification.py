r"""Train / evaluate / export an (Assemble-)ResNet classifier with the original's absl flags.

    python main_classification.py --dataset_name=food101 --data_dir=... --model_dir=... \
        --resnet_version=2 --use_sk_block --anti_alias_type=sconv --anti_alias_filter_size=3 ...

See scripts/ for the original recipes and `--helpfull` for every flag.
"""

from absl import app, flags, logging

from assembled_cnn.utils.quiet_tf import import_tensorflow_quietly

import_tensorflow_quietly()  # before anything imports TensorFlow: no CUDA/oneDNN start-up noise on CPU

from assembled_cnn.flags import DEBUG, config_from_flags, define_flag, define_flags  # noqa: E402

define_flags(flags.FLAGS)
flags.FLAGS.set_default("train_epochs", 90)
define_flag(DEBUG, flags.FLAGS)  # --debug: show the traceback of a user error instead of its one line


def fail(message: str, status: int = 2):
    """The one line a user sees; TF's warnings while objects are torn down would only bury it."""
    import sys

    logging.set_verbosity(logging.ERROR)
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def main(_argv):
    import os
    import sys

    import tensorflow as tf

    from assembled_cnn.datasets.verify import describe_corrupt_records
    from assembled_cnn.errors import UserError
    from assembled_cnn.train.preemption import RESTARTABLE_EXIT_CODE, PreemptedError
    from assembled_cnn.train.runner import run
    from assembled_cnn.train.strategy import is_chief_task
    from assembled_cnn.utils.console import console_output

    fv = flags.FLAGS
    try:
        config = config_from_flags(fv)
        if fv.inter_op_parallelism_threads:
            tf.config.threading.set_inter_op_parallelism_threads(fv.inter_op_parallelism_threads)
        if fv.intra_op_parallelism_threads:
            tf.config.threading.set_intra_op_parallelism_threads(fv.intra_op_parallelism_threads)
        multi_worker = config.run.distribution_strategy == "multi_worker_mirrored"
        chief = not multi_worker or is_chief_task(os.environ.get("TF_CONFIG"))
        with console_output(chief=chief):  # log lines above the progress bars; one worker's console
            results = run(config)
            if results:
                print("final: " + ", ".join(f"{k}={v:.4f}" for k, v in results.items() if isinstance(v, float)))
    except UserError as error:  # a user's mistake: one line naming the flag or file, no traceback
        if fv.debug:
            raise
        fail(str(error))
    except tf.errors.DataLossError as error:  # a corrupt TFRecord: name the file
        if fv.debug:
            raise
        fail(describe_corrupt_records(fv.data_dir, error))
    except PreemptedError as stopped:  # SIGTERM: a checkpoint of the current step was saved
        print(f"stopped: {stopped}", file=sys.stderr)
        sys.exit(RESTARTABLE_EXIT_CODE)
    except tf.errors.UnavailableError as error:  # multi-worker: a peer died (its collectives were aborted)
        reason = str(error).strip().splitlines()[0][:200]
        fail(f"lost contact with another worker ({reason}); restart every worker with the same command: "
             f"training resumes from the last checkpoint in {fv.model_dir}", status=3)


if __name__ == "__main__":
    import sys

    if any(arg in ("--help", "-h", "-?") for arg in sys.argv[1:]):
        from assembled_cnn.cli_help import render_help

        sys.stdout.write(render_help(flags.FLAGS, __doc__))
        sys.exit(0)
    app.run(main)
