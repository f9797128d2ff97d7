"""Faults an unlucky or hostile user causes, each ending clean: a one-line error naming the
file or flag and what to do, or skip-and-name; nothing lost.

Every test here (and the older reliability tests marked `fault`) is one row of the fault
table that `python scripts/fault_table.py` prints: the marker gives the fault and what is
expected, `record_property("observed", ...)` what was seen.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pathlib
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT, tiny_config, write_images
from PIL import Image

from cyclegan_tf.core.checkpoints import CheckpointError, saved_checkpoints
from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.images import save_png
from cyclegan_tf.core.run_folder import RunFolder, RunFolderBusy
from cyclegan_tf.data.pipeline import DataError, UnpairedData, check_tfds_name, list_images
from cyclegan_tf.data.scan import decode_with_pillow, scan_images
from cyclegan_tf.inference import serving
from cyclegan_tf.inference.export import EXPORT_INFO, export_generator
from cyclegan_tf.inference.translate import (
    TranslateError,
    output_names,
    read_image,
    translate_paths,
)
from cyclegan_tf.nets.models import build_generator
from cyclegan_tf.training.loop import train

fault = pytest.mark.fault


def _data(tmp_path, count: int = 4) -> str:
    data = str(tmp_path / "data")
    write_images(os.path.join(data, "a"), count, size=(32, 32), seed=1)
    write_images(os.path.join(data, "b"), count, size=(32, 32), seed=2)
    return data


def _light(data: str, run: str = "", **overrides) -> Config:
    values = dict(generator="encoder_decoder", discriminator="patch_light", norm="none",
                  lambda_identity=0.0, ngf=4, ndf=4, epochs=1)
    values.update(overrides)
    return tiny_config(data, run, **values)


@fault("two trainers on one run folder", "the second stops, naming the PID and host")
def test_second_trainer_on_a_locked_run_folder_names_the_holder(tmp_path, record_property):
    run = str(tmp_path / "run")
    with RunFolder(run).locked():
        with pytest.raises(RunFolderBusy, match=f"in use by process {os.getpid()} on host "):
            train(_light(_data(tmp_path), run), out=io.StringIO())
    record_property("observed", f"RunFolderBusy: in use by process {os.getpid()}")
    assert train(_light(_data(tmp_path), run), out=io.StringIO()).finished  # Lock released.


@fault("an image vanishes or changes after the scan",
       "skipped for the rest of the run, named in the skip list; training goes on")
def test_vanished_and_broken_files_are_skipped_during_training(tmp_path, record_property):
    data = _data(tmp_path, count=6)
    run = str(tmp_path / "run")
    files = sorted(list_images(os.path.join(data, "a")))
    gone, broken = files[0], files[1]
    config = _light(data, run, epochs=2)

    def sabotage(progress):
        if progress.step >= 1 and os.path.exists(gone):
            os.remove(gone)
            stat = os.stat(broken)
            with open(broken, "r+b") as f:  # Same size and mtime, other bytes.
                f.write(b"\0" * stat.st_size)
            os.utime(broken, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    out = io.StringIO()
    result = train(config, out=out, callbacks=[sabotage])
    assert result.finished
    skipped = RunFolder(run).read_skipped()
    assert "vanished during training" in skipped[gone]
    assert "changed during training" in skipped[broken]
    assert f"Skipping {gone} for the rest of the run" in out.getvalue()
    record_property("observed", f"finished; skip list: {len(skipped)} files with reasons")


@fault("disk full during a checkpoint save",
       "error naming the space a checkpoint needs; previous checkpoint kept; no _temp folder")
def test_disk_full_during_a_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch,
                                                              record_property):
    run = str(tmp_path / "run")
    config = _light(_data(tmp_path), run, epochs=3, save_every_epochs=1)
    original = tf.train.CheckpointManager.save
    calls = []

    def full_disk(self, checkpoint_number=None, **kwargs):
        calls.append(checkpoint_number)
        if len(calls) == 1:
            return original(self, checkpoint_number=checkpoint_number, **kwargs)
        os.makedirs(os.path.join(self.directory, f"ckpt-{checkpoint_number}_temp"))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full_disk)
    with pytest.raises(CheckpointError, match=r"No space left on device\. A checkpoint needs "
                                              r"about \d+ MB .* MB free\. Nothing was lost"):
        train(config, out=io.StringIO())
    directory = os.path.join(run, "checkpoints")
    assert saved_checkpoints(directory) == [os.path.join(directory, f"ckpt-{calls[0]}")]
    assert not [name for name in os.listdir(directory) if name.endswith("_temp")]
    monkeypatch.setattr(tf.train.CheckpointManager, "save", original)
    out = io.StringIO()
    assert train(config, out=out).finished
    assert f"Resuming from {os.path.join(directory, f'ckpt-{calls[0]}')}" in out.getvalue()
    record_property("observed", "CheckpointError with sizes; resumed from the earlier one")


@fault("--tfds with an unknown name or config", "error listing the valid cycle_gan/* configs")
@pytest.mark.parametrize("name", ["cycle_gan/horse2zebraa", "mnist", "cycle_gan"])
def test_unknown_tfds_name_lists_the_configs(name, record_property):
    with pytest.raises(DataError, match=r"is not a TFDS CycleGAN dataset; use one of "
                                        r"cycle_gan/apple2orange, .*cycle_gan/horse2zebra"):
        check_tfds_name(name)
    check_tfds_name("cycle_gan/horse2zebra:3.0.0")  # A version is fine.
    record_property("observed", "DataError listing the 10 cycle_gan configs")


@fault("the same folder for both domains, or one inside the other", "refused at start")
@pytest.mark.parametrize("domain_b, message", [("a", "name the same folder"),
                                               ("a/inner", "--domain_b is inside --domain_a")])
def test_overlapping_domain_folders_are_refused(tmp_path, domain_b, message, record_property):
    data = _data(tmp_path)
    write_images(os.path.join(data, "a", "inner"), 2, size=(32, 32), seed=3)
    with pytest.raises(DataError, match=message):
        UnpairedData(_light(data).replace(domain_b=domain_b))
    record_property("observed", f"DataError: {message}")


@fault("file names with newlines or undecodable bytes",
       "skip list survives any name (JSON lines); messages show names escaped")
def test_skip_list_survives_any_file_name(tmp_path, record_property):
    folder = tmp_path / "a"
    folder.mkdir()
    names = [b"new\nline.png", b"caf\xe9.png"]  # The second is not UTF-8.
    paths = []
    for name in names:
        path = os.path.join(os.fsencode(str(folder)), name)
        with open(path, "wb") as f:
            f.write(b"not an image")
        paths.append(os.fsdecode(path))
    scan = scan_images(paths)
    run = RunFolder(str(tmp_path / "run"))
    os.makedirs(run.root)
    run.write_skipped(scan.skipped)
    assert run.read_skipped() == scan.skipped
    assert sorted(os.path.basename(os.fsencode(p)) for p in run.read_skipped()) == sorted(names)
    summary = scan.summary(run.skipped_files)
    assert "new\\nline.png" in summary and "caf\\xe9.png" in summary
    assert len(summary.splitlines()) == 4  # A header, a title and one line per file.
    record_property("observed", "round-trips through skipped_files.jsonl; names escaped")


def _rgb16_tiff(path: str, pixels: np.ndarray) -> None:
    """An uncompressed 16-bit RGB TIFF (Pillow cannot write one)."""
    height, width, _ = pixels.shape
    data = pixels.astype("<u2").tobytes()
    bits_offset = 8 + 2 + 12 * 10 + 4
    data_offset = bits_offset + 6
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 3, bits_offset),
               (259, 3, 1, 1), (262, 3, 1, 2), (273, 4, 1, data_offset), (277, 3, 1, 3),
               (278, 3, 1, height), (279, 4, 1, len(data)), (284, 3, 1, 1)]
    blob = b"II*\0" + struct.pack("<IH", 8, len(entries))
    for tag, kind, count, value in entries:
        blob += (struct.pack("<HHIHH", tag, kind, count, value, 0) if kind == 3 and count == 1
                 else struct.pack("<HHII", tag, kind, count, value))
    blob += struct.pack("<I", 0) + struct.pack("<3H", 16, 16, 16) + data
    with open(path, "wb") as f:
        f.write(blob)


@fault("WebP and TIFF (8- and 16-bit) images", "read, 16-bit scaled to 8 bits; others named")
def test_webp_and_tiff_are_read_and_16_bit_is_scaled(tmp_path, record_property):
    folder = tmp_path / "a"
    folder.mkdir()
    rgb = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(folder / "photo.webp", lossless=True)
    Image.fromarray(rgb).save(folder / "photo8.tif")
    gray16 = np.full((12, 10), 40000, np.uint16)
    Image.fromarray(gray16).save(folder / "gray16.tif")
    rgb16 = (rgb.astype(np.uint16) * 257)
    _rgb16_tiff(str(folder / "rgb16.tiff"), rgb16)
    (folder / "phone.heic").write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 32)
    paths = list_images(str(folder))
    scan = scan_images(paths)
    assert scan.skipped == {str(folder / "phone.heic"): "HEIC is not a supported format; "
                                                        "convert it to PNG or JPEG"}
    for name in ("photo.webp", "photo8.tif", "rgb16.tiff"):
        np.testing.assert_array_equal(decode_with_pillow(str(folder / name), 8), rgb)
    assert (decode_with_pillow(str(folder / "gray16.tif"), 8) == 40000 >> 8).all()
    record_property("observed", "WebP, TIFF 8/16-bit decoded exactly; HEIC skipped by name")


@fault("export from a run whose latest checkpoint is damaged",
       "falls back to the newest valid one and says which")
def test_export_falls_back_past_a_damaged_checkpoint(tmp_path, record_property):
    run = str(tmp_path / "run")
    train(_light(_data(tmp_path), run, epochs=2, save_every_epochs=1), out=io.StringIO())
    newest, previous = saved_checkpoints(os.path.join(run, "checkpoints"))[:2]
    with open(newest + ".data-00000-of-00001", "r+b") as f:
        f.truncate(10)
    out = io.StringIO()
    model = export_generator(run, str(tmp_path / "model"), out=out)
    assert f"Using {previous}, the newest checkpoint that restores." in out.getvalue()
    with open(os.path.join(model, "assets", EXPORT_INFO)) as f:
        assert json.load(f)["checkpoint"] == previous
    record_property("observed", f"exported {os.path.basename(previous)}, said so")


@fault("translate: cat.jpg and cat.png in one folder; a symlink in --output",
       "distinct documented names; links replaced or refused, never followed")
def test_translate_names_never_collide_and_links_are_not_followed(tmp_path, record_property):
    names = output_names(["in/cat.jpg", "in/cat.png", "in/cat_png.png", "in/Dog.png",
                          "in/dog.jpg"])
    assert len({n.lower() for n in names.values()}) == 5
    assert names["in/cat.jpg"] == "cat_jpg.png" and names["in/cat_png.png"] == "cat_png_2.png"
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"precious")
    output = tmp_path / "out"
    output.mkdir()
    os.symlink(outside, output / "cat.png")
    save_png(np.zeros((2, 2, 3), np.uint8), str(output / "cat.png"))
    assert outside.read_bytes() == b"precious" and not os.path.islink(output / "cat.png")
    os.symlink(tmp_path, output / "side_by_side")
    write_images(str(tmp_path / "in"), 1)
    with pytest.raises(TranslateError, match="is a symbolic link"):
        translate_paths(str(tmp_path / "no_model"), str(tmp_path / "in"), str(output),
                        side_by_side=True)
    record_property("observed", "5 distinct names; the link was replaced, the target kept")


def _png_bomb(width: int, height: int) -> bytes:
    """A PNG that declares width x height but holds no pixel data: a bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


