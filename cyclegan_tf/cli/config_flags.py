"""The training flags, made from the `Config` fields, and their groups in `--help`.

Each field of `Config` is one flag with the field's help text; a flag given on the command
line overrides the value of the chosen `--preset`. This is the only module that turns
flags into a `Config`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from absl import flags

from cyclegan_tf.core.configs import Config, ConfigError
from cyclegan_tf.core.presets import DEFAULT_PRESET, preset_config

# The train command's `--help`, by purpose. A test checks that every field is in one group.
FLAG_GROUPS = {
    "data": ("preset", "domain_a", "domain_b", "data_dir", "tfds", "layout", "image_size",
             "load_size", "resize_method", "jitter", "flip", "background", "cache", "seed",
             "batch_size"),
    "model": ("generator", "ngf", "n_blocks", "norm", "discriminator", "ndf", "n_layers",
              "upsample", "antialias", "identity_start", "color_transfer",
              "local_layers"),
    "loss": ("gan_loss", "lambda_cycle", "lambda_identity", "lambda_color", "color_loss",
             "lambda_hue", "scale_hue_by_chroma", "diffaugment"),
    "optimisation": ("lr", "beta1", "beta2", "lr_schedule", "decay_epochs", "pool_size",
                     "ema_decay", "epochs", "steps_per_epoch", "strategy"),
    "precision": ("mixed_precision",),
    "output": ("output_dir", "save_every_epochs", "save_every_steps", "keep_checkpoints",
               "sample_every_epochs", "num_samples", "profile_steps", "list_presets"),
    "evaluation": ("eval_every_epochs", "eval_images", "eval_fid", "inception_weights",
                   "keep_best"),
}

_DEFINE_BY_TYPE = {
    bool: flags.DEFINE_bool,
    int: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    str: flags.DEFINE_string,
}


def define_config_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines one flag per `Config` field. Defaults are None: the preset decides."""
    for field in dataclasses.fields(Config):
        help_text = field.metadata["help"]
        if field.name == "preset":
            flags.DEFINE_string("preset", DEFAULT_PRESET, help_text, flag_values=flag_values)
            continue
        default = field.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        if isinstance(shown, bool):
            shown = str(shown).lower()
        help_text = f"{help_text} [default ({DEFAULT_PRESET}): {shown!r}]"
        define = flags.DEFINE_string if isinstance(default, tuple) else _DEFINE_BY_TYPE[type(default)]
        define(field.name, None, help_text, flag_values=flag_values)


def config_from_flags(flag_values: flags.FlagValues = flags.FLAGS) -> Config:
    """The preset's configuration with every flag given on the command line applied."""
    overrides: dict[str, Any] = {}
    for field in dataclasses.fields(Config):
        if field.name != "preset" and flag_values[field.name].present:
            overrides[field.name] = flag_values[field.name].value
    if "background" in overrides:
        try:
            overrides["background"] = tuple(int(c) for c in overrides["background"].split(","))
        except ValueError:
            raise ConfigError(
                f"--background={flag_values.background!r} must be three integers like 255,255,255."
            ) from None
    return preset_config(flag_values.preset, **overrides).validate()


def expand_bare_flags(argv: Sequence[str]) -> list[str]:
    """Lets `--mixed_precision` stand alone (meaning auto) and `--nomixed_precision` mean
    float32; `--mixed_precision VALUE` and `--mixed_precision=VALUE` are left to absl."""
    expanded = []
    for index, arg in enumerate(argv):
        following = argv[index + 1] if index + 1 < len(argv) else "-"
        if arg == "--mixed_precision" and following.startswith("-"):
            arg = "--mixed_precision=auto"
        elif arg == "--nomixed_precision":
            arg = "--mixed_precision=float32"
        expanded.append(arg)
    return expanded
