"""Keras `Conv2D` and `Conv2DTranspose` with a faster weight gradient for strided bfloat16.

On CPUs, oneDNN's bfloat16 weight-gradient kernel (`Conv2DBackpropFilter`) is several
times slower than the forward convolution for strided convolutions, and these gradients
dominate the U-Net's training step (its stride-2 layers hold 54 M weights but see few
pixels). The weight gradient of a convolution is a matrix product of the input's patches
and the output's gradient, so these layers compute it as `extract_patches` + one
`matmul`: the same sum, a different kernel (1.3x to 5x faster here).

The layers are drop-in subclasses with the same weights, names and configuration. The
fast gradient is used only when it helps: bfloat16 compute (mixed_bfloat16, the CPU
policy), strides above 1, square kernels and strides, no dilation, channels_last, on the
TensorFlow backend, and a small strided side (at most `PATCHES_MAX_PIXELS` pixels over the
batch: the deep, weight-heavy layers; oneDNN's own kernel wins on large images).
Everything else, float32 included, runs Keras' own code.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


def _same_padding(size: tf.Tensor, out_size: tf.Tensor, kernel: int, stride: int
                  ) -> tuple[tf.Tensor, tf.Tensor]:
    """TensorFlow's 'SAME' padding (before, after) of one spatial dimension."""
    total = tf.maximum((out_size - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def filter_gradient(inputs: tf.Tensor, out_backprop: tf.Tensor, kernel: int, stride: int,
                    padding: str) -> tf.Tensor:
    """`Conv2DBackpropFilter` as patches x matmul: the gradient of a conv's (k, k, C, F) kernel.

    `inputs` (N, H, W, C) went into a convolution with stride `stride` and padding 'SAME'
    or 'VALID' whose output had the gradient `out_backprop` (N, h, w, F).
    """
    if padding == "SAME":
        size, out = tf.shape(inputs), tf.shape(out_backprop)
        top, bottom = _same_padding(size[1], out[1], kernel, stride)
        left, right = _same_padding(size[2], out[2], kernel, stride)
        inputs = tf.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]])
    patches = tf.image.extract_patches(inputs, [1, kernel, kernel, 1], [1, stride, stride, 1],
                                       [1, 1, 1, 1], "VALID")  # (N, h, w, k * k * C)
    channels, filters = inputs.shape[-1], out_backprop.shape[-1]
    gradient = tf.matmul(tf.reshape(patches, [-1, kernel * kernel * channels]),
                         tf.reshape(out_backprop, [-1, filters]), transpose_a=True)
    return tf.reshape(gradient, [kernel, kernel, channels, filters])


# Measured on an AVX512-BF16 CPU with 4x4 stride-2 U-Net layers: patches x matmul is 1.4x
# to 3.4x faster up to 16x16 (x1) or 8x8 (x3) output pixels, and 1.1x to 3.7x slower
# from 32x32 (x1) or 16x16 (x3) up.
PATCHES_MAX_PIXELS = 512


def weight_gradient(inputs: tf.Tensor, out_backprop: tf.Tensor, kernel_shape: tf.TensorShape,
                    stride: int, padding: str) -> tf.Tensor:
    """A strided convolution's kernel gradient by the faster of the two kernels.

    `filter_gradient` when `out_backprop` has at most `PATCHES_MAX_PIXELS` pixels (known when
    the step is traced), TensorFlow's `Conv2DBackpropFilter` otherwise.
    """
    batch, height, width = out_backprop.shape[:3]
    pixels = None if None in (batch, height, width) else batch * height * width
    if pixels is not None and pixels <= PATCHES_MAX_PIXELS:
        return filter_gradient(inputs, out_backprop, kernel_shape[0], stride, padding)
    return tf.raw_ops.Conv2DBackpropFilter(
        input=inputs, filter_sizes=kernel_shape.as_list(), out_backprop=out_backprop,
        strides=[1, stride, stride, 1], padding=padding)


def conv2d(inputs: tf.Tensor, kernel: tf.Tensor, stride: int, padding: str) -> tf.Tensor:
    """`tf.nn.conv2d` whose kernel gradient is `weight_gradient`."""

    @tf.custom_gradient
    def convolve(x: tf.Tensor, w: tf.Tensor) -> tuple[tf.Tensor, Any]:
        def gradient(dy: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            dx = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=w, out_backprop=dy,
                strides=[1, stride, stride, 1], padding=padding)
            return dx, weight_gradient(x, dy, w.shape, stride, padding)

        return tf.nn.conv2d(x, w, stride, padding), gradient

    return convolve(inputs, kernel)


def conv2d_transpose(inputs: tf.Tensor, kernel: tf.Tensor, output_shape: tf.Tensor,
                     stride: int, padding: str) -> tf.Tensor:
    """`tf.nn.conv2d_transpose` whose kernel gradient is `weight_gradient`.

    The transposed convolution of `inputs` is the input-gradient of a convolution of an
    `output_shape` tensor, so its kernel gradient is that convolution's, with the roles of
    the two tensors swapped.
    """

    @tf.custom_gradient
    def convolve(x: tf.Tensor, w: tf.Tensor) -> tuple[tf.Tensor, Any]:
        def gradient(dy: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            dx = tf.nn.conv2d(dy, w, stride, padding)
            return dx, weight_gradient(dy, x, w.shape, stride, padding)

        return tf.nn.conv2d_transpose(x, w, output_shape, stride, padding), gradient

    return convolve(inputs, kernel)


def _uses_fast_gradient(layer: keras.layers.Layer) -> bool:
    """Whether `layer` (a conv or transposed conv) takes the fast weight-gradient path."""
    return (layer.compute_dtype == "bfloat16"
            and keras.backend.backend() == "tensorflow"
            and layer.strides[0] == layer.strides[1] > 1
            and layer.kernel_size[0] == layer.kernel_size[1]
            and tuple(layer.dilation_rate) == (1, 1)
            and layer.data_format == "channels_last"
            and getattr(layer, "output_padding", None) is None)


@keras.saving.register_keras_serializable(package="cyclegan_tf")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D`; strided bfloat16 layers use `conv2d`'s weight gradient."""

    def convolution_op(self, inputs: Any, kernel: Any) -> Any:
        if not _uses_fast_gradient(self):
            return super().convolution_op(inputs, kernel)
        return conv2d(tf.convert_to_tensor(inputs), tf.convert_to_tensor(kernel),
                      self.strides[0], self.padding.upper())


@keras.saving.register_keras_serializable(package="cyclegan_tf")
class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose`; strided bfloat16 layers use `conv2d_transpose`'s."""

    def call(self, inputs: Any) -> Any:
        if not _uses_fast_gradient(self):
            return super().call(inputs)
        inputs = tf.convert_to_tensor(inputs)
        shape = tf.shape(inputs)
        stride, size = self.strides[0], self.kernel_size[0]
        if self.padding == "same":
            height, width = shape[1] * stride, shape[2] * stride
        else:
            height, width = (shape[1] - 1) * stride + size, (shape[2] - 1) * stride + size
        output_shape = tf.stack([shape[0], height, width, self.filters])
        outputs = conv2d_transpose(inputs, tf.convert_to_tensor(self.kernel), output_shape,
                                   stride, self.padding.upper())
        outputs.set_shape(self.compute_output_shape(inputs.shape))
        if self.use_bias:
            outputs = outputs + tf.convert_to_tensor(self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
