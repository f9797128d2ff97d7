"""The tf.data pipeline: layouts, decoding, jitter, unpaired epochs, TFDS."""

import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cyclegan_tf.core.configs import Config
from cyclegan_tf.data.pipeline import DataError, UnpairedData, decode_image, find_domain_files
from conftest import tiny_config, write_images


def _solid_images(folder, values, size=(40, 40)):
    """One solid-grey image per value, so a pixel identifies the source image."""
    os.makedirs(folder, exist_ok=True)
    for i, value in enumerate(values):
        Image.new("RGB", size, (value, value, value)).save(os.path.join(folder, f"{i}.png"))


def _ids(batch):
    return [int(round((float(img[0, 0, 0]) + 1) * 127.5)) for img in batch]


def test_train_batches_have_shape_dtype_and_range(image_dirs, caplog, monkeypatch):
    monkeypatch.setattr(tf.get_logger(), "level", logging.WARNING)
    data = UnpairedData(tiny_config(image_dirs, batch_size=2))
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        a, b = next(iter(data.train_dataset(0)))
    # Building the pipeline logs no AutoGraph warnings into the user's progress output.
    assert "AutoGraph could not transform" not in caplog.text
    assert a.shape == b.shape == (2, 32, 32, 3)
    assert a.dtype == tf.float32
    for x in (a, b):
        assert -1.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0
    test = data.test_batch("a", 2)
    assert test.shape == (2, 32, 32, 3)


def test_epoch_covers_the_larger_domain(tmp_path):
    _solid_images(str(tmp_path / "a"), [10, 20, 30, 40, 50])
    _solid_images(str(tmp_path / "b"), [100, 110, 120])
    data = UnpairedData(tiny_config(str(tmp_path), jitter=False, flip=False))
    assert data.steps_per_epoch == 5
    seen_a, seen_b = [], []
    for a, b in data.train_dataset(epoch=0):
        seen_a += _ids(a)
        seen_b += _ids(b)
    assert sorted(seen_a) == [10, 20, 30, 40, 50]  # Each A image exactly once.
    assert len(seen_b) == 5 and set(seen_b) == {100, 110, 120}  # B repeats to cover A.


def test_order_is_reproducible_and_resumable(tmp_path):
    _solid_images(str(tmp_path / "a"), [10, 20, 30, 40, 50, 60])
    _solid_images(str(tmp_path / "b"), [100, 110, 120, 130])
    config = tiny_config(str(tmp_path), seed=3)
    full = [(a.numpy(), b.numpy()) for a, b in UnpairedData(config).train_dataset(epoch=1)]
    again = [(a.numpy(), b.numpy()) for a, b in UnpairedData(config).train_dataset(epoch=1)]
    tail = [(a.numpy(), b.numpy()) for a, b in UnpairedData(config).train_dataset(1, start_step=4)]
    for x, y in zip(full, again):
        np.testing.assert_array_equal(x[0], y[0])
    assert len(tail) == 2
    for x, y in zip(full[4:], tail):  # Skipping reproduces the same crops, flips and order.
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])
    other_epoch = [_ids(a)[0] for a, _ in UnpairedData(config).train_dataset(epoch=2)]
    assert other_epoch != [_ids(a)[0] for a, _ in full]  # Each epoch reshuffles.


def test_random_crop_and_flip_happen(tmp_path):
    # A horizontal ramp: crops shift the values, flips reverse them.
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], (64, 1, 3))
    os.makedirs(tmp_path / "a")
    os.makedirs(tmp_path / "b")
    for i in range(8):
        Image.fromarray(ramp).save(tmp_path / "a" / f"{i}.png")
        Image.fromarray(ramp).save(tmp_path / "b" / f"{i}.png")
    config = tiny_config(str(tmp_path), load_size=48, resize_method="bilinear")
    rows = [a[0, 0, :, 0].numpy() for a, _ in UnpairedData(config).train_dataset(0)]
    increasing = [row[-1] > row[0] for row in rows]
    assert any(increasing) and not all(increasing), "some images flipped, some not"
    lefts = {round(float(min(row[0], row[-1])), 3) for row in rows}
    assert len(lefts) > 1, "crops start at different offsets"


