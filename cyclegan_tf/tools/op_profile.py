"""Where a compiled step spends its time: TensorFlow profiler op times grouped by kind.

`profile_ops` runs a call under `tf.profiler`, reads the host trace it writes (an XPlane
protocol buffer) and sums the duration of every kernel the executor ran, by op type.
`breakdown` groups those op types into the kinds of work a CycleGAN step does
(convolutions and their two gradients, instance normalisation, padding, casts, the
optimizer update, element-wise work, reductions, data movement), so that a change to one
of them can be measured. `scripts/benchmark.py --breakdown` prints the table.

TensorFlow runs independent ops at the same time on its inter-op threads (one per core by
default), so op times add up to more than the step's wall time. Each kind's *share* is of
the summed op time; its seconds are that share of the median step, an estimate of what
removing it would save. Thread time in no op at all (waiting for inputs, the host) is
reported beside it.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import os
import tempfile
import time
from collections.abc import Callable

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

# Op types (oneDNN's `_MklNative...` names reduced to the plain ones) by kind of work. The
# order is the table's; an op type not listed is "other".
KINDS: dict[str, tuple[str, ...]] = {
    "convolution forward": ("Conv2D", "FusedConv2D", "PadWithConv2D", "PadWithFusedConv2D",
                            "DepthwiseConv2dNative"),
    "convolution input gradient": ("Conv2DBackpropInput",),
    "convolution weight gradient": ("Conv2DBackpropFilter", "Conv2DBackpropFilterWithBias",
                                    "MatMul", "BatchMatMulV2", "ExtractImagePatches"),
    "instance normalisation (fused)": ("FusedBatchNormV3", "FusedBatchNormEx",
                                       "FusedBatchNormGradV3", "FusedBatchNormGradEx"),
    "reflection padding and its gradient": ("MirrorPad", "MirrorPadGrad", "Pad", "PadV2"),
    "casts": ("Cast",),
    "optimizer update": ("ResourceApplyAdam", "ApplyAdam", "AssignAdd", "AssignSub", "Assign",
                         "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
                         "ReadVariableOp", "TemporaryVariable", "DestroyTemporaryVariable", "Pow"),
    "element-wise (activations, arithmetic, bias)": (
        "Relu", "ReluGrad", "LeakyRelu", "LeakyReluGrad", "Tanh", "TanhGrad", "AddV2", "Add",
        "AddN", "Sub", "Mul", "RealDiv", "Neg", "Abs", "Sign", "Square", "Sqrt", "Rsqrt",
        "RsqrtGrad", "Maximum", "Minimum", "SquaredDifference", "BiasAdd", "BiasAddGrad",
        "Select", "SelectV2", "Less", "Greater", "GreaterEqual", "LessEqual", "Equal",
        "ZerosLike", "OnesLike", "Fill", "ClipByValue", "Sigmoid", "SigmoidGrad"),
    "loss and statistics reductions": ("Mean", "Sum", "Max", "Min", "Prod"),
    "slices, concatenations, copies": (
        "Slice", "StridedSlice", "StridedSliceGrad", "ConcatV2", "Split", "SplitV", "Pack",
        "Unpack", "Tile", "Transpose", "Identity", "Reshape", "GatherV2", "ScatterNd",
        "ResourceScatterNdUpdate", "ResourceGather", "TensorScatterUpdate", "BroadcastTo"),
    "random numbers (image pool, augmentation)": (
        "RandomUniform", "RandomUniformInt", "StatelessRandomUniformV2",
        "StatelessRandomUniformIntV2", "RngReadAndSkip", "StatefulUniform",
        "StatefulUniformInt", "StatelessRandomGetKeyCounter"),
}
_KIND_OF = {op: kind for kind, ops in KINDS.items() for op in ops}
IDLE = "threads idle (waiting, host)"


def plain_op_type(op_type: str) -> str:
    """`_MklNativeFusedConv2D` -> `FusedConv2D`: oneDNN's kernels under their TF names."""
    for prefix in ("_MklNative", "_Mkl", "_"):
        if op_type.startswith(prefix):
            return op_type[len(prefix):]
    return op_type


