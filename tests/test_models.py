"""Tests of the generator and discriminator builders and the custom layers.

Full-size models are only built (to count parameters) or run once on a single image;
everything else runs on small images with few filters, so the file stays fast on a CPU.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cyclegan_tf.core.configs import Config
from cyclegan_tf.nets.layers import Cropping2D, InstanceNormalization, ReflectionPadding2D, norm_layer
from cyclegan_tf.nets.models import (
    build_discriminator,
    build_generator,
    encoder_decoder_generator,
    patch_discriminator,
    resnet_generator,
    tutorial_discriminator,
    unet_generator,
)

NORMS = ("instance", "batch", "none")


def _images(height: int, width: int, seed: int = 0) -> np.ndarray:
    """One random image in [-1, 1], shape (1, height, width, 3)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (1, height, width, 3)).astype("float32")


def _np(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


def _small_generators(norm: str) -> dict[str, keras.Model]:
    return {
        "unet": unet_generator(image_size=32, ngf=8, norm=norm),
        "resnet": resnet_generator(ngf=8, n_blocks=2, norm=norm),
        "encoder_decoder": encoder_decoder_generator(ngf=8, norm=norm),
    }


@pytest.fixture
def mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


# Parameter counts and output sizes of the full-size models. ----------------------------


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda: unet_generator(256, 64, "instance"), 54_414_979),
        (lambda: resnet_generator(64, 9, "instance"), 11_378_179),
        (lambda: encoder_decoder_generator(32, "none"), 194_051),
        (lambda: patch_discriminator(64, 3, "instance", head="patch"), 2_764_737),
        (lambda: patch_discriminator(32, 3, "none", head="light"), 167_649),
        # 3136 + 131,200 + 524,544 + (256 * 512 * 9 + 512) + (512 * 9 + 1).
        (lambda: patch_discriminator(64, 3, "instance", head="k3"), 1_843_649),
        (lambda: tutorial_discriminator(64, "instance"), 2_765_569),
    ],
    ids=["unet", "resnet9", "encoder_decoder", "patch", "patch_light", "patch_k3", "tutorial"],
)
def test_parameter_counts(build, expected):
    assert build().count_params() == expected


@pytest.mark.parametrize(
    "build, size, expected",
    [
        (lambda: tutorial_discriminator(64, "instance"), 256, 30),
        (lambda: patch_discriminator(64, 3, "instance", head="patch"), 256, 30),
        (lambda: patch_discriminator(32, 3, "none", head="light"), 128, 15),
        (lambda: patch_discriminator(64, 3, "instance", head="k3"), 128, 16),
    ],
    ids=["tutorial", "patch", "patch_light", "patch_k3"],
)
def test_discriminator_map_sizes(build, size, expected):
    model = build()
    assert model.compute_output_shape((1, size, size, 3)) == (1, expected, expected, 1)
    output = model(_images(size, size), training=False)
    assert tuple(output.shape) == (1, expected, expected, 1)


# Generators. ---------------------------------------------------------------------------


@pytest.mark.parametrize("norm", NORMS)
def test_generators_keep_size_and_range(norm):
    images = _images(32, 32)
    for kind, model in _small_generators(norm).items():
        output = _np(model(images, training=False))
        assert output.shape == images.shape, kind
        assert output.dtype == np.float32, kind
        assert np.all(np.abs(output) <= 1.0), kind


def test_unet_depth_follows_image_size():
    model = unet_generator(image_size=64, ngf=8)
    downs = [
        layer for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.strides == (2, 2)
    ]
    assert len(downs) == 6
    probe = keras.Model(model.input, downs[-1].output)
    assert tuple(probe(_images(64, 64)).shape[1:3]) == (1, 1)  # The bottleneck.
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(dropouts) == 3
    tiny = unet_generator(image_size=4, ngf=8)
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in tiny.layers) == 1


def test_unet_rejects_sizes_that_are_not_powers_of_two():
    with pytest.raises(ValueError, match="power-of-two"):
        unet_generator(image_size=96)


def test_resnet_accepts_multiples_of_four():
    images = _images(36, 44)
    output = resnet_generator(ngf=8, n_blocks=2)(images, training=False)
    assert tuple(output.shape) == (1, 36, 44, 3)
    output = encoder_decoder_generator(ngf=8)(images, training=False)
    assert tuple(output.shape) == (1, 36, 44, 3)


def test_outputs_are_float32_under_mixed_precision(mixed_bfloat16):
    images = _images(32, 32)
    models = list(_small_generators("instance").values()) + [
        tutorial_discriminator(ndf=8),
        patch_discriminator(ndf=8, head="patch"),
        patch_discriminator(ndf=8, head="light"),
        patch_discriminator(ndf=8, head="k3"),
    ]
    for model in models:
        assert model(images, training=False).dtype == "float32", model.name
    norm = InstanceNormalization(affine=True)
    assert keras.backend.standardize_dtype(norm(images).dtype) == "bfloat16"
    assert norm.scale.dtype == "float32"


# Layers. -------------------------------------------------------------------------------