def test_decode_composites_alpha_and_expands_grayscale(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[0, 0, 3] = 255  # One opaque red pixel, the rest fully transparent.
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(np.full((4, 4), 77, np.uint8), "L").save(tmp_path / "gray.png")
    Image.fromarray(np.full((4, 4), 77, np.uint8), "L").save(tmp_path / "gray.jpg", quality=100)
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.bmp")
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.gif")

    def decode(name, background=(255, 255, 255)):
        return decode_image(tf.io.read_file(str(tmp_path / name)), background).numpy()

    image = decode("rgba.png", background=(0, 10, 20))
    assert image.shape == (4, 4, 3)
    np.testing.assert_allclose(image[0, 0], [200, 0, 0])
    np.testing.assert_allclose(image[1, 1], [0, 10, 20])
    assert decode("gray.png").shape == (4, 4, 3)
    np.testing.assert_allclose(decode("gray.png")[2, 2], [77, 77, 77])
    assert decode("gray.jpg").shape == (4, 4, 3)
    assert decode("rgb.bmp").shape == decode("rgb.gif").shape == (4, 4, 3)


def test_folder_layout_with_train_and_test(tmp_path):
    write_images(str(tmp_path / "x" / "train"), 3)
    write_images(str(tmp_path / "x" / "test"), 2)
    write_images(str(tmp_path / "y"), 4)
    files_a, files_b = find_domain_files(Config(domain_a="x", domain_b="y", data_dir=str(tmp_path)))
    assert len(files_a.train) == 3 and len(files_a.test) == 2
    assert len(files_b.train) == 4 and files_b.test == files_b.train


def test_public_train_ab_layout(tmp_path):
    for name, count in (("trainA", 3), ("trainB", 4), ("testA", 1), ("testB", 2)):
        write_images(str(tmp_path / name), count)
    files_a, files_b = find_domain_files(Config(domain_a="horse", domain_b="zebra",
                                                data_dir=str(tmp_path)))
    assert (len(files_a.train), len(files_a.test), len(files_b.train), len(files_b.test)) == (3, 1, 4, 2)


def test_missing_and_empty_folders_are_clear_errors(tmp_path):
    write_images(str(tmp_path / "a"), 2)
    with pytest.raises(DataError, match="--domain_b='b'.*does not exist"):
        find_domain_files(Config(domain_a="a", domain_b="b", data_dir=str(tmp_path)))
    os.makedirs(tmp_path / "b")
    (tmp_path / "b" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="holds no images.*JPEG, PNG, BMP, GIF, WebP or TIFF"):
        find_domain_files(Config(domain_a="a", domain_b="b", data_dir=str(tmp_path)))
    with pytest.raises(DataError, match="--data_dir"):
        find_domain_files(Config(data_dir=str(tmp_path / "nowhere")))


def test_cache_gives_the_same_batches(image_dirs):
    plain = UnpairedData(tiny_config(image_dirs))
    cached = UnpairedData(tiny_config(image_dirs, cache=True))
    for epoch in (0, 1):  # The second epoch reads from the cache.
        for (a1, b1), (a2, b2) in zip(plain.train_dataset(epoch), cached.train_dataset(epoch)):
            np.testing.assert_allclose(a1.numpy(), a2.numpy(), atol=1.5 / 127.5)
            np.testing.assert_allclose(b1.numpy(), b2.numpy(), atol=1.5 / 127.5)


def test_tfds_source_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=3):
        data = UnpairedData(Config(tfds="cycle_gan/horse2zebra", image_size=32, ngf=8, ndf=8))
        a, b = next(iter(data.train_dataset(0)))
        assert a.shape == b.shape == (1, 32, 32, 3)
        assert data.test_batch("b", 2).shape == (2, 32, 32, 3)
    with pytest.raises(DataError, match="cycle_gan"):
        UnpairedData(Config(tfds="mnist"))
