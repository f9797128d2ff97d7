"""Training under tf.distribute: a mirrored step over two logical CPU devices.

TensorFlow fixes its logical devices when it first initialises them, so each test runs
its TensorFlow part in a fresh subprocess that splits the CPU in two first.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from cyclegan_tf.training import distribute
from cyclegan_tf.core.configs import Config, ConfigError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PRELUDE = """
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from cyclegan_tf.tools import benchmarking
from cyclegan_tf.training import distribute
from cyclegan_tf.core.configs import Config
from cyclegan_tf.core import checkpoints
from cyclegan_tf.training.trainer import NETWORKS, CycleGAN

def small(**changes):
    values = dict(image_size=32, ngf=8, ndf=8, generator="resnet", n_blocks=1,
                  discriminator="patch", gan_loss="lsgan", batch_size=2, pool_size=0,
                  mixed_precision="float32")
    values.update(changes)
    return Config(**values)

def weights(model):
    return {name: [v.numpy() for v in model.network(name).weights] for name in NETWORKS}

def mirrored_steps(model, batches):
    dataset = tf.data.Dataset.from_tensor_slices(tuple(tf.stack(x) for x in zip(*batches)))
    for real_a, real_b in distribute.distribute_dataset(model.strategy, dataset):
        values = model.train_step(real_a, real_b)
    return values
"""


def _run(body: str) -> str:
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
                            capture_output=True, text=True, env=env, timeout=600, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout


def test_mirrored_step_on_two_devices_matches_one_device_on_the_whole_batch():
    _run("""
    config = small(lr_schedule="linear", epochs=2, decay_epochs=1)
    single = CycleGAN(config, steps_per_epoch=2)
    mirrored = CycleGAN(config.replace(strategy="mirrored"), steps_per_epoch=2)
    assert mirrored.strategy.num_replicas_in_sync == 2
    batches = [benchmarking.random_batch(config, seed) for seed in range(2)]
    for real_a, real_b in batches:
        expected = single.train_step(real_a, real_b)
    got = mirrored_steps(mirrored, batches)
    for key in expected:
        np.testing.assert_allclose(got[key].numpy(), expected[key].numpy(), rtol=1e-4,
                                   err_msg=key)
    assert int(mirrored.step) == 2
    # Convolution biases before instance norm get rounding-noise gradients that Adam turns
    # into steps of up to lr (see test_benchmark_tools); everything else matches closely.
    for name in NETWORKS:
        for a, b in zip(weights(single)[name], weights(mirrored)[name]):
            np.testing.assert_allclose(b, a, atol=4 * config.lr)
    """)


def test_checkpoints_restore_across_strategies(tmp_path):
    _run(f"""
    config = small(pool_size=2)
    mirrored = CycleGAN(config.replace(strategy="mirrored"))
    values = mirrored_steps(mirrored, [benchmarking.random_batch(config, s) for s in range(3)])
    assert all(np.isfinite(v.numpy()) for v in values.values())
    path = checkpoints.manager(mirrored.checkpoint(), {str(tmp_path)!r}, keep=1).save()
    single = CycleGAN(config.replace(seed=7))
    single.checkpoint().restore(path).assert_existing_objects_matched()
    for name in NETWORKS:
        for a, b in zip(weights(mirrored)[name], weights(single)[name]):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(mirrored.optimizers[name].variables, single.optimizers[name].variables):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(single.step) == 3 and int(single.pool_a.count) == 2
    single.train_step(*benchmarking.random_batch(config, 5))
    path = checkpoints.manager(single.checkpoint(), {str(tmp_path / "back")!r}, keep=1).save()
    again = CycleGAN(config.replace(strategy="mirrored", seed=9))
    again.checkpoint().restore(path).assert_existing_objects_matched()
    for a, b in zip(weights(single)["generator_g"], weights(again)["generator_g"]):
        np.testing.assert_array_equal(a, b)
    assert int(again.step) == 4
    """)


def test_global_batch_must_split_evenly_across_replicas():
    class TwoReplicas:
        num_replicas_in_sync = 2

    with pytest.raises(ConfigError, match="--batch_size=3 .* multiple of the 2 replicas"):
        distribute.check_global_batch(Config(batch_size=3, strategy="mirrored"), TwoReplicas())
    distribute.check_global_batch(Config(batch_size=4, strategy="mirrored"), TwoReplicas())


def test_unknown_strategy_names_the_flag():
    with pytest.raises(ConfigError, match="--strategy='tpu'"):
        distribute.make_strategy("tpu")
