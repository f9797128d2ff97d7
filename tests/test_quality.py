"""The quality options (resize upsampling, anti-aliasing, identity start, weight average,
DiffAugment, colour loss), the step and time limits of training, and the quality harness."""

from __future__ import annotations

import io
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config, write_images
from PIL import Image

from cyclegan_tf.core import checkpoints
from cyclegan_tf.core.configs import Config, ConfigError
from cyclegan_tf.core.presets import preset_config
from cyclegan_tf.tools import quality
from cyclegan_tf.nets.layers import Blur2D
from cyclegan_tf.nets.models import LOCAL_WIDTH, build_discriminator, build_generator
from cyclegan_tf.training import augment
from cyclegan_tf.training.loop import train
from cyclegan_tf.training.trainer import CycleGAN

GENERATORS = ("resnet", "unet", "encoder_decoder")


def _config(generator: str, **options) -> Config:
    return Config(generator=generator, discriminator="patch", image_size=32, ngf=4, ndf=4,
                  n_blocks=1, **{"mixed_precision": "float32", **options})


def _random_images(n: int = 2, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype("float32")


@pytest.mark.parametrize("generator", GENERATORS)
def test_identity_start_generator_first_outputs_its_input(generator):
    images = _random_images()
    model = build_generator(_config(generator, identity_start=True), "g")
    np.testing.assert_allclose(model(images).numpy(), images, atol=1e-6)
    plain = build_generator(_config(generator), "g")
    assert np.abs(plain(images).numpy() - images).max() > 0.1


@pytest.mark.parametrize("generator", GENERATORS)
def test_resize_upsampling_has_no_transposed_convolution(generator):
    config = _config(generator, upsample="resize")
    layers = build_generator(config, "g").layers
    assert not any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in layers)
    assert sum(isinstance(layer, keras.layers.UpSampling2D) for layer in layers) >= 2
    out = build_generator(config, "g")(_random_images(1, size=32))
    assert out.shape == (1, 32, 32, 3)
    transposed = build_generator(_config(generator), "g").layers
    assert any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in transposed)


def test_resize_upsampling_keeps_the_resnet_parameter_count():
    counts = [build_generator(preset_config("paper", upsample=mode), "g").count_params()
              for mode in ("transpose", "resize")]
    assert counts == [11_378_179, 11_378_179]


def test_antialias_blurs_before_every_stride_two_convolution():
    for generator, strided in (("resnet", 2), ("encoder_decoder", 2), ("unet", 5)):
        model = build_generator(_config(generator, antialias=True), "g")
        assert sum(isinstance(layer, Blur2D) for layer in model.layers) == strided, generator
    discriminator = build_discriminator(_config("resnet", antialias=True), "d")
    assert sum(isinstance(layer, Blur2D) for layer in discriminator.layers) == 3
    plain = build_generator(_config("resnet"), "g")
    assert not any(isinstance(layer, Blur2D) for layer in plain.layers)


def test_blur_keeps_flat_images_and_removes_the_highest_frequency():
    flat = np.full((1, 8, 8, 2), 0.3, np.float32)
    np.testing.assert_allclose(Blur2D()(flat).numpy(), flat, atol=1e-6)
    checker = np.indices((8, 8)).sum(axis=0) % 2 * 2.0 - 1.0  # +-1 checkerboard.
    blurred = Blur2D()(checker[None, :, :, None].astype(np.float32)).numpy()
    assert np.abs(blurred[0, 1:-1, 1:-1]).max() < 1e-6  # Nyquist frequency: gone.


def test_diffaugment_is_differentiable_deterministic_and_keeps_shapes():
    images = tf.constant(_random_images(3))
    policies = ("color", "translation", "cutout")
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = augment.augment(images, policies, tf.random.Generator.from_seed(1))
        loss = tf.reduce_sum(out * out)
    assert out.shape == images.shape
    gradient = tape.gradient(loss, images)
    assert float(tf.reduce_sum(tf.abs(gradient))) > 0
    again = augment.augment(images, policies, tf.random.Generator.from_seed(1))
    np.testing.assert_array_equal(out.numpy(), again.numpy())
    other = augment.augment(images, policies, tf.random.Generator.from_seed(2))
    assert not np.array_equal(out.numpy(), other.numpy())


def test_cutout_zeroes_a_quarter_of_each_image():
    ones = tf.ones([4, 16, 16, 3])
    out = augment.augment(ones, ("cutout",), tf.random.Generator.from_seed(0)).numpy()
    np.testing.assert_array_equal((out == 0).mean(axis=(1, 2, 3)), [0.25] * 4)


