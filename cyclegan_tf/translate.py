"""`python -m cyclegan_tf.translate`: translate image files; see `--help`."""

from __future__ import annotations

from absl import flags

from cyclegan_tf.cli import app
from cyclegan_tf.core.configs import ConfigError
from cyclegan_tf.inference.generators import DIRECTIONS, INFERENCE_PRECISIONS, ExportError
from cyclegan_tf.inference.tiling import TILE_STATISTICS
from cyclegan_tf.inference.translate import (
    TileOptions,
    TranslateError,
    TranslateResult,
    translate_paths,
)


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines the translation flags."""
    flags.DEFINE_string("model", None, "SavedModel folder from cyclegan_tf.export, a TF "
                        "Serving base folder (its highest numbered version is used), or a "
                        "training run folder (its newest checkpoint).", flag_values=flag_values)
    flags.DEFINE_string("input", None, "An image file, or a folder of images.",
                        flag_values=flag_values)
    flags.DEFINE_string("output", None, "Folder for the translated PNGs (<stem>.png).",
                        flag_values=flag_values)
    flags.DEFINE_enum("direction", None, list(DIRECTIONS),
                      "a2b or b2a; default the export's own direction, a2b for a run folder.",
                      flag_values=flag_values)
    flags.DEFINE_bool("side_by_side", False, "Also write input|output pairs to "
                      "OUTPUT/side_by_side/.", flag_values=flag_values)
    flags.DEFINE_integer("panel", 0, "Write one grid of the first N input/output pairs to "
                         "OUTPUT/panel.png; 0 is off.", lower_bound=0, flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 8, "Most images of one size translated together.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("tile", 0, "Translate images larger than TILE x TILE pixels tile by "
                         "tile, blended without seams, in memory that does not grow with the "
                         "image (e.g. 512); 0 translates whole images.", lower_bound=0,
                         flag_values=flag_values)
    flags.DEFINE_integer("overlap", 64, "With --tile: the least overlap of neighbouring "
                         "tiles, blended with a smooth window.", lower_bound=0,
                         flag_values=flag_values)
    flags.DEFINE_enum("tile_statistics", "image", list(TILE_STATISTICS), "With --tile: "
                      "normalise every tile by the whole image's statistics (image: measured "
                      "on a downscaled pass; keeps tones even across tiles) or by its own "
                      "(tile).", flag_values=flag_values)
    app.define_precision_flag(
        "precision", "auto", INFERENCE_PRECISIONS, "What the generator computes in: auto is "
        "bf16 on a CPU with native bfloat16 (AVX512_BF16 or AMX; 2-4x faster, pixels within a "
        "few levels) and float32 elsewhere. A SavedModel exported in the other precision is "
        "rebuilt in memory.", flag_values=flag_values)
    flags.mark_flags_as_required(["model", "input", "output"], flag_values=flag_values)


def translate_from_flags(flag_values: flags.FlagValues = flags.FLAGS) -> TranslateResult:
    """Runs the translation the parsed flags describe."""
    v = flag_values
    return translate_paths(v.model, v.input, v.output, v.direction, v.side_by_side, v.panel,
                           v.batch_size, tiles=TileOptions(v.tile, v.overlap, v.tile_statistics),
                           precision=v.precision)


COMMAND = app.Command(
    program="cyclegan_tf.translate",
    summary="Translates an image file or a folder of images (JPEG, PNG, BMP, GIF) with an "
            "exported SavedModel or straight from a run folder. Each image keeps its size "
            "and is written as OUTPUT/<stem>.png (<stem>_<ext>.png when two inputs share a "
            "stem); unreadable files are reported by name and skipped.",
    usage="--model DIR_or_RUN --input FILE_or_FOLDER --output FOLDER [flags]",
    example="python -m cyclegan_tf.translate --model models/tom2jerry --input data/tom/test "
            "--output translated",
    define_flags=define_flags,
    notes="Exit status: 0 when at least one image was translated, 1 when none could be, 2 "
          "for a flag or path error.",
)


def _translate_or_fail() -> int:
    return 0 if translate_from_flags().outputs else 1


def run() -> None:
    """Console entry point."""
    app.run_command(COMMAND, _translate_or_fail, (TranslateError, ExportError, ConfigError))


if __name__ == "__main__":
    run()
