"""Benchmark CycleGAN training and inference speed on this machine.

    python scripts/benchmark.py --preset=paper --precision=auto --compare --json=bench.json
    python scripts/benchmark.py --preset=tom2jerry --compare --export
    python scripts/benchmark.py --preset=paper --precision_check   # float32 vs bf16 losses
    python scripts/benchmark.py --preset=paper --compare --breakdown  # time by kind of op

For the chosen preset (or architecture flags: every `cyclegan_tf.train` flag is accepted),
image size, batch size, precision and XLA setting, it reports the median training-step
time after warm-up, images per second, the achieved FLOP/s (convolution FLOPs counted from
the networks, forward and backward) as a number and as a share of this device's peak rate
for a 3x3 convolution in the step's precision, and the peak memory; the input pipeline's
images per second on --data_dir; with --export, an exported generator SavedModel's latency
at batch 1 and throughput at batch 8 (float32 and bfloat16 exports), the images per second
of `cyclegan_tf.translate`'s own path (a float32 export, --precision=auto), and each --format (ONNX,
LiteRT) at batch 1 in its own runtime, with its size and pixel difference; with --compare, the
plain float32 step of the same networks in the same process, and the speed-up ratio; with
--breakdown, each measured step's kernel time by kind of work (convolutions, instance norm,
padding, casts, optimizer, element-wise, ...) from the TensorFlow profiler.
Images per second count images of one domain (one training step consumes --batch_size
images of each); the peak memory is the process's (with --compare, of both steps). With
--compare the two steps are timed in turn, step by step, so a change in the machine's load
affects both alike. It prints a table and, with --json, writes every number and the
machine's state to a file.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import statistics
import sys
from collections.abc import Callable
from typing import Any

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cyclegan_tf.cli.quiet import import_tensorflow_quietly

import_tensorflow_quietly(sys.argv)

import tensorflow as tf

from cyclegan_tf.cli import app as cli
from cyclegan_tf.cli.config_flags import config_from_flags, define_config_flags
from cyclegan_tf.core import precision
from cyclegan_tf.core.configs import Config, ConfigError
from cyclegan_tf.inference import portable
from cyclegan_tf.nets import flops
from cyclegan_tf.tools import benchmarking, op_profile
from cyclegan_tf.training.trainer import CycleGAN

FLAGS = flags.FLAGS


def define_flags(flag_values: flags.FlagValues = FLAGS) -> None:
    """The benchmark's own flags (every cyclegan_tf.train flag is defined beside them)."""
    del flag_values  # The script's flags live in absl's global FLAGS.
    cli.define_precision_flag(
        "precision", "auto", precision.PRECISIONS, "Precision of the measured step: float32, "
        "bf16, fp16 (with loss scaling) or auto (as --mixed_precision=auto: fp16 on a GPU, "
        "bf16 on a CPU with native bf16, else float32). Use this, not --mixed_precision.")
    flags.DEFINE_bool("train", True, "Time the training step (--notrain: only the other "
                      "measurements asked for).")
    flags.DEFINE_bool("xla", False, "Compile the measured training step with XLA (jit_compile).")
    flags.DEFINE_integer("steps", 5, "Timed steps per measurement (the median is reported).")
    flags.DEFINE_integer("warmup", 2, "Untimed steps before each measurement (tracing, caches).")
    flags.DEFINE_bool("breakdown", False, "Also profile the timed steps (--breakdown_steps "
                      "each, with the TensorFlow profiler) and print their time by kind of work: "
                      "convolutions, instance norm, padding, casts, optimizer, element-wise, ...")
    flags.DEFINE_integer("breakdown_steps", 3, "Steps profiled per --breakdown.")
    flags.DEFINE_bool("compare", False, "Also time the plain float32 step of the same networks "
                      "in this process and report speed-up ratios.")
    flags.DEFINE_string("json", "", "Write the results to this JSON file.")
    flags.DEFINE_integer("pipeline_batches", 100, "Batches read to time the input pipeline alone "
                         "(0 skips it); the images come from --data_dir, --domain_a, --domain_b.")
    flags.DEFINE_bool("export", False, "Also time an exported generator SavedModel: latency at "
                      "batch 1 and throughput at batch 8, in each of --export_precisions.")
    flags.DEFINE_multi_enum("export_precisions", ["float32", "bf16"], ["float32", "bf16"],
                            "The `cyclegan_tf.export --precision` values that --export times.")
    flags.DEFINE_list("export_formats", list(portable.FORMATS), "The `cyclegan_tf.export "
                      "--format` values that --export times at batch 1, each in its own "
                      "runtime (TensorFlow, onnxruntime, LiteRT); empty for none.")
    flags.DEFINE_bool("precision_check", False, "Train a small version of the model "
                      "(--precision_check_size px, ngf = ndf = 8) for --precision_check_steps "
                      "steps in float32 and in --precision on the same batches (from --data_dir, "
                      "or random images without data), and compare the losses.")
    flags.DEFINE_integer("precision_check_steps", 200, "Steps of each --precision_check run.")
    flags.DEFINE_integer("precision_check_size", 32, "Image size of the --precision_check runs.")
    flags.DEFINE_float("precision_tolerance", 0.25, "Largest relative difference of the mean "
                       "losses (over the last quarter of the steps) that passes --precision_check.")