def test_unknown_augmentation_and_bad_ema_decay_are_refused():
    with pytest.raises(ConfigError, match="--diffaugment='color,zoom': zoom"):
        Config(diffaugment="color,zoom").validate()
    with pytest.raises(ConfigError, match="--ema_decay"):
        Config(ema_decay=1.5).validate()


def _step_config(**options) -> Config:
    return _config("resnet", lr=1e-3, epochs=2, pool_size=0, **options)


def test_weight_average_follows_the_generator_and_is_used_for_translation():
    model = CycleGAN(_step_config(ema_decay=0.9), steps_per_epoch=4)
    batch = tf.constant(_random_images(1))
    for _ in range(5):
        model.train_step(batch, batch)
    trained = model.generator_g.trainable_weights[0].numpy()
    averaged = model.averages["generator_g"].average.trainable_weights[0].numpy()
    assert not np.array_equal(trained, averaged)
    expected = model.averages["generator_g"].average(batch, training=False).numpy()
    np.testing.assert_array_equal(model.translate(batch, "a2b").numpy(), expected)


def test_weight_average_and_augmentation_resume_exactly(tmp_path):
    config = _step_config(ema_decay=0.9, diffaugment="color,translation,cutout",
                          lambda_color=2.0)
    batches = [tf.constant(_random_images(1, seed=s)) for s in range(4)]
    straight = CycleGAN(config, steps_per_epoch=4)
    for batch in batches:
        straight.train_step(batch, batch)
    first = CycleGAN(config, steps_per_epoch=4)
    for batch in batches[:2]:
        first.train_step(batch, batch)
    manager = checkpoints.manager(first.checkpoint(), str(tmp_path), keep=1)
    manager.save()
    resumed = CycleGAN(config, steps_per_epoch=4)
    resumed.checkpoint().restore(manager.latest_checkpoint).assert_consumed()
    for name in ("generator_g", "generator_f"):
        for x, y in zip(first.averages[name].average.weights,
                        resumed.averages[name].average.weights):
            np.testing.assert_array_equal(x.numpy(), y.numpy())
    for batch in batches[2:]:
        losses = resumed.train_step(batch, batch)
    assert float(losses["color"]) > 0
    # After the restore the two runs compute the same steps; oneDNN may order a reduction
    # differently between two traced graphs, hence the float tolerance (as in test_trainer).
    for name in ("generator_g", "generator_f"):
        for x, y in zip(straight.averages[name].average.weights,
                        resumed.averages[name].average.weights):
            np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-5, atol=1e-6)


def test_export_uses_the_weight_average(image_dirs, tmp_path):
    from cyclegan_tf.inference.generators import load_run

    config = tiny_config(image_dirs, str(tmp_path / "run"), generator="resnet", n_blocks=1,
                         discriminator="patch", ema_decay=0.5, epochs=1, lr=1e-2)
    train(config, out=io.StringIO())
    run = load_run(config.output_dir, ["a2b"])
    model = CycleGAN(config)
    model.checkpoint().restore(checkpoints.saved_checkpoints(
        os.path.join(config.output_dir, "checkpoints"))[0])
    image = tf.constant(_random_images(1))
    np.testing.assert_allclose(run.generators["a2b"](image).numpy(),
                               model.translate(image, "a2b").numpy(), atol=1e-6)
    assert np.abs(model.generator_g(image).numpy()
                  - model.translate(image, "a2b").numpy()).max() > 1e-4


def test_hue_colour_loss_lets_tones_change_but_not_hues():
    from cyclegan_tf.core import losses

    photo = tf.constant(_random_images(2, seed=3))
    paler = 0.6 * photo + 0.3  # Lighter and less saturated, same hues.
    turned = tf.gather(photo, [1, 2, 0], axis=-1)  # The channels rotated: other hues.
    assert float(losses.hue_shift(photo, photo)) == 0.0
    assert float(losses.hue_shift(photo, paler)) < 1e-6
    assert float(losses.hue_shift(photo, turned)) > 0.2
    assert float(losses.hue_shift(photo, 1.5 * photo)) > 0.05  # More saturated than the input.
    # The two --color_loss choices differ exactly there: lowpass charges the lightening.
    assert float(losses.l1(photo, paler)) > 0.2
    config = _step_config(lambda_color=1.0, color_loss="hue")
    assert float(CycleGAN(config, steps_per_epoch=4).train_step(photo[:1], photo[:1])["color"]) >= 0
    with pytest.raises(ConfigError, match="--color_loss='chroma' is not one of lowpass, hue, luma"):
        config.replace(color_loss="chroma").validate()


