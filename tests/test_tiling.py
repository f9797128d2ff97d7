"""Tiled translation (`translate --tile`): tiles cover the image, blend back exactly, and
whole-image statistics keep tiles close to the whole-image result."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from test_export import make_run

from cyclegan_tf.core.configs import Config
from cyclegan_tf.inference import serving, tiling
from cyclegan_tf.inference.translate import TileOptions, TranslateError, translate_paths
from cyclegan_tf.nets.models import build_generator


@pytest.mark.parametrize("size,tile,overlap", [(10, 16, 4), (16, 16, 4), (17, 16, 4),
                                               (100, 32, 8), (1000, 512, 64), (33, 10, 0)])
def test_tiles_cover_the_axis_and_overlap_enough(size, tile, overlap):
    starts = tiling.tile_starts(size, tile, overlap)
    length = min(tile, size)
    assert starts[0] == 0 and starts[-1] + length == size
    assert all(b - a <= length - overlap for a, b in zip(starts, starts[1:]))
    assert starts == sorted(set(starts))


def test_window_ramps_only_on_shared_sides():
    w = tiling.window(32, 8, ramp_start=True, ramp_end=False)
    assert (w > 0).all() and (w[8:] == 1).all()
    assert np.all(np.diff(w[:8]) > 0) and w[0] < 0.05
    assert (tiling.window(32, 8, False, False) == 1).all()


@pytest.mark.parametrize("shape", [(5, 7), (37, 61), (64, 64), (100, 33)])
def test_blending_identical_tiles_gives_the_image_back(shape):
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    calls = []

    def identity(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        return batch

    result = tiling.translate_tiled(identity, image, tile=16, overlap=4, batch_size=3)
    np.testing.assert_array_equal(result, image)
    assert all(s[0] <= 3 and s[1:3] == (min(16, shape[0]), min(16, shape[1])) for s in calls)


def test_tiles_differ_from_whole_image_only_through_statistics():
    config = Config(image_size=32, ngf=8, ndf=8, n_blocks=1, generator="resnet")
    generator = build_generator(config, "generator_g")
    sizes = serving.size_rule(config)
    rows = np.linspace(0, 255, 96)[:, None, None]
    image = np.broadcast_to(rows, (96, 80, 3)).astype(np.uint8).copy()  # Dark to bright.
    image[..., 1] = np.random.default_rng(1).integers(0, 256, (96, 80))

    def translate(batch: np.ndarray) -> np.ndarray:
        return serving.translate_uint8_images(generator, tf.constant(batch), sizes).numpy()

    whole = translate(image[None])[0].astype(int)
    # Statistics measured on the full-size image reproduce the whole-image result.
    with tiling.fixed_statistics(tiling.image_statistics(generator, config, image, 96)):
        np.testing.assert_allclose(translate(image[None])[0], whole, atol=1)
        fixed = tiling.translate_tiled(translate, image, 48, 12).astype(int)
    per_tile = tiling.translate_tiled(translate, image, 48, 12).astype(int)
    assert np.abs(fixed - whole).mean() < np.abs(per_tile - whole).mean()


def test_translate_cli_tiles_large_images(tmp_path):
    run = make_run(str(tmp_path / "run"))
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (70, 90, 3), dtype=np.uint8)
                    ).save(inputs / "big.png")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(inputs / "small.png")
    for statistics in ("image", "tile"):
        out = tmp_path / f"out_{statistics}"
        result = translate_paths(run, str(inputs), str(out), out=io.StringIO(),
                                 tiles=TileOptions(32, 8, statistics))
        assert len(result.outputs) == 2 and not result.skipped
        assert Image.open(out / "big.png").size == (90, 70)
        assert Image.open(out / "small.png").size == (20, 20)
    with pytest.raises(TranslateError, match="--overlap"):
        translate_paths(run, str(inputs), str(tmp_path / "x"), out=io.StringIO(),
                        tiles=TileOptions(32, 16))
    with pytest.raises(TranslateError, match="--tile_statistics"):
        translate_paths(run, str(inputs), str(tmp_path / "x"), out=io.StringIO(),
                        tiles=TileOptions(32, 8, "global"))
