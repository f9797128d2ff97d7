"""Tests of `cyclegan_tf.export`: SavedModels that match the in-memory generators, load and
run without our package, work under `saved_model_cli`, reject bad inputs and are written
atomically.

Runs are tiny (32 px, ngf 8) and untrained: a checkpoint of freshly initialised networks is
all an export needs.
"""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from PIL import Image

from cyclegan_tf import export as export_cli
from cyclegan_tf.inference import export, serving
from cyclegan_tf.inference.generators import ExportError
from cyclegan_tf.core.configs import Config, load_config, save_config
from cyclegan_tf.core.run_folder import RunFolder
from cyclegan_tf.core import checkpoints
from cyclegan_tf.training.trainer import CycleGAN

ODD = (37, 61)  # Height, width: a multiple of neither 4 nor 32.


def make_run(folder: str, **overrides) -> str:
    """A run folder with config.json and two checkpoints (steps 7 and 9, the latest)."""
    config = Config(image_size=32, ngf=8, ndf=8, n_blocks=1, output_dir=folder,
                    **{"mixed_precision": "float32", **overrides})
    model = CycleGAN(config)
    save_config(config, folder)
    manager = checkpoints.manager(model.checkpoint(), RunFolder(folder).checkpoints, keep=3)
    for step in (7, 9):
        model.step.assign(step)
        manager.save(checkpoint_number=step)
    return folder


@functools.lru_cache(maxsize=None)
def reference_model(run_dir: str) -> CycleGAN:
    """The run's latest networks in memory, restored as the trainer does (in float32)."""
    config = load_config(run_dir).replace(mixed_precision="off")
    model = CycleGAN(config)
    model.checkpoint().restore(tf.train.latest_checkpoint(RunFolder(run_dir).checkpoints))
    return model


def reference_translate(run_dir: str, images: np.ndarray, direction: str) -> np.ndarray:
    """What the in-memory generator of `direction` makes of `images`."""
    return reference_model(run_dir).translate(tf.constant(images), direction).numpy()


def random_images(height: int, width: int, count: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (count, height, width, 3)).astype("float32")