def step_result(name: str, timing: benchmarking.Timing, config: Config,
                step_flops: int, peak_flops: float) -> dict[str, Any]:
    """One training-step row: times, rates, FLOP/s (also as a share of the convolution
    peak in the step's precision) and peak memory so far."""
    flops_per_s = step_flops / timing.median
    return {
        "name": name,
        "median_s": timing.median,
        "times_s": timing.times,
        "images_per_s": timing.rate(config.batch_size),
        "tflop_per_s": flops_per_s / 1e12,
        "share_of_convolution_peak": flops_per_s / peak_flops,
        **benchmarking.peak_memory_mb(),
    }


COMPUTE_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def convolution_peaks(policy: str) -> dict[str, float]:
    """TFLOP/s of the residual-block convolution in float32 and in `policy`'s compute dtype."""
    names = sorted({"float32", COMPUTE_DTYPES[policy]})
    return {name: benchmarking.convolution_rate(tf.as_dtype(name), FLAGS.steps, FLAGS.warmup)
            / 1e12 for name in names}


def measure_training(config: Config, peaks: dict[str, float]) -> list[dict[str, Any]]:
    """The measured step and, with --compare, the plain float32 reference step.

    With --compare the two steps are timed in turn, step by step, in this process.
    `peaks` are `convolution_peaks` of the measured step's policy.
    """
    model = CycleGAN(config, jit_compile=FLAGS.xla)
    step_flops = flops.train_step_flops(config, model.generator_g, model.discriminator_x)
    batch = benchmarking.random_batch(config)
    name = f"train step ({model.policy}{', XLA' if FLAGS.xla else ''})"
    print(f"Training step: {FLAGS.preset or 'custom'} at {config.image_size} px, batch "
          f"{config.batch_size}, {name}: {step_flops / 1e12:.3f} TFLOP per step.", flush=True)
    steps = {name: model.train_step}
    if FLAGS.compare:
        steps["train step (plain float32 reference)"] = (
            benchmarking.ReferenceStep(config).train_step)
    calls = {label: functools.partial(_run_step, step, batch) for label, step in steps.items()}
    timings = benchmarking.time_interleaved(calls, FLAGS.steps, FLAGS.warmup)
    peak_flops = [peaks[COMPUTE_DTYPES[model.policy]] * 1e12, peaks["float32"] * 1e12]
    rows = [step_result(label, timing, config, step_flops, peak)
            for (label, timing), peak in zip(timings.items(), peak_flops)]
    rows[0]["tracing_count"] = model.train_step.experimental_get_tracing_count()
    if FLAGS.breakdown:
        for row, call in zip(rows, calls.values()):
            profile = op_profile.profile_ops(call, FLAGS.breakdown_steps)
            row["breakdown"] = [dataclasses.asdict(kind) for kind in op_profile.breakdown(profile)]
            row["breakdown_wall_s"] = profile.wall_seconds / profile.calls
    if FLAGS.compare:
        measured, reference = timings.values()
        rows[0]["speedup_vs_reference"] = reference.median / measured.median
        rows[0]["speedup_per_step_pair"] = statistics.median(
            r / m for r, m in zip(reference.times, measured.times))
    return rows


def _run_step(train_step: Callable[..., dict[str, tf.Tensor]],
              batch: tuple[tf.Tensor, tf.Tensor]) -> None:
    """One training step, waiting for its result."""
    train_step(*batch)["gen_g"].numpy()