def test_hue_anchor_adds_to_the_colour_loss():
    from cyclegan_tf.core import losses

    photo = tf.constant(_random_images(1, seed=5))
    turned = tf.gather(photo, [1, 2, 0], axis=-1)
    pooled = [losses.block_average(x, 32) for x in (photo, turned)]
    both = CycleGAN(_step_config(lambda_color=1.0, lambda_hue=3.0), steps_per_epoch=4)
    expected = float(losses.l1(*pooled)) + 3.0 * float(losses.hue_shift(*pooled))
    assert float(both._color_loss(photo, turned, 3.0)) == pytest.approx(expected, rel=1e-6)
    hue_only = CycleGAN(_step_config(lambda_hue=3.0), steps_per_epoch=4)
    assert float(hue_only._color_loss(photo, turned, 3.0)) == pytest.approx(
        3.0 * float(losses.hue_shift(*pooled)), rel=1e-6)
    assert float(hue_only.train_step(photo, photo)["color"]) >= 0
    with pytest.raises(ConfigError, match="--lambda_hue must be zero or positive"):
        Config(lambda_hue=-1.0).validate()


def test_luma_colour_loss_keeps_tone_and_frees_colour():
    from cyclegan_tf.core import losses

    photo = tf.constant(_random_images(2, seed=4))
    weights = np.array(losses.LUMA, np.float32)
    luma = np.tensordot(photo.numpy(), weights, 1)[..., None]
    grey = tf.constant(np.repeat(luma, 3, axis=-1))  # Same luminance, no colour.
    assert float(losses.luminance_l1(photo, grey)) < 1e-6
    assert float(losses.l1(photo, grey)) > 0.1  # lowpass charges the lost colour
    assert float(losses.luminance_l1(photo, photo + 0.2)) == pytest.approx(0.2, abs=1e-5)
    config = _step_config(lambda_color=1.0, color_loss="luma")
    assert float(CycleGAN(config, steps_per_epoch=4).train_step(photo[:1], photo[:1])["color"]) >= 0


def test_options_off_leave_the_training_step_unchanged():
    batch = tf.constant(_random_images(1))
    plain = CycleGAN(_step_config(), steps_per_epoch=4)
    explicit = CycleGAN(_step_config(upsample="transpose", antialias=False,
                                     identity_start=False, ema_decay=0.0, diffaugment="",
                                     lambda_color=0.0), steps_per_epoch=4)
    a = {k: float(v) for k, v in plain.train_step(batch, batch).items()}
    b = {k: float(v) for k, v in explicit.train_step(batch, batch).items()}
    assert a == b and "color" not in a


def test_step_limit_stops_and_a_second_call_continues(image_dirs, tmp_path):
    config = tiny_config(image_dirs, str(tmp_path / "run"), epochs=3)
    out = io.StringIO()
    first = train(config, out=out, max_steps=3)
    assert (first.status, first.step) == ("interrupted", 3)
    assert "Stopped by the step limit (3)" in out.getvalue()
    second = train(config, out=io.StringIO(), max_steps=7)
    assert (second.status, second.step) == ("interrupted", 7)
    again = train(config, out=io.StringIO(), max_steps=7)
    assert (again.status, again.step) == ("interrupted", 7)


# The harness. ----------------------------------------------------------------------------