@fault("decompression bomb: a small PNG declaring 12000x12000",
       "refused before decoding by the SavedModel and the CLI, limit settable at export")
def test_decompression_bombs_are_refused_before_decoding(tmp_path, record_property):
    bomb = _png_bomb(12000, 12000)
    assert int(serving.encoded_pixels(tf.constant(bomb))) == 144_000_000
    for fmt, size in (("PNG", (7, 5)), ("JPEG", (9, 4)), ("GIF", (3, 8)), ("BMP", (6, 2))):
        buffer = io.BytesIO()
        Image.new("RGB", size).save(buffer, fmt)
        assert int(serving.encoded_pixels(tf.constant(buffer.getvalue()))) == size[0] * size[1]
    generator = build_generator(Config(generator="resnet", n_blocks=1, ngf=4, image_size=32),
                                "g")
    rule = serving.SizeRule(4, 8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="more pixels .* limit of 16777216"):
        serving.translate_encoded_images(generator, tf.constant([bomb]), rule)
    with pytest.raises(tf.errors.InvalidArgumentError, match="limit of 20"):
        serving.translate_uint8_images(generator, tf.zeros([1, 5, 5, 3], tf.uint8), rule,
                                       max_pixels=20)
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    with pytest.raises(OSError, match="12000x12000 is 144000000 pixels, more than"):
        read_image(str(path))
    record_property("observed", "InvalidArgumentError in the graph, OSError (skip) in the CLI")


@fault("a SavedModel is code", "the README says so where it documents --model")
def test_readme_warns_that_a_saved_model_is_code(record_property):
    readme = (pathlib.Path(REPO_ROOT) / "README.md").read_text()
    section = readme[readme.index("### Translate a folder of images"):]
    assert "**A SavedModel is code.**" in section.split("\n## ")[0]
    record_property("observed", "README: Translate section")
