"""Measuring training and inference speed: the pieces `scripts/benchmark.py` is made of.

Speed is only ever measured here and in that script, never in unit tests. Every
measurement times whole steps after warm-up and reports the median, and speed-ups are
ratios against `ReferenceStep`, the plain float32 training step, run in the same process.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cyclegan_tf.core import losses, precision
from cyclegan_tf.core.configs import Config
from cyclegan_tf.data.pipeline import UnpairedData
from cyclegan_tf.inference import export, portable
from cyclegan_tf.inference.translate import Translator
from cyclegan_tf.nets.models import build_discriminator, build_generator
from cyclegan_tf.training.image_pool import ImagePool
from cyclegan_tf.training.schedules import LearningRate
from cyclegan_tf.training.trainer import NETWORKS, CycleGAN

# The /proc/cpuinfo flags that decide how fast bfloat16 runs on a CPU.
BF16_FLAGS = {"avx512_bf16", "amx_bf16", "amx_tile", "amx_int8", "avx512f", "avx2"}

LOSS_KEYS = ("gen_g", "gen_f", "disc_x", "disc_y", "cycle")


@dataclasses.dataclass
class Timing:
    """Step times (seconds) of one measurement, after warm-up."""

    times: list[float]

    @property
    def median(self) -> float:
        """The median step time in seconds."""
        return statistics.median(self.times)

    def rate(self, items_per_step: int) -> float:
        """Items (e.g. images) per second at the median step time."""
        return items_per_step / self.median


def machine() -> dict[str, Any]:
    """What numbers are measured on: CPU model and its bf16/AMX flags, cores, GPUs,
    TensorFlow version and load average."""
    model, cpu_flags = platform.processor(), set()
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines
                     if line.startswith("model name"))
        cpu_flags = set(next(line.split(":", 1)[1].split() for line in lines
                             if line.startswith("flags")))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": model,
        "cpu_flags": sorted(cpu_flags & BF16_FLAGS),
        "cores": os.cpu_count(),
        "cpu_bf16": precision.cpu_supports_bf16(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "tensorflow": tf.__version__,
        "load_average": os.getloadavg(),
    }


def time_calls(call: Callable[[], object], steps: int, warmup: int) -> Timing:
    """Times `steps` calls of `call` after `warmup` untimed ones.

    `call` must block until its work is done (e.g. by fetching a result with `.numpy()`),
    so each time covers a whole step and nothing overlaps the next one.
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"Need steps >= 1 and warmup >= 0, got {steps} and {warmup}.")
    for _ in range(warmup):
        call()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return Timing(times)


def time_interleaved(calls: dict[str, Callable[[], object]], steps: int,
                     warmup: int) -> dict[str, Timing]:
    """Times several calls in turn, step by step (A, B, A, B, ...), after warm-up.

    Alternating makes the measurements side by side: a change in the machine's load
    during the run affects all of them alike, so their ratios stay meaningful.
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"Need steps >= 1 and warmup >= 0, got {steps} and {warmup}.")
    for call in calls.values():
        for _ in range(warmup):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(steps):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return {name: Timing(values) for name, values in times.items()}


def convolution_rate(dtype: tf.DType, steps: int = 5, warmup: int = 2,
                     size: int = 64, channels: int = 256) -> float:
    """FLOP/s of one 3x3 convolution of a (1, size, size, channels) map to `channels` maps.

    At the defaults this is the ResNet generator's residual-block convolution at 256 px,
    which does most of the paper model's arithmetic, so its rate in float32 and in the
    mixed policy's dtype bounds what a change of precision alone can gain on this device.
    """
    rng = np.random.default_rng(0)
    images = tf.cast(rng.normal(size=(1, size, size, channels)), dtype)
    kernel = tf.cast(rng.normal(size=(3, 3, channels, channels)), dtype)
    convolve = tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"))
    timing = time_calls(lambda: convolve(images, kernel).numpy(), steps, warmup)
    return 2 * size * size * 9 * channels * channels / timing.median


def random_batch(config: Config, seed: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
    """A pair of random image batches in [-1, 1] of the training step's shape."""
    shape = (config.batch_size, config.image_size, config.image_size, 3)
    rng = np.random.default_rng(seed)
    return tuple(tf.constant(rng.uniform(-1, 1, shape), tf.float32) for _ in range(2))


