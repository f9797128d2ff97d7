"""--levels_transfer: black and white points, the map between them, and its life in a run."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from conftest import tiny_config
from cyclegan_tf.core import checkpoints
from cyclegan_tf.core.run_folder import RunFolder
from cyclegan_tf.data import levels
from cyclegan_tf.data.pipeline import UnpairedData
from cyclegan_tf.inference import export
from cyclegan_tf.inference.generators import load_export
from cyclegan_tf.nets.models import LEVELS_LAYER, build_generator
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
    points_a = levels.black_and_white_points(data.train_a, data.config)
    points_b = levels.black_and_white_points(data.train_b, data.config)
    assert points_a.shape == points_b.shape == (2, 3)
    np.testing.assert_allclose(points_a, [[-1.0] * 3, [1.0] * 3], atol=0.02)
    np.testing.assert_allclose(points_b, [[to_unit(64)] * 3, [to_unit(192)] * 3], atol=0.02)


def test_levels_map_takes_one_range_onto_the_other():
    source = np.array([[-1.0, -0.8, -0.5], [1.0, 0.6, 0.9]])
    target = np.array([[-0.5, -0.7, 0.0], [0.9, 1.0, 0.5]])
    scale, offset = levels.levels_map(source, target)
    np.testing.assert_allclose(source * scale + offset, target)


def test_levels_map_of_a_constant_folder_stays_finite():
    flat = np.array([[0.2, 0.2, 0.2], [0.2, 0.2, 0.2]])
    scale, offset = levels.levels_map(flat, np.array([[-1.0] * 3, [1.0] * 3]))
    assert np.all(np.abs(scale) <= 2.0 / levels.MIN_SPAN)
    assert np.all(np.isfinite(offset))


def test_levels_add_six_fixed_weights_and_no_trainable_ones(grey_dirs):
    plain = build_generator(tiny_config(grey_dirs, generator="colour_map"), "generator_g")
    mapped = build_generator(tiny_config(grey_dirs, generator="colour_map",
                                         levels_transfer=True), "generator_g")
    count = lambda weights: sum(int(np.prod(w.shape)) for w in weights)
    assert count(mapped.trainable_weights) == count(plain.trainable_weights)
    assert count(mapped.non_trainable_weights) == count(plain.non_trainable_weights) + 6
    images = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=1)
    np.testing.assert_allclose(mapped(images), plain(images), atol=1e-6)  # identity until set


def test_colour_loss_compares_with_the_levels_start(grey_dirs):
    config = tiny_config(grey_dirs, generator="colour_map", levels_transfer=True,
                         lambda_color=1.0, lambda_identity=0.0, ema_decay=0.9)
    model = CycleGAN(config)
    model.set_levels(np.array([[-1.0] * 3, [1.0] * 3]), np.array([[-0.5] * 3, [0.5] * 3]))
    images = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=2)
    # The colour map starts as the identity, so G's first output is exactly its levels start.
    first = model.train_step(images, images)
    assert float(first["color"]) < 1e-6
    average = model.inference_generator("generator_g").get_layer(LEVELS_LAYER)
    np.testing.assert_allclose(average.scale.numpy(), [0.5] * 3)


def test_a_run_measures_levels_once_and_keeps_them_in_checkpoint_and_export(grey_dirs, tmp_path):
    config = tiny_config(grey_dirs, str(tmp_path / "run"), generator="colour_map",
                         levels_transfer=True, lambda_identity=0.0, lr=1e-9, epochs=1)
    out = io.StringIO()
    train(config, out=out, max_steps=2)
    assert "Levels of a: black (0, 0, 0), white (255, 255, 255)." in out.getvalue()
    assert "Levels of b: black (64, 64, 64), white (192, 192, 192)." in out.getvalue()

    run = RunFolder(config.output_dir)
    restored = CycleGAN(config)
    newest = checkpoints.saved_checkpoints(run.checkpoints)[-1]
    restored.checkpoint().restore(newest).expect_partial()
    layer = restored.generator_g.get_layer(LEVELS_LAYER)
    np.testing.assert_allclose(layer.scale.numpy(), [0.5] * 3, atol=0.01)
    np.testing.assert_allclose(layer.offset.numpy(), [to_unit(128)] * 3, atol=0.01)

    resumed = io.StringIO()
    train(config, out=resumed)  # finishes the epoch from the checkpoint
    assert "Resuming" in resumed.getvalue() and "Levels of" not in resumed.getvalue()

    folder = export.export_generator(config.output_dir, str(tmp_path / "model"), "a2b")
    black = tf.fill([1, 32, 32, 3], -1.0)
    translated = load_export(folder).generators["a2b"](black)
    np.testing.assert_allclose(translated.numpy(), to_unit(64), atol=0.02)
