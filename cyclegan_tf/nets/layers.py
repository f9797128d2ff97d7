"""Custom Keras layers of the CycleGAN networks, and the normalisation-layer factory.

`InstanceNormalization` covers both conventions in use: the TensorFlow tutorial's (with a
learned per-channel scale and offset) and PyTorch's `InstanceNorm2d` default (no weights).
`ReflectionPadding2D` is PyTorch's `ReflectionPad2d`, which Keras lacks. `Cropping2D` is
Keras' layer with a cheaper gradient. `Blur2D` is the low-pass filter of anti-aliased
downsampling, `ResidualOutput` the output of a generator that starts as the identity, and
`ColorTransfer` the fixed colour map in front of a generator with --color_transfer.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from cyclegan_tf.core.configs import NORMS


@keras.saving.register_keras_serializable(package="cyclegan_tf")
class InstanceNormalization(keras.layers.Layer):
    """Normalises each sample and channel over its height and width (NHWC inputs).

    With `affine=True` (the TensorFlow CycleGAN tutorial's layer) a per-channel `scale`,
    initialised N(1, 0.02), and `offset`, initialised to zeros, are learned; with
    `affine=False` (PyTorch's `InstanceNorm2d` default) the layer has no weights.

    The statistics are computed in float32 even under a mixed precision policy, and the
    result is returned in the layer's compute dtype. Under mixed precision the layer runs
    as TensorFlow's fused batch-norm kernel (see `_fused_instance_norm`): the same maths,
    with float32 statistics, in one kernel forward and one backward instead of about a
    dozen elementwise passes. In float32 it runs the plain ops.
    """

    def __init__(self, epsilon: float = 1e-5, affine: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.affine = affine
        self.scale = None
        self.offset = None
        # Inference only, float32 only (see inference/tiling.py): `fixed_statistics`, when
        # set to (mean, variance) of shape (1, 1, 1, C), replaces the input's own, and with
        # `record_statistics` each call keeps the statistics it used in `recorded_statistics`.
        self.fixed_statistics: tuple[Any, Any] | None = None
        self.record_statistics = False
        self.recorded_statistics: tuple[Any, Any] | None = None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if self.affine:
            channels = input_shape[-1:]
            # autocast=False keeps the weights float32 inside `call` under mixed precision.
            self.scale = self.add_weight(
                name="scale",
                shape=channels,
                initializer=keras.initializers.RandomNormal(1.0, 0.02),
                autocast=False,
            )
            self.offset = self.add_weight(
                name="offset", shape=channels, initializer="zeros", autocast=False
            )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if self.compute_dtype != "float32" and keras.backend.backend() == "tensorflow":
            return _fused_instance_norm(inputs, self.scale, self.offset, self.epsilon)
        x = ops.cast(inputs, "float32")
        if training:
            mean, variance = ops.moments(x, axes=[1, 2], keepdims=True)  # (N, 1, 1, C)
        elif self.fixed_statistics is not None:
            mean, variance = self.fixed_statistics
        else:
            # Measured from the first pixel: a constant channel (a 1x1 image, padded) is then
            # exactly zero in every runtime, where rounding in the mean would otherwise be
            # amplified by 1/sqrt(epsilon) per layer into runtime-specific noise.
            shift = x[:, :1, :1, :]
            x = x - shift
            mean, variance = ops.moments(x, axes=[1, 2], keepdims=True)
            if self.record_statistics:
                self.recorded_statistics = (mean + shift, variance)
        outputs = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if self.affine:
            outputs = outputs * self.scale + self.offset
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon, "affine": self.affine}


def _fused_instance_norm(inputs: Any, scale: Any, offset: Any, epsilon: float) -> Any:
    """Instance norm of NHWC `inputs` by `tf.raw_ops.FusedBatchNormV3` in training mode.

    Batch norm over a batch of one is instance norm, so the (N, H, W, C) input is viewed
    as one sample of N * C channels: a free reshape when N is 1, a transpose otherwise.
    The kernel keeps the statistics and the `scale` and `offset` in float32 and returns
    the input's dtype; `scale`/`offset` None means no affine weights.
    """
    import tensorflow as tf  # Only this backend has the fused kernel.

    shape = tf.shape(inputs)
    batch, channels = shape[0], shape[3]
    single = inputs.shape[0] == 1
    x = inputs if single else tf.reshape(
        tf.transpose(inputs, [1, 2, 0, 3]), [1, shape[1], shape[2], batch * channels])
    if scale is None:
        scale = tf.ones([channels], tf.float32)
        offset = tf.zeros([channels], tf.float32)
    else:
        scale, offset = tf.convert_to_tensor(scale), tf.convert_to_tensor(offset)
    if not single:
        scale, offset = tf.tile(scale, [batch]), tf.tile(offset, [batch])
    empty = tf.zeros([0], tf.float32)
    # cuDNN rejects epsilon below 1e-5; the difference is far below float precision here.
    y = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=scale, offset=offset, mean=empty, variance=empty,
        epsilon=max(epsilon, 1.001e-5), is_training=True)[0]
    if single:
        return y
    return tf.transpose(tf.reshape(y, [shape[1], shape[2], batch, channels]), [2, 0, 1, 3])


@keras.saving.register_keras_serializable(package="cyclegan_tf")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads height and width by `padding` pixels on each side, mirroring the edge pixels.

    The edge itself is not repeated (numpy's and PyTorch's "reflect"), so `padding` must be
    smaller than the height and the width.
    """

    def __init__(self, padding: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = padding

    def call(self, inputs: Any) -> Any:
        p = self.padding
        return ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        batch, height, width, channels = input_shape
        grow = 2 * self.padding
        return (
            batch,
            None if height is None else height + grow,
            None if width is None else width + grow,
            channels,
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="cyclegan_tf")
class Cropping2D(keras.layers.Cropping2D):
    """`keras.layers.Cropping2D` (channels_last) as one `slice`.

    Keras crops with a strided slice, whose gradient TensorFlow computes by a slow
    scatter; a slice's gradient is a pad. In the ResNet generator's upsampling layers this
    makes the crop's backward pass about 2x faster in bfloat16 (1.3x in float32).
    """

    def call(self, inputs: Any) -> Any:
        if self.data_format != "channels_last":
            return super().call(inputs)
        (top, bottom), (left, right) = self.cropping
        shape = ops.shape(inputs)
        return ops.slice(inputs, [0, top, left, 0],
                         [shape[0], shape[1] - top - bottom, shape[2] - left - right, shape[3]])


@keras.saving.register_keras_serializable(package="cyclegan_tf")
class ColorTransfer(keras.layers.Layer):
    """`image @ matrix.T + offset` on the RGB channels in float32, with fixed
    (non-trainable) weights.

    The --color_transfer map of `cyclegan_tf.data.color_transfer`: the trainer sets `matrix`
    and `offset` from the training folders before the first step; checkpoints and exports
    hold them, so a resumed or exported generator keeps them. They start as the identity.
    """

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = input_shape[-1]
        self.matrix = self.add_weight(shape=(channels, channels), initializer="identity",
                                      trainable=False, name="matrix")
        self.offset = self.add_weight(shape=(channels,), initializer="zeros", trainable=False,
                                      name="offset")

    def call(self, inputs: Any) -> Any:
        return ops.matmul(ops.cast(inputs, "float32"), ops.transpose(self.matrix)) + self.offset

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="cyclegan_tf")
class Blur2D(keras.layers.Layer):
    """A 3x3 binomial low-pass filter ([1, 2, 1] x [1, 2, 1] / 16) on every channel.

    Reflection-padded, so the size is unchanged (inputs need 2 px or more). Put before a
    stride-2 convolution it makes the convolution anti-aliased: subsampling a blurred
    signal, as "Making Convolutional Networks Shift-Invariant Again" (Zhang 2019) and CUT
    do (blur and convolution are both linear, so their order does not matter).
    """

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        taps = np.array([1.0, 2.0, 1.0]) / 4.0
        kernel = np.outer(taps, taps)[:, :, None, None]  # (3, 3, 1, 1)
        self._kernel = np.tile(kernel, (1, 1, input_shape[-1], 1)).astype("float32")

    def call(self, inputs: Any) -> Any:
        padded = ops.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
        kernel = ops.cast(self._kernel, inputs.dtype)
        return ops.depthwise_conv(padded, kernel, strides=1, padding="valid")

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="cyclegan_tf")
class ResidualOutput(keras.layers.Layer):
    """`image + residual` in float32: an output layer that starts as the identity.

    With the residual's layer initialised to zero, the generator's first output is its
    input, and training moves away from copying only as far as the losses ask. The sum is
    not squashed (a tanh would all but freeze near-white and near-black pixels); in
    inference it is clipped to [-1, 1], the range of images.
    """

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        image, residual = (ops.cast(x, "float32") for x in inputs)
        outputs = image + residual
        return outputs if training else ops.clip(outputs, -1.0, 1.0)

    def compute_output_shape(self, input_shapes: Any) -> tuple[int | None, ...]:
        return tuple(input_shapes[1])


def norm_layer(norm: str, affine: bool) -> keras.layers.Layer | None:
    """A fresh normalisation layer of kind `norm`, or None for 'none'.

    Args:
        norm: 'instance', 'batch' or 'none'.
        affine: For instance norm, whether it learns a scale and offset (the TensorFlow
            tutorial's layer) or has no weights (PyTorch's default). Batch norm always
            learns them, with the scale initialised N(1, 0.02) as in the references.

    Raises:
        ValueError: if `norm` is not one of the above.
    """
    if norm == "instance":
        return InstanceNormalization(epsilon=1e-5, affine=affine)
    if norm == "batch":
        # PyTorch's BatchNorm2d defaults: eps 1e-5, running averages updated by 0.1.
        return keras.layers.BatchNormalization(
            momentum=0.9,
            epsilon=1e-5,
            gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
        )
    if norm == "none":
        return None
    raise ValueError(f"norm={norm!r} is not one of {', '.join(NORMS)}.")
