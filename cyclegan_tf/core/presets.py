"""The named presets: documented sets of overrides of the `Config` defaults.

Each preset reproduces a known CycleGAN system, except `fast`, the best combination the
quality harness (README, Translation quality) found for a 30-minute budget on a CPU;
`tests/test_presets.py` pins every preset's shapes and parameter counts. `table()` is the
one presets table: `--list_presets` prints it and the README shows it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from cyclegan_tf.core.configs import Config, ConfigError


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named, documented set of overrides of the `Config` defaults."""

    description: str
    overrides: Mapping[str, Any]

    def config(self, name: str) -> Config:
        """The full configuration this preset stands for."""
        return Config(preset=name, **self.overrides)


PRESETS: dict[str, Preset] = {
    "tom2jerry": Preset(
        "TensorFlow CycleGAN tutorial: UNet generator (54,414,979 params), tutorial PatchGAN "
        "(2,765,569), BCE loss, 256 px, 10 epochs",
        dict(
            generator="unet", discriminator="tutorial", norm="instance", gan_loss="vanilla",
            lambda_cycle=10.0, lambda_identity=5.0, lr=2e-4, beta1=0.5, beta2=0.999,
            image_size=256, resize_method="nearest", jitter=True, flip=True,
            batch_size=1, epochs=10, save_every_epochs=5, keep_checkpoints=5,
        ),
    ),
    "jojo": Preset(
        "lightweight real-to-anime: norm-free encoder-decoder (194,051 params), 4-layer "
        "discriminator (167,649), MSE loss, 128 px, batch 2, 20 epochs",
        dict(
            generator="encoder_decoder", ngf=32, discriminator="patch_light", ndf=32,
            n_layers=3, norm="none", gan_loss="lsgan", lambda_cycle=10.0, lambda_identity=5.0,
            lr=2e-4, beta1=0.5, beta2=0.999, image_size=128, jitter=False,
            resize_method="bilinear", batch_size=2, epochs=20, save_every_epochs=5,
            sample_every_epochs=5,
        ),
    ),
    "face2anime": Preset(
        "selfies to anime avatars: ResNet-3 with ngf 32, image pool 50, 50+50 epochs with "
        "linear decay, 16x16 PatchGAN at 128 px, `trainA/trainB` layout",
        dict(
            generator="resnet", n_blocks=3, ngf=32, discriminator="patch_k3", ndf=64,
            n_layers=3, norm="instance", gan_loss="lsgan", pool_size=50, lr=2e-4, beta1=0.5,
            beta2=0.999, lr_schedule="linear", epochs=100, decay_epochs=50, image_size=128,
            resize_method="bilinear", layout="trainAB", domain_a="selfie", domain_b="anime",
        ),
    ),
    "human2cartoon": Preset(
        "faces to cartoon avatars: ResNet-4, 70x70 PatchGAN, MSE loss, mixed precision, 128 px",
        dict(
            generator="resnet", n_blocks=4, ngf=64, discriminator="patch", ndf=64, n_layers=3,
            norm="instance", gan_loss="lsgan", lambda_cycle=10.0, lambda_identity=5.0,
            lr=2e-4, beta1=0.5, beta2=0.999, lr_schedule="constant", mixed_precision="auto",
            image_size=128, resize_method="bilinear", background=(255, 255, 255),
        ),
    ),
    "selfie2anime": Preset(
        "256 px without jitter, ResNet-9, 70x70 PatchGAN, lambda_identity 2.5, Adam 1e-4 "
        "(0.55, 0.999), mixed precision, 5 epochs",
        dict(
            generator="resnet", n_blocks=9, ngf=64, discriminator="patch", ndf=64, n_layers=3,
            norm="instance", gan_loss="lsgan", lambda_cycle=10.0, lambda_identity=2.5,
            lr=1e-4, beta1=0.55, beta2=0.999, mixed_precision="auto", image_size=256,
            jitter=False, resize_method="bilinear", batch_size=1, epochs=5,
        ),
    ),
    "paper": Preset(
        "the CycleGAN paper: ResNet-9 (ResNet-6 at 128 px, 11,378,179 params at ResNet-9), "
        "70x70 PatchGAN (2,764,737), LSGAN, pool 50, 100 + 100 epochs with linear decay",
        dict(
            generator="resnet", n_blocks=9, ngf=64, discriminator="patch", ndf=64, n_layers=3,
            norm="instance", gan_loss="lsgan", lambda_cycle=10.0, lambda_identity=5.0,
            pool_size=50, lr=2e-4, beta1=0.5, beta2=0.999, lr_schedule="linear", epochs=200,
            decay_epochs=100, image_size=256, resize_method="bilinear",
            jitter=True, flip=True, batch_size=1,
        ),
    ),
    "fast": Preset(
        "quick results on a CPU (6 epochs, about 10 minutes for 1,000 images per folder on "
        "2 cores with bf16): a per-pixel colour map (1,283 trained params) that starts at the "
        "folders' tone transfer, beside a 3-layer local residual that draws outlines (3,203); "
        "no cycle loss, a weak colour anchor (`--lambda_color` 1) and a hue anchor "
        "(`--lambda_hue` 40, times the chroma the medium keeps); 70x70 PatchGAN at ndf 32 "
        "(694,241) with colour DiffAugment, weight average, learning rate decaying linearly "
        "over the last 4 epochs, bf16 where the CPU has it, 128 px",
        dict(
            generator="colour_map", ngf=32, local_layers=3, discriminator="patch", ndf=32,
            n_layers=3, norm="instance", gan_loss="lsgan", lambda_cycle=0.0,
            lambda_identity=0.0, lambda_color=1.0, color_loss="lowpass", lambda_hue=40.0,
            scale_hue_by_chroma=True, color_transfer="tone", diffaugment="color",
            ema_decay=0.999, pool_size=50, lr=2e-4, beta1=0.5, beta2=0.999,
            lr_schedule="linear", epochs=6, decay_epochs=4, mixed_precision="auto",
            image_size=128, resize_method="bilinear", jitter=True, flip=True, batch_size=1,
        ),
    ),
}

DEFAULT_PRESET = "tom2jerry"


def table() -> str:
    """The presets as the Markdown table that `--list_presets` prints and the README shows."""
    lines = ["| preset | system |", "| --- | --- |"]
    for name, preset in PRESETS.items():
        label = f"`{name}`" + (" (default)" if name == DEFAULT_PRESET else "")
        lines.append(f"| {label} | {preset.description} |")
    return "\n".join(lines)


def preset_config(name: str, **overrides: Any) -> Config:
    """The configuration of preset `name`, with `overrides` applied on top of it.

    The `paper` preset follows the paper's rule of ResNet-6 at 128 px unless `n_blocks`
    is overridden explicitly.
    """
    if name not in PRESETS:
        raise ConfigError(
            f"--preset={name!r} is unknown; choose one of {', '.join(PRESETS)} (see --list_presets)."
        )
    config = PRESETS[name].config(name).replace(**overrides)
    if name == "paper" and "n_blocks" not in overrides and config.image_size <= 128:
        config = config.replace(n_blocks=6)
    return config
