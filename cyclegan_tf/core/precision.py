"""The one precision vocabulary, and choosing and applying a run's numeric precision.

Every flag and file names a precision with one of `PRECISIONS`:

* `float32`: plain float32 everywhere;
* `bf16`: Keras' `mixed_bfloat16` (bfloat16 compute, float32 weights and losses);
* `fp16`: `mixed_float16` with dynamic loss scaling (GPUs);
* `auto`: fp16 on a GPU, bf16 on a CPU with native bfloat16, else float32.

Older spellings (`off`, `bfloat16`, `float16` and the Keras policy names), which older
config.json files, flags and scripts use, are accepted everywhere and read as these.
The policy is applied only while the networks are built, so models of different
precisions can live in one process.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import keras
import tensorflow as tf

PRECISIONS = ("float32", "bf16", "fp16", "auto")
ALIASES = {
    "off": "float32", "fp32": "float32",
    "bfloat16": "bf16", "mixed_bfloat16": "bf16",
    "float16": "fp16", "mixed_float16": "fp16",
}
_KERAS_POLICIES = {"float32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def canonical(name: str) -> str | None:
    """`name` in the vocabulary (old spellings translated), or None if it is no precision."""
    name = ALIASES.get(name, name)
    return name if name in PRECISIONS else None


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bfloat16 arithmetic (x86 AVX512_BF16 or AMX, Arm BF16).

    Read from Linux's /proc/cpuinfo; elsewhere (or if it cannot be read) False.
    """
    try:
        with open("/proc/cpuinfo") as f:
            cpu_flags = set(f.read().split())
    except OSError:
        return False
    return bool(cpu_flags & {"avx512_bf16", "amx_bf16", "bf16"})


def resolve(name: str) -> str:
    """`float32`, `bf16` or `fp16`: what `name` (any spelling) means on this machine.

    'auto' is fp16 on a GPU, bf16 on a CPU with native bfloat16, and float32 on other CPUs,
    where emulated bfloat16 would be slower than float32.
    """
    mode = canonical(name)
    if mode is None:
        raise ValueError(f"{name!r} is not a precision; use one of {', '.join(PRECISIONS)}.")
    if mode != "auto":
        return mode
    if tf.config.list_physical_devices("GPU"):
        return "fp16"
    return "bf16" if cpu_supports_bf16() else "float32"


def keras_policy(name: str) -> str:
    """The Keras dtype policy that `name` (any spelling) stands for on this machine."""
    return _KERAS_POLICIES[resolve(name)]


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