def kind_of(op_type: str) -> str:
    """The kind of work (a `KINDS` key, or "other") an op type does."""
    return _KIND_OF.get(plain_op_type(op_type), "other")


@dataclasses.dataclass
class OpProfile:
    """Kernel time per op type over `calls` profiled calls.

    `op_seconds` maps op types to summed kernel seconds (all threads), `op_counts` to the
    number of kernels run, `busy_seconds` is the time the executor threads spent in any
    kernel, `thread_seconds` their wall time (threads x wall), and `wall_seconds` the calls'
    wall time.
    """

    op_seconds: dict[str, float]
    op_counts: dict[str, int]
    calls: int
    threads: int
    wall_seconds: float

    @property
    def busy_seconds(self) -> float:
        """Summed kernel time of all executor threads."""
        return sum(self.op_seconds.values())

    @property
    def thread_seconds(self) -> float:
        """The executor threads' summed wall time over the profiled calls."""
        return self.threads * self.wall_seconds


def read_trace(path: str, calls: int, wall_seconds: float) -> OpProfile:
    """The executor kernels' times from one `*.xplane.pb` host trace of `calls` calls."""
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    seconds: collections.Counter = collections.Counter()
    counts: collections.Counter = collections.Counter()
    threads = 0
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue  # Python, Eigen's pool (inside kernels), and other host threads.
            threads += 1
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name.replace("::", ""):
                    continue  # Kernels are "name:OpType"; "Class::Method" is bookkeeping.
                op_type = name.rsplit(":", 1)[1]
                seconds[op_type] += event.duration_ps * 1e-12
                counts[op_type] += 1
    if not seconds:
        raise RuntimeError(f"{path} holds no TensorFlow kernels: was the call a tf.function?")
    return OpProfile(dict(seconds), dict(counts), calls, max(threads, 1), wall_seconds)


def profile_ops(call: Callable[[], object], calls: int = 3) -> OpProfile:
    """Runs `call` (already warmed up; it must wait for its result) `calls` times under the
    TensorFlow profiler and returns its kernels' times."""
    with tempfile.TemporaryDirectory(prefix="cyclegan_profile_") as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            start = time.perf_counter()
            for _ in range(calls):
                call()
            wall = time.perf_counter() - start
        finally:
            tf.profiler.experimental.stop()
        traces = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        if not traces:
            raise RuntimeError(f"The TensorFlow profiler wrote no trace into {logdir}.")
        return read_trace(traces[0], calls, wall)


@dataclasses.dataclass
class KindRow:
    """One row of `breakdown`: a kind of work, its op types and its time per call."""

    kind: str
    share: float  # Of all executor-thread time (kernels and idle).
    seconds_per_call: float  # share x wall time per call.
    kernels_per_call: float
    op_types: list[str]


def breakdown(profile: OpProfile) -> list[KindRow]:
    """Kernel time by kind of work, largest first, and the threads' idle time last.

    Shares are of the executor threads' summed wall time, so they add up to 1 with the idle
    row; seconds are each share of the wall time per call.
    """
    total = max(profile.thread_seconds, profile.busy_seconds)
    per_call = profile.wall_seconds / profile.calls
    seconds: collections.Counter = collections.Counter()
    kernels: collections.Counter = collections.Counter()
    types: dict[str, list[str]] = collections.defaultdict(list)
    for op_type, op_seconds in sorted(profile.op_seconds.items(), key=lambda kv: -kv[1]):
        kind = kind_of(op_type)
        seconds[kind] += op_seconds
        kernels[kind] += profile.op_counts[op_type]
        types[kind].append(plain_op_type(op_type))
    rows = [KindRow(kind, value / total, value / total * per_call,
                    kernels[kind] / profile.calls, types[kind])
            for kind, value in seconds.most_common()]
    idle = max(total - profile.busy_seconds, 0.0)
    rows.append(KindRow(IDLE, idle / total, idle / total * per_call, 0.0, []))
    return rows
