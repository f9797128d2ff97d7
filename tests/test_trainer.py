"""The training step and the checkpoint round trip."""

import numpy as np
import pytest
import tensorflow as tf

from cyclegan_tf.core.configs import Config
from cyclegan_tf.core import checkpoints
from cyclegan_tf.training.trainer import NETWORKS, CycleGAN


def _batch(seed, batch=1, size=32):
    rng = np.random.default_rng(seed)
    return [tf.constant(rng.uniform(-1, 1, (batch, size, size, 3)), tf.float32) for _ in range(2)]


def _weights(model):
    return {name: [v.numpy().copy() for v in model.network(name).trainable_variables]
            for name in NETWORKS}


def _small(**changes):
    values = dict(image_size=32, ngf=8, ndf=8, mixed_precision="float32")
    values.update(changes)
    return Config(**values)


@pytest.mark.parametrize("changes", [
    dict(),  # The tutorial: UNet, tutorial discriminator, BCE.
    dict(generator="resnet", n_blocks=2, discriminator="patch", gan_loss="lsgan", pool_size=2,
         batch_size=2),
])
def test_one_step_changes_all_four_networks_with_finite_losses(changes):
    model = CycleGAN(_small(**changes))
    before = _weights(model)
    losses = model.train_step(*_batch(0, batch=model.config.batch_size))
    for name, value in losses.items():
        assert np.isfinite(value.numpy()), name
        assert value.dtype == tf.float32
    after = _weights(model)
    for name in NETWORKS:
        changed = any(not np.array_equal(b, a) for b, a in zip(before[name], after[name]))
        assert changed, f"{name} did not change"
    assert int(model.step) == 1


@pytest.mark.parametrize("lambda_identity", [0.5, 0.0])
def test_batched_unet_passes_update_like_separate_passes(lambda_identity):
    """The U-Net's passes share one call (`batch_generator_passes`); without dropout's
    randomness that must give the same step as one call per pass."""
    import keras

    config = _small(lambda_identity=lambda_identity)
    models = [CycleGAN(config), CycleGAN(config)]
    models[1].batch_generator_passes = False
    assert models[0].batch_generator_passes
    for model in models:
        for generator in (model.generator_g, model.generator_f):
            for layer in generator.layers:
                if isinstance(layer, keras.layers.Dropout):
                    layer.rate = 0.0
    for seed in range(2):  # The second step's losses see the first step's updates.
        batched, separate = (model.train_step(*_batch(seed)) for model in models)
        for key in batched:
            np.testing.assert_allclose(batched[key].numpy(), separate[key].numpy(), rtol=1e-4)
    # Adam moves every weight by about 2e-4 per step, so 1e-5 still catches a wrong update.
    for name, (a, b) in zip(NETWORKS, zip(*(_weights(m).values() for m in models))):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, atol=1e-5, err_msg=name)


def test_resnet_and_batch_norm_passes_stay_separate():
    assert not CycleGAN(_small(generator="resnet", n_blocks=1)).batch_generator_passes
    assert not CycleGAN(_small(norm="batch")).batch_generator_passes


def test_train_step_traces_once():
    model = CycleGAN(_small())
    for seed in range(3):
        model.train_step(*_batch(seed))
    assert model.train_step.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("generator", ["unet", "resnet"])
def test_checkpoint_round_trip_continues_like_an_uninterrupted_run(tmp_path, generator):
    config = _small(generator=generator, n_blocks=1, pool_size=3, lr_schedule="linear",
                    epochs=2, decay_epochs=1)
    batches = [_batch(seed) for seed in range(4)]

    uninterrupted = CycleGAN(config, steps_per_epoch=2)
    for batch in batches:
        expected = uninterrupted.train_step(*batch)

    first = CycleGAN(config, steps_per_epoch=2)
    manager = checkpoints.manager(first.checkpoint(), str(tmp_path), keep=2)
    for batch in batches[:2]:
        first.train_step(*batch)
    manager.save()

    resumed = CycleGAN(config.replace(seed=99), steps_per_epoch=2)  # Different init, same shapes.
    resumed_manager = checkpoints.manager(resumed.checkpoint(), str(tmp_path), keep=2)
    resumed_manager.checkpoint.restore(resumed_manager.latest_checkpoint).assert_existing_objects_matched()
    assert int(resumed.step) == 2
    for name in NETWORKS:  # Identical weights and optimizer slots after restore.
        for a, b in zip(first.network(name).weights, resumed.network(name).weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        for a, b in zip(first.optimizers[name].variables, resumed.optimizers[name].variables):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(first.pool_a.images.numpy(), resumed.pool_a.images.numpy())
    for batch in batches[2:]:
        got = resumed.train_step(*batch)
    for key in expected:
        np.testing.assert_allclose(got[key].numpy(), expected[key].numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    for a, b in zip(uninterrupted.generator_g.weights, resumed.generator_g.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_translate_is_deterministic_inference():
    model = CycleGAN(_small())
    images = _batch(0, batch=2)[0]
    first = model.translate(images, "a2b")
    np.testing.assert_array_equal(first.numpy(), model.translate(images, "a2b").numpy())
    assert first.shape == images.shape
    assert not np.array_equal(first.numpy(), model.translate(images, "b2a").numpy())
