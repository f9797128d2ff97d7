"""Each preset is a promise: architecture, parameter counts and hyper-parameters as documented."""

import numpy as np
import pytest
import tensorflow as tf

from cyclegan_tf.core import configs
from cyclegan_tf.core import precision
from cyclegan_tf.core import presets
from cyclegan_tf.core.presets import preset_config
from cyclegan_tf.nets.models import build_discriminator, build_generator
from cyclegan_tf.training.trainer import CycleGAN

# preset -> (image size, generator params, discriminator params, discriminator map size)
ARCHITECTURES = {
    "tom2jerry": (256, 54_414_979, 2_765_569, 30),
    "jojo": (128, 194_051, 167_649, 15),
    "face2anime": (128, 1_079_555, 1_843_649, 16),
    "human2cartoon": (128, 5_477_379, 2_764_737, 14),
    "selfie2anime": (256, 11_378_179, 2_764_737, 30),
    "paper": (256, 11_378_179, 2_764_737, 30),
    # 1,283 colour map + 3,203 local residual trained + 12 fixed colour-transfer weights:
    "fast": (128, 4_498, 694_241, 14),
}

HYPERPARAMETERS = {
    "tom2jerry": dict(generator="unet", discriminator="tutorial", gan_loss="vanilla",
                      lambda_cycle=10, lambda_identity=5, lr=2e-4, beta1=0.5, image_size=256,
                      resolved_load_size=286, resize_method="nearest", jitter=True, flip=True,
                      batch_size=1, epochs=10, save_every_epochs=5, keep_checkpoints=5,
                      pool_size=0, mixed_precision="auto"),
    "jojo": dict(generator="encoder_decoder", norm="none", gan_loss="lsgan", lambda_cycle=10,
                 lambda_identity=5, lr=2e-4, beta1=0.5, image_size=128, jitter=False,
                 resolved_load_size=128, batch_size=2, epochs=20, save_every_epochs=5,
                 sample_every_epochs=5),
    "face2anime": dict(generator="resnet", n_blocks=3, ngf=32, pool_size=50,
                       lr_schedule="linear", epochs=100, decay_epochs=50, lr=2e-4,
                       gan_loss="lsgan", discriminator="patch_k3", image_size=128,
                       layout="trainAB"),
    "human2cartoon": dict(generator="resnet", n_blocks=4, ngf=64, discriminator="patch",
                          gan_loss="lsgan", lambda_cycle=10, lambda_identity=5, lr=2e-4,
                          beta1=0.5, beta2=0.999, lr_schedule="constant",
                          mixed_precision="auto", image_size=128, background=(255, 255, 255)),
    "selfie2anime": dict(image_size=256, jitter=False, resolved_load_size=256, batch_size=1,
                         generator="resnet", n_blocks=9, discriminator="patch", norm="instance",
                         gan_loss="lsgan", lambda_cycle=10, lambda_identity=2.5, lr=1e-4,
                         beta1=0.55, beta2=0.999, mixed_precision="auto", epochs=5),
    "paper": dict(generator="resnet", n_blocks=9, discriminator="patch", norm="instance",
                  gan_loss="lsgan", lambda_cycle=10, lambda_identity=5, pool_size=50, lr=2e-4,
                  beta1=0.5, beta2=0.999, lr_schedule="linear", epochs=200, decay_epochs=100,
                  resolved_load_size=286, image_size=256, jitter=True, flip=True, batch_size=1),
    "fast": dict(generator="colour_map", ngf=32, local_layers=3, discriminator="patch", ndf=32,
                 n_layers=3, gan_loss="lsgan", lambda_cycle=0, lambda_identity=0,
                 lambda_color=1, color_loss="lowpass", lambda_hue=40, scale_hue_by_chroma=True,
                 color_transfer="tone", diffaugment="color", ema_decay=0.999, pool_size=50,
                 lr=2e-4, lr_schedule="linear", epochs=6, decay_epochs=4,
                 mixed_precision="auto", image_size=128, resolved_load_size=143, jitter=True,
                 flip=True, batch_size=1),
}


def test_every_preset_is_documented_and_tested():
    assert set(presets.PRESETS) == set(ARCHITECTURES) == set(HYPERPARAMETERS)
    assert presets.DEFAULT_PRESET == "tom2jerry" and configs.Config() == preset_config("tom2jerry")


@pytest.mark.parametrize("name", sorted(HYPERPARAMETERS))
def test_preset_hyperparameters(name):
    config = preset_config(name).validate()
    for key, value in HYPERPARAMETERS[name].items():
        assert getattr(config, key) == value, key


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_preset_builds_at_full_size_with_the_stated_shapes_and_counts(name):
    size, generator_params, discriminator_params, map_size = ARCHITECTURES[name]
    config = preset_config(name)
    generator = build_generator(config, "g")
    discriminator = build_discriminator(config, "d")
    assert generator.count_params() == generator_params
    assert discriminator.count_params() == discriminator_params
    assert tuple(generator.compute_output_shape((1, size, size, 3))) == (1, size, size, 3)
    assert tuple(discriminator.compute_output_shape((1, size, size, 3))) == (1, map_size, map_size, 1)


def test_paper_preset_uses_resnet6_at_128px():
    assert preset_config("paper", image_size=128).n_blocks == 6
    assert build_generator(preset_config("paper", image_size=128), "g").count_params() == 7_837_699
    assert preset_config("paper", image_size=128, n_blocks=9).n_blocks == 9  # Explicit wins.


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_preset_trains_one_tiny_step(name, monkeypatch):
    """The preset's architecture and losses at 32 px with narrow layers (width 8)."""
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)  # auto means bf16.
    config = preset_config(name, image_size=32, ngf=8, ndf=8)
    model = CycleGAN(config)
    rng = np.random.default_rng(0)
    shape = (config.batch_size, 32, 32, 3)
    losses = model.train_step(tf.constant(rng.uniform(-1, 1, shape), tf.float32),
                              tf.constant(rng.uniform(-1, 1, shape), tf.float32))
    for key, value in losses.items():
        assert value.dtype == tf.float32 and np.isfinite(value.numpy()), key
    expected_policy = "float32" if config.mixed_precision == "float32" else "mixed_bfloat16"
    assert model.policy == expected_policy
