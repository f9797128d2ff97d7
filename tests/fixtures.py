"""Writers of the bad and the unusual-but-valid image files that the reliability tests use.

Each writer takes a file path (its extension is the name a user would see) and writes one
file. The unusual writers return the image a correct decoder must produce: upright uint8
RGB, with transparent pixels composited onto white (scaled down for the large one).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from typing import Callable

import numpy as np
from PIL import Image

WHITE = (255, 255, 255)


def _quadrants(width: int = 48, height: int = 32) -> np.ndarray:
    """Red, green / blue, yellow quadrants: any rotation or mirror changes the image."""
    image = np.zeros((height, width, 3), np.uint8)
    h, w = height // 2, width // 2
    image[:h, :w] = (255, 0, 0)
    image[:h, w:] = (0, 255, 0)
    image[h:, :w] = (0, 0, 255)
    image[h:, w:] = (255, 255, 0)
    return image


def _solid(rgb: tuple[int, int, int], width: int = 40, height: int = 30) -> np.ndarray:
    return np.full((height, width, 3), rgb, np.uint8)


# Bad files: none of them can be decoded. ------------------------------------------------


def truncated_jpeg(path: str) -> None:
    """A JPEG cut off halfway, like an interrupted download."""
    buffer = io.BytesIO()
    Image.fromarray(_quadrants(64, 64)).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    _write(path, data[: len(data) // 2])


def truncated_png(path: str) -> None:
    """A PNG missing the checksum of its end chunk: Pillow reads it, TensorFlow does not."""
    buffer = io.BytesIO()
    Image.fromarray(_quadrants()).save(buffer, "PNG")
    _write(path, buffer.getvalue()[:-2])


def zero_bytes(path: str) -> None:
    """An empty file."""
    _write(path, b"")


def text_file(path: str) -> None:
    """A text file with an image's name."""
    _write(path, b"<html><body>404 Not Found</body></html>\n")


def unsupported_format(path: str) -> None:
    """A PPM image (a format Pillow reads but we do not) with an image extension we accept."""
    Image.fromarray(_quadrants()).save(path, "PPM")


BAD_FILES: dict[str, Callable[[str], None]] = {
    "truncated.jpg": truncated_jpeg,
    "truncated_end.png": truncated_png,
    "zero_bytes.jpg": zero_bytes,
    "text.png": text_file,
    "ppm_inside.png": unsupported_format,
}


