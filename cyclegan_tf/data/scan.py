"""Checking image files before training, and the Pillow decoder for the files that need it.

`scan_images` decodes every file once, in parallel, with the decoder the input pipeline
will use for it, so a file that passes the scan cannot crash an epoch; files that fail are
reported with a reason and left out. Results are cached by path and (size, mtime, ctime,
inode) in a JSON file, so a second start only stats the files; a rewritten file changes
its ctime even when its size and mtime are kept, so it is checked again. During training,
`FileGuard` stats each file before it is read, and a file that vanished, or changed and no
longer decodes, is skipped for the rest of the run instead of crashing it.

TensorFlow's decoders read most files, but they ignore EXIF orientation, read palette BMPs
as gray, lose GIF transparency and always decode at full size. Such files go through
`decode_with_pillow` instead, which rotates them upright, converts every mode to RGB or
RGBA, and downscales large images (JPEGs already while decoding, in Pillow's draft mode).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

from cyclegan_tf.core.files import atomic_write_json, printable_path

# Pillow's names of the formats we read; MPO is the multi-picture JPEG of some cameras.
FORMATS = ("JPEG", "MPO", "PNG", "BMP", "GIF", "WEBP", "TIFF")
# Formats TensorFlow decodes wrongly (palette BMPs come out gray, transparent GIF pixels
# black) or not at all (WebP, TIFF; 16-bit TIFFs are scaled to 8 bits, not truncated).
PILLOW_FORMATS = ("BMP", "GIF", "WEBP", "TIFF")
# Images with more pixels than this are decoded downscaled by Pillow: decoded full-size
# as float32 RGB by TensorFlow they would cost over 100 MB each.
LARGE_PIXELS = 2048 * 1024
EXIF_ORIENTATION = 0x0112
CACHE_VERSION = 2
# The scan decodes Pillow-path files at this size: as strict about broken data, and cheap.
_SCAN_SIZE = 8


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """What the scan learnt about one file; `error` says why it cannot be used."""

    format: str = ""
    width: int = 0
    height: int = 0
    orientation: int = 1
    error: str = ""

    @property
    def needs_pillow(self) -> bool:
        """True when TensorFlow's decoders would read this file wrongly or too large."""
        return (self.format in PILLOW_FORMATS or self.orientation not in (0, 1)
                or self.width * self.height > LARGE_PIXELS)


@dataclasses.dataclass(frozen=True)
class ScanResult:
    """The scan of a set of files: `images` by path, and how much work the scan did."""

    images: Mapping[str, ImageInfo]
    cached: int = 0  # Files found unchanged in the cache, so not read again.
    seconds: float = 0.0
    identities: Mapping[str, Mapping[str, int]] = dataclasses.field(default_factory=dict)

    @property
    def skipped(self) -> dict[str, str]:
        """The files that cannot be used, with the reason, by path."""
        return {path: info.error for path, info in self.images.items() if info.error}

    @property
    def pillow_files(self) -> frozenset[str]:
        """The usable files that the input pipeline must decode with Pillow."""
        return frozenset(path for path, info in self.images.items()
                         if info.needs_pillow and not info.error)

    def usable(self, paths: Iterable[str]) -> list[str]:
        """`paths` without the files that cannot be decoded, in the same order."""
        return [path for path in paths if not self.images[path].error]

    def summary(self, skipped_list: str, limit: int = 20) -> str:
        """A report for the log: counts, time, and the first `limit` skipped files by name."""
        skipped = self.skipped
        lines = [f"Checked {len(self.images)} image files in {self.seconds:.1f} s "
                 f"({self.cached} unchanged since the last check)."]
        if skipped:
            lines.append(f"Skipping {len(skipped)} that cannot be decoded (all listed in "
                         f"{skipped_list}):")
            lines += [f"  {printable_path(path)}: {reason}"
                      for path, reason in list(skipped.items())[:limit]]
            if len(skipped) > limit:
                lines.append(f"  ... and {len(skipped) - limit} more.")
        return "\n".join(lines)


def scan_images(paths: Sequence[str], cache_path: str | None = None,
                workers: int | None = None) -> ScanResult:
    """Checks that each file decodes, in `workers` threads; see the module docstring.

    Files whose size and modification time match an entry of the JSON cache at
    `cache_path` are not read again. The cache is rewritten with the files of this scan.
    """
    started = time.perf_counter()
    cache = _read_cache(cache_path) if cache_path else {}
    images: dict[str, ImageInfo] = {}
    entries: dict[str, dict] = {}
    todo: list[str] = []
    cached_count = 0
    for path in dict.fromkeys(paths):
        try:
            stat = os.stat(path)
        except OSError as error:
            images[path] = ImageInfo(error=f"cannot be read: {error.strerror}")
            continue
        key = os.path.abspath(path)
        entries[key] = file_identity(stat)
        cached = cache.get(key, {})
        if "info" in cached and all(cached.get(k) == v for k, v in entries[key].items()):
            images[path] = ImageInfo(**cached["info"])
            cached_count += 1
        elif stat.st_size == 0:
            images[path] = ImageInfo(error="empty file (0 bytes)")
        else:
            todo.append(path)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        images.update(zip(todo, pool.map(inspect_image, todo)))
    if cache_path:
        for path, info in images.items():
            key = os.path.abspath(path)
            if key in entries:
                entries[key]["info"] = dataclasses.asdict(info)
        _write_cache(cache_path, entries)
    identities = {path: entries[os.path.abspath(path)] for path in dict.fromkeys(paths)
                  if os.path.abspath(path) in entries}
    return ScanResult({path: images[path] for path in dict.fromkeys(paths)}, cached_count,
                      time.perf_counter() - started, identities)