class ReferenceStep:
    """The plain float32 training step, the baseline every speed-up is measured against.

    The same networks, losses and image pools as `CycleGAN` (built from the same seed, so
    with the same initial weights), trained by the straightforward step: float32, Keras'
    own Adam, one gradient computation per network, no fused kernels. It is `CycleGAN`'s
    step as it was before any performance work, kept here unchanged on purpose.
    """

    def __init__(self, config: Config, steps_per_epoch: int = 1):
        config = config.replace(mixed_precision="float32")
        self.config = config
        keras.utils.set_random_seed(config.seed)
        with precision.policy_scope("float32"):
            self.networks = {
                "generator_g": build_generator(config, "generator_g"),
                "generator_f": build_generator(config, "generator_f"),
                "discriminator_x": build_discriminator(config, "discriminator_x"),
                "discriminator_y": build_discriminator(config, "discriminator_y"),
            }
        self.optimizers = {}
        for name in NETWORKS:
            optimizer = keras.optimizers.Adam(config.lr, config.beta1, config.beta2)
            optimizer.build(self.networks[name].trainable_variables)
            self.optimizers[name] = optimizer
        shape = (config.image_size, config.image_size, 3)
        self.pool_a = ImagePool(config.pool_size, shape, seed=config.seed * 2 + 1)
        self.pool_b = ImagePool(config.pool_size, shape, seed=config.seed * 2 + 2)
        self.learning_rate = LearningRate(config, steps_per_epoch)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        spec = tf.TensorSpec([config.batch_size, config.image_size, config.image_size, 3],
                             tf.float32)
        self.train_step = tf.function(self._train_step, input_signature=[spec, spec])

    def _train_step(self, real_a: tf.Tensor, real_b: tf.Tensor) -> dict[str, tf.Tensor]:
        config = self.config
        g, f = self.networks["generator_g"], self.networks["generator_f"]
        d_x, d_y = self.networks["discriminator_x"], self.networks["discriminator_y"]
        with tf.GradientTape(persistent=True) as tape:
            fake_b, fake_a = g(real_a, training=True), f(real_b, training=True)
            cycled_a, cycled_b = f(fake_b, training=True), g(fake_a, training=True)
            d_real_a, d_real_b = d_x(real_a, training=True), d_y(real_b, training=True)
            d_fake_a, d_fake_b = d_x(fake_a, training=True), d_y(fake_b, training=True)
            if config.pool_size:
                d_pool_a = d_x(self.pool_a.query(fake_a), training=True)
                d_pool_b = d_y(self.pool_b.query(fake_b), training=True)
            else:
                d_pool_a, d_pool_b = d_fake_a, d_fake_b
            cycle = config.lambda_cycle * (losses.l1(real_a, cycled_a)
                                           + losses.l1(real_b, cycled_b))
            identity_g = identity_f = tf.constant(0.0)
            if config.lambda_identity > 0:
                identity_g = config.lambda_identity * losses.l1(real_b, g(real_b, training=True))
                identity_f = config.lambda_identity * losses.l1(real_a, f(real_a, training=True))
            total = {
                "generator_g": losses.generator_loss(d_fake_b, config.gan_loss) + cycle
                + identity_g,
                "generator_f": losses.generator_loss(d_fake_a, config.gan_loss) + cycle
                + identity_f,
                "discriminator_x": losses.discriminator_loss(d_real_a, d_pool_a, config.gan_loss),
                "discriminator_y": losses.discriminator_loss(d_real_b, d_pool_b, config.gan_loss),
            }
        learning_rate = self.learning_rate(self.step)
        for name in NETWORKS:
            variables = self.networks[name].trainable_variables
            optimizer = self.optimizers[name]
            optimizer.learning_rate.assign(learning_rate)
            optimizer.apply_gradients(zip(tape.gradient(total[name], variables), variables))
        del tape
        self.step.assign_add(1)
        return {"gen_g": total["generator_g"], "gen_f": total["generator_f"],
                "disc_x": total["discriminator_x"], "disc_y": total["discriminator_y"],
                "cycle": cycle}