def write_bad_files(folder: str) -> list[str]:
    """Writes every kind of bad file into `folder`; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, name) for name in BAD_FILES]
    for path, write in zip(paths, BAD_FILES.values()):
        write(path)
    return paths


# Unusual but valid files. ----------------------------------------------------------------


def grayscale_png(path: str) -> np.ndarray:
    """8-bit gray."""
    Image.new("L", (40, 30), 100).save(path)
    return _solid((100, 100, 100))


def grayscale_alpha_png(path: str) -> np.ndarray:
    """Gray with alpha: left half opaque gray 60, right half fully transparent."""
    pixels = np.zeros((30, 40, 2), np.uint8)
    pixels[..., 0] = 60
    pixels[:, :20, 1] = 255
    Image.fromarray(pixels, "LA").save(path)
    expected = _solid((60, 60, 60))
    expected[:, 20:] = WHITE
    return expected


def palette_png(path: str) -> np.ndarray:
    """A palette (P mode) image of the four quadrant colours."""
    Image.fromarray(_quadrants()).quantize(4).save(path)
    return _quadrants()


def palette_transparent_png(path: str) -> np.ndarray:
    """A palette image whose colour 0 is transparent (the top half)."""
    image = Image.new("P", (40, 30), 1)
    image.putpalette([0, 0, 0, 10, 120, 200] + [0] * 762)
    image.paste(0, (0, 0, 40, 15))
    image.save(path, transparency=0)
    expected = _solid((10, 120, 200))
    expected[:15] = WHITE
    return expected


def cmyk_jpeg(path: str) -> np.ndarray:
    """A CMYK JPEG (Adobe, inverted), as print workflows write them."""
    Image.fromarray(_solid((200, 100, 50))).convert("CMYK").save(path, "JPEG", quality=95)
    return _solid((200, 100, 50))


def gray16_png(path: str) -> np.ndarray:
    """16-bit gray: 40000 of 65535 is 155.6 of 255."""
    Image.fromarray(np.full((30, 40), 40000, np.uint16)).save(path)
    return _solid((156, 156, 156))


def rgb16_png(path: str) -> np.ndarray:
    """16-bit RGB (48 bits per pixel), written by hand: Pillow cannot write it."""
    width, height, value = 40, 30, (65535, 32896, 0)
    rows = b"".join(b"\x00" + struct.pack(">HHH", *value) * width for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    _write(path, b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
           + chunk(b"IEND", b""))
    return _solid((255, 128, 0))


def rgba_png(path: str) -> np.ndarray:
    """RGBA: opaque red left, half-transparent black middle, fully transparent right."""
    pixels = np.zeros((30, 60, 4), np.uint8)
    pixels[:, :20] = (255, 0, 0, 255)
    pixels[:, 20:40] = (0, 0, 0, 128)
    pixels[:, 40:] = (0, 255, 0, 0)
    Image.fromarray(pixels, "RGBA").save(path)
    return composite(pixels, WHITE)


def composite(rgba: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """`rgba` over a solid `background`, rounded to uint8."""
    alpha = rgba[..., 3:] / 255.0
    mixed = rgba[..., :3] * alpha + np.array(background) * (1 - alpha)
    return np.round(mixed).astype(np.uint8)


def exif_rotated_jpeg(orientation: int) -> Callable[[str], np.ndarray]:
    """A writer of JPEGs stored turned, with the EXIF orientation that turns them upright."""
    # The inverse of the transpose that EXIF `orientation` asks a viewer to apply.
    stored = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_270}[orientation]

    def write(path: str) -> np.ndarray:
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(_quadrants()).transpose(stored).save(path, "JPEG", quality=95,
                                                              exif=exif)
        return _quadrants()

    return write


def small_png(path: str) -> np.ndarray:
    """An image much smaller than any crop size."""
    Image.fromarray(_quadrants(6, 4)).save(path)
    return _quadrants(6, 4)


def large_jpeg(path: str) -> np.ndarray:
    """A 24-megapixel photo-sized JPEG (6000 x 4000); returns it at a tenth of its size."""
    Image.fromarray(_quadrants(600, 400)).resize((6000, 4000), Image.NEAREST).save(
        path, "JPEG", quality=85)
    return _quadrants(600, 400)


def transparent_gif(path: str) -> np.ndarray:
    """A GIF whose left half is transparent (TensorFlow would make it black)."""
    image = Image.new("P", (40, 30), 1)
    image.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    image.paste(0, (0, 0, 20, 30))
    image.save(path, transparency=0)
    expected = _solid((200, 30, 30))
    expected[:, :20] = WHITE
    return expected


def palette_bmp(path: str) -> np.ndarray:
    """An 8-bit palette BMP (TensorFlow reads the indices as gray)."""
    Image.fromarray(_quadrants()).quantize(4).save(path)
    return _quadrants()


UNUSUAL_FILES: dict[str, Callable[[str], np.ndarray]] = {
    "grayscale.png": grayscale_png,
    "grayscale_alpha.png": grayscale_alpha_png,
    "palette.png": palette_png,
    "palette_transparent.png": palette_transparent_png,
    "cmyk.jpg": cmyk_jpeg,
    "gray16.png": gray16_png,
    "rgb16.png": rgb16_png,
    "rgba.png": rgba_png,
    "exif_mirrored_2.jpg": exif_rotated_jpeg(2),
    "exif_rotated_3.jpg": exif_rotated_jpeg(3),
    "exif_rotated_6.jpg": exif_rotated_jpeg(6),
    "exif_rotated_8.jpg": exif_rotated_jpeg(8),
    "small.png": small_png,
    "large.jpg": large_jpeg,
    "transparent.gif": transparent_gif,
    "palette.bmp": palette_bmp,
}


def write_unusual_files(folder: str, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Writes the unusual files `names` (default all) into `folder`: path -> expected image."""
    os.makedirs(folder, exist_ok=True)
    return {os.path.join(folder, name): UNUSUAL_FILES[name](os.path.join(folder, name))
            for name in (names or UNUSUAL_FILES)}


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