def test_instance_norm_matches_group_norm():
    x = np.random.default_rng(1).normal(3.0, 2.0, (2, 5, 7, 4)).astype("float32")
    reference = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    # Affine-free instance norm is group norm with unit scale and zero offset (its defaults).
    np.testing.assert_allclose(
        _np(InstanceNormalization(affine=False)(x)), _np(reference(x)), atol=1e-5
    )
    # With weights, both apply the same per-channel scale and offset.
    affine = InstanceNormalization(affine=True)
    affine.build(x.shape)
    gamma = np.array([0.5, 1.0, 1.5, 2.0], "float32")
    beta = np.array([-1.0, 0.0, 0.5, 1.0], "float32")
    affine.scale.assign(gamma)
    affine.offset.assign(beta)
    reference.gamma.assign(gamma)
    reference.beta.assign(beta)
    np.testing.assert_allclose(_np(affine(x)), _np(reference(x)), atol=1e-5)


def test_instance_norm_statistics_and_weights():
    x = np.random.default_rng(2).normal(-1.0, 5.0, (3, 8, 6, 5)).astype("float32")
    y = _np(InstanceNormalization(affine=False)(x))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1.0, atol=1e-3)
    affine_free = InstanceNormalization(affine=False)
    affine_free.build(x.shape)
    assert affine_free.weights == []
    affine = InstanceNormalization(affine=True)
    affine.build(x.shape)
    assert [w.shape for w in affine.weights] == [(5,), (5,)]


def test_reflection_padding_matches_numpy():
    x = np.arange(2 * 4 * 5 * 3, dtype="float32").reshape(2, 4, 5, 3)
    expected = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(_np(ReflectionPadding2D(2)(x)), expected)
    assert ReflectionPadding2D(3).compute_output_shape((None, None, 10, 3)) == (
        None, None, 16, 3,
    )


def test_cropping_matches_keras_forward_and_backward():
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(0).normal(size=(2, 7, 9, 3)), tf.float32)
    cropping = ((1, 2), (0, 3))
    results = []
    for layer in (keras.layers.Cropping2D(cropping), Cropping2D(cropping)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * tf.range(1.0, 1.0 + y.shape[-1]))
        results.append((y.numpy(), tape.gradient(loss, x).numpy()))
    (expected, expected_grad), (got, got_grad) = results
    assert got.shape == (2, 4, 6, 3)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got_grad, expected_grad)


# Keras' own saving code trips numpy 2's `__array__(copy=...)` deprecation; not ours.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_layers_round_trip_through_keras_saving(tmp_path):
    for layer in (InstanceNormalization(affine=False), ReflectionPadding2D(3),
                  Cropping2D(((1, 0), (1, 0)))):
        clone = layer.__class__.from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    model = resnet_generator(ngf=4, n_blocks=1)
    path = str(tmp_path / "generator.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    images = _images(16, 16)
    np.testing.assert_allclose(_np(restored(images)), _np(model(images)), atol=1e-6)


def test_norm_layer():
    assert isinstance(norm_layer("instance", affine=True), InstanceNormalization)
    batch = norm_layer("batch", affine=False)
    assert isinstance(batch, keras.layers.BatchNormalization)
    assert (batch.epsilon, batch.momentum) == (1e-5, 0.9)
    assert norm_layer("none", affine=True) is None
    with pytest.raises(ValueError, match="norm"):
        norm_layer("layer", affine=True)


# Construction from a Config. -----------------------------------------------------------


@pytest.mark.parametrize(
    "generator, direct",
    [
        ("unet", lambda: unet_generator(32, 8, "batch")),
        ("resnet", lambda: resnet_generator(8, 2, "batch")),
        ("encoder_decoder", lambda: encoder_decoder_generator(8, "batch")),
    ],
)
def test_build_generator(generator, direct):
    config = Config(generator=generator, ngf=8, n_blocks=2, norm="batch", image_size=32)
    model = build_generator(config, "generator_g")
    assert model.name == "generator_g"
    reference = direct()
    assert model.count_params() == reference.count_params()
    assert [type(layer) for layer in model.layers] == [type(layer) for layer in reference.layers]


@pytest.mark.parametrize(
    "discriminator, direct, size",
    [
        ("tutorial", lambda: tutorial_discriminator(8, "none"), 256),
        ("patch", lambda: patch_discriminator(8, 3, "none", head="patch"), 256),
        ("patch_light", lambda: patch_discriminator(8, 3, "none", head="light"), 128),
        ("patch_k3", lambda: patch_discriminator(8, 3, "none", head="k3"), 128),
    ],
)
def test_build_discriminator(discriminator, direct, size):
    config = Config(discriminator=discriminator, ndf=8, n_layers=3, norm="none")
    model = build_discriminator(config, "discriminator_x")
    assert model.name == "discriminator_x"
    reference = direct()
    assert model.count_params() == reference.count_params()
    shape = (1, size, size, 3)
    assert model.compute_output_shape(shape) == reference.compute_output_shape(shape)


def test_builders_reject_unknown_names():
    with pytest.raises(ValueError, match="--generator"):
        build_generator(Config(generator="vgg"), "generator_g")
    with pytest.raises(ValueError, match="--discriminator"):
        build_discriminator(Config(discriminator="pixel"), "discriminator_x")
    with pytest.raises(ValueError, match="head"):
        patch_discriminator(head="pixel")
