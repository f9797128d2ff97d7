"""Tests of `cyclegan_tf.translate`: folders of mixed sizes, unreadable files, run folders and
SavedModels, side-by-side pairs and the panel, and the command line.

The model is a tiny untrained ResNet run (32 px, ngf 8) and its export.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import shutil

import numpy as np
import pytest
from PIL import Image

from cyclegan_tf.inference import export
from cyclegan_tf.inference import translate
from cyclegan_tf.core.configs import Config, save_config
from cyclegan_tf.core.run_folder import RunFolder
from cyclegan_tf.core import checkpoints
from cyclegan_tf.training.trainer import CycleGAN

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Width, height of each input; two share a size so that they are batched together.
SIZES = {"a.png": (61, 37), "b.jpg": (61, 37), "c.png": (32, 32), "d.png": (9, 20),
         "e.bmp": (5, 3)}


def write_image(path: str, size: tuple[int, int], seed: int = 0) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> str:
    folder = str(tmp_path_factory.mktemp("run"))
    config = Config(generator="resnet", n_blocks=1, image_size=32, ngf=8, ndf=8,
                    output_dir=folder, mixed_precision="float32")
    model = CycleGAN(config)
    save_config(config, folder)
    checkpoints.manager(model.checkpoint(), RunFolder(folder).checkpoints, keep=1).save()
    return folder


@pytest.fixture(scope="module")
def saved_models(run_dir, tmp_path_factory) -> str:
    """The run exported both ways: SAVED/a2b and SAVED/b2a."""
    return export.export_generator(run_dir, str(tmp_path_factory.mktemp("m") / "both"), "both")


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> str:
    """A folder of images of mixed sizes and formats, one corrupt file and one non-image."""
    folder = tmp_path_factory.mktemp("photos")
    for i, (name, size) in enumerate(SIZES.items()):
        write_image(str(folder / name), size, seed=i)
    (folder / "broken.png").write_bytes(b"\x89PNG but not really")
    (folder / "notes.txt").write_text("not an image, not listed")
    return str(folder)


def read_png(path: str) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_folder_of_mixed_sizes_with_a_corrupt_file(saved_models, photos, tmp_path):
    out = io.StringIO()
    output = str(tmp_path / "out")
    result = translate.translate_paths(os.path.join(saved_models, "a2b"), photos, output,
                                       batch_size=4, out=out)
    assert sorted(os.listdir(output)) == ["a.png", "b.png", "c.png", "d.png", "e.png"]
    for name, (width, height) in SIZES.items():
        stem = os.path.splitext(name)[0]
        assert read_png(os.path.join(output, stem + ".png")).shape == (height, width, 3)
    assert list(result.skipped) == [os.path.join(photos, "broken.png")]
    report = out.getvalue()
    assert f"Skipped {os.path.join(photos, 'broken.png')!r}" in report
    assert "Translated 5 of 6 images; skipped 1 unreadable: broken.png." in report
    assert re.search(r"broken\.png\. \d+\.\d s, \d+\.\d\d images/s\.", report), report


def test_equal_sizes_are_batched_and_outputs_keep_their_names(photos, tmp_path, monkeypatch):
    batches = []

    class Identity:
        background, description, max_pixels = (255, 255, 255), "identity", 10**9

        def __init__(self, path: str, direction: str | None, precision: str):
            del path, direction, precision

        def translate_batch(self, images: np.ndarray) -> np.ndarray:
            batches.append(images.shape)
            return images

    monkeypatch.setattr(translate, "Translator", Identity)
    translate.translate_paths("unused", photos, str(tmp_path), batch_size=4, out=io.StringIO())
    assert sorted(batches) == [(1, 3, 5, 3), (1, 20, 9, 3), (1, 32, 32, 3), (2, 37, 61, 3)]
    for name in SIZES:  # Each output holds its own input's pixels (up to JPEG decoders).
        expected = np.asarray(Image.open(os.path.join(photos, name)).convert("RGB")).astype(int)
        written = read_png(str(tmp_path / (os.path.splitext(name)[0] + ".png"))).astype(int)
        assert np.abs(written - expected).mean() < 2


def test_run_folder_translates_like_its_export(run_dir, saved_models, photos, tmp_path):
    for model, name in ((run_dir, "run"), (saved_models, "saved")):
        translate.translate_paths(model, photos, str(tmp_path / name), direction="b2a",
                                  batch_size=2, out=io.StringIO())
    for name in SIZES:
        png = os.path.splitext(name)[0] + ".png"
        from_run = read_png(str(tmp_path / "run" / png)).astype(int)
        from_export = read_png(str(tmp_path / "saved" / png)).astype(int)
        assert np.abs(from_run - from_export).max() <= 1


def test_precision_picks_the_signature_or_rebuilds_the_export(saved_models, photos):
    a2b = os.path.join(saved_models, "a2b")
    image = translate.read_image(os.path.join(photos, "a.png"))
    exact = translate.Translator(a2b, precision="float32")
    assert exact.description.endswith("(a2b, float32)") and exact.generator is None
    fast = translate.Translator(a2b, precision="bf16")  # The export itself is float32.
    assert "bf16, rebuilt from its float32 export" in fast.description
    assert fast.generator.compute_dtype == "bfloat16"
    difference = np.abs(fast(image).astype(int) - exact(image).astype(int))
    assert 0 < difference.max() <= 12 and difference.mean() < 2
    auto = translate.Translator(a2b)
    assert auto.precision == translate.inference_precision("auto")
    with pytest.raises(translate.TranslateError, match="--precision='fp8'"):
        translate.Translator(a2b, precision="fp8")


def test_side_by_side_and_panel(saved_models, photos, tmp_path):
    output = tmp_path / "out"
    result = translate.translate_paths(saved_models, photos, str(output), side_by_side=True,
                                       panel=3, out=io.StringIO())
    pair = read_png(str(output / translate.SIDE_BY_SIDE_DIR / "a.png"))
    assert pair.shape == (37, 2 * 61, 3)
    np.testing.assert_array_equal(pair[:, 61:], read_png(str(output / "a.png")))
    # Three pairs: two per row (ceil(sqrt(3 / 2))), two rows, square cells.
    cell = translate.PANEL_CELL
    assert result.panel == str(output / translate.PANEL_FILE)
    assert read_png(result.panel).shape == (2 * cell, 4 * cell, 3)


def test_single_file_and_clashing_stems(saved_models, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    write_image(str(photos / "x.png"), (8, 8))
    write_image(str(photos / "x.jpg"), (12, 8))
    result = translate.translate_paths(saved_models, str(photos), str(tmp_path / "out"),
                                       out=io.StringIO())
    assert sorted(os.path.basename(p) for p in result.outputs.values()) == ["x_jpg.png",
                                                                            "x_png.png"]
    result = translate.translate_paths(saved_models, str(photos / "x.jpg"),
                                       str(tmp_path / "one"), out=io.StringIO())
    assert read_png(result.outputs[str(photos / "x.jpg")]).shape == (8, 12, 3)


def test_errors_name_the_flag(run_dir, saved_models, photos, tmp_path):
    with pytest.raises(translate.TranslateError, match="--model"):
        translate.translate_paths(str(tmp_path), photos, str(tmp_path / "out"))
    with pytest.raises(translate.TranslateError, match="--input"):
        translate.translate_paths(run_dir, str(tmp_path / "missing"), str(tmp_path / "out"))
    with pytest.raises(translate.TranslateError, match="--output"):
        translate.translate_paths(run_dir, photos, photos)
    with pytest.raises(translate.TranslateError, match="translates a2b, not --direction=b2a"):
        translate.translate_paths(os.path.join(saved_models, "a2b"), photos,
                                  str(tmp_path / "out"), direction="b2a")


def test_command_line(saved_models, photos, tmp_path):
    output = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": REPO_ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "cyclegan_tf.translate", f"--model={saved_models}",
         f"--input={photos}", f"--output={output}", "--direction=b2a", "--panel=2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "broken.png" in done.stdout
    assert "Translated 5 of 6 images; skipped 1 unreadable: broken.png." in done.stdout
    assert sorted(os.listdir(output)) == ["a.png", "b.png", "c.png", "d.png", "e.png",
                                          "panel.png"]


def test_read_image_turns_exif_rotated_photos_upright_at_full_size(tmp_path):
    from fixtures import exif_rotated_jpeg

    path = str(tmp_path / "turned.jpg")
    upright = exif_rotated_jpeg(6)(path)
    image = translate.read_image(path)
    assert image.shape == upright.shape  # Upright size, not the stored (turned) one.
    assert np.abs(image.astype(int) - upright.astype(int)).mean() < 8  # JPEG noise only.


def test_serving_base_folder_uses_the_highest_version(saved_models, tmp_path):
    base = tmp_path / "models"
    for version in ("1", "10", "2"):
        shutil.copytree(os.path.join(saved_models, "a2b"), base / version)
    (base / "notes").mkdir()  # Not a version: ignored, as TF Serving does.
    translator = translate.Translator(str(base))
    assert translator.description.startswith(f"SavedModel {base / '10'} ")
    image = np.full((5, 7, 3), 128, np.uint8)
    assert translator(image).shape == (5, 7, 3)
    pil = translator(Image.fromarray(image).convert("RGBA"))
    assert isinstance(pil, Image.Image) and pil.size == (7, 5) and pil.mode == "RGB"
    with pytest.raises(translate.TranslateError, match="it holds: nothing"):
        translate.Translator(str(base / "notes"))
    with pytest.raises(translate.TranslateError, match="does not exist"):
        translate.Translator(str(base / "missing"))
