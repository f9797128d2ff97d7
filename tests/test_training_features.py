"""Image pool, learning-rate schedule and mixed precision."""

import numpy as np
import pytest
import tensorflow as tf

from cyclegan_tf.core import precision
from cyclegan_tf.core.configs import Config
from cyclegan_tf.training.image_pool import ImagePool
from cyclegan_tf.training.schedules import LearningRate
from cyclegan_tf.core import checkpoints
from cyclegan_tf.training.trainer import NETWORKS, CycleGAN


def _images(values):
    """A batch of 2x2 images, image i filled with values[i]."""
    return tf.constant(np.array(values, np.float32)[:, None, None, None] * np.ones((1, 2, 2, 3)),
                       tf.float32)


def test_pool_off_passes_images_through():
    pool = ImagePool(0, (2, 2, 3))
    images = _images([1, 2])
    assert pool.query(images) is images


def test_pool_fills_then_swaps_about_half_the_time():
    pool = ImagePool(50, (2, 2, 3), seed=1)
    query = tf.function(pool.query)
    for i in range(50):  # Filling: every fake comes straight back.
        assert float(query(_images([i]))[0, 0, 0, 0]) == i
    assert int(pool.count) == 50
    swapped = 0
    trials = 400
    for i in range(trials):
        value = 1000 + i
        out = float(query(_images([value]))[0, 0, 0, 0])
        swapped += out != value
    assert int(pool.count) == 50
    assert 0.4 < swapped / trials < 0.6
    stored = set(pool.images.numpy()[:, 0, 0, 0].tolist())
    assert any(v >= 1000 for v in stored) and len(stored) == 50


def test_pool_survives_a_checkpoint_round_trip(tmp_path):
    pool = ImagePool(4, (2, 2, 3), seed=3)
    for i in range(6):
        pool.query(_images([i, i + 0.5]))
    path = tf.train.Checkpoint(pool=pool).write(str(tmp_path / "pool"))
    restored = ImagePool(4, (2, 2, 3), seed=9)
    tf.train.Checkpoint(pool=restored).read(path).assert_consumed()
    np.testing.assert_array_equal(pool.images.numpy(), restored.images.numpy())
    assert int(restored.count) == 4
    nxt = _images([7, 8])  # Same random state: the next answers match.
    np.testing.assert_array_equal(pool.query(nxt).numpy(), restored.query(nxt).numpy())


def test_linear_schedule_values():
    config = Config(lr=1.0, epochs=4, decay_epochs=2, lr_schedule="linear")
    schedule = LearningRate(config, steps_per_epoch=10)
    values = {step: float(schedule(step)) for step in (0, 19, 20, 25, 30, 39, 40)}
    assert values[0] == values[19] == values[20] == 1.0
    assert values[25] == pytest.approx(0.75)
    assert values[30] == pytest.approx(0.5)
    assert values[39] == pytest.approx(0.05)
    assert values[40] == 0.0
    constant = LearningRate(Config(lr=0.5, lr_schedule="constant", decay_epochs=2), 10)
    assert float(constant(35)) == 0.5


def test_schedule_continues_after_resume(tmp_path):
    config = Config(image_size=32, ngf=8, ndf=8, generator="resnet", n_blocks=1,
                    discriminator="patch", lr=1e-3, epochs=2, decay_epochs=1,
                    lr_schedule="linear")
    batch = tf.zeros([1, 32, 32, 3])
    model = CycleGAN(config, steps_per_epoch=4)
    manager = checkpoints.manager(model.checkpoint(), str(tmp_path), keep=1)
    lrs = [float(model.train_step(batch, batch)["lr"]) for _ in range(5)]
    manager.save()
    assert lrs[:5] == pytest.approx([1e-3] * 4 + [1e-3])  # Decay starts at step 4 (epoch 2).
    resumed = CycleGAN(config, steps_per_epoch=4)
    resumed_manager = checkpoints.manager(resumed.checkpoint(), str(tmp_path), keep=1)
    resumed_manager.checkpoint.restore(resumed_manager.latest_checkpoint)
    after = [float(resumed.train_step(batch, batch)["lr"]) for _ in range(3)]
    assert after == pytest.approx([0.75e-3, 0.5e-3, 0.25e-3])
    assert float(resumed.optimizers["generator_g"].learning_rate) == pytest.approx(0.25e-3)


@pytest.mark.parametrize("mode, gpus, native_bf16, policy", [
    ("off", ["GPU:0"], True, "float32"),
    ("bf16", [], False, "mixed_bfloat16"),  # Asked for: emulated if need be.
    ("fp16", [], True, "mixed_float16"),
    ("auto", ["GPU:0"], True, "mixed_float16"),
    ("auto", [], True, "mixed_bfloat16"),
    ("auto", [], False, "float32"),  # Emulated bfloat16 would be slower than float32.
])
def test_mixed_precision_policy_choice(mode, gpus, native_bf16, policy, monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: list(gpus))
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: native_bf16)
    assert precision.keras_policy(Config(mixed_precision=mode).mixed_precision) == policy


def test_cpu_bf16_detection_reads_cpuinfo_flags(tmp_path, monkeypatch):
    import builtins

    real_open = builtins.open
    for text, expected in [("flags : fpu avx512f avx512_bf16 avx2", True),
                           ("flags : fpu amx_bf16 amx_tile", True),
                           ("Features : fp asimd bf16 i8mm", True),  # Arm.
                           ("flags : fpu avx512f avx2", False)]:
        (tmp_path / "cpuinfo").write_text(text + "\n")
        monkeypatch.setattr(builtins, "open", lambda path, *args, **kwargs: real_open(
            tmp_path / "cpuinfo" if path == "/proc/cpuinfo" else path, *args, **kwargs))
        assert precision.cpu_supports_bf16() is expected, text


@pytest.mark.parametrize("mode, policy", [("bf16", "mixed_bfloat16"), ("fp16", "mixed_float16")])
def test_mixed_precision_step_returns_float32_losses_and_learns(mode, policy):
    config = Config(image_size=32, ngf=8, ndf=8, generator="resnet", n_blocks=1,
                    discriminator="patch", mixed_precision=mode)
    model = CycleGAN(config)
    assert model.policy == policy
    assert model.generator_g.layers[1].compute_dtype in ("bfloat16", "float16")
    before = [v.numpy().copy() for v in model.generator_g.trainable_variables]
    rng = np.random.default_rng(0)
    a, b = (tf.constant(rng.uniform(-1, 1, (1, 32, 32, 3)), tf.float32) for _ in range(2))
    # float16 starts with a large loss scale; overflowing steps are skipped while the
    # scale comes down, so allow a few steps before the weights must move.
    for _ in range(1 if policy == "mixed_bfloat16" else 12):
        losses = model.train_step(a, b)
        for key, value in losses.items():
            assert value.dtype == tf.float32 and np.isfinite(value.numpy()), key
    if policy == "mixed_float16":
        optimizer = model.optimizers["generator_g"]
        assert type(optimizer).__name__ == "LossScaleOptimizer"
        assert float(optimizer.dynamic_scale) < 2.0**15  # Overflows lowered the scale.
    changed = [not np.array_equal(x, v.numpy()) for x, v in
               zip(before, model.generator_g.trainable_variables)]
    assert any(changed)
    assert all(v.dtype == "float32" for name in NETWORKS
               for v in model.network(name).trainable_variables)