def peak_memory_mb() -> dict[str, float]:
    """Peak memory so far: the process's resident set, and each GPU's peak allocation."""
    peaks = {"host_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    for index, _ in enumerate(tf.config.list_physical_devices("GPU")):
        info = tf.config.experimental.get_memory_info(f"GPU:{index}")
        peaks[f"gpu{index}_peak_mb"] = info["peak"] / 2**20
    return peaks


def input_pipeline_rate(config: Config, batches: int, warmup: int = 5) -> tuple[float, int]:
    """Images per second (per domain) the training input pipeline alone delivers.

    Reads `batches` batches of the first epoch after `warmup` (pipeline start-up, decode
    caches) and returns (images per second, the training images of domain A found).
    """
    data = UnpairedData(config)
    iterator = iter(data.train_dataset(0).repeat())
    for real_a, _ in itertools.islice(iterator, warmup):
        real_a.numpy()
    started = time.perf_counter()
    for real_a, real_b in itertools.islice(iterator, batches):
        real_a.numpy(), real_b.numpy()
    return batches * config.batch_size / (time.perf_counter() - started), data.train_a.length


def exported_inference(config: Config, steps: int, warmup: int,
                       batch_sizes: Sequence[int] = (1, 8),
                       compute: str = "float32") -> dict[int, Timing]:
    """Times an exported generator SavedModel (`cyclegan_tf.export`) at each batch size.

    The generator (freshly initialised: speed does not depend on the weights), computing in
    `compute` ('float32' or 'bf16', as `export --precision`), is written with
    `export.write_saved_model`, loaded back with `tf.saved_model.load` as a server would,
    and its `translate_float` signature is timed on random images.
    """
    with precision.policy_scope(precision.keras_policy(compute)):
        generator = build_generator(config, "generator_g")
    timings = {}
    with tempfile.TemporaryDirectory() as folder:
        directory = os.path.join(folder, "saved_model")
        export.write_saved_model(generator, config, directory, {"benchmark": True})
        translate = tf.saved_model.load(directory).signatures["translate_float"]
        for batch_size in batch_sizes:
            images = random_batch(config.replace(batch_size=batch_size))[0]
            timings[batch_size] = time_calls(
                lambda: translate(images=images)["images"].numpy(), steps, warmup)
    return timings


def translator_inference(config: Config, steps: int, warmup: int, batch_size: int = 8,
                         compute: str = "auto") -> tuple[Timing, str]:
    """Times `cyclegan_tf.translate`'s path: a float32 export loaded by `Translator` with
    `precision=compute`, translating uint8 batches of `batch_size`. Returns the timing and the
    precision the translator chose."""
    generator = build_generator(config, "generator_g")
    shape = (batch_size, config.image_size, config.image_size, 3)
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        directory = os.path.join(folder, "saved_model")
        export.write_saved_model(generator, config, directory,
                                 {"precision": "float32", "direction": "a2b"})
        translator = Translator(directory, precision=compute)
        return (time_calls(lambda: translator.translate_batch(images), steps, warmup),
                translator.precision)


@dataclasses.dataclass
class FormatTiming:
    """One export format timed at batch 1: latency, file size, largest pixel difference."""

    format: str
    timing: Timing
    megabytes: float
    max_difference: int  # Levels of 255 from the float32 SavedModel, on the timed image.


def _portable_runner(fmt: str, path: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function running the portable export at `path` in its own runtime."""
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return lambda x: session.run([portable.OUTPUT_NAME], {portable.INPUT_NAME: x})[0]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=os.cpu_count())
    runner = interpreter.get_signature_runner(portable.SIGNATURE)
    return lambda x: runner(**{portable.INPUT_NAME: x})[portable.OUTPUT_NAME]


def format_inference(config: Config, steps: int, warmup: int,
                     formats: Sequence[str] = portable.FORMATS) -> list[FormatTiming]:
    """Times each export format of one float32 generator at batch 1 in its own runtime
    (TensorFlow, onnxruntime, LiteRT) on a uint8 image of `config.image_size`.

    Weights are freshly initialised (speed does not depend on them); a format whose
    converter or runtime is not installed is left out.
    """
    generator = build_generator(config, "generator_g")
    size = config.image_size
    image = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        saved = os.path.join(folder, "saved_model")
        export.write_saved_model(generator, config, saved, {"benchmark": True})
        serve = tf.saved_model.load(saved).signatures["serving_default"]
        reference = serve(images=tf.constant(image))["images"].numpy().astype(int)
        for fmt in formats:
            if fmt == "savedmodel":
                run = lambda x: serve(images=tf.constant(x))["images"].numpy()  # noqa: E731
                megabytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, files
                                in os.walk(saved) for f in files) / 1e6
            else:
                try:
                    path = portable.write_portable(generator, config, folder, fmt, {})
                    run = _portable_runner(fmt, path)
                except (ImportError, portable.PortableExportError) as error:
                    print(f"Skipping {fmt}: {error}")
                    continue
                megabytes = os.path.getsize(path) / 1e6
            difference = int(np.abs(run(image).astype(int) - reference).max())
            results.append(FormatTiming(fmt, time_calls(lambda: run(image), steps, warmup),
                                        megabytes, difference))
    return results


def training_batches(config: Config, steps: int) -> list[tuple[tf.Tensor, tf.Tensor]]:
    """The first `steps` training batches of `config`'s input pipeline (epochs in order)."""
    data = UnpairedData(config)
    batches: list[tuple[tf.Tensor, tf.Tensor]] = []
    epoch = 0
    while len(batches) < steps:
        batches.extend(itertools.islice(data.train_dataset(epoch), steps - len(batches)))
        epoch += 1
    return batches


def train_losses(config: Config, batches: Sequence[tuple[tf.Tensor, tf.Tensor]]
                 ) -> dict[str, list[float]]:
    """Trains a fresh `CycleGAN(config)` on `batches` in order; returns each loss per step."""
    model = CycleGAN(config, steps_per_epoch=len(batches))
    history: dict[str, list[float]] = {key: [] for key in LOSS_KEYS}
    for real_a, real_b in batches:
        values = model.train_step(real_a, real_b)
        for key in LOSS_KEYS:
            history[key].append(float(values[key]))
    return history


def compare_loss_histories(reference: dict[str, list[float]], other: dict[str, list[float]],
                           window: int) -> dict[str, dict[str, float]]:
    """Means of each loss over the last `window` steps of two runs, and their relative gap."""
    summary = {}
    for key in reference:
        ref = float(np.mean(reference[key][-window:]))
        got = float(np.mean(other[key][-window:]))
        summary[key] = {"reference": ref, "other": got,
                        "relative_difference": abs(got - ref) / max(abs(ref), 1e-8)}
    return summary
