"""`python -m cyclegan_tf.export`: export a run's generator as a SavedModel, ONNX or LiteRT
model; see `--help`."""

from __future__ import annotations

from absl import flags

from cyclegan_tf.cli import app
from cyclegan_tf.core.configs import ConfigError
from cyclegan_tf.inference import portable
from cyclegan_tf.inference.export import export_generator
from cyclegan_tf.inference.generators import INFERENCE_PRECISIONS, ExportError
from cyclegan_tf.inference.serving import DEFAULT_MAX_PIXELS, SIGNATURES


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines the export flags."""
    flags.DEFINE_string("run_dir", "", "Training run folder (config.json, checkpoints/).",
                        flag_values=flag_values)
    flags.DEFINE_string("saved_model", "", "Instead of --run_dir: a SavedModel written by "
                        "this command, to convert to the portable --format values.",
                        flag_values=flag_values)
    flags.DEFINE_string("format", "savedmodel", "Comma-separated formats to write: "
                        f"{', '.join(portable.FORMATS)}. onnx: OUTPUT/generator.onnx (opset "
                        f"{portable.ONNX_OPSET}); tflite: OUTPUT/generator.tflite (LiteRT, "
                        "float32), tflite_float16 and tflite_int8 (half- and quarter-size "
                        "weights). The portable formats compute in float32 and map uint8 "
                        f"'{portable.INPUT_NAME}' to uint8 '{portable.OUTPUT_NAME}'.",
                        flag_values=flag_values)
    flags.DEFINE_string("output", None, "SavedModel folder to write; with --direction=both, "
                        "the folder that gets a2b/ and b2a/. For TF Serving, end it with a "
                        "version number, e.g. models/tom2jerry/1.", flag_values=flag_values)
    flags.DEFINE_enum("direction", "a2b", ["a2b", "b2a", "both"],
                      "a2b exports generator G (A to B), b2a generator F, both the two.",
                      flag_values=flag_values)
    flags.DEFINE_string("checkpoint", "", "Checkpoint prefix (e.g. RUN/checkpoints/ckpt-100) "
                        "or folder (e.g. RUN/best); default the run's newest that restores.",
                        flag_values=flag_values)
    flags.DEFINE_string("precision", "float32", f"What the generator computes in: "
                        f"{', '.join(INFERENCE_PRECISIONS)} (bf16 where the CPU has it). bf16 "
                        "is about 2x faster on CPUs with AVX512_BF16 or AMX, outputs within a "
                        "few pixel levels of float32's; inputs and outputs stay as documented.",
                        flag_values=flag_values)
    flags.DEFINE_integer("max_pixels", DEFAULT_MAX_PIXELS, "The most pixels (height x width) "
                         "of one image the SavedModel accepts; larger inputs are refused with "
                         "an error (a guard against decompression bombs).",
                         flag_values=flag_values)
    flags.mark_flags_as_required(["output"], flag_values=flag_values)


def export_from_flags(flag_values: flags.FlagValues = flags.FLAGS) -> str:
    """Runs the export the parsed flags describe, prints where it went and returns it."""
    v = flag_values
    try:
        formats = portable.parse_formats(v.format)
    except ValueError as error:
        raise ExportError(str(error)) from None
    output = export_generator(v.run_dir, v.output, v.direction, v.checkpoint, v.precision,
                              max_pixels=v.max_pixels, formats=formats,
                              saved_model=v.saved_model)
    written = ", ".join(f"SavedModel (signatures: {', '.join(SIGNATURES)})" if f == "savedmodel"
                        else portable.FILES[f] for f in formats)
    print(f"Exported {v.direction} from {v.run_dir or v.saved_model} to {output}: {written}.")
    return output


COMMAND = app.Command(
    program="cyclegan_tf.export",
    summary="Exports a trained generator as a self-contained SavedModel with three "
            "signatures (serving_default: uint8 images; translate_bytes: encoded images to "
            "PNG; translate_float: floats in [-1, 1]); any image size is accepted. "
            "OUTPUT/assets/ holds config.json and export.json. --format adds ONNX and "
            "LiteRT files (OUTPUT/generator.onnx, OUTPUT/generator.tflite, ...).",
    usage="(--run_dir RUN | --saved_model DIR) --output DIR [--format savedmodel,onnx,tflite] "
          "[--direction a2b|b2a|both] [--checkpoint PATH] [--precision float32|bf16|auto]",
    example="python -m cyclegan_tf.export --run_dir runs/tom2jerry --direction a2b "
            "--output models/tom2jerry/1",
    define_flags=define_flags,
)


def run() -> None:
    """Console entry point."""
    app.run_command(COMMAND, lambda: export_from_flags() and None, (ExportError, ConfigError))


if __name__ == "__main__":
    run()