def precision_check(config: Config) -> dict[str, Any]:
    """Losses of the same small model trained in float32 and in `config`'s precision."""
    small = config.replace(image_size=FLAGS.precision_check_size, ngf=8, ndf=8, batch_size=1,
                           jitter=False)
    policy = precision.keras_policy(small.mixed_precision)
    if policy == "float32":
        raise ConfigError("--precision_check compares float32 with --precision; choose "
                          "--precision=bf16, fp16 or auto.")
    steps = FLAGS.precision_check_steps
    if os.path.isdir(small.data_dir) or small.tfds:
        batches, source = benchmarking.training_batches(small, steps), small.data_dir
    else:
        batches = [benchmarking.random_batch(small, i % 8) for i in range(steps)]
        source = "8 random batches"
    reference = benchmarking.train_losses(small.replace(mixed_precision="off"), batches)
    mixed = benchmarking.train_losses(small, batches)
    summary = benchmarking.compare_loss_histories(reference, mixed, window=max(steps // 4, 1))
    worst = max(values["relative_difference"] for values in summary.values())
    return {"policy": policy, "steps": steps, "image_size": small.image_size, "data": source,
            "losses": summary, "max_relative_difference": worst,
            "passed": worst <= FLAGS.precision_tolerance}


def print_table(results: dict[str, Any]) -> None:
    """The results as an aligned text table."""
    lines = []
    if results.get("training") or results.get("export") or "input_pipeline" in results:
        lines.append(f"{'measurement':<42} {'median s':>9} {'images/s':>9} {'TFLOP/s':>8} "
                     f"{'of peak':>7} {'peak RSS MB':>11}")
    for row in results.get("training", []):
        lines.append(f"{row['name']:<42} {row['median_s']:>9.3f} {row['images_per_s']:>9.3f} "
                     f"{row['tflop_per_s']:>8.3f} {row['share_of_convolution_peak']:>7.0%} "
                     f"{row['host_rss_mb']:>11.0f}")
    training = results.get("training", [])
    if training and "speedup_vs_reference" in training[0]:
        lines.append(f"{'speed-up vs plain float32 (same process)':<42} "
                     f"{training[0]['speedup_vs_reference']:>9.2f}x  (median of per-step "
                     f"ratios {training[0]['speedup_per_step_pair']:.2f}x)")
    for row in training:
        if "breakdown" in row:
            lines.append(f"time by kind of work, {row['name']} ({FLAGS.breakdown_steps} "
                         f"profiled steps, {row['breakdown_wall_s']:.3f} s each):")
            for kind in row["breakdown"]:
                lines.append(f"  {kind['kind']:<46} {kind['share']:>6.1%} "
                             f"{kind['seconds_per_call']:>7.3f} s "
                             f"{kind['kernels_per_call']:>6.0f} kernels  "
                             f"{' '.join(kind['op_types'][:4])}")
    peaks = results.get("convolution_peak_tflop_per_s", {})
    if len(peaks) > 1:
        mixed = next(name for name in peaks if name != "float32")
        lines.append(f"3x3 conv peak ({', '.join(f'{n} {v:.3f}' for n, v in peaks.items())} "
                     f"TFLOP/s): {mixed} alone can give at most about "
                     f"{peaks[mixed] / peaks['float32']:.2f}x on this device")
    if "input_pipeline" in results:
        pipeline = results["input_pipeline"]
        lines.append(f"{'input pipeline alone':<42} {'':>9} {pipeline['images_per_s']:>9.1f}")
        if training:
            lines.append(f"{'  = x training step images/s':<42} "
                         f"{pipeline['images_per_s'] / training[0]['images_per_s']:>9.1f}x")
    for row in results.get("export", []):
        lines.append(f"{row['name']:<42} {row['median_s']:>9.3f} {row['images_per_s']:>9.2f}")
    if results.get("formats"):
        lines.append(f"{'format (float32, batch 1)':<26} {'median s':>9} {'MB':>7} "
                     f"{'max diff vs SavedModel (levels)':>32}")
        for row in results["formats"]:
            lines.append(f"{row['format']:<26} {row['median_s']:>9.3f} {row['megabytes']:>7.1f} "
                         f"{row['max_difference']:>32}")
    if "precision_check" in results:
        check = results["precision_check"]
        lines.append(f"precision check ({check['steps']} steps, {check['image_size']} px, "
                     f"{check['data']}): "
                     f"float32 vs {check['policy']}, largest relative loss difference "
                     f"{check['max_relative_difference']:.3f}: "
                     f"{'PASSED' if check['passed'] else 'FAILED'}")
        for key, values in check["losses"].items():
            lines.append(f"  {key:<8} float32 {values['reference']:.4f}  {check['policy']} "
                         f"{values['other']:.4f}")
    print("\n".join(lines))


def benchmark() -> None:
    """Runs the measurements the flags ask for, prints the table, writes --json."""
    if FLAGS["mixed_precision"].present:
        raise ConfigError("Use --precision=float32|bf16|fp16|auto, not --mixed_precision.")
    config = config_from_flags().replace(mixed_precision=FLAGS.precision).validate()
    results: dict[str, Any] = {"argv": sys.argv, "config": config.to_dict(),
                               "machine_before": benchmarking.machine(), "repeats": FLAGS.steps,
                               "warmup": FLAGS.warmup}
    if FLAGS.train:
        results["convolution_peak_tflop_per_s"] = convolution_peaks(
            precision.keras_policy(config.mixed_precision))
        results["training"] = measure_training(config, results["convolution_peak_tflop_per_s"])
    if FLAGS.pipeline_batches:
        if os.path.isdir(config.data_dir) or config.tfds:
            rate, images = benchmarking.input_pipeline_rate(config, FLAGS.pipeline_batches)
            results["input_pipeline"] = {"images_per_s": rate, "batches": FLAGS.pipeline_batches,
                                         "domain_a_images": images, "data_dir": config.data_dir}
        else:
            print(f"Skipping the input pipeline: --data_dir={config.data_dir} does not exist.")
    if FLAGS.export:
        results["export"] = []
        for compute in FLAGS.export_precisions:
            timings = benchmarking.exported_inference(config, FLAGS.steps, FLAGS.warmup,
                                                      compute=compute)
            results["export"] += [
                {"name": f"exported generator ({compute}), batch {size}", "batch_size": size,
                 "precision": compute, "median_s": timing.median, "times_s": timing.times,
                 "images_per_s": timing.rate(size)}
                for size, timing in timings.items()]
        timing, chosen = benchmarking.translator_inference(config, FLAGS.steps, FLAGS.warmup)
        results["export"].append(
            {"name": f"translate --precision=auto ({chosen}), batch 8", "batch_size": 8,
             "precision": chosen, "median_s": timing.median, "times_s": timing.times,
             "images_per_s": timing.rate(8)})
        formats = portable.parse_formats(",".join(FLAGS.export_formats)) if \
            FLAGS.export_formats else ()
        results["formats"] = [
            {"format": row.format, "median_s": row.timing.median, "times_s": row.timing.times,
             "megabytes": row.megabytes, "max_difference": row.max_difference,
             "image_size": config.image_size}
            for row in benchmarking.format_inference(config, FLAGS.steps, FLAGS.warmup, formats)]
    if FLAGS.precision_check:
        results["precision_check"] = precision_check(config)
    results["machine_after"] = benchmarking.machine()
    print_table(results)
    print(f"Load average before {results['machine_before']['load_average']}, after "
          f"{results['machine_after']['load_average']}; each timing: the median of "
          f"{FLAGS.steps} steps after {FLAGS.warmup} warm-up steps.")
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"Wrote {FLAGS.json}")


COMMAND = cli.Command(
    program="scripts/benchmark.py",
    summary="Times the training step (median after warm-up, images/s, achieved FLOP/s and "
            "its share of this CPU's or GPU's measured convolution peak, peak memory), the "
            "input pipeline, and with --export the exported generator; --compare also times "
            "the plain float32 step in the same process and reports the speed-up. Every "
            "cyclegan_tf.train flag (see its --help) sets the measured model; the default "
            "preset here is paper.",
    usage="[--preset NAME] [--precision float32|bf16|fp16|auto] [--compare] [--export] "
          "[--json FILE] [train flags]",
    example="python scripts/benchmark.py --preset=paper --compare --export --json=bench.json",
    define_flags=define_flags,
)

if __name__ == "__main__":
    define_config_flags()
    FLAGS.set_default("preset", "paper")
    cli.run_command(COMMAND, benchmark, (ConfigError,))
