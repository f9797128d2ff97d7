"""Training on several devices or machines with `tf.distribute` (`--strategy`).

* `default`: one device, no distribution.
* `mirrored`: `tf.distribute.MirroredStrategy` over every GPU of this machine (without a
  GPU, over the logical CPU devices: one unless configured otherwise); each replica
  trains on `batch_size / replicas` images of the global batch and the gradients are
  summed across replicas before every update.
* `multiworker`: `tf.distribute.MultiWorkerMirroredStrategy`, the same across machines;
  each machine runs the same command with its own `TF_CONFIG` (cluster and task index).

Losses are means over the global batch (`tf.nn.compute_average_loss` semantics): each
replica's mean over its own images is divided by the number of replicas before its
gradients are taken, so the summed gradients are those of the global mean.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from cyclegan_tf.core.configs import STRATEGIES, Config, ConfigError


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The `tf.distribute.Strategy` for `--strategy=name`.

    Raises:
        ConfigError: for an unknown name, or `multiworker` with a `TF_CONFIG` that is not
            JSON.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()  # Every GPU.
        # No GPU: every logical CPU device (one, unless the process configured several).
        return tf.distribute.MirroredStrategy(
            [device.name for device in tf.config.list_logical_devices("CPU")])
    if name == "multiworker":
        try:
            json.loads(os.environ.get("TF_CONFIG", "{}"))
        except json.JSONDecodeError as error:
            raise ConfigError(f"--strategy=multiworker: TF_CONFIG is not valid JSON ({error}).")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"--strategy={name!r} is not one of {', '.join(STRATEGIES)}.")


def check_global_batch(config: Config, strategy: tf.distribute.Strategy) -> None:
    """Raises `ConfigError` unless `--batch_size` splits evenly across the replicas."""
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ConfigError(
            f"--batch_size={config.batch_size} is the global batch and must be a multiple of "
            f"the {replicas} replicas of --strategy={config.strategy}.")


def distribute_dataset(strategy: tf.distribute.Strategy,
                       dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` (of global batches) split across `strategy`'s replicas.

    The default strategy returns `dataset` itself.
    """
    return strategy.experimental_distribute_dataset(dataset)


def worker_output_dir(output_dir: str, strategy: tf.distribute.Strategy) -> str:
    """Where this process writes its run folder: `output_dir`, except on non-chief workers.

    Under `multiworker` every worker saves checkpoints (saving may run collective ops),
    but only the chief's are the run's: the others write to `output_dir/workers/<task>`.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return output_dir
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    if task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and not has_chief):
        return output_dir
    return os.path.join(output_dir, "workers", f"{task_type}_{task_id}")