def encode(image: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("runs")
    return {name: make_run(str(root / name), generator=name) for name in ("unet", "resnet")}


@pytest.fixture(scope="module")
def exports(runs, tmp_path_factory) -> dict[str, str]:
    """The UNet run exported both ways (unet/a2b, unet/b2a), the ResNet run a2b only."""
    root = tmp_path_factory.mktemp("exports")
    return {
        "unet": export.export_generator(runs["unet"], str(root / "unet"), "both"),
        "resnet": export.export_generator(runs["resnet"], str(root / "resnet"), "a2b"),
    }


def model_dir(exports: dict[str, str], generator: str, direction: str = "a2b") -> str:
    base = exports[generator]
    return os.path.join(base, direction) if generator == "unet" else base


# Helpers of the signatures. ------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 5, 9])
@pytest.mark.parametrize("pad", [(0, 0), (1, 2), (3, 3), (13, 14)])
def test_mirror_indices_match_numpy_reflect(size, pad):
    values = np.arange(size)
    expected = np.pad(values, pad, mode="reflect") if size > 1 else np.zeros(size + sum(pad))
    indices = serving._mirror_indices(tf.constant(size), tf.constant(pad[0]), tf.constant(pad[1]))
    np.testing.assert_array_equal(values[indices.numpy()], expected)


def test_size_rule():
    assert serving.size_rule(Config(generator="unet", image_size=128)) == (128, 128)
    assert serving.size_rule(Config(generator="resnet")) == (4, 8)
    assert serving.size_rule(Config(generator="encoder_decoder")) == (4, 4)


# The exported model. -------------------------------------------------------------------


@pytest.mark.parametrize("generator,direction",
                         [("unet", "a2b"), ("unet", "b2a"), ("resnet", "a2b")])
def test_export_matches_in_memory_generator(runs, exports, generator, direction):
    loaded = tf.saved_model.load(model_dir(exports, generator, direction))
    square = random_images(32, 32)
    exported = loaded.signatures["translate_float"](images=tf.constant(square))["images"]
    np.testing.assert_allclose(exported, reference_translate(runs[generator], square, direction),
                               atol=1e-5)

    # Odd sizes: reflect-padded to the generator's multiple, then cropped back.
    odd = random_images(*ODD, seed=1)
    multiple = 32 if generator == "unet" else 4
    pads = [(0, 0)] + [((-n % multiple) // 2, -n % multiple - (-n % multiple) // 2) for n in ODD]
    padded = np.pad(odd, pads + [(0, 0)], mode="reflect")
    expected = reference_translate(runs[generator], padded, direction)
    expected = expected[:, pads[1][0]:pads[1][0] + ODD[0], pads[2][0]:pads[2][0] + ODD[1]]
    exported = loaded.signatures["translate_float"](images=tf.constant(odd))["images"]
    np.testing.assert_allclose(exported, expected, atol=1e-5)

    for shape in ((1, *ODD, 3), (2, 1, 1, 3), (1, 3, 5, 3)):  # Tiny ones too.
        pixels = np.zeros(shape, np.uint8)
        served = loaded.signatures["serving_default"](images=tf.constant(pixels))["images"]
        assert served.dtype == tf.uint8 and served.shape == shape


def test_export_records_config_direction_and_step(runs, exports):
    for direction in ("a2b", "b2a"):
        folder = model_dir(exports, "unet", direction)
        with open(os.path.join(folder, "assets", export.EXPORT_INFO)) as f:
            info = json.load(f)
        assert info["direction"] == direction
        assert info["step"] == 9
        assert info["checkpoint"].endswith("ckpt-9")
        assert load_config(folder) == load_config(runs["unet"])


@pytest.mark.fault("bad SavedModel input (rank, channels, empty, dtype, bytes)", "InvalidArgumentError saying what is expected")
def test_signatures_reject_bad_inputs(exports):
    loaded = tf.saved_model.load(model_dir(exports, "resnet"))
    serve = loaded.signatures["serving_default"]
    bad = {
        "not compatible": [np.zeros((1, 8, 8, 4), np.uint8),  # RGBA
                           np.zeros((8, 8, 3), np.uint8)],  # no batch axis
        "at least one image of at least 1x1": [np.zeros((1, 0, 8, 3), np.uint8),
                                               np.zeros((0, 8, 8, 3), np.uint8)],
        "expected to be a uint8": [np.zeros((1, 8, 8, 3), np.float32)],
    }
    for message, inputs in bad.items():
        for images in inputs:
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                serve(images=tf.constant(images))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        loaded.signatures["translate_bytes"](image_bytes=tf.constant([b"not an image"]))


_FRESH_PROCESS_SCRIPT = textwrap.dedent("""
    import io, json, sys
    sys.modules["cyclegan_tf"] = None  # Even an installed package must not be needed.
    try:
        import cyclegan_tf
        importable = True
    except ImportError:
        importable = False
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    model = tf.saved_model.load(sys.argv[1])
    images = np.random.default_rng(0).integers(0, 256, (2, 37, 61, 3), dtype=np.uint8)
    served = model.signatures["serving_default"](images=tf.constant(images))["images"]
    floats = model.signatures["translate_float"](
        images=tf.constant(images / 127.5 - 1, tf.float32))["images"]
    encoded = []
    for fmt, (h, w) in (("PNG", (37, 61)), ("JPEG", (20, 9))):
        buffer = io.BytesIO()
        Image.fromarray(images[0, :h, :w]).save(buffer, fmt)
        encoded.append(buffer.getvalue())
    pngs = model.signatures["translate_bytes"](image_bytes=tf.constant(encoded))["png_bytes"]
    print(json.dumps({
        "importable": importable,
        "serving_default": [served.dtype.name, served.shape.as_list()],
        "translate_float": [floats.dtype.name, floats.shape.as_list()],
        "translate_bytes": [[Image.open(io.BytesIO(p)).format, Image.open(io.BytesIO(p)).size]
                            for p in pngs.numpy()],
    }))
""")


def clean_env() -> dict[str, str]:
    """The environment without PYTHONPATH, so that only installed packages import."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def test_saved_model_loads_without_cyclegan_tf(exports, tmp_path):
    script = tmp_path / "load.py"
    script.write_text(_FRESH_PROCESS_SCRIPT)
    done = subprocess.run([sys.executable, str(script), model_dir(exports, "unet")],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["importable"] is False
    assert result["serving_default"] == ["uint8", [2, *ODD, 3]]
    assert result["translate_float"] == ["float32", [2, *ODD, 3]]
    assert result["translate_bytes"] == [["PNG", [61, 37]], ["PNG", [9, 20]]]


_SAVED_MODEL_CLI_SCRIPT = textwrap.dedent("""
    # Runs saved_model_cli's own entry point once per command line, in one process to pay
    # TensorFlow's start-up once; `run` loads the model in a TF1 graph session, as TF Serving.
    import sys
    from tensorflow.python.tools import saved_model_cli

    for command in sys.argv[1].split(";"):
        sys.argv = ["saved_model_cli"] + command.split()
        print("$ saved_model_cli", command, flush=True)
        try:
            saved_model_cli.main()
        except SystemExit as exit:
            if exit.code:
                raise
""")


def test_saved_model_cli_shows_and_runs_every_signature(exports, tmp_path):
    folder = model_dir(exports, "resnet")
    pixels = np.random.default_rng(0).integers(0, 256, (1, *ODD, 3), dtype=np.uint8)
    inputs = {
        "serving_default": ("images", pixels),
        "translate_float": ("images", (pixels / 127.5 - 1).astype(np.float32)),
        "translate_bytes": ("image_bytes", np.array([encode(pixels[0], "PNG")], dtype=object)),
    }
    commands = [f"show --all --dir {folder}"]
    for signature, (key, value) in inputs.items():
        np.save(tmp_path / f"{signature}.npy", value)
        commands.append(f"run --dir {folder} --tag_set serve --signature_def {signature} "
                        f"--inputs {key}={tmp_path / signature}.npy "
                        f"--outdir {tmp_path / signature} --overwrite")
    script = tmp_path / "cli.py"
    script.write_text(_SAVED_MODEL_CLI_SCRIPT)
    done = subprocess.run([sys.executable, str(script), ";".join(commands)], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    for name in export.SIGNATURES:
        assert f"signature_def['{name}']" in done.stdout
    for tensor in ("inputs['images']", "outputs['images']", "inputs['image_bytes']",
                   "outputs['png_bytes']"):
        assert tensor in done.stdout
    served = np.load(tmp_path / "serving_default" / "images.npy")
    assert served.shape == (1, *ODD, 3) and served.dtype == np.uint8
    floats = np.load(tmp_path / "translate_float" / "images.npy")
    assert floats.shape == (1, *ODD, 3) and floats.dtype == np.float32
    png = np.load(tmp_path / "translate_bytes" / "png_bytes.npy", allow_pickle=True)[0]
    assert Image.open(io.BytesIO(png)).size == (ODD[1], ODD[0])


# Export itself. ------------------------------------------------------------------------


def test_mixed_precision_run_exports_in_float32(tmp_path):
    run = make_run(str(tmp_path / "bf16"), generator="resnet", mixed_precision="bf16")
    folder = export.export_generator(run, str(tmp_path / "model"))
    images = random_images(16, 16)
    exported = tf.saved_model.load(folder).signatures["translate_float"](
        images=tf.constant(images))["images"]
    assert exported.dtype == tf.float32
    np.testing.assert_allclose(exported, reference_translate(run, images, "a2b"), atol=1e-5)


@pytest.mark.parametrize("generator", ["unet", "resnet"])
def test_bfloat16_export_is_close_to_float32(runs, exports, generator, tmp_path):
    folder = export.export_generator(runs[generator], str(tmp_path / "bf16"), compute="bf16")
    info = json.loads(open(os.path.join(folder, "assets", export.EXPORT_INFO)).read())
    assert info["precision"] == "bf16"
    images = (random_images(*ODD, count=1) * 127.5 + 127.5).astype(np.uint8)
    outputs = [tf.saved_model.load(path).signatures["serving_default"](
        images=tf.constant(images))["images"].numpy().astype(int)
        for path in (model_dir(exports, generator), folder)]
    assert outputs[1].shape == images.shape
    difference = np.abs(outputs[1] - outputs[0])
    assert difference.max() <= 4 and difference.mean() < 0.5, (difference.max(), difference.mean())
    with pytest.raises(ExportError, match="--precision"):
        export.export_generator(runs[generator], str(tmp_path / "x"), compute="float16")


def test_export_cli_flags_replace_an_earlier_export(runs, exports, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(model_dir(exports, "resnet"), target)  # An earlier a2b export.
    flag_values = flags.FlagValues()
    export_cli.define_flags(flag_values)
    checkpoint = os.path.join(RunFolder(runs["resnet"]).checkpoints, "ckpt-7")
    flag_values(["export", f"--run_dir={runs['resnet']}", f"--output={target}",
                 "--direction=b2a", f"--checkpoint={checkpoint}"])
    assert export_cli.export_from_flags(flag_values) == str(target)
    info = json.loads((target / "assets" / export.EXPORT_INFO).read_text())
    assert (info["direction"], info["step"], info["generator"]) == ("b2a", 7, "generator_f")
    assert os.listdir(tmp_path) == ["model"]  # No temporary or set-aside folders left.


def test_export_errors_name_the_problem(runs, tmp_path):
    with pytest.raises(ExportError, match="--direction"):
        export.export_generator(runs["unet"], str(tmp_path / "m"), "sideways")
    with pytest.raises(ExportError, match="holds no config.json"):
        export.export_generator(str(tmp_path), str(tmp_path / "m"))
    with pytest.raises(ExportError, match="--checkpoint"):
        export.export_generator(runs["unet"], str(tmp_path / "m"), checkpoint="nope/ckpt-1")
    unrelated = tmp_path / "photos"
    unrelated.mkdir()
    (unrelated / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(ExportError, match="not an earlier export"):
        export.export_generator(runs["unet"], str(unrelated))
    assert (unrelated / "holiday.jpg").read_bytes() == b"precious"


def test_interrupted_export_leaves_no_partial_model(runs, exports, tmp_path, monkeypatch):
    def write_half_then_fail(generator, config, directory, info, max_pixels):
        os.makedirs(os.path.join(directory, "variables"), exist_ok=True)
        with open(os.path.join(directory, export.SAVED_MODEL_FILE), "wb") as f:
            f.write(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "write_saved_model", write_half_then_fail)
    target = tmp_path / "model"
    with pytest.raises(KeyboardInterrupt):
        export.export_generator(runs["resnet"], str(target))
    assert os.listdir(tmp_path) == []  # Neither a model nor its temporary folder.

    shutil.copytree(model_dir(exports, "resnet"), target)  # An earlier, complete export.
    before = (target / export.SAVED_MODEL_FILE).read_bytes()
    with pytest.raises(KeyboardInterrupt):
        export.export_generator(runs["resnet"], str(target), "both")
    assert (target / export.SAVED_MODEL_FILE).read_bytes() == before
    assert os.listdir(tmp_path) == ["model"]
