"""The run configuration: one frozen dataclass holding every knob, and the named presets.

Flags are parsed once into a `Config` (see `cyclegan_tf.flags`); nothing else reads flags.
A `Config` round-trips through JSON, and the one that built a model is saved as
`config.json` beside its checkpoints and exports, so a model can always be rebuilt.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from typing import Any

from cyclegan_tf.core import precision
from cyclegan_tf.core.files import atomic_write_text
from cyclegan_tf.core.run_folder import CONFIG_FILENAME

DISCRIMINATORS = ("tutorial", "patch", "patch_light", "patch_k3")
NORMS = ("instance", "batch", "none")
GAN_LOSSES = ("vanilla", "lsgan")
RESIZE_METHODS = ("nearest", "bilinear")
LR_SCHEDULES = ("constant", "linear")
LAYOUTS = ("auto", "folders", "trainAB")
COLOR_LOSSES = ("lowpass", "hue", "luma")
COLOR_TRANSFERS = ("none", "levels", "tone")
UPSAMPLINGS = ("transpose", "resize")
AUGMENTATIONS = ("color", "translation", "cutout")
STRATEGIES = ("default", "mirrored", "multiworker")
# Metrics the in-training evaluation reports, which --keep_best can select (see
# cyclegan_tf.metrics): higher is better for psnr, lower for l1, fid and kid.
KEEP_BEST_METRICS = ("cycle_psnr_a", "cycle_psnr_b", "cycle_l1_a", "cycle_l1_b",
                     "identity_l1_a", "identity_l1_b", "fid_a", "fid_b", "kid_a", "kid_b")

# Settings of earlier versions that became other settings: named in the error when an old
# config.json holds them.
RENAMED_KEYS = {"levels_transfer": "color_transfer (true was 'levels')"}

# Fields that decide the networks' variables or what the networks compute: a checkpoint
# can only be resumed by a configuration that agrees on all of them.
ARCHITECTURE_FIELDS = (
    "generator",
    "ngf",
    "n_blocks",
    "norm",
    "discriminator",
    "ndf",
    "n_layers",
    "upsample",
    "antialias",
    "identity_start",
    "color_transfer",
    "local_layers",
)


@dataclasses.dataclass(frozen=True)
class GeneratorSpec:
    """What a generator architecture needs: input sizes, and how training treats it.

    Attributes:
        power_of_two: Its training size must be a power of two (the UNet halves the image
            down to 1x1).
        downsamplings: Stride-2 halvings, or None when it halves down to 1x1 (the UNet).
        min_size: The smallest input it takes (the ResNet's blocks reflect-pad their
            quarter-resolution maps by one pixel, which needs two pixels there).
        size_in_weights: Its variables depend on the image size (the UNet's depth does).
        has_dropout: It applies dropout in training (the UNet's decoder).
        batches_passes: Independent passes of one step run as one batch. The UNet's inner
            layers are bound by reading their weights, so one read serves all passes; the
            ResNet's convolutions are bound by arithmetic and lose more from the lost
            overlap of independent passes. Batch norm would mix the passes' statistics.
    """

    power_of_two: bool
    downsamplings: int | None
    min_size: int
    size_in_weights: bool
    has_dropout: bool
    batches_passes: bool

    def size_multiple(self, image_size: int) -> int:
        """Heights and widths it takes are multiples of this (for a model of `image_size`)."""
        if self.downsamplings is None:
            return 2 ** (image_size.bit_length() - 1)
        return 2 ** self.downsamplings


GENERATOR_SPECS = {
    "unet": GeneratorSpec(power_of_two=True, downsamplings=None, min_size=0,
                          size_in_weights=True, has_dropout=True, batches_passes=True),
    "resnet": GeneratorSpec(power_of_two=False, downsamplings=2, min_size=8,
                            size_in_weights=False, has_dropout=False, batches_passes=False),
    "encoder_decoder": GeneratorSpec(power_of_two=False, downsamplings=2, min_size=4,
                                     size_in_weights=False, has_dropout=False,
                                     batches_passes=False),
    "colour_map": GeneratorSpec(power_of_two=False, downsamplings=0, min_size=1,
                                size_in_weights=False, has_dropout=False, batches_passes=False),
}


GENERATORS = tuple(GENERATOR_SPECS)


def _field(default: Any, help_text: str) -> Any:
    """A dataclass field whose help text becomes the flag's help."""
    return dataclasses.field(default=default, metadata={"help": help_text})


class ConfigError(ValueError):
    """A configuration value, or a combination of values, that cannot work."""


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of a CycleGAN run. Defaults are the TensorFlow tutorial (`tom2jerry`)."""

    preset: str = _field("tom2jerry", "Named preset whose values are the defaults (--list_presets).")

    # Data.
    domain_a: str = _field("tom", "Domain A: the folder name under --data_dir.")
    domain_b: str = _field("jerry", "Domain B: the folder name under --data_dir.")
    data_dir: str = _field("data", "Folder holding one sub-folder per domain (see data/README.md).")
    tfds: str = _field("", "A TensorFlow Datasets source instead of folders, e.g. cycle_gan/horse2zebra.")
    layout: str = _field(
        "auto", "Folder layout: folders (D/<domain>/[train|test]), trainAB (D/trainA, D/testA, "
        "...), or auto (folders when D/<domain_a> exists, else trainAB).")
    image_size: int = _field(256, "Training image size in pixels (square).")
    load_size: int = _field(0, "Size images are resized to before the random crop; 0: image_size*286/256.")
    resize_method: str = _field("nearest", "Resize method: nearest (the tutorial's) or bilinear.")
    jitter: bool = _field(True, "Resize to load_size and random-crop; --nojitter resizes to image_size.")
    flip: bool = _field(True, "Random horizontal flip of training images.")
    background: tuple[int, int, int] = _field(
        (255, 255, 255), "RGB colour that transparent pixels are composited onto, e.g. 255,255,255.")
    cache: bool = _field(False, "Keep decoded training images in memory after the first epoch.")
    seed: int = _field(0, "Seed for data order, augmentation, the image pool and initialisation.")
    batch_size: int = _field(1, "Images per domain in each training step.")

    # Networks.
    generator: str = _field("unet", "Generator: unet (tutorial), resnet (paper), "
                            "encoder_decoder or colour_map (per-pixel recolouring).")
    ngf: int = _field(64, "Filters in the generators' first layer.")
    n_blocks: int = _field(9, "Residual blocks of the resnet generator.")
    norm: str = _field("instance", "Normalisation in both networks: instance, batch or none.")
    discriminator: str = _field(
        "tutorial", "Discriminator: tutorial, patch (70x70 PatchGAN), patch_light or patch_k3.")
    ndf: int = _field(64, "Filters in the discriminators' first layer.")
    n_layers: int = _field(3, "Stride-2 convolutions of the patch discriminators.")
    upsample: str = _field(
        "transpose", "Generator upsampling: transpose (transposed convolution, as the "
        "references) or resize (nearest-neighbour x2 then a convolution: no checkerboards).")
    antialias: bool = _field(
        False, "Blur (a 3x3 binomial filter) before every stride-2 convolution of all four "
        "networks: anti-aliased downsampling.")
    identity_start: bool = _field(
        False, "Generators start as the identity: the output is the input plus a residual "
        "that starts at zero (the last layer, and a per-pixel colour path on the input), "
        "clipped to [-1, 1] in inference, so training starts from copying the input.")
    color_transfer: str = _field(
        "none", "Put a fixed colour map in front of each generator, measured from the "
        "folders before training (1/16-size block colours of up to 200 images each): none; "
        "levels, per channel from the input domain's black and white points (0.5th and "
        "99.5th percentiles) to the other domain's; tone, levels and then as much of the "
        "input's chroma around the other domain's tone ramp as that domain's own images "
        "show (a monochrome medium gets tinted greys). Training starts from that map "
        "instead of the plain input, and --lambda_color compares the output with it. Use "
        "with --lambda_identity=0.")
    local_layers: int = _field(
        0, "colour_map only: 3x3 convolution layers of a residual beside the per-pixel map, "
        "its last layer zero-initialised (it starts at zero). It can blur, flatten and draw "
        "outlines within (2N+1)x(2N+1) pixels, but not move structure; 0 is none.")

    # Losses.
    gan_loss: str = _field("vanilla", "Adversarial loss: vanilla (BCE from logits) or lsgan (MSE).")
    lambda_cycle: float = _field(10.0, "Weight of the cycle-consistency L1 loss.")
    lambda_identity: float = _field(5.0, "Weight of the identity L1 loss (0 turns it off).")
    lambda_color: float = _field(
        0.0, "Weight of a colour-consistency L1 loss between each generator's input and "
        "output, both average-pooled to 1/16 of the image size (keeps colours and layout "
        "when the domains' subjects differ; with --color_transfer, the colour-mapped "
        "input); 0 is off.")
    color_loss: str = _field(
        "lowpass", "What --lambda_color compares on the pooled images: lowpass, every "
        "channel (keeps brightness too); hue, only the part of the output's colour that is "
        "not a paler copy of the input's (lightening, darkening and desaturation are free); "
        "luma, only the luminance (tone is kept, colour is free).")
    lambda_hue: float = _field(
        0.0, "Weight of a second colour anchor on the same 1/16-size averages, added to "
        "--lambda_color's: the hue distance of --color_loss=hue (a turn of hue or extra "
        "saturation costs; lightening, darkening and desaturation are free). A weak "
        "--lambda_color with a strong --lambda_hue keeps hues firmly and tones loosely; "
        "0 is off.")
    scale_hue_by_chroma: bool = _field(
        False, "With --color_transfer=tone: each generator's --lambda_hue times the share of "
        "the input's chroma its tone transfer keeps (ink's 21%, a colourful medium's 100%), "
        "so the hues are held as firmly as the medium keeps them.")
    diffaugment: str = _field(
        "", "Differentiable augmentation of every discriminator input, a comma list of "
        "color, translation, cutout (DiffAugment, for small datasets); empty is off.")

    # Optimisation.
    lr: float = _field(2e-4, "Adam learning rate of all four networks.")
    beta1: float = _field(0.5, "Adam beta_1.")
    beta2: float = _field(0.999, "Adam beta_2.")
    lr_schedule: str = _field("constant", "constant, or linear: decay to zero over the last --decay_epochs.")
    decay_epochs: int = _field(0, "With --lr_schedule=linear: epochs of linear decay at the end.")
    pool_size: int = _field(0, "Image pool of past fakes shown to the discriminators; 0 is off.")
    ema_decay: float = _field(
        0.0, "Keep an exponential moving average of the generators' weights with this decay "
        "(e.g. 0.999), used for samples, evaluation and export; 0 is off.")
    mixed_precision: str = _field(
        "auto", "auto (fp16 with loss scaling on a GPU; bf16 on a CPU with native bf16, else "
        "float32), float32, bf16 or fp16 (off is float32). A bare --mixed_precision means "
        "auto; a resumed run keeps its saved precision unless this flag is given.")
    strategy: str = _field(
        "default", "Distribution strategy: default (one device), mirrored (all GPUs of this "
        "machine) or multiworker (several machines, configured by TF_CONFIG). --batch_size "
        "is the global batch.")
    profile_steps: str = _field(
        "", "Write a TensorBoard profile of global steps A to B (e.g. 10,12) to OUTPUT_DIR/logs.")

    # Loop and outputs.
    epochs: int = _field(10, "Training epochs; an epoch covers the larger domain once.")
    steps_per_epoch: int = _field(0, "Cap on steps per epoch; 0: no cap.")
    save_every_epochs: int = _field(5, "Save a checkpoint every N epochs (and always at the end).")
    save_every_steps: int = _field(0, "Also save every N steps; 0: only at epoch boundaries.")
    keep_checkpoints: int = _field(5, "Checkpoints kept in OUTPUT_DIR/checkpoints.")
    sample_every_epochs: int = _field(1, "Write sample grids every N epochs.")
    num_samples: int = _field(4, "Test images in each sample grid.")
    output_dir: str = _field("", "Run folder; default runs/<domain_a>2<domain_b>.")
    eval_every_epochs: int = _field(
        0, "Every N epochs (and after the last) log test metrics to TensorBoard as eval/*: "
        "cycle L1 and PSNR, identity L1 (and FID/KID with --eval_fid); 0 is off.")
    eval_images: int = _field(100, "Test images per domain in each evaluation (the first N); "
                              "0: all.")
    eval_fid: bool = _field(False, "Also compute FID and KID in each evaluation (needs the "
                            "InceptionV3 weights: --inception_weights or the Keras cache).")
    inception_weights: str = _field(
        "", "InceptionV3 no-top weights file (.h5) for FID/KID; default: the Keras cache.")
    keep_best: str = _field(
        "", "Keep the checkpoint with the best value of this eval metric in OUTPUT_DIR/best/ "
        "(higher is better for *psnr*, lower for *l1*, fid_*, kid_*): "
        + ", ".join(KEEP_BEST_METRICS) + ".")

    def __post_init__(self) -> None:
        # Older config.json files and flags spell precisions differently (see precision.py).
        spelled = precision.canonical(self.mixed_precision)
        if spelled:
            object.__setattr__(self, "mixed_precision", spelled)
        if isinstance(self.background, (list, str)):
            if isinstance(self.background, str):
                object.__setattr__(self, "background", self.background.split(","))
            object.__setattr__(self, "background", tuple(int(c) for c in self.background))

    # Derived values. -------------------------------------------------------------------

    @property
    def resolved_load_size(self) -> int:
        """The size images are resized to before the random crop."""
        if not self.jitter:
            return self.image_size
        return self.load_size or round(self.image_size * 286 / 256)

    @property
    def augmentations(self) -> tuple[str, ...]:
        """The --diffaugment policies, in the order given."""
        return tuple(p.strip() for p in self.diffaugment.split(",") if p.strip())

    @property
    def uses_color_loss(self) -> bool:
        """Whether training adds the colour anchor (--lambda_color or --lambda_hue)."""
        return bool(self.lambda_color or self.lambda_hue)

    @property
    def resolved_output_dir(self) -> str:
        """Where the run writes checkpoints, logs, samples and `config.json`."""
        return self.output_dir or os.path.join("runs", f"{self.domain_a}2{self.domain_b}")

    # Validation. -----------------------------------------------------------------------

    def validate(self) -> Config:
        """Raises `ConfigError` naming the flag(s) at fault; returns self when all is well."""
        choices = {
            "generator": GENERATORS,
            "discriminator": DISCRIMINATORS,
            "norm": NORMS,
            "gan_loss": GAN_LOSSES,
            "resize_method": RESIZE_METHODS,
            "lr_schedule": LR_SCHEDULES,
            "mixed_precision": precision.PRECISIONS,
            "strategy": STRATEGIES,
            "layout": LAYOUTS,
            "upsample": UPSAMPLINGS,
            "color_loss": COLOR_LOSSES,
            "color_transfer": COLOR_TRANSFERS,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"--{name}={value!r} is not one of {', '.join(allowed)}.")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"--{field.name}={value} is not a finite number.")
        positive = ("image_size", "batch_size", "epochs", "ngf", "ndf", "keep_checkpoints",
                    "save_every_epochs", "sample_every_epochs", "num_samples", "n_layers")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name} must be positive, got {getattr(self, name)}.")
        non_negative = ("load_size", "steps_per_epoch", "save_every_steps", "pool_size",
                        "decay_epochs", "lambda_cycle", "lambda_identity", "lambda_color",
                        "lambda_hue", "n_blocks", "local_layers",
                        "eval_every_epochs", "eval_images", "seed")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name} must be zero or positive, got {getattr(self, name)}.")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"--ema_decay must be in [0, 1) (e.g. 0.999), got {self.ema_decay}.")
        unknown = sorted(set(self.augmentations) - set(AUGMENTATIONS))
        if unknown:
            raise ConfigError(f"--diffaugment={self.diffaugment!r}: {', '.join(unknown)} is not "
                              f"one of {', '.join(AUGMENTATIONS)}.")
        if self.lr <= 0 or self.lr >= 1:
            raise ConfigError(f"--lr must be between 0 and 1 (e.g. 2e-4), got {self.lr}.")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be in [0, 1), got {getattr(self, name)}.")
        if self.scale_hue_by_chroma and (self.color_transfer != "tone" or not self.lambda_hue):
            raise ConfigError(
                "--scale_hue_by_chroma scales --lambda_hue by the chroma the tone transfer "
                f"keeps: it needs --color_transfer=tone (got {self.color_transfer!r}) and "
                f"--lambda_hue above 0 (got {self.lambda_hue}).")
        if self.jitter and self.resolved_load_size < self.image_size:
            raise ConfigError(
                f"--load_size={self.load_size} is smaller than --image_size={self.image_size}; "
                "the random crop needs load_size >= image_size."
            )
        if self.decay_epochs > self.epochs:
            raise ConfigError(
                f"--decay_epochs={self.decay_epochs} is more than --epochs={self.epochs}."
            )
        if self.lr_schedule == "linear" and not self.decay_epochs:
            raise ConfigError("--lr_schedule=linear needs --decay_epochs > 0 (the epochs of "
                              "decay at the end); with 0 the rate would stay constant.")
        if len(self.background) != 3 or not all(0 <= c <= 255 for c in self.background):
            raise ConfigError(f"--background must be three values in 0..255, got {self.background}.")
        if self.local_layers and self.generator != "colour_map":
            raise ConfigError(f"--local_layers={self.local_layers} applies only to "
                              f"--generator=colour_map, not {self.generator!r}; drop it or "
                              "set it to 0.")
        self._validate_image_size()
        self.profile_range()
        self._validate_evaluation()
        return self

    def profile_range(self) -> tuple[int, int] | None:
        """(A, B) of `--profile_steps=A,B`, or None when unset; raises `ConfigError` if bad."""
        if not self.profile_steps:
            return None
        try:
            first, last = (int(part) for part in self.profile_steps.split(","))
        except ValueError:
            first = last = 0
        if not 1 <= first <= last:
            raise ConfigError(f"--profile_steps={self.profile_steps!r} must be two global steps "
                              "A,B with 1 <= A <= B, e.g. 10,12.")
        return first, last

    def _validate_evaluation(self) -> None:
        if self.eval_fid and not self.eval_every_epochs:
            raise ConfigError("--eval_fid needs --eval_every_epochs=N (N > 0).")
        if self.eval_fid and self.eval_images == 1:
            raise ConfigError("--eval_images=1 is too few for FID/KID (--eval_fid); use at "
                              "least 2, or 0 for all test images.")
        if not self.keep_best:
            return
        if self.keep_best not in KEEP_BEST_METRICS:
            raise ConfigError(f"--keep_best={self.keep_best!r} is not an eval metric; choose one "
                              f"of {', '.join(KEEP_BEST_METRICS)}.")
        if not self.eval_every_epochs:
            raise ConfigError(f"--keep_best={self.keep_best} needs --eval_every_epochs=N (N > 0).")
        if self.keep_best.startswith(("fid_", "kid_")) and not self.eval_fid:
            raise ConfigError(f"--keep_best={self.keep_best} needs --eval_fid.")

    @property
    def generator_spec(self) -> GeneratorSpec:
        """What the chosen generator needs of its inputs and of training."""
        return GENERATOR_SPECS[self.generator]

    def _validate_image_size(self) -> None:
        size, spec = self.image_size, self.generator_spec
        if spec.power_of_two and (size < 2 or size & (size - 1)):
            raise ConfigError(
                f"--image_size={size} does not suit --generator={self.generator}, which needs "
                "a power of two (for example 64, 128 or 256); use --generator=resnet for other "
                "sizes."
            )
        if not spec.power_of_two and size % spec.size_multiple(size):
            raise ConfigError(
                f"--image_size={size} does not suit --generator={self.generator}, which needs "
                f"a multiple of {spec.size_multiple(size)}."
            )
        min_size = 2 ** (self.n_layers + 2)
        if size < min_size:
            raise ConfigError(
                f"--image_size={size} is too small for a {self.n_layers}-layer "
                f"--discriminator={self.discriminator}; use at least {min_size}."
            )

    def check_resumable_with(self, saved: Config) -> None:
        """Raises `ConfigError` if a checkpoint made under `saved` cannot load into self."""
        # The image pools' buffers are (pool_size, image_size, image_size, 3) variables, and
        # only fp16 adds loss-scale variables to the optimizers.
        diffs = [
            f"--{name}: checkpoint has {getattr(saved, name)!r}, now {getattr(self, name)!r}"
            for name in ARCHITECTURE_FIELDS + ("image_size", "pool_size")
            if getattr(saved, name) != getattr(self, name)
            and (name != "image_size" or self.generator_spec.size_in_weights or self.pool_size)
        ]
        if bool(saved.ema_decay) != bool(self.ema_decay):
            diffs.append(f"--ema_decay: checkpoint has {saved.ema_decay!r}, now "
                         f"{self.ema_decay!r} (the moving average is part of the checkpoint)")
        if saved.scale_hue_by_chroma != self.scale_hue_by_chroma:
            diffs.append(f"--scale_hue_by_chroma: checkpoint has {saved.scale_hue_by_chroma!r}, "
                         f"now {self.scale_hue_by_chroma!r} (the hue weights are set before the "
                         "first step and checkpointed)")
        if ((precision.resolve(saved.mixed_precision) == "fp16")
                != (precision.resolve(self.mixed_precision) == "fp16")):
            diffs.append(f"--mixed_precision: checkpoint has {saved.mixed_precision!r}, now "
                         f"{self.mixed_precision!r} (only fp16 keeps a loss scale)")
        if diffs:
            raise ConfigError(
                "This run's checkpoints were made with a different architecture or training "
                "state:\n  "
                + "\n  ".join(diffs)
                + "\nUse the saved values, or a new --output_dir to start a new run."
            )

    # Serialisation. --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON-compatible values."""
        values = dataclasses.asdict(self)
        values["background"] = list(self.background)
        return values

    def to_json(self) -> str:
        """The configuration as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Config:
        """Builds a Config from `to_dict` output; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            renamed = "".join(f" {key} is now {RENAMED_KEYS[key]}." for key in unknown
                              if key in RENAMED_KEYS)
            raise ConfigError(f"unknown key(s) {', '.join(unknown)}; they are not settings of "
                              f"this version of cyclegan_tf.{renamed}")
        return cls(**values)

    def check_types(self) -> Config:
        """Raises `ConfigError` naming the key whose value has the wrong type; returns self."""
        for field in dataclasses.fields(self):
            value, default = getattr(self, field.name), field.default
            kind = type(default)
            ok = (isinstance(value, tuple) if kind is tuple else
                  isinstance(value, bool) if kind is bool else
                  isinstance(value, (int, float)) and not isinstance(value, bool)
                  if kind is float else
                  isinstance(value, int) and not isinstance(value, bool) if kind is int else
                  isinstance(value, kind))
            if not ok:
                raise ConfigError(f"key {field.name!r} must be of type {kind.__name__}, got "
                                  f"{value!r}.")
        return self

    def replace(self, **changes: Any) -> Config:
        """A copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


def save_config(config: Config, directory: str) -> str:
    """Writes `config.json` into `directory` atomically and returns its path."""
    return atomic_write_text(os.path.join(directory, CONFIG_FILENAME), config.to_json() + "\n")


def load_config(path: str) -> Config:
    """Reads a `config.json` file, or the one inside a run or export directory.

    Raises `ConfigError` naming the file (and the key) when it is missing, is not JSON,
    or holds an unknown key or a value of the wrong type.
    """
    if os.path.isdir(path):
        candidates = [os.path.join(path, CONFIG_FILENAME),
                      os.path.join(path, "assets", CONFIG_FILENAME)]
        found = [c for c in candidates if os.path.exists(c)]
        if not found:
            raise ConfigError(f"No {CONFIG_FILENAME} in {path}; is it a cyclegan_tf run folder?")
        path = found[0]
    try:
        with open(path, encoding="utf-8") as f:
            values = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid JSON ({error}); restore it from a backup, or "
                          "delete it to start the run over.") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path} must hold a JSON object of settings.")
    try:
        return Config.from_dict(values).check_types()
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
