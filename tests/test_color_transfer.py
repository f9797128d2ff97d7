"""--color_transfer: the folders' colour statistics, the levels and tone maps between them,
and their life in a run."""

from __future__ import annotations

import dataclasses
import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from conftest import tiny_config
from cyclegan_tf.core import checkpoints
from cyclegan_tf.core.run_folder import RunFolder
from cyclegan_tf.data import color_transfer
from cyclegan_tf.data.color_transfer import ColourStatistics, levels_map, transfer_map
from cyclegan_tf.data.pipeline import UnpairedData
from cyclegan_tf.inference import export
from cyclegan_tf.inference.generators import load_export
from cyclegan_tf.nets.models import COLOR_TRANSFER_LAYER, build_generator
from cyclegan_tf.training.loop import train
from cyclegan_tf.training.trainer import CycleGAN


def write_flat_greys(folder: str, lowest: int, highest: int, count: int = 12) -> None:
    """`count` flat grey 32x32 images, evenly from `lowest` to `highest` (0-255)."""
    os.makedirs(folder, exist_ok=True)
    for i, value in enumerate(np.linspace(lowest, highest, count).round().astype(np.uint8)):
        Image.fromarray(np.full((32, 32, 3), value, np.uint8)).save(
            os.path.join(folder, f"grey_{i:02d}.png"))


@pytest.fixture
def grey_dirs(tmp_path) -> str:
    """Domain a spans the whole tone range; domain b only 64..192 (a washed-out medium)."""
    write_flat_greys(str(tmp_path / "data" / "a"), 0, 255)
    write_flat_greys(str(tmp_path / "data" / "b"), 64, 192)
    return str(tmp_path / "data")


def to_unit(value: float) -> float:
    return value / 127.5 - 1.0


def test_black_and_white_points_are_the_tone_range_of_the_folder(grey_dirs):
    data = UnpairedData(tiny_config(grey_dirs))
    colours_a = color_transfer.colour_statistics(data.train_a, data.config)
    colours_b = color_transfer.colour_statistics(data.train_b, data.config)
    assert colours_a.points.shape == colours_b.points.shape == (2, 3)
    np.testing.assert_allclose(colours_a.points, [[-1.0] * 3, [1.0] * 3], atol=0.02)
    np.testing.assert_allclose(colours_b.points, [[to_unit(64)] * 3, [to_unit(192)] * 3],
                               atol=0.02)
    np.testing.assert_allclose(colours_b.mean, [to_unit(128)] * 3, atol=0.02)
    assert colours_b.chroma_spread() < 1e-6  # greys lie on their tone ramp


def test_tone_ramp_and_chroma_spread_are_the_least_squares_fit():
    rng = np.random.default_rng(0)
    colours = rng.uniform(-1, 1, (500, 3)) * [1.0, 0.5, 0.8] + [0.1, -0.2, 0.0]
    statistics = ColourStatistics.of_colours(colours)
    luminance = colours @ np.array([0.299, 0.587, 0.114])
    design = np.stack([np.ones_like(luminance), luminance], axis=1)
    fit, *_ = np.linalg.lstsq(design, colours, rcond=None)
    base, slope = statistics.tone_ramp()
    np.testing.assert_allclose(base, fit[0], atol=1e-9)
    np.testing.assert_allclose(slope, fit[1], atol=1e-9)
    residual = colours - design @ fit
    np.testing.assert_allclose(statistics.chroma_spread(), np.mean(np.sum(residual**2, 1)))


def sepia_and_photo_statistics() -> tuple[ColourStatistics, ColourStatistics, np.ndarray]:
    """Colourful photo colours, sepia colours (one tint ramp) and the ramp's ends."""
    rng = np.random.default_rng(1)
    photos = rng.uniform(-1, 1, (2000, 3))
    dark, light = np.array([-0.6, -0.7, -0.9]), np.array([0.9, 0.8, 0.6])
    tones = rng.uniform(0, 1, (2000, 1))
    sepia = dark + tones * (light - dark)
    return ColourStatistics.of_colours(photos), ColourStatistics.of_colours(sepia), np.stack(
        [dark, light])


