"""The CycleGAN generators and discriminators, as functional Keras models.

Two families are provided:

* The TensorFlow CycleGAN tutorial's networks (`unet_generator`, `tutorial_discriminator`):
  Keras 'same' padding, LeakyReLU with Keras' default slope 0.3, convolutions without
  bias before a normalisation, and the tutorial's affine instance norm.
* The CycleGAN paper's PyTorch reference networks (`resnet_generator`,
  `encoder_decoder_generator`, `patch_discriminator`): PyTorch padding reproduced with
  explicit `ZeroPadding2D`/`ReflectionPadding2D` before 'valid' convolutions,
  LeakyReLU(0.2), and affine-free instance norm.

A third kind, `colour_map_generator`, only recolours pixels (a per-pixel MLP on a residual
output), optionally with a small local residual (`local_layers` 3x3 convolutions) that can
blur and draw outlines: a strong prior for styles that keep the photo's structure.

Three options, all off by default (the presets' networks are then exactly the references'),
address known causes of poor results at small budgets: `upsample='resize'` replaces every
transposed convolution by nearest-neighbour upsampling and a convolution (no checkerboard
artefacts, Odena et al. 2016); `antialias` blurs before every stride-2 convolution
(`Blur2D`); `identity_start` makes a generator start as the identity (`ResidualOutput`).

Every model takes images of shape (None, None, 3) in [-1, 1], so a trained model can be
exported for any spatial size its architecture allows. Kernels are initialised
N(0, 0.02) and biases to zero. The last layer of every model computes in float32, so
outputs are float32 even under a mixed precision global policy. Convolutions are
`cyclegan_tf.fast_conv`'s drop-in Keras layers (a faster weight gradient under bfloat16).
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from cyclegan_tf.core.configs import DISCRIMINATORS, GENERATORS, Config, ConfigError
from cyclegan_tf.nets.fast_conv import Conv2D, Conv2DTranspose
from cyclegan_tf.nets.layers import (
    Blur2D,
    ColorTransfer,
    Cropping2D,
    ReflectionPadding2D,
    ResidualOutput,
    norm_layer,
)

PATCH_HEADS = ("patch", "light", "k3")
# Hidden width of the per-pixel colour path of an identity-start generator.
COLOUR_PATH_WIDTH = 16
# Hidden width of the colour_map generator's local residual (--local_layers).
LOCAL_WIDTH = 16


def _kernel_init() -> keras.initializers.Initializer:
    """The N(0, 0.02) kernel initialiser shared by the tutorial and the paper."""
    return keras.initializers.RandomNormal(0.0, 0.02)


def _apply_norm(x: keras.KerasTensor, norm: str, affine: bool) -> keras.KerasTensor:
    """`x` through a fresh normalisation layer, or unchanged when `norm` is 'none'."""
    layer = norm_layer(norm, affine)
    return x if layer is None else layer(x)


def _image_input() -> keras.KerasTensor:
    return keras.Input(shape=(None, None, 3), name="image")


# PyTorch-style building blocks. --------------------------------------------------------


def _torch_conv(
    x: keras.KerasTensor,
    filters: int,
    kernel_size: int,
    strides: int = 1,
    padding: int = 0,
    use_bias: bool = True,
    reflect: bool = False,
    antialias: bool = False,
    **kwargs: object,
) -> keras.KerasTensor:
    """PyTorch's `Conv2d(kernel_size, stride, padding)`: explicit padding + 'valid' conv.

    `reflect` pads by reflection (the reference's `ReflectionPad2d`) instead of zeros;
    `antialias` blurs first when the stride is 2. Extra keyword arguments go to `Conv2D`
    (e.g. `activation`, `dtype`, `kernel_initializer`).
    """
    if antialias and strides == 2:
        x = Blur2D()(x)
    if padding:
        pad = ReflectionPadding2D(padding) if reflect else keras.layers.ZeroPadding2D(padding)
        x = pad(x)
    kwargs.setdefault("kernel_initializer", _kernel_init())
    return Conv2D(
        filters, kernel_size, strides=strides, padding="valid", use_bias=use_bias, **kwargs,
    )(x)


def _torch_upsample(
    x: keras.KerasTensor, filters: int, use_bias: bool, mode: str = "transpose"
) -> keras.KerasTensor:
    """PyTorch's `ConvTranspose2d(k3, stride 2, padding 1, output_padding 1)`: H -> 2H.

    The full ('valid') transposed convolution gives 2H + 1 rows; PyTorch drops `padding`
    rows at the top and `padding - output_padding` = 0 at the bottom, and the same for
    columns. `mode='resize'`: nearest-neighbour x2, reflection pad 1 and a 3x3 convolution
    (the same number of weights).
    """
    if mode == "resize":
        x = keras.layers.UpSampling2D(2, interpolation="nearest")(x)
        return _torch_conv(x, filters, 3, padding=1, use_bias=use_bias, reflect=True)
    x = Conv2DTranspose(
        filters, 3, strides=2, padding="valid", use_bias=use_bias,
        kernel_initializer=_kernel_init(),
    )(x)  # (N, 2H + 1, 2W + 1, filters)
    return Cropping2D(((1, 0), (1, 0)))(x)  # (N, 2H, 2W, filters)


def _reference_bias(norm: str) -> bool:
    """Whether a convolution followed by `norm` has a bias, as in the PyTorch reference.

    Batch norm's learned offset makes a bias redundant; the (affine-free) instance norm
    cancels it too, but the reference keeps it, and so do we. Without a normalisation the
    bias is kept (the reference would drop it, leaving those layers without any offset).
    """
    return norm != "batch"


def _output(inputs: keras.KerasTensor, x: keras.KerasTensor, identity_start: bool,
            conv: Callable[..., keras.KerasTensor]) -> keras.KerasTensor:
    """A generator's last layer, `conv(x, activation, kernel_initializer)`, float32: tanh.

    With `identity_start` the output is the input plus a residual that starts at zero
    (`ResidualOutput`): the last layer, linear and zero-initialised, plus a per-pixel
    colour path on the input (1x1 convolutions, 3 -> 16 -> 3, the last zero-initialised).
    """
    if not identity_start:
        return conv(x, "tanh", _kernel_init())
    # A per-pixel colour path on the raw input: the normalised layers above no longer see
    # the image's absolute colours, and a colour remapping is what styles change first.
    colour = Conv2D(COLOUR_PATH_WIDTH, 1, activation="relu", kernel_initializer=_kernel_init(),
                    dtype="float32")(inputs)
    colour = Conv2D(3, 1, kernel_initializer="zeros", dtype="float32")(colour)
    residual = keras.layers.Add(dtype="float32")([conv(x, None, "zeros"), colour])
    return ResidualOutput(dtype="float32")([inputs, residual])


def _resnet_block(
    x: keras.KerasTensor, filters: int, norm: str, use_bias: bool
) -> keras.KerasTensor:
    """The reference residual block: x + (pad, conv3, norm, ReLU, pad, conv3, norm)(x)."""
    y = _torch_conv(x, filters, 3, padding=1, use_bias=use_bias, reflect=True)
    y = _apply_norm(y, norm, affine=False)
    y = keras.layers.ReLU()(y)
    y = _torch_conv(y, filters, 3, padding=1, use_bias=use_bias, reflect=True)
    y = _apply_norm(y, norm, affine=False)
    return keras.layers.Add()([x, y])


# Tutorial-style building blocks. -------------------------------------------------------


def _tutorial_downsample(
    x: keras.KerasTensor, filters: int, norm: str, apply_norm: bool = True,
    antialias: bool = False,
) -> keras.KerasTensor:
    """The tutorial's `downsample`: Conv2D(k4, s2, 'same') [+ norm] + LeakyReLU(0.3).

    The tutorial's conv has no bias; with `norm='none'` a conv that would have been
    normalised gets one instead. The first block (`apply_norm=False`) stays bias-free.
    `antialias` blurs before the convolution.
    """
    if antialias:
        x = Blur2D()(x)
    x = Conv2D(
        filters, 4, strides=2, padding="same", use_bias=apply_norm and norm == "none",
        kernel_initializer=_kernel_init(),
    )(x)
    if apply_norm:
        x = _apply_norm(x, norm, affine=True)
    # The tutorial's LeakyReLU() uses Keras' default slope, 0.3.
    return keras.layers.LeakyReLU(negative_slope=0.3)(x)


def _tutorial_up_conv(x: keras.KerasTensor, filters: int, mode: str,
                      **kwargs: object) -> keras.KerasTensor:
    """H -> 2H: the tutorial's Conv2DTranspose(k4, s2, 'same'), or with `mode='resize'`
    nearest-neighbour x2 and a Conv2D(k3, 'same')."""
    kwargs.setdefault("kernel_initializer", _kernel_init())
    if mode == "resize":
        x = keras.layers.UpSampling2D(2, interpolation="nearest")(x)
        return Conv2D(filters, 3, padding="same", **kwargs)(x)
    return Conv2DTranspose(filters, 4, strides=2, padding="same", **kwargs)(x)


def _tutorial_upsample(
    x: keras.KerasTensor, filters: int, norm: str, apply_dropout: bool = False,
    mode: str = "transpose",
) -> keras.KerasTensor:
    """The tutorial's `upsample`: Conv2DTranspose(k4, s2, 'same') + norm [+ Dropout] + ReLU."""
    x = _tutorial_up_conv(x, filters, mode, use_bias=norm == "none")
    x = _apply_norm(x, norm, affine=True)
    if apply_dropout:
        x = keras.layers.Dropout(0.5)(x)
    return keras.layers.ReLU()(x)


# Generators. ---------------------------------------------------------------------------


def unet_generator(
    image_size: int = 256, ngf: int = 64, norm: str = "instance", name: str = "unet_generator",
    upsample: str = "transpose", antialias: bool = False, identity_start: bool = False,
) -> keras.Model:
    """The TensorFlow CycleGAN tutorial's U-Net (`pix2pix.unet_generator(3, 'instancenorm')`).

    The encoder halves the image `depth = log2(image_size)` times, down to 1x1: 8 times at
    256 px, as in the tutorial, 6 times at 64 px. Encoder block i has
    `ngf * min(2**i, 8)` filters (64, 128, 256, 512, 512, ... at ngf 64); the decoder
    mirrors all but the innermost block and concatenates the matching encoder output.
    At 256 px this is exactly the tutorial's network (54,414,979 parameters at ngf 64).

    Smaller images drop the innermost 512-filter blocks, which keeps the outer blocks
    (and their filter counts) as they are; larger ones add 512-filter blocks in the
    middle, as the pix2pix reference's `UnetGenerator(num_downs)` does. Dropout(0.5) sits
    on the first (innermost) `min(3, depth - 1)` decoder blocks: the pix2pix paper puts it
    on "the first 3 layers of the decoder", wherever the bottleneck is, so we keep it
    tied to the position rather than to the blocks that a smaller image removes.

    Inputs of any height and width divisible by `2**depth` are accepted.

    Args:
        image_size: The training image size, a power of two; it sets the depth.
        ngf: Filters of the outermost block (64 in the tutorial).
        norm: 'instance' (the tutorial's affine instance norm), 'batch' or 'none'.
        name: The model's name.
        upsample, antialias, identity_start: The options of the module docstring.
    """
    if image_size < 2 or image_size & (image_size - 1):
        raise ValueError(f"unet_generator needs a power-of-two image_size, got {image_size}.")
    depth = image_size.bit_length() - 1  # log2(image_size)
    encoder_filters = [ngf * min(2**i, 8) for i in range(depth)]
    decoder_filters = encoder_filters[-2::-1]  # depth - 1 blocks, innermost first.
    n_dropout = min(3, depth - 1)

    inputs = _image_input()
    x = inputs
    skips = []
    for i, filters in enumerate(encoder_filters):
        x = _tutorial_downsample(x, filters, norm, apply_norm=i > 0, antialias=antialias)
        skips.append(x)  # (N, H / 2**(i+1), W / 2**(i+1), filters)
    # The bottleneck (1x1 at image_size) is not a skip; the rest are used innermost first.
    for i, (filters, skip) in enumerate(zip(decoder_filters, reversed(skips[:-1]))):
        x = _tutorial_upsample(x, filters, norm, apply_dropout=i < n_dropout, mode=upsample)
        x = keras.layers.Concatenate()([x, skip])  # (N, h, w, 2 * filters)
    outputs = _output(inputs, x, identity_start, lambda x, activation, init: _tutorial_up_conv(
        x, 3, upsample, activation=activation, kernel_initializer=init, dtype="float32",
    ))  # (N, H, W, 3)
    return keras.Model(inputs, outputs, name=name)


def resnet_generator(
    ngf: int = 64, n_blocks: int = 9, norm: str = "instance", name: str = "resnet_generator",
    upsample: str = "transpose", antialias: bool = False, identity_start: bool = False,
) -> keras.Model:
    """The CycleGAN paper's ResNet generator (junyanz/pytorch-CycleGAN-and-pix2pix).

    c7s1-ngf, d(2 ngf), d(4 ngf), `n_blocks` residual blocks, u(2 ngf), u(ngf), c7s1-3 +
    tanh: 11,378,179 parameters with 9 blocks, ngf 64 and instance norm. Instance norm is
    affine-free, as in the reference. Height and width must be multiples of 4.

    Args:
        ngf: Filters of the first convolution.
        n_blocks: Residual blocks at 1/4 resolution (9 at 256 px, 6 at 128 px in the paper).
        norm: 'instance', 'batch' or 'none'.
        name: The model's name.
        upsample, antialias, identity_start: The options of the module docstring.
    """
    use_bias = _reference_bias(norm)
    inputs = _image_input()
    x = _torch_conv(inputs, ngf, 7, padding=3, use_bias=use_bias, reflect=True)
    x = _apply_norm(x, norm, affine=False)
    x = keras.layers.ReLU()(x)  # (N, H, W, ngf)
    for filters in (ngf * 2, ngf * 4):
        x = _torch_conv(x, filters, 3, strides=2, padding=1, use_bias=use_bias,
                        antialias=antialias)
        x = _apply_norm(x, norm, affine=False)
        x = keras.layers.ReLU()(x)  # (N, H/2, W/2, 2 ngf), then (N, H/4, W/4, 4 ngf)
    for _ in range(n_blocks):
        x = _resnet_block(x, ngf * 4, norm, use_bias)
    for filters in (ngf * 2, ngf):
        x = _torch_upsample(x, filters, use_bias, upsample)
        x = _apply_norm(x, norm, affine=False)
        x = keras.layers.ReLU()(x)  # (N, H/2, W/2, 2 ngf), then (N, H, W, ngf)
    outputs = _output(inputs, x, identity_start, lambda x, activation, init: _torch_conv(
        x, 3, 7, padding=3, reflect=True, activation=activation, kernel_initializer=init,
        dtype="float32",
    ))  # (N, H, W, 3)
    return keras.Model(inputs, outputs, name=name)


def encoder_decoder_generator(
    ngf: int = 32, norm: str = "none", name: str = "encoder_decoder_generator",
    upsample: str = "transpose", antialias: bool = False, identity_start: bool = False,
) -> keras.Model:
    """A lightweight encoder-decoder without residual blocks or skips (the 'jojo' system).

    Conv(ngf, k7, pad 3), Conv(2 ngf, k3, s2, pad 1), Conv(4 ngf, k3, s2, pad 1), each +
    ReLU; two PyTorch-style ConvTranspose(k3, s2, pad 1, output pad 1) to 2 ngf and ngf,
    + ReLU; Conv(3, k7, pad 3) + tanh. Padding is with zeros. 194,051 parameters at ngf 32
    without norm. With a `norm`, it is inserted before each ReLU (affine-free instance
    norm; convolutions followed by batch norm lose their bias, as in the ResNet
    generator). Height and width must be multiples of 4.

    Args:
        ngf: Filters of the first convolution.
        norm: 'none' (the original), 'instance' or 'batch'.
        name: The model's name.
        upsample, antialias, identity_start: The options of the module docstring.
    """
    use_bias = _reference_bias(norm)

    def norm_relu(x: keras.KerasTensor) -> keras.KerasTensor:
        return keras.layers.ReLU()(_apply_norm(x, norm, affine=False))

    inputs = _image_input()
    x = norm_relu(_torch_conv(inputs, ngf, 7, padding=3, use_bias=use_bias))  # (N, H, W, ngf)
    for filters in (ngf * 2, ngf * 4):
        x = norm_relu(_torch_conv(x, filters, 3, strides=2, padding=1, use_bias=use_bias,
                                  antialias=antialias))
    x = norm_relu(_torch_upsample(x, ngf * 2, use_bias, upsample))  # (N, H/2, W/2, 2 ngf)
    x = norm_relu(_torch_upsample(x, ngf, use_bias, upsample))  # (N, H, W, ngf)
    outputs = _output(inputs, x, identity_start, lambda x, activation, init: _torch_conv(
        x, 3, 7, padding=3, activation=activation, kernel_initializer=init, dtype="float32"))
    return keras.Model(inputs, outputs, name=name)


def colour_map_generator(width: int = 32, local_layers: int = 0,
                         name: str = "colour_map_generator") -> keras.Model:
    """A generator that recolours: output = input + MLP(input pixel) [+ a local residual].

    Two hidden 1x1 convolutions of `width` units with ReLU and a zero-initialised 1x1
    convolution to 3 channels, added to the input (`ResidualOutput`): it starts as the
    identity and can learn any smooth map of colours (desaturating to ink, lightening to
    pastel), the same at every pixel, but cannot move or invent structure. The hidden layers
    start at N(0, 0.5) and N(0, 0.2), wide enough that their units respond to colours from
    the first step. Float32 throughout (it is tiny); any input size. 1,283 parameters at
    width 32.

    With `local_layers` = N > 0, a second residual is added: N reflection-padded 3x3
    convolutions (`LOCAL_WIDTH` He-normal units with ReLU, the last to 3 channels and zero),
    so the generator still starts as the identity, and can learn what a style does within
    (2N+1)x(2N+1) pixels: blur, flatten washes, darken outlines. 3,203 more parameters at
    N = 3.

    Args:
        width: Hidden units per layer of the per-pixel map (`--ngf`).
        local_layers: 3x3 layers of the local residual (`--local_layers`); 0 is none.
        name: The model's name.
    """
    inputs = _image_input()
    x = Conv2D(width, 1, activation="relu", dtype="float32",
               kernel_initializer=keras.initializers.RandomNormal(0.0, 0.5))(inputs)
    x = Conv2D(width, 1, activation="relu", dtype="float32",
               kernel_initializer=keras.initializers.RandomNormal(0.0, 0.2))(x)
    residual = Conv2D(3, 1, dtype="float32", kernel_initializer="zeros")(x)
    if local_layers:
        residual = keras.layers.Add(dtype="float32")(
            [residual, _local_residual(inputs, local_layers)])
    outputs = ResidualOutput(dtype="float32")([inputs, residual])  # (N, H, W, 3)
    return keras.Model(inputs, outputs, name=name)


def _local_residual(inputs: keras.KerasTensor, layers: int) -> keras.KerasTensor:
    """`layers` reflection-padded 3x3 convolutions, the last to 3 channels and zero."""
    x = inputs
    for index in range(layers):
        last = index == layers - 1
        x = ReflectionPadding2D(1, dtype="float32")(x)
        x = Conv2D(3 if last else LOCAL_WIDTH, 3, activation=None if last else "relu",
                   dtype="float32", kernel_initializer="zeros" if last else "he_normal")(x)
    return x  # (N, H, W, 3)


# Discriminators. -----------------------------------------------------------------------


def patch_discriminator(
    ndf: int = 64,
    n_layers: int = 3,
    norm: str = "instance",
    head: str = "patch",
    name: str = "patch_discriminator",
    antialias: bool = False,
) -> keras.Model:
    """The PyTorch reference's PatchGAN (`NLayerDiscriminator`) and two lighter heads.

    All variants start with `n_layers` stride-2 convolutions (k4, pad 1) with
    `ndf * min(2**i, 8)` filters, each + norm (not the first) + LeakyReLU(0.2). Then:

    * head='patch' (the reference; `--discriminator=patch`): Conv(k4, s1, pad 1) to
      `ndf * min(2**n_layers, 8)` + norm + LeakyReLU, and Conv(k4, s1, pad 1) to 1
      channel. With 3 layers this is the 70x70 PatchGAN: a 30x30 map at 256 px and
      2,764,737 parameters at ndf 64 with instance norm.
    * head='light' (`--discriminator=patch_light`): straight to the Conv(k4, s1, pad 1) to
      1 channel; a 15x15 map at 128 px (167,649 parameters at ndf 32, no norm).
    * head='k3' (`--discriminator=patch_k3`): as 'patch' with 3x3 kernels in the two
      stride-1 convolutions; a 16x16 map at 128 px.

    The output is a map of raw logits, one per patch. Instance norm is affine-free.

    Args:
        ndf: Filters of the first convolution.
        n_layers: Stride-2 convolutions.
        norm: 'instance', 'batch' or 'none'.
        head: 'patch', 'light' or 'k3'.
        name: The model's name.
        antialias: Blur before each stride-2 convolution.
    """
    if head not in PATCH_HEADS:
        raise ValueError(f"head={head!r} is not one of {', '.join(PATCH_HEADS)}.")
    use_bias = _reference_bias(norm)
    inputs = _image_input()
    x = _torch_conv(inputs, ndf, 4, strides=2, padding=1, antialias=antialias)
    x = keras.layers.LeakyReLU(negative_slope=0.2)(x)  # (N, H/2, W/2, ndf)
    for i in range(1, n_layers):
        x = _torch_conv(x, ndf * min(2**i, 8), 4, strides=2, padding=1, use_bias=use_bias,
                        antialias=antialias)
        x = _apply_norm(x, norm, affine=False)
        x = keras.layers.LeakyReLU(negative_slope=0.2)(x)  # (N, H / 2**(i+1), ...)
    kernel_size = 3 if head == "k3" else 4
    if head != "light":
        x = _torch_conv(
            x, ndf * min(2**n_layers, 8), kernel_size, padding=1, use_bias=use_bias
        )
        x = _apply_norm(x, norm, affine=False)
        x = keras.layers.LeakyReLU(negative_slope=0.2)(x)
    outputs = _torch_conv(x, 1, kernel_size, padding=1, dtype="float32")  # (N, h, w, 1)
    return keras.Model(inputs, outputs, name=name)


def tutorial_discriminator(
    ndf: int = 64, norm: str = "instance", name: str = "tutorial_discriminator",
    antialias: bool = False,
) -> keras.Model:
    """The TensorFlow tutorial's PatchGAN (`pix2pix.discriminator('instancenorm', False)`).

    downsample(ndf) without norm, downsample(2 ndf), downsample(4 ndf), then ZeroPadding2D
    + Conv2D(8 ndf, k4) without bias + norm + LeakyReLU(0.3), ZeroPadding2D + Conv2D(1, k4).
    A 30x30 map of logits at 256 px; 2,765,569 parameters at ndf 64 with the tutorial's
    affine instance norm. With `norm='none'` the would-be-normalised convs get a bias.

    Args:
        ndf: Filters of the first convolution (64 in the tutorial).
        norm: 'instance', 'batch' or 'none'.
        name: The model's name.
        antialias: Blur before each stride-2 convolution.
    """
    inputs = _image_input()
    x = _tutorial_downsample(inputs, ndf, norm, apply_norm=False,
                             antialias=antialias)  # (N, 128, 128, ndf)
    x = _tutorial_downsample(x, ndf * 2, norm, antialias=antialias)  # (N, 64, 64, 2 ndf)
    x = _tutorial_downsample(x, ndf * 4, norm, antialias=antialias)  # (N, 32, 32, 4 ndf)
    x = keras.layers.ZeroPadding2D()(x)  # (N, 34, 34, 4 ndf)
    x = Conv2D(
        ndf * 8, 4, use_bias=norm == "none", kernel_initializer=_kernel_init()
    )(x)  # (N, 31, 31, 8 ndf)
    x = _apply_norm(x, norm, affine=True)
    x = keras.layers.LeakyReLU(negative_slope=0.3)(x)
    x = keras.layers.ZeroPadding2D()(x)  # (N, 33, 33, 8 ndf)
    outputs = Conv2D(
        1, 4, kernel_initializer=_kernel_init(), dtype="float32"
    )(x)  # (N, 30, 30, 1)
    return keras.Model(inputs, outputs, name=name)


# Construction from a Config. -----------------------------------------------------------


COLOR_TRANSFER_LAYER = "color_transfer"


def build_generator(config: Config, name: str) -> keras.Model:
    """The generator `config.generator` describes, named `name` (e.g. 'generator_g').

    With --color_transfer its input first passes a `ColorTransfer` layer named
    `COLOR_TRANSFER_LAYER` (the identity until the trainer sets it), so the generator starts
    at the folders' colour transfer.
    """
    generator = _bare_generator(config, name)
    if config.color_transfer == "none":
        return generator
    inputs = _image_input()
    transfer = ColorTransfer(name=COLOR_TRANSFER_LAYER, dtype="float32")
    return keras.Model(inputs, generator(transfer(inputs)), name=name)


def _bare_generator(config: Config, name: str) -> keras.Model:
    options = dict(name=name, upsample=config.upsample, antialias=config.antialias,
                   identity_start=config.identity_start)
    if config.generator == "unet":
        return unet_generator(config.image_size, config.ngf, config.norm, **options)
    if config.generator == "resnet":
        return resnet_generator(config.ngf, config.n_blocks, config.norm, **options)
    if config.generator == "encoder_decoder":
        return encoder_decoder_generator(config.ngf, config.norm, **options)
    if config.generator == "colour_map":
        return colour_map_generator(config.ngf, config.local_layers, name)
    raise ConfigError(
        f"--generator={config.generator!r} is not one of {', '.join(GENERATORS)}."
    )


def build_discriminator(config: Config, name: str) -> keras.Model:
    """The discriminator `config.discriminator` describes, named `name` (e.g. 'discriminator_y').

    The 'tutorial' discriminator has a fixed depth and ignores `config.n_layers`.
    """
    if config.discriminator == "tutorial":
        return tutorial_discriminator(config.ndf, config.norm, name=name,
                                      antialias=config.antialias)
    heads = {"patch": "patch", "patch_light": "light", "patch_k3": "k3"}
    if config.discriminator in heads:
        return patch_discriminator(
            config.ndf, config.n_layers, config.norm, head=heads[config.discriminator],
            name=name, antialias=config.antialias,
        )
    raise ConfigError(
        f"--discriminator={config.discriminator!r} is not one of {', '.join(DISCRIMINATORS)}."
    )