def _tiny_benchmark(root: str) -> str:
    """trainA/trainB/testA/testB_truth at 32 px; the truth is the photo darkened."""
    write_images(os.path.join(root, "trainA"), 4, size=(32, 32), seed=1)
    write_images(os.path.join(root, "trainB"), 4, size=(32, 32), seed=2)
    photos = write_images(os.path.join(root, "testA"), 3, size=(32, 32), seed=3)
    os.makedirs(os.path.join(root, "testB_truth"))
    for path in photos:
        dark = (np.asarray(Image.open(path)) // 2).astype(np.uint8)
        Image.fromarray(dark).save(os.path.join(root, "testB_truth", os.path.basename(path)))
    return root


def test_harness_scores_copying_training_and_the_export(tmp_path):
    bench = _tiny_benchmark(str(tmp_path / "bench"))
    config = preset_config("paper", image_size=32, ngf=4, ndf=4, n_blocks=1,
                           identity_start=True, num_samples=1)
    out = io.StringIO()
    results = quality.run_benchmark(config, bench, str(tmp_path / "q"), steps=4, evaluations=2,
                                    out=out)
    names, photos, truths = quality.load_test_pairs(bench)
    mse = ((photos / 255.0 - truths / 255.0) ** 2).mean(axis=(1, 2, 3))
    assert results["copying"]["psnr"] == pytest.approx(np.mean(-10 * np.log10(mse)), abs=1e-3)
    # The truth is the photo at half brightness: one colour map explains it (up to rounding).
    assert results["colour_map_ceiling"]["psnr"] > 45 > results["copying"]["psnr"]
    assert results["palette_transfer"]["psnr"] > 0 and "trainB's palette" in out.getvalue()
    for mode in ("levels", "tone"):
        assert results[f"{mode}_transfer"]["psnr"] > 0 and f"{mode} transfer" in out.getvalue()
    # Halving brightness changes tone and chroma alike: each half of the split is between
    # copying and the truth.
    for part in ("truth_tone", "truth_colour"):
        assert results["copying"]["psnr"] < results[part]["psnr"] < 45
    assert [h["step"] for h in results["history"]] == [2, 4]
    # The SavedModel computes what the run's checkpoint computes.
    assert results["final"]["psnr"] == pytest.approx(results["history"][-1]["psnr"], abs=0.05)
    written = json.load(open(tmp_path / "q" / quality.RESULT_FILE))
    assert written["final"] == results["final"] and written["machine"]["cpu"]
    assert sorted(os.listdir(tmp_path / "q" / "pred")) == [n + ".png" for n in names]
    picture = Image.open(results["picture"])
    assert picture.size == (3 * 32 + 4, 3 * 32 + 4)
    assert "vs copying" in out.getvalue()


def _mapped_benchmark(root: str, colour_map) -> tuple[np.ndarray, np.ndarray]:
    """A benchmark whose trainB is trainA through `colour_map` (float RGB in [0, 1] to the
    same) and whose truth is testA through it, plus an undecodable trainB file. Returns the
    test photos and truths."""
    def mapped(path: str) -> np.ndarray:
        pixels = np.asarray(Image.open(path).convert("RGB")) / 255.0
        return np.clip(np.round(colour_map(pixels) * 255), 0, 255).astype(np.uint8)

    sources = write_images(os.path.join(root, "trainA"), 6, size=(32, 32), seed=1)
    photos = write_images(os.path.join(root, "testA"), 3, size=(32, 32), seed=3)
    for folder, paths in (("trainB", sources), ("testB_truth", photos)):
        os.makedirs(os.path.join(root, folder))
        for path in paths:
            Image.fromarray(mapped(path)).save(os.path.join(root, folder, os.path.basename(path)))
    with open(os.path.join(root, "trainB", "broken.png"), "wb") as broken:
        broken.write(b"not a png")  # skipped, as training skips it
    _, test_photos, truths = quality.load_test_pairs(root)
    return test_photos, truths


def test_palette_transfer_recovers_a_colour_map_from_the_folders_alone(tmp_path):
    """trainB is trainA through one symmetric colour map, and the truth is testA through
    it: matching trainB's colour mean and covariance finds the map without the truth."""
    matrix = np.array([[0.6, 0.1, 0.0], [0.1, 0.5, 0.05], [0.0, 0.05, 0.4]])
    offset = np.array([0.3, 0.25, 0.2])
    root = str(tmp_path / "bench")
    photos, truths = _mapped_benchmark(root, lambda pixels: pixels @ matrix.T + offset)
    palette = quality.palette_transfer(root, photos, truths)
    assert palette["psnr"] > 40 > quality.score(photos, truths)["psnr"] + 10


def test_transfer_starts_recover_a_per_channel_tone_map_from_the_folders_alone(tmp_path):
    """trainB is trainA through one increasing per-channel tone map (a lighter, flatter
    medium), and the truth is testA through it: the folders' black and white points find
    the map without the truth, and the tone transfer keeps trainB's colourful chroma."""
    scale, offset = np.array([0.6, 0.5, 0.4]), np.array([0.3, 0.25, 0.45])
    root = str(tmp_path / "bench")
    photos, truths = _mapped_benchmark(root, lambda pixels: pixels * scale + offset)
    config = quality.benchmark_config(Config(image_size=32), root, str(tmp_path / "run"), 1)
    starts = quality.transfer_starts(config, photos, truths)
    for start in starts.values():
        assert start["psnr"] > 40 > quality.score(photos, truths)["psnr"] + 10


def test_harness_budget_raises_the_epochs_of_a_constant_schedule_only(tmp_path):
    """A constant learning rate trains until the budget ends; a decaying schedule keeps the
    epochs that set its length (changing them would change the schedule)."""
    bench = _tiny_benchmark(str(tmp_path / "bench"))
    run = str(tmp_path / "run")
    constant = quality.benchmark_config(Config(image_size=32, epochs=2), bench, run, 0)
    linear = quality.benchmark_config(
        Config(image_size=32, epochs=2, lr_schedule="linear", decay_epochs=1), bench, run, 0)
    assert (constant.epochs, linear.epochs) == (1000, 2)


def test_harness_refuses_a_bad_folder_or_budget(tmp_path):
    bench = _tiny_benchmark(str(tmp_path / "bench"))
    with pytest.raises(quality.BenchmarkError, match="exactly one budget"):
        quality.run_benchmark(Config(), bench, str(tmp_path / "q"), steps=3, minutes=1)
    os.rename(os.path.join(bench, "testB_truth"), os.path.join(bench, "truth"))
    with pytest.raises(quality.BenchmarkError, match="lacks testB_truth/"):
        quality.load_test_pairs(bench)


def test_colour_map_generator_starts_as_the_identity_and_recolours_every_pixel_alike():
    generator = build_generator(Config(generator="colour_map", ngf=32, image_size=32), "g")
    assert generator.count_params() == 3 * 32 + 32 + 32 * 32 + 32 + 32 * 3 + 3  # 1,283
    images = _random_images(size=5)
    np.testing.assert_array_equal(generator(images, training=False).numpy(), images)
    last = generator.layers[-2]
    last.kernel.assign(np.random.default_rng(1).normal(0, 0.1, last.kernel.shape))
    flat = np.full((1, 4, 6, 3), 0.3, np.float32)
    out = generator(flat, training=False).numpy()
    assert np.abs(out - flat).max() > 1e-3  # It recolours, and every pixel alike:
    np.testing.assert_allclose(out, np.broadcast_to(out[:, :1, :1], out.shape), atol=1e-6)


def test_colour_map_local_residual_starts_at_zero_and_sees_only_its_window():
    layers = 3
    config = Config(generator="colour_map", ngf=32, image_size=32, local_layers=layers)
    generator = build_generator(config, "g")
    local = 3 * 9 * LOCAL_WIDTH + LOCAL_WIDTH + LOCAL_WIDTH * 9 * LOCAL_WIDTH + LOCAL_WIDTH
    assert generator.count_params() == 1283 + local + LOCAL_WIDTH * 9 * 3 + 3  # 4,486
    images = _random_images(size=9)
    np.testing.assert_array_equal(generator(images, training=False).numpy(), images)
    last = [layer for layer in generator.layers if "conv" in layer.name][-1]
    assert last.kernel.shape == (3, 3, LOCAL_WIDTH, 3)
    last.kernel.assign(np.random.default_rng(1).normal(0, 0.1, last.kernel.shape))
    flat = np.full((1, 12, 12, 3), 0.3, np.float32)  # Reflection padding: no border effects.
    out = generator(flat, training=False).numpy()
    np.testing.assert_allclose(out, np.broadcast_to(out[:, :1, :1], out.shape), atol=1e-6)
    dotted = flat.copy()
    dotted[0, 6, 6] = -0.5
    changed = np.abs(generator(dotted, training=False).numpy() - out).max(axis=(0, 3)) > 1e-6
    rows, columns = np.nonzero(changed)
    assert changed[6, 6] and changed.sum() > 1  # It draws around the pixel, within its window:
    assert rows.min() >= 6 - layers and rows.max() <= 6 + layers
    assert columns.min() >= 6 - layers and columns.max() <= 6 + layers


def test_local_layers_need_the_colour_map_generator():
    with pytest.raises(ConfigError, match="--local_layers=2 applies only to --generator=colour_map"):
        Config(generator="resnet", local_layers=2).validate()


def test_every_ablation_row_is_a_valid_config_that_changes_what_it_names():
    from cyclegan_tf.tools import ablation

    assert len({row.name for row in ablation.ROWS}) == len(ablation.ROWS)
    for row in ablation.ROWS:
        config = row.config().validate()
        plain = preset_config(row.preset, **ablation.COMMON)
        changed = {key for key, value in config.to_dict().items()
                   if plain.to_dict()[key] != value}
        assert changed == set(row.overrides), row.name
        assert config.image_size == 128
        assert config.mixed_precision == ("float32" if row.name == "fast-bf16" else "auto")
        assert row.flags().startswith(f"--preset={row.preset}")
    assert ablation.ROWS_BY_NAME["fast-diffaugment"].flags() == "--preset=fast --diffaugment=''"
    first = ablation.ROWS_BY_NAME["fast_v1"].config()  # The first fast preset, as it was:
    assert (first.local_layers, first.lambda_cycle, first.lambda_color, first.lambda_hue,
            first.scale_hue_by_chroma, first.lr_schedule, first.epochs,
            first.decay_epochs) == (0, 1.0, 10.0, 0.0, False, "constant", 30, 0)
    assert build_generator(first, "g").count_params() == 1_295
    assert [row.name for row in ablation.select_rows(["fast", "paper"])] == ["paper", "fast"]
    with pytest.raises(quality.BenchmarkError, match="papr"):
        ablation.select_rows(["papr"])


def test_ablation_runs_each_row_once_and_tabulates_every_run(tmp_path):
    from cyclegan_tf.tools import ablation

    ink = _tiny_benchmark(str(tmp_path / "ink_bench"))
    json.dump({"style": "ink"}, open(os.path.join(ink, "manifest.json"), "w"))
    plain = _tiny_benchmark(str(tmp_path / "plain"))
    rows = ablation.select_rows(["fast"])
    tiny = dict(image_size=32, ngf=4, ndf=4, mixed_precision="float32", num_samples=1)
    out = io.StringIO()
    folders = ablation.run_rows(rows, [ink, plain], str(tmp_path / "ab"), steps=2,
                                evaluations=1, common=tiny, out=out)
    assert folders == [str(tmp_path / "ab" / "ink" / "fast" / "run1"),
                       str(tmp_path / "ab" / "plain" / "fast" / "run1")]
    assert out.getvalue().count("vs copying") == 2
    assert "Step 2" in open(os.path.join(folders[0], "log.txt")).read()
    again = io.StringIO()
    ablation.run_rows(rows, [ink], str(tmp_path / "ab"), steps=2, evaluations=1, common=tiny,
                      out=again)
    assert "done before, kept" in again.getvalue()
    repeat = ablation.run_rows(rows, [ink], str(tmp_path / "ab"), steps=2, evaluations=1,
                               common=tiny, run=2, out=again)
    assert json.load(open(os.path.join(repeat[0], quality.RESULT_FILE)))["config"]["seed"] == 1
    table = ablation.markdown_table(str(tmp_path / "ab"), common=tiny)
    results = json.load(open(os.path.join(folders[0], quality.RESULT_FILE)))
    gain = results["final"]["psnr"] - results["copying"]["psnr"]
    assert f"| ink | copying the input | | | | {results['copying']['psnr']:.2f} |" in table
    assert f"| ink | fast | `--preset=fast` | 1 | 2 |" in table and f"{gain:+.2f} |" in table
    assert "| ink | fast | `--preset=fast --seed=1` | 2 | 2 |" in table  # A repeat's own seed.
    assert "| plain | fast |" in table and "Measured on:" in table
    assert ablation.markdown_table(str(tmp_path / "none")).startswith("No finished runs")
    # A run made before its row changed is named, not tabulated as the row:
    path = os.path.join(folders[1], quality.RESULT_FILE)
    old = json.load(open(path))
    old["config"]["lambda_color"] = 99.0
    json.dump(old, open(path, "w"))
    table = ablation.markdown_table(str(tmp_path / "ab"), common=tiny)
    assert "| plain | fast |" not in table
    assert f"Left out, trained before their row changed: {folders[1]}." in table
    # A stopped run is not continued with another seed:
    stopped = os.path.join(ablation.result_dir(str(tmp_path / "ab"), "ink", rows[0], 3), "run")
    os.makedirs(stopped)
    json.dump({"seed": 0}, open(os.path.join(stopped, "config.json"), "w"))
    with pytest.raises(quality.BenchmarkError, match="--seed=0, and this run trains with --seed=2"):
        ablation.run_rows(rows, [ink], str(tmp_path / "ab"), steps=2, evaluations=1,
                          common=tiny, run=3, out=again)
