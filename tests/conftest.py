"""Shared fixtures: tiny image folders written by the tests themselves, tiny configs."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from cyclegan_tf.core.configs import Config  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_images(folder: str, count: int, size: tuple[int, int] = (40, 48), seed: int = 0,
                 mode: str = "RGB", ext: str = "png") -> list[str]:
    """Writes `count` random images of `size` (width, height) into `folder`."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    paths = []
    for i in range(count):
        pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
        image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode)
        path = os.path.join(folder, f"img_{i:03d}.{ext}")
        image.save(path)
        paths.append(path)
    return paths


@pytest.fixture
def image_dirs(tmp_path) -> str:
    """data/a (5 images) and data/b (3 images), a plain two-folder layout."""
    data = tmp_path / "data"
    write_images(str(data / "a"), 5, seed=1)
    write_images(str(data / "b"), 3, seed=2)
    return str(data)


def tiny_config(data_dir: str, output_dir: str = "", **overrides) -> Config:
    """A fast configuration: 32 px, narrow networks."""
    values = dict(domain_a="a", domain_b="b", data_dir=data_dir, image_size=32, ngf=8, ndf=8,
                  epochs=2, num_samples=2, save_every_epochs=1, output_dir=output_dir,
                  mixed_precision="float32")
    values.update(overrides)
    return Config(**values)
