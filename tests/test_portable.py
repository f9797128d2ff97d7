"""ONNX and LiteRT exports (`--format`): the same pixels as the SavedModel in the real
runtimes (onnxruntime, the LiteRT interpreter) at every size, and the same metadata.

Each generator type is trained for a few steps at 32 px (ngf 8), so its weights are not
the initialiser's, exported once in every format, and compared at sizes that need no
padding, some, and more than one reflection provides (1x1), at batch 1 and 3.
"""

from __future__ import annotations

import functools
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from cyclegan_tf.core import checkpoints
from cyclegan_tf.core.configs import Config, save_config
from cyclegan_tf.core.run_folder import RunFolder
from cyclegan_tf.inference import export, portable
from cyclegan_tf.inference.generators import ExportError
from cyclegan_tf.training.trainer import CycleGAN

ort = pytest.importorskip("onnxruntime")
litert = pytest.importorskip("ai_edge_litert.interpreter")

SIZES = [(1, 1), (5, 7), (37, 61), (200, 300), (256, 256)]
GENERATORS = ("unet", "resnet", "encoder_decoder")


def trained_run(folder: str, generator: str) -> str:
    """A run folder whose checkpoint holds networks trained for three steps."""
    config = Config(image_size=32, ngf=8, ndf=8, n_blocks=1, generator=generator, lr=1e-2,
                    pool_size=0, output_dir=folder, mixed_precision="float32")
    model = CycleGAN(config, steps_per_epoch=3)
    images = tf.random.stateless_uniform([1, 32, 32, 3], [3, 4], -1.0, 1.0)
    for _ in range(3):
        model.train_step(images, tf.reverse(images, [2]))
    save_config(config, folder)
    checkpoints.manager(model.checkpoint(), RunFolder(folder).checkpoints, keep=1).save()
    return folder


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, str]:
    """Each generator type exported in every format (the quantised ones for the ResNet)."""
    root = tmp_path_factory.mktemp("portable")
    folders = {}
    for generator in GENERATORS:
        formats = portable.FORMATS if generator == "resnet" else ("savedmodel", "onnx", "tflite")
        run = trained_run(str(root / f"run_{generator}"), generator)
        folders[generator] = export.export_generator(run, str(root / generator), formats=formats)
    return folders


def images(height: int, width: int, batch: int) -> np.ndarray:
    return np.random.default_rng(height * width + batch).integers(
        0, 256, (batch, height, width, 3), dtype=np.uint8)


@functools.lru_cache(maxsize=None)
def _saved_model(folder: str):
    return tf.saved_model.load(folder)


@functools.lru_cache(maxsize=None)
def _onnx_session(folder: str):
    return ort.InferenceSession(os.path.join(folder, portable.FILES["onnx"]),
                                providers=["CPUExecutionProvider"])


def saved_model_output(folder: str, x: np.ndarray) -> np.ndarray:
    serve = _saved_model(folder).signatures["serving_default"]
    return serve(images=tf.constant(x))["images"].numpy()


def onnx_output(folder: str, x: np.ndarray) -> np.ndarray:
    return _onnx_session(folder).run([portable.OUTPUT_NAME], {portable.INPUT_NAME: x})[0]


def tflite_output(folder: str, x: np.ndarray, fmt: str = "tflite") -> np.ndarray:
    interpreter = litert.Interpreter(model_path=os.path.join(folder, portable.FILES[fmt]))
    runner = interpreter.get_signature_runner(portable.SIGNATURE)
    return runner(**{portable.INPUT_NAME: x})[portable.OUTPUT_NAME]


def largest_difference(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.mark.parametrize("generator", GENERATORS)
@pytest.mark.parametrize("runtime", ["onnx", "tflite"])
def test_float32_exports_match_the_saved_model_within_one_level(exported, generator, runtime):
    folder = exported[generator]
    run = onnx_output if runtime == "onnx" else tflite_output
    differences = {}
    for height, width in SIZES:
        for batch in (1, 3):
            x = images(height, width, batch)
            differences[height, width, batch] = largest_difference(
                run(folder, x), saved_model_output(folder, x))
    assert max(differences.values()) <= 1, differences


def test_quantised_litert_exports_stay_close(exported):
    x = images(37, 61, 3)
    reference = saved_model_output(exported["resnet"], x)
    for fmt, bound in (("tflite_float16", 4), ("tflite_int8", 40)):
        difference = largest_difference(tflite_output(exported["resnet"], x, fmt), reference)
        assert difference <= bound, (fmt, difference)
    sizes = {f: os.path.getsize(os.path.join(exported["resnet"], portable.FILES[f]))
             for f in ("tflite", "tflite_float16", "tflite_int8")}
    assert sizes["tflite_int8"] < sizes["tflite_float16"] < sizes["tflite"]


def test_names_and_metadata_describe_every_format(exported):
    import onnx

    folder = exported["resnet"]
    info = json.load(open(os.path.join(folder, export.EXPORT_INFO)))
    assert set(info["formats"]) == set(portable.PORTABLE_FORMATS)
    assert info["precision"] == "float32" and info["direction"] == "a2b" and info["step"] == 3
    for fmt, entry in info["formats"].items():
        assert entry["bytes"] == os.path.getsize(os.path.join(folder, entry["file"]))
    model = onnx.load(os.path.join(folder, portable.FILES["onnx"]))
    assert model.opset_import[0].version >= 17
    assert [i.name for i in model.graph.input] == [portable.INPUT_NAME]
    assert [o.name for o in model.graph.output] == [portable.OUTPUT_NAME]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.HasField("dim_value") for d in dims] == [False, False, False, True]
    embedded = json.loads({p.key: p.value for p in model.metadata_props}["export.json"])
    assert embedded["format"] == "onnx" and embedded["checkpoint"] == info["checkpoint"]
    saved_info = json.load(open(os.path.join(folder, "assets", export.EXPORT_INFO)))
    assert saved_info["format"] == "savedmodel" and saved_info["step"] == 3
    interpreter = litert.Interpreter(model_path=os.path.join(folder, portable.FILES["tflite"]))
    assert interpreter.get_signature_list() == {
        portable.SIGNATURE: {"inputs": [portable.INPUT_NAME], "outputs": [portable.OUTPUT_NAME]}}


def test_an_existing_saved_model_converts_to_the_same_pixels(exported, tmp_path):
    source = exported["unet"]
    converted = export.export_generator("", str(tmp_path / "onnx"), formats=("onnx",),
                                        saved_model=source)
    assert sorted(os.listdir(converted)) == ["config.json", export.EXPORT_INFO,
                                             portable.FILES["onnx"]]
    x = images(37, 61, 1)
    assert largest_difference(onnx_output(converted, x), saved_model_output(source, x)) <= 1


def test_bad_formats_and_sources_are_refused(exported, tmp_path):
    with pytest.raises(ValueError, match="onnx2"):
        portable.parse_formats("savedmodel,onnx2")
    with pytest.raises(ExportError, match="exactly one of --run_dir"):
        export.export_generator("", str(tmp_path / "x"), formats=("onnx",))
    with pytest.raises(ExportError, match="already a SavedModel"):
        export.export_generator("", str(tmp_path / "x"), saved_model=exported["unet"])
    with pytest.raises(ExportError, match="not a cyclegan_tf SavedModel"):
        export.export_generator("", str(tmp_path / "x"), formats=("onnx",),
                                saved_model=str(tmp_path))
