"""Counting the floating-point operations of the CycleGAN networks and of a training step.

FLOPs are counted from the convolution and dense (matmul) operations of a network's
forward pass: each multiply-accumulate is 2 FLOPs; biases, normalisation and activations
are left out (they are a few percent at most). The network is traced once for a fixed
input shape and the operations of the resulting graph are read, so any model built from
Keras `Conv2D`, `Conv2DTranspose` and `Dense` layers (nested models too) is counted
without a table of layer types. A training step's backward pass costs about twice its
forward pass (gradients with respect to the inputs and to the weights), hence
`TRAIN_FACTOR` = 3.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from cyclegan_tf.core.configs import Config

TRAIN_FACTOR = 3  # Forward + backward (input and weight gradients) ~ 3 forward passes.


def _op_flops(op: tf.Operation) -> int:
    """FLOPs of one graph operation: 2 per multiply-accumulate; 0 for other op types."""
    if op.type == "Conv2D":
        output = op.outputs[0].shape.as_list()  # (N, H, W, C_out)
        kh, kw, c_in, _ = op.inputs[1].shape.as_list()
        return 2 * math.prod(output) * kh * kw * c_in
    if op.type == "Conv2DBackpropInput":  # A transposed convolution (Conv2DTranspose).
        kh, kw, c_out, _ = op.inputs[1].shape.as_list()
        small = op.inputs[2].shape.as_list()  # Its input: (N, h, w, c_in).
        return 2 * math.prod(small) * kh * kw * c_out
    if op.type == "MatMul":  # Dense layers (Keras reshapes higher-rank inputs to 2-D).
        a, b = op.inputs[0].shape.as_list(), op.inputs[1].shape.as_list()
        rows, inner = (a[1], a[0]) if op.get_attr("transpose_a") else (a[0], a[1])
        cols = b[0] if op.get_attr("transpose_b") else b[1]
        return 2 * rows * inner * cols
    return 0


def forward_flops(model: keras.Model, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass of `model` on a float32 input of `input_shape` (with batch).

    Raises:
        ValueError: if a counted operation has a shape unknown for that input.
    """
    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(tf.TensorSpec(input_shape, tf.float32)).graph
    total = 0
    for op in graph.get_operations():
        try:
            total += _op_flops(op)
        except (TypeError, ValueError) as error:  # as_list() of an unknown shape.
            raise ValueError(f"Cannot count FLOPs of {op.name} ({op.type}) for input shape "
                             f"{input_shape}: {error}") from None
    return total


def forward_passes(config: Config) -> tuple[int, int]:
    """How many times one training step runs each generator and each discriminator.

    Each generator translates a real image and, for the cycle, a fake one, plus a real
    image of its own target domain when the identity loss is on; each discriminator
    judges a real image and a fake one, plus a pooled fake when the image pool is on.
    """
    generator = 2 + (config.lambda_identity > 0)
    discriminator = 2 + (config.pool_size > 0)
    return generator, discriminator


def train_step_flops(config: Config, generator: keras.Model,
                     discriminator: keras.Model) -> int:
    """Approximate FLOPs of one `CycleGAN.train_step` (two of each network) under `config`."""
    shape = (config.batch_size, config.image_size, config.image_size, 3)
    per_generator, per_discriminator = forward_passes(config)
    forward = 2 * (per_generator * forward_flops(generator, shape)
                   + per_discriminator * forward_flops(discriminator, shape))
    return TRAIN_FACTOR * forward