def file_identity(stat: os.stat_result) -> dict[str, int]:
    """What tells that a file is unchanged: size, mtime, ctime (set by the kernel on every
    write, so a rewrite that restores the mtime still shows) and inode (a replacement)."""
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns,
            "inode": stat.st_ino}


class FileGuard:
    """Checks, just before the pipeline reads a file, that it is still the file the scan
    passed; a file that vanished, or changed and no longer decodes, fails from then on.

    `check` is called from the input pipeline's threads; `take_failures` hands the new
    failures (path and reason) to the training loop, which names them and adds them to
    the skip list.
    """

    def __init__(self, identities: Mapping[str, Mapping[str, int]]):
        self._identities = dict(identities)  # By path: as the scan saw each file.
        self._failed: dict[str, str] = {}
        self._new: dict[str, str] = {}
        self._lock = threading.Lock()

    def check(self, path: str) -> bool:
        """Whether `path` can still be read as the image the scan saw."""
        if path in self._failed:
            return False
        try:
            identity = file_identity(os.stat(path))
        except OSError as error:
            return self._fail(path, f"vanished during training ({error.strerror})")
        if self._identities.get(path) == identity:
            return True
        info = inspect_image(path)  # Changed since it was last checked: check it again.
        if info.error:
            return self._fail(path, f"changed during training: {info.error}")
        self._identities[path] = identity
        return True

    def _fail(self, path: str, reason: str) -> bool:
        with self._lock:
            if path not in self._failed:
                self._failed[path] = self._new[path] = reason
        return False

    def take_failures(self) -> dict[str, str]:
        """The failures since the last call, by path."""
        with self._lock:
            new, self._new = self._new, {}
        return new

    @property
    def failed(self) -> dict[str, str]:
        """Every file that failed during training, with the reason."""
        return dict(self._failed)


def inspect_image(path: str) -> ImageInfo:
    """Reads the header of `path`, then decodes it with the decoder the pipeline will use."""
    info = ImageInfo(format="image")  # Until the header is read.
    try:
        with Image.open(path) as image:
            info = ImageInfo(image.format or "", image.width, image.height, _orientation(image))
        if info.format not in FORMATS:
            return dataclasses.replace(
                info, error=f"{info.format} is not a supported format (JPEG, PNG, BMP, GIF, "
                            "WebP or TIFF); convert it to PNG or JPEG")
        if info.needs_pillow:
            decode_with_pillow(path, _SCAN_SIZE)
        else:
            # The same call as `input_pipeline.decode_image`, so the pipeline cannot fail.
            tf.io.decode_image(tf.io.read_file(path), channels=0, expand_animations=False)
    except UnidentifiedImageError:
        kind = os.path.splitext(path)[1].lstrip(".").upper()
        if kind in ("HEIC", "HEIF", "AVIF", "JXL", "JP2", "PSD", "SVG", "EXR", "HDR", "DNG",
                    "CR2", "NEF", "ARW", "RAW"):
            return dataclasses.replace(info, error=f"{kind} is not a supported format; "
                                                   "convert it to PNG or JPEG")
        return dataclasses.replace(info, error="not an image, or in a format Pillow cannot read")
    except Image.DecompressionBombError as error:
        return dataclasses.replace(info, error=f"too large to decode safely ({error})")
    except tf.errors.OpError as error:
        return dataclasses.replace(info, error=f"corrupt or truncated {info.format} data "
                                               f"({_tf_message(error)})")
    except Exception as error:  # noqa: BLE001 - Pillow raises many types on broken files.
        return dataclasses.replace(info, error=f"corrupt or truncated {info.format} data "
                                               f"({type(error).__name__}: {error})")
    return info


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - unreadable EXIF: the pixels may still be fine.
        return 1


def _tf_message(error: tf.errors.OpError) -> str:
    """The readable part of a TensorFlow op error, without the op and function names."""
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", error.message).strip().splitlines()[0]
    return re.sub(r"\s*\[Op:.*$", "", message)


def decode_with_pillow(path: str, min_size: int) -> np.ndarray:
    """Decodes `path` upright as uint8 RGB, or RGBA when it has transparency.

    A side at least twice `min_size` long is shrunk by a whole factor that keeps it at
    least `min_size`: for JPEGs while decoding (draft mode: by 2, 4 or 8), for other
    formats right after.
    """
    with Image.open(path) as image:
        if image.format in ("JPEG", "MPO"):
            image.draft(None, (min_size, min_size))
        image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I"):  # 16- or 32-bit gray (e.g. 16-bit PNG): keep 8 bits.
        image = Image.fromarray((np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8))
    transparent = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    image = image.convert("RGBA" if transparent else "RGB")
    factors = (max(1, image.width // min_size), max(1, image.height // min_size))
    if factors != (1, 1):
        image = image.reduce(factors)
    return np.asarray(image)


def _read_cache(path: str) -> dict[str, dict]:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data.get("files", {}) if data.get("version") == CACHE_VERSION else {}


def _write_cache(path: str, entries: Mapping[str, dict]) -> None:
    atomic_write_json(path, {"version": CACHE_VERSION, "files": entries}, indent=None)
