"""FLOP counting, the fused Adam and instance-norm kernels, and the benchmark's reference step.

These check correctness only; speed is measured by scripts/benchmark.py, never here.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cyclegan_tf.tools import benchmarking
from cyclegan_tf.nets import fast_conv
from cyclegan_tf.nets import flops
from cyclegan_tf.core.configs import Config
from cyclegan_tf.training.fused_adam import FusedAdam
from cyclegan_tf.nets.layers import InstanceNormalization
from cyclegan_tf.training.trainer import NETWORKS, CycleGAN


def _small(**changes):
    values = dict(image_size=32, ngf=8, ndf=8, generator="resnet", n_blocks=1,
                  discriminator="patch", gan_loss="lsgan", pool_size=2, mixed_precision="float32")
    values.update(changes)
    return Config(**values)


def test_forward_flops_of_a_tiny_model_match_a_hand_count():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)  # (6, 6, 4): 36 * 4 outputs * 27 MACs.
    x = keras.layers.Conv2DTranspose(2, 2, strides=2)(x)  # (12, 12, 2): 36 * 4 inputs * 8.
    outputs = keras.layers.Dense(5)(keras.layers.Flatten()(x))  # 288 * 5 MACs.
    model = keras.Model(inputs, outputs)
    per_image = 2 * (36 * 4 * 27 + 36 * 4 * 2 * 2 * 2 + 288 * 5)
    assert flops.forward_flops(model, (1, 8, 8, 3)) == per_image
    assert flops.forward_flops(model, (2, 8, 8, 3)) == 2 * per_image


def test_train_step_flops_count_every_forward_pass_three_times():
    config = _small(lambda_identity=0.0, pool_size=0)
    model = CycleGAN(config)
    shape = (1, 32, 32, 3)
    g = flops.forward_flops(model.generator_g, shape)
    d = flops.forward_flops(model.discriminator_x, shape)
    assert flops.forward_passes(config) == (2, 2)
    assert flops.forward_passes(_small()) == (3, 3)  # Identity loss and pool on.
    assert flops.train_step_flops(config, model.generator_g, model.discriminator_x) == (
        3 * 2 * (2 * g + 2 * d))


def _adam_run(optimizer_class, initial, gradients):
    variables = [keras.Variable(value) for value in initial]
    optimizer = optimizer_class(learning_rate=2e-4, beta_1=0.5, beta_2=0.999)
    optimizer.build(variables)
    apply = tf.function(lambda grads: optimizer.apply_gradients(zip(grads, variables)))
    for step_gradients in gradients:
        apply([tf.constant(g) for g in step_gradients])
    return variables, optimizer


def test_fused_adam_matches_keras_adam_and_shares_its_checkpoint_format(tmp_path):
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=(3, 3, 4, 5)).astype("float32"),
               rng.normal(size=(5,)).astype("float32")]
    gradients = [[rng.normal(size=v.shape).astype("float32") for v in initial]
                 for _ in range(4)]
    ref_vars, ref_opt = _adam_run(keras.optimizers.Adam, initial, gradients)
    got_vars, got_opt = _adam_run(FusedAdam, initial, gradients)
    for a, b in zip(ref_vars, got_vars):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)
    for a, b in zip(ref_opt.variables, got_opt.variables):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-9)
    # A Keras Adam checkpoint restores into FusedAdam: same variables, same names.
    path = tf.train.Checkpoint(optimizer=ref_opt).write(str(tmp_path / "adam"))
    fresh_vars, fresh_opt = _adam_run(FusedAdam, initial, [])
    tf.train.Checkpoint(optimizer=fresh_opt).read(path).assert_consumed()
    for a, b in zip(ref_opt.variables, fresh_opt.variables):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a))


def test_fused_adam_rejects_amsgrad():
    with pytest.raises(ValueError, match="amsgrad"):
        FusedAdam(amsgrad=True)


@pytest.mark.parametrize("policy, tolerance", [("mixed_bfloat16", 3e-2), ("mixed_float16", 4e-3)])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
def test_mixed_precision_instance_norm_matches_the_float32_layer(policy, tolerance, affine,
                                                                  batch):
    images = tf.random.stateless_normal([batch, 8, 6, 5], seed=[1, 2]) * 2 + 1
    reference = InstanceNormalization(affine=affine, dtype="float32")
    fused = InstanceNormalization(affine=affine, dtype=policy)
    reference.build(images.shape)
    fused.build(images.shape)
    if affine:
        fused.set_weights([w + 0.1 * i for i, w in enumerate(reference.get_weights())])
        reference.set_weights(fused.get_weights())
    weights = tf.range(5, dtype=tf.float32)  # Makes every channel's gradient differ.
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(images)
        expected = reference(images)
        got = fused(tf.cast(images, fused.compute_dtype))
        expected_loss = tf.reduce_sum(expected * weights)
        got_loss = tf.reduce_sum(tf.cast(got, tf.float32) * weights)
    assert got.dtype == fused.compute_dtype
    np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(), expected.numpy(), atol=tolerance)
    for a, b in zip(tape.gradient(expected_loss, [images] + reference.trainable_weights),
                    tape.gradient(got_loss, [images] + fused.trainable_weights)):
        np.testing.assert_allclose(tf.cast(b, tf.float32).numpy(), a.numpy(), atol=tolerance)


@pytest.mark.parametrize("base, fast, options, shape, patches", [
    (keras.layers.Conv2D, fast_conv.Conv2D,
     dict(kernel_size=4, strides=2, padding="same", use_bias=False), (2, 16, 16, 5), True),
    (keras.layers.Conv2D, fast_conv.Conv2D, dict(kernel_size=3, strides=2), (1, 17, 17, 5), True),
    (keras.layers.Conv2D, fast_conv.Conv2D,  # 32x32 outputs: oneDNN's kernel.
     dict(kernel_size=4, strides=2, padding="same", use_bias=False), (1, 64, 64, 5), False),
    (keras.layers.Conv2DTranspose, fast_conv.Conv2DTranspose,
     dict(kernel_size=4, strides=2, padding="same", use_bias=False), (2, 8, 8, 5), True),
    (keras.layers.Conv2DTranspose, fast_conv.Conv2DTranspose,
     dict(kernel_size=3, strides=2), (1, 8, 8, 5), True),
    (keras.layers.Conv2DTranspose, fast_conv.Conv2DTranspose,
     dict(kernel_size=4, strides=2, padding="same", use_bias=False), (1, 32, 32, 5), False),
])
def test_fast_weight_gradient_matches_keras_layers_in_bfloat16(base, fast, options, shape,
                                                                patches, monkeypatch):
    patch_calls = []
    original = fast_conv.filter_gradient
    monkeypatch.setattr(fast_conv, "filter_gradient",
                        lambda *args: patch_calls.append(1) or original(*args))
    images = tf.random.stateless_normal(shape, seed=[1, 2])
    reference = base(6, dtype="mixed_bfloat16", **options)
    layer = fast(6, dtype="mixed_bfloat16", **options)
    reference.build(shape)
    layer.build(shape)
    layer.set_weights([w + 0.1 for w in reference.get_weights()])
    reference.set_weights(layer.get_weights())
    weights = tf.random.stateless_normal(reference.compute_output_shape(shape), seed=[3, 4])

    def loss_and_gradients(conv):
        with tf.GradientTape() as tape:
            tape.watch(images)
            outputs = conv(tf.cast(images, tf.bfloat16))
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * weights)
        return outputs, tape.gradient(loss, [images] + conv.trainable_weights)

    expected, expected_gradients = loss_and_gradients(reference)
    got, got_gradients = loss_and_gradients(layer)
    assert got.shape == expected.shape and got.dtype == tf.bfloat16
    np.testing.assert_array_equal(tf.cast(got, tf.float32), tf.cast(expected, tf.float32))
    if not patches:  # oneDNN's kernel, as in Keras' layer: the same gradients.
        for a, b in zip(expected_gradients, got_gradients):
            np.testing.assert_array_equal(b.numpy(), a.numpy())
    else:
        # Against the exact gradients (float32 maths on the same bfloat16-rounded inputs
        # and weights), not Keras' bfloat16 kernel: on a CPU that emulates bfloat16 that
        # kernel's own sums are up to 4% of the largest gradient off.
        exact = base(6, dtype="float32", **options)
        exact.build(shape)
        exact.set_weights([tf.cast(tf.cast(w, tf.bfloat16), tf.float32)
                           for w in layer.get_weights()])
        images = tf.cast(tf.cast(images, tf.bfloat16), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(images)
            loss = tf.reduce_sum(exact(images) * weights)
        for a, b in zip(tape.gradient(loss, [images] + exact.trainable_weights), got_gradients):
            a = a.numpy()  # bfloat16 rounding of the sums.
            np.testing.assert_allclose(tf.cast(b, tf.float32), a, atol=2e-2 * np.abs(a).max())
    assert bool(patch_calls) == patches


def test_float32_train_step_matches_the_plain_reference_step():
    config = _small(batch_size=2)
    model = CycleGAN(config)
    reference = benchmarking.ReferenceStep(config)
    for name in NETWORKS:  # Same seed, same builders: the same initial weights.
        for a, b in zip(model.network(name).weights, reference.networks[name].weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    for seed in range(2):
        batch = benchmarking.random_batch(config, seed)
        got, expected = model.train_step(*batch), reference.train_step(*batch)
        for key in expected:
            np.testing.assert_allclose(got[key].numpy(), expected[key].numpy(), rtol=1e-5,
                                       err_msg=key)
    # A convolution bias before instance norm has a zero gradient up to rounding noise,
    # which Adam scales up to steps of up to lr: those may differ by 2 * lr per step.
    for name in NETWORKS:
        for a, b in zip(model.network(name).weights, reference.networks[name].weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=4 * config.lr)


def test_time_calls_runs_warmup_and_timed_steps():
    calls = []
    timing = benchmarking.time_calls(lambda: calls.append(1), steps=3, warmup=2)
    assert len(calls) == 5 and len(timing.times) == 3
    assert timing.median >= 0 and timing.rate(2) > 0
    with pytest.raises(ValueError, match="steps"):
        benchmarking.time_calls(lambda: None, steps=0, warmup=0)


def test_time_interleaved_alternates_the_calls_after_warmup():
    order = []
    timings = benchmarking.time_interleaved(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")}, steps=2, warmup=1)
    assert order == ["a", "b", "a", "b", "a", "b"]
    assert [len(t.times) for t in timings.values()] == [2, 2]


def test_compare_loss_histories_uses_the_last_window():
    reference = {"gen_g": [9.0, 1.0, 1.0]}
    other = {"gen_g": [0.0, 1.0, 1.5]}
    summary = benchmarking.compare_loss_histories(reference, other, window=2)
    assert summary["gen_g"]["reference"] == 1.0
    assert summary["gen_g"]["other"] == 1.25
    assert summary["gen_g"]["relative_difference"] == pytest.approx(0.25)


def test_convolution_rate_is_a_positive_flop_rate():
    rate = benchmarking.convolution_rate(tf.float32, steps=1, warmup=0, size=8, channels=4)
    assert 0 < rate < 1e15


def test_benchmark_script_runs_every_measurement_and_writes_json(image_dirs, tmp_path):
    """The script end to end at toy size: the numbers are meaningless, their presence is not."""
    import json
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    out = str(tmp_path / "bench.json")
    args = ["--preset=paper", "--image_size=32", "--ngf=4", "--ndf=4", "--n_blocks=1",
            "--precision=bf16", "--compare", "--export", "--steps=1", "--warmup=0",
            "--breakdown", "--breakdown_steps=1",
            "--pipeline_batches=2", f"--data_dir={image_dirs}", "--domain_a=a",
            "--domain_b=b", f"--json={out}"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", "benchmark.py"),
                             *args], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "speed-up vs plain float32" in result.stdout
    results = json.load(open(out))
    measured, reference = results["training"]
    assert measured["name"].startswith("train step (mixed_bfloat16")
    assert measured["speedup_vs_reference"] > 0 and measured["share_of_convolution_peak"] > 0
    assert "time by kind of work" in result.stdout
    for row in (measured, reference):
        kinds = {kind["kind"]: kind for kind in row["breakdown"]}
        assert kinds["convolution forward"]["kernels_per_call"] > 0
        assert sum(kind["share"] for kind in row["breakdown"]) == pytest.approx(1.0, abs=1e-6)
    assert set(results["convolution_peak_tflop_per_s"]) == {"bfloat16", "float32"}
    assert results["input_pipeline"]["images_per_s"] > 0
    assert [(row["precision"], row["batch_size"]) for row in results["export"]] == [
        ("float32", 1), ("float32", 8), ("bf16", 1), ("bf16", 8),
        (results["export"][-1]["precision"], 8)]  # The last: translate's own path.
    chosen = results["export"][-1]["precision"]
    assert chosen in ("float32", "bf16")  # What this CPU's subprocess picked.
    assert results["export"][-1]["name"] == f"translate --precision=auto ({chosen}), batch 8"
    assert results["export"][-1]["images_per_s"] > 0
    formats = {row["format"]: row for row in results["formats"]}
    assert list(formats) == ["savedmodel", "onnx", "tflite", "tflite_float16", "tflite_int8"]
    for name in ("savedmodel", "onnx", "tflite"):
        assert formats[name]["max_difference"] <= 1 and formats[name]["median_s"] > 0
    assert formats["tflite_int8"]["megabytes"] < formats["tflite"]["megabytes"]


def test_op_profile_groups_a_compiled_call_by_kind_of_work():
    from cyclegan_tf.tools import op_profile

    assert op_profile.plain_op_type("_MklNativeFusedConv2D") == "FusedConv2D"
    assert op_profile.kind_of("_MklNativeConv2DBackpropFilter") == "convolution weight gradient"
    assert op_profile.kind_of("NoSuchOp") == "other"
    kernel = tf.random.normal([3, 3, 4, 8])
    images = tf.random.normal([1, 16, 16, 4])

    @tf.function
    def step():
        padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
        return tf.reduce_sum(tf.nn.relu(tf.nn.conv2d(padded, kernel, 1, "VALID")))

    step()
    profile = op_profile.profile_ops(lambda: step().numpy(), calls=2)
    assert profile.calls == 2 and profile.wall_seconds > 0 and profile.busy_seconds > 0
    rows = op_profile.breakdown(profile)
    kinds = {row.kind for row in rows}
    assert {"reflection padding and its gradient", op_profile.IDLE} <= kinds
    assert kinds & {"convolution forward", "other"}
    assert rows[-1].kind == op_profile.IDLE
    assert sum(row.share for row in rows) == pytest.approx(1.0, abs=1e-6)
    assert all(row.seconds_per_call >= 0 for row in rows)
