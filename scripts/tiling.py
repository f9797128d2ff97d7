"""Measure tiled translation: peak memory against image size, and tiled against whole.

    python scripts/tiling.py --model runs/tom2jerry --tile 512 --overlap 64 \\
        --sizes 1024x1024,3000x2000,6000x4000 --json tiling.json --picture tiling.jpg

For each size it writes a test photo (a mosaic of the bundled `data/*/test` images, or
`--image` scaled), translates it with `python -m cyclegan_tf.translate --tile` in a fresh
process and records that process's peak RSS and time; `--whole_sizes` does the same
without tiling, for contrast. At `--compare_size` it translates one image whole and tiled
(per-tile and whole-image statistics) and reports how far the tiled outputs are from the
whole one (mean, 99th percentile and largest difference in levels of 255, and PSNR).
`--picture` writes the largest tiled output, scaled, above a crop (2x) across the tile
corner nearest its centre. Everything runs in float32 (`translate --precision float32`), so
the figures do not depend on whether the CPU has bfloat16.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A run folder or SavedModel export to translate with.")
flags.DEFINE_integer("tile", 512, "--tile of the translations.")
flags.DEFINE_integer("overlap", 64, "--overlap of the translations.")
flags.DEFINE_list("sizes", ["1024x1024", "3000x2000", "6000x4000"], "WIDTHxHEIGHT sizes "
                  "translated tiled, each in its own process, for the peak-memory table.")
flags.DEFINE_list("whole_sizes", ["1024x1024", "2048x1536"], "Sizes also translated whole.")
flags.DEFINE_integer("compare_size", 1024, "Side of the square image compared tiled vs whole.")
flags.DEFINE_string("image", "", "A photo to scale to each size; default a mosaic of the "
                    "bundled data/*/test images.")
flags.DEFINE_string("json", "", "Write the results here.")
flags.DEFINE_string("picture", "", "Write the largest tiled output and a 1:1 crop here.")
flags.mark_flag_as_required("model")


def test_photo(width: int, height: int) -> np.ndarray:
    """`--image` scaled to width x height, or a mosaic of the bundled test images."""
    if FLAGS.image:
        return np.asarray(Image.open(FLAGS.image).convert("RGB").resize(
            (width, height), Image.Resampling.LANCZOS))
    paths = sorted(glob.glob(os.path.join(REPO, "data", "*", "test", "*")))
    cell = max(256, min(width, height) // 3)
    canvas = Image.new("RGB", (width, height))
    i = 0
    for top in range(0, height, cell):
        for left in range(0, width, cell):
            with Image.open(paths[i % len(paths)]) as source:
                canvas.paste(source.convert("RGB").resize((cell, cell)), (left, top))
            i += 1
    return np.asarray(canvas)


def translate_in_process(image_path: str, output: str, tile: int) -> dict[str, float]:
    """Runs the translate CLI on one image in a new process: its peak RSS (MB) and seconds."""
    command = [sys.executable, "-m", "cyclegan_tf.translate", "--model", FLAGS.model,
               "--input", image_path, "--output", output, "--precision", "float32"]
    if tile:
        command += ["--tile", str(tile), "--overlap", str(FLAGS.overlap)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    errors = process.stderr.read().decode(errors="replace")
    if status:
        return {"failed": errors.strip().splitlines()[-1] if errors.strip() else str(status),
                "seconds": seconds}
    return {"peak_rss_mb": usage.ru_maxrss / 1024, "seconds": seconds}


def compare(size: int) -> dict[str, dict[str, float]]:
    """How far tiled outputs (each statistics mode) are from the whole-image output."""
    from cyclegan_tf.inference.translate import Translator

    translator = Translator(FLAGS.model, precision="float32")  # As tiled image statistics.
    image = test_photo(size, size)
    whole = translator.translate_batch(image[None])[0].astype(np.float64)
    results = {}
    for statistics in ("tile", "image"):
        tiled = translator.translate_tiled(image, FLAGS.tile, FLAGS.overlap, statistics)
        difference = np.abs(tiled - whole)
        mse = float(np.mean(difference ** 2))
        results[statistics] = {
            "mean": float(difference.mean()), "p99": float(np.percentile(difference, 99)),
            "max": float(difference.max()),
            "psnr_db": 10 * np.log10(255 ** 2 / mse) if mse else float("inf")}
    return results


def write_picture(output_png: str, path: str) -> None:
    """The tiled output scaled to 1200 px wide, above a 2x crop across a tile corner."""
    from cyclegan_tf.inference.tiling import tile_starts

    with Image.open(output_png) as result:
        width, height = result.size
        # Centred on the tile corner nearest the image's centre, where four tiles blend.
        x = min(tile_starts(width, FLAGS.tile, FLAGS.overlap), key=lambda v: abs(v - width / 2))
        y = min(tile_starts(height, FLAGS.tile, FLAGS.overlap), key=lambda v: abs(v - height / 2))
        x, y = x + FLAGS.overlap // 2, y + FLAGS.overlap // 2
        left = min(max(x - 300, 0), max(width - 600, 0))
        top = min(max(y - 150, 0), max(height - 300, 0))
        crop = result.crop((left, top, left + 600, top + 300)).resize((1200, 600))
        overview = result.resize((1200, round(1200 * height / width)))
    picture = Image.new("RGB", (1200, overview.height + crop.height), "white")
    picture.paste(overview, (0, 0))
    picture.paste(crop, (0, overview.height))
    picture.save(path, quality=85)


def main(argv: list[str]) -> None:
    del argv
    results: dict[str, object] = {"model": FLAGS.model, "tile": FLAGS.tile,
                                  "overlap": FLAGS.overlap, "tiled": {}, "whole": {}}
    with tempfile.TemporaryDirectory() as scratch:
        largest = None
        for kind, sizes in (("tiled", FLAGS.sizes), ("whole", FLAGS.whole_sizes)):
            for size in sizes:
                width, height = (int(v) for v in size.lower().split("x"))
                image_path = os.path.join(scratch, f"photo_{size}.png")
                Image.fromarray(test_photo(width, height)).save(image_path)
                output = os.path.join(scratch, f"{kind}_{size}")
                row = translate_in_process(image_path, output, FLAGS.tile if kind == "tiled" else 0)
                row["megapixels"] = width * height / 1e6
                results[kind][size] = row
                print(f"{kind:>5} {size:>10}: {json.dumps(row)}", flush=True)
                if kind == "tiled" and "failed" not in row:
                    largest = os.path.join(output, f"photo_{size}.png")
        if FLAGS.picture and largest:
            write_picture(largest, FLAGS.picture)
            print(f"Wrote {FLAGS.picture}")
    if FLAGS.compare_size:
        results["tiled_vs_whole"] = compare(FLAGS.compare_size)
        for statistics, row in results["tiled_vs_whole"].items():
            print(f"{FLAGS.compare_size} px, {statistics} statistics vs whole image: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"Wrote {FLAGS.json}")


if __name__ == "__main__":
    app.run(main)