def test_tone_transfer_to_a_monochrome_medium_puts_colours_on_its_ramp():
    photos, sepia, ends = sepia_and_photo_statistics()
    colour_map = transfer_map(photos, sepia, "tone")
    assert colour_map.chroma_kept < 0.01
    saturated = np.array([[1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
    mapped = colour_map.apply(saturated)
    # Every output lies on the line through the ramp's ends.
    direction = (ends[1] - ends[0]) / np.linalg.norm(ends[1] - ends[0])
    offsets = mapped - ends[0]
    off_line = offsets - np.outer(offsets @ direction, direction)
    assert np.abs(off_line).max() < 0.01


def test_tone_transfer_to_a_colourful_medium_is_the_levels_transfer():
    rng = np.random.default_rng(2)
    greyish = rng.uniform(-1, 1, (2000, 1)) + 0.1 * rng.uniform(-1, 1, (2000, 3))
    colourful = 0.5 * rng.uniform(-1, 1, (2000, 3)) + 0.3
    source, target = ColourStatistics.of_colours(greyish), ColourStatistics.of_colours(colourful)
    tone, levels = transfer_map(source, target, "tone"), transfer_map(source, target, "levels")
    assert tone.chroma_kept == 1.0
    np.testing.assert_allclose(tone.matrix, levels.matrix, atol=1e-12)
    np.testing.assert_allclose(tone.offset, levels.offset, atol=1e-12)


def test_grey_folders_give_the_same_tone_transfer_on_every_cpu():
    # Greys have a chroma spread of rounding noise (1e-17 or 0 by the CPU's sums); their
    # ratio used to decide how much colour a grey medium keeps.
    greys = np.linspace(-1, 1, 50)[:, None] * np.ones(3)
    darker = ColourStatistics.of_colours(0.5 * greys)
    noisy = dataclasses.replace(darker, covariance=darker.covariance + 1e-17)
    for target in (darker, noisy):
        assert transfer_map(ColourStatistics.of_colours(greys), target, "tone").chroma_kept == 0.0
    colourful = ColourStatistics.of_colours(np.random.default_rng(3).uniform(-1, 1, (500, 3)))
    assert transfer_map(ColourStatistics.of_colours(greys), colourful, "tone").chroma_kept == 1.0


def test_levels_map_takes_one_range_onto_the_other():
    source = np.array([[-1.0, -0.8, -0.5], [1.0, 0.6, 0.9]])
    target = np.array([[-0.5, -0.7, 0.0], [0.9, 1.0, 0.5]])
    scale, offset = levels_map(source, target)
    np.testing.assert_allclose(source * scale + offset, target)


def test_levels_map_of_a_constant_folder_stays_finite():
    flat = np.array([[0.2, 0.2, 0.2], [0.2, 0.2, 0.2]])
    scale, offset = levels_map(flat, np.array([[-1.0] * 3, [1.0] * 3]))
    assert np.all(np.abs(scale) <= 2.0 / color_transfer.MIN_SPAN)
    assert np.all(np.isfinite(offset))


@pytest.mark.parametrize("mode", ["levels", "tone"])
def test_color_transfer_adds_twelve_fixed_weights_and_no_trainable_ones(grey_dirs, mode):
    plain = build_generator(tiny_config(grey_dirs, generator="colour_map"), "generator_g")
    mapped = build_generator(tiny_config(grey_dirs, generator="colour_map",
                                         color_transfer=mode), "generator_g")
    count = lambda weights: sum(int(np.prod(w.shape)) for w in weights)
    assert count(mapped.trainable_weights) == count(plain.trainable_weights)
    assert count(mapped.non_trainable_weights) == count(plain.non_trainable_weights) + 12
    images = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=1)
    np.testing.assert_allclose(mapped(images), plain(images), atol=1e-6)  # identity until set


def test_colour_loss_compares_with_the_transfer_start(grey_dirs):
    config = tiny_config(grey_dirs, generator="colour_map", color_transfer="levels",
                         lambda_color=1.0, lambda_identity=0.0, ema_decay=0.9)
    model = CycleGAN(config)
    model.set_color_transfer(*(ColourStatistics.of_colours(np.linspace(low, high, 50)[:, None]
                                                           * np.ones(3))
                               for low, high in ((-1.0, 1.0), (-0.5, 0.5))))
    images = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=2)
    # The colour map starts as the identity, so G's first output is exactly its start.
    first = model.train_step(images, images)
    assert float(first["color"]) < 1e-6
    average = model.inference_generator("generator_g").get_layer(COLOR_TRANSFER_LAYER)
    np.testing.assert_allclose(average.matrix.numpy(), np.diag([0.5] * 3), atol=1e-6)


def test_a_run_measures_colours_once_and_keeps_the_map_in_checkpoint_and_export(grey_dirs,
                                                                               tmp_path):
    config = tiny_config(grey_dirs, str(tmp_path / "run"), generator="colour_map",
                         color_transfer="tone", lambda_identity=0.0, lr=1e-9, epochs=1)
    out = io.StringIO()
    train(config, out=out, max_steps=2)
    assert "Colours of a: black (0, 0, 0), white (255, 255, 255); tone ramp" in out.getvalue()
    assert "Colours of b: black (64, 64, 64), white (192, 192, 192); tone ramp" in out.getvalue()
    assert "generator_g keeps" in out.getvalue()

    run = RunFolder(config.output_dir)
    restored = CycleGAN(config)
    newest = checkpoints.saved_checkpoints(run.checkpoints)[-1]
    restored.checkpoint().restore(newest).expect_partial()
    layer = restored.generator_g.get_layer(COLOR_TRANSFER_LAYER)
    black_white_red = tf.constant([[[[-1.0] * 3, [1.0] * 3, [1.0, -1.0, -1.0]]]])
    mapped = layer(black_white_red).numpy()[0, 0]
    np.testing.assert_allclose(mapped[:2], [[to_unit(64)] * 3, [to_unit(192)] * 3], atol=0.01)
    assert np.ptp(mapped[2]) < 1e-5  # b holds only greys, so red comes out grey

    resumed = io.StringIO()
    train(config, out=resumed)  # finishes the epoch from the checkpoint
    assert "Resuming" in resumed.getvalue() and "Colours of" not in resumed.getvalue()

    folder = export.export_generator(config.output_dir, str(tmp_path / "model"), "a2b")
    black = tf.fill([1, 32, 32, 3], -1.0)
    translated = load_export(folder).generators["a2b"](black)
    np.testing.assert_allclose(translated.numpy(), to_unit(64), atol=0.02)


def test_hue_weights_follow_the_chroma_each_tone_transfer_keeps(grey_dirs, tmp_path):
    from cyclegan_tf.core.configs import ConfigError

    photos, sepia, _ = sepia_and_photo_statistics()
    config = tiny_config(grey_dirs, str(tmp_path / "run"), generator="colour_map",
                         color_transfer="tone", lambda_identity=0.0, lambda_hue=4.0,
                         scale_hue_by_chroma=True)
    model = CycleGAN(config)
    maps = model.set_color_transfer(photos, sepia)
    kept_g, kept_f = maps["generator_g"].chroma_kept, maps["generator_f"].chroma_kept
    assert kept_g < 0.01 and kept_f == 1.0  # photo to sepia drops the hues; sepia to photo not
    np.testing.assert_allclose(model.hue_weights.numpy(), [4.0 * kept_g, 4.0], rtol=1e-6)

    # The weights are checkpointed, so a resumed run holds the hues as the first did.
    path = model.checkpoint().save(str(tmp_path / "ckpt" / "c"))
    restored = CycleGAN(config)
    restored.checkpoint().restore(path).assert_consumed()
    np.testing.assert_allclose(restored.hue_weights.numpy(), model.hue_weights.numpy())
    with pytest.raises(ConfigError, match="--scale_hue_by_chroma: checkpoint has True"):
        config.replace(scale_hue_by_chroma=False).check_resumable_with(config)
    with pytest.raises(ConfigError, match="needs --color_transfer=tone"):
        config.replace(color_transfer="levels").validate()
    with pytest.raises(ConfigError, match="--lambda_hue above 0"):
        config.replace(lambda_hue=0.0).validate()
