"""Choosing and applying the numeric precision of a run.

`--mixed_precision` resolves to a Keras dtype policy: `mixed_float16` (with dynamic loss
scaling) on a GPU, `mixed_bfloat16` on a CPU with native bfloat16 (see `policy_name`).
The policy is applied only while the networks are built, so runs with different
precisions can live in one process.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import keras
import tensorflow as tf

from cyclegan_tf.configs import Config


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bfloat16 arithmetic (x86 AVX512_BF16 or AMX, Arm BF16).

    Read from Linux's /proc/cpuinfo; elsewhere (or if it cannot be read) False.
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def policy_name(config: Config) -> str:
    """The Keras dtype policy for `config.mixed_precision`.

    'auto' is mixed_float16 on a GPU, mixed_bfloat16 on a CPU with native bfloat16, and
    float32 on other CPUs, where emulated bfloat16 would be slower than float32.
    """
    mode = config.mixed_precision
    if mode == "off":
        return "float32"
    if mode == "bf16":
        return "mixed_bfloat16"
    if mode == "fp16":
        return "mixed_float16"
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_supports_bf16() else "float32"


def uses_loss_scaling(policy: str) -> bool:
    """float16 gradients underflow without dynamic loss scaling; bfloat16's do not."""
    return policy == "mixed_float16"


@contextlib.contextmanager
def policy_scope(policy: str) -> Iterator[None]:
    """Builds layers created inside the block with `policy`, then restores the old one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
