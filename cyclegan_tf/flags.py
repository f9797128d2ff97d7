"""Command-line flags of `python -m cyclegan_tf.train`, made from the `Config` fields.

Each field of `Config` is one flag with the field's help text; a flag given on the command
line overrides the value of the chosen `--preset`. This is the only module that reads flags.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from absl import flags

from cyclegan_tf.configs import DEFAULT_PRESET, Config, ConfigError, preset_config

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
        help_text = f"{help_text} [{DEFAULT_PRESET}: {shown!r}]"
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
    """Lets `--mixed_precision` stand alone (meaning auto) and `--nomixed_precision` mean off."""
    expanded = {"--mixed_precision": "--mixed_precision=auto",
                "--nomixed_precision": "--mixed_precision=off"}
    return [expanded.get(arg, arg) for arg in argv]
