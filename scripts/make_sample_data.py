"""Draw the bundled two-domain sample data set: cartoon cats (`tom`) and mice (`jerry`).

Every picture is drawn procedurally by this script with Pillow; no downloaded or
third-party image is involved, so the output is an original work of this project.

Both domains share one background generator (flat colours, gradients, a floor line,
simple rooms), so the two sets differ mainly by the animal in front of it: a grey-blue
cat with pointed ears and whiskers, or a small brown mouse with big round ears, a pointy
snout and a thin tail. Each animal gets a random pose (position, scale, tilt, facing,
tail angle, posture) and a random fur colour around its theme.

Drawing happens at `SUPERSAMPLE` times the final size; the result is downsampled with
LANCZOS, which antialiases the dark cartoon outlines.

Every image has its own `random.Random`, seeded from (seed, domain, split, index), so a
re-run with the same arguments reproduces byte-identical PNG files.

Usage::

    python scripts/make_sample_data.py --out data --seed 0 --size 128 --train 90 --test 10

writes ``OUT/tom/train/tom_0000.png`` ... ``OUT/jerry/test/jerry_0009.png``.
"""

from __future__ import annotations

import argparse
import colorsys
import math
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
Point = tuple[float, float]

SUPERSAMPLE = 4
INK: RGB = (34, 30, 40)
WHITE: RGB = (250, 250, 246)
PINK: RGB = (240, 166, 178)
DOMAINS = ("tom", "jerry")


# --------------------------------------------------------------------------- colours


def clamp8(value: float) -> int:
    """Round and clamp a channel value to 0..255."""
    return max(0, min(255, int(round(value))))


def jitter(color: RGB, rng: random.Random, amount: float) -> RGB:
    """A colour with a shared brightness shift plus a small per-channel shift."""
    shift = rng.uniform(-amount, amount)
    spread = amount / 3
    r, g, b = (clamp8(c + shift + rng.uniform(-spread, spread)) for c in color)
    return r, g, b


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Linear blend from `a` (t=0) to `b` (t=1)."""
    return tuple(clamp8(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def shade(color: RGB, factor: float) -> RGB:
    """Darken (factor < 1) or lighten towards white (factor > 1) a colour."""
    if factor <= 1:
        return mix((0, 0, 0), color, factor)
    return mix(color, (255, 255, 255), factor - 1)


def pastel(rng: random.Random, sat: tuple[float, float] = (0.15, 0.45),
           val: tuple[float, float] = (0.75, 0.97)) -> RGB:
    """A random soft colour of any hue."""
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*sat), rng.uniform(*val))
    return clamp8(r * 255), clamp8(g * 255), clamp8(b * 255)


# --------------------------------------------------------------------------- geometry


def ellipse_points(cx: float, cy: float, rx: float, ry: float, n: int = 48) -> list[Point]:
    """Points around an axis-aligned ellipse."""
    return [(cx + rx * math.cos(2 * math.pi * i / n), cy + ry * math.sin(2 * math.pi * i / n))
            for i in range(n)]


def bezier(p0: Point, p1: Point, p2: Point, p3: Point, n: int = 28) -> list[Point]:
    """Points along a cubic Bezier curve."""
    pts = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        pts.append((u ** 3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t ** 3 * p3[0],
                    u ** 3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t ** 3 * p3[1]))
    return pts


def polar(angle_deg: float, length: float, origin: Point = (0.0, 0.0)) -> Point:
    """The point `length` away from `origin` in direction `angle_deg` (0 = right, 90 = down)."""
    a = math.radians(angle_deg)
    return origin[0] + length * math.cos(a), origin[1] + length * math.sin(a)


def snout_head_points(rx: float, ry: float, snout: float, direction_deg: float,
                      spread_deg: float = 55.0, n: int = 72) -> list[Point]:
    """An oval head outline pulled out into a pointed snout towards `direction_deg`."""
    pts = []
    d0 = math.radians(direction_deg)
    spread = math.radians(spread_deg)
    for i in range(n):
        t = 2 * math.pi * i / n
        x, y = rx * math.cos(t), ry * math.sin(t)
        diff = abs((t - d0 + math.pi) % (2 * math.pi) - math.pi)
        bump = snout * max(0.0, 1 - diff / spread) ** 1.6
        pts.append((x + bump * math.cos(t), y + bump * math.sin(t)))
    return pts


# --------------------------------------------------------------------------- pen


@dataclass(frozen=True)
class Pen:
    """Draws cartoon shapes given in a local unit frame (x right = facing, y down).

    A local point (x, y) lands at `origin + scale * rotate(angle) * (x, y)` in pixels,
    so body parts can be drawn in their own frames via `sub`.
    """

    draw: ImageDraw.ImageDraw
    origin: Point
    scale: float
    angle: float = 0.0
    ink: int = 6

    def px(self, x: float, y: float) -> Point:
        """Pixel position of a local point."""
        c, s = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        return (self.origin[0] + self.scale * (c * x - s * y),
                self.origin[1] + self.scale * (s * x + c * y))

    def sub(self, x: float, y: float, scale: float = 1.0, angle: float = 0.0) -> "Pen":
        """A pen for a child frame placed at local (x, y), scaled and turned by `angle` degrees."""
        return replace(self, origin=self.px(x, y), scale=self.scale * scale, angle=self.angle + angle)

    def shape(self, pts: Sequence[Point], fill: RGB, outline: bool = True) -> None:
        """A filled polygon with a dark rounded-joint outline."""
        xy = [self.px(x, y) for x, y in pts]
        self.draw.polygon(xy, fill=fill)
        if outline:
            self.draw.line(xy + [xy[0]], fill=INK, width=self.ink, joint="curve")

    def oval(self, cx: float, cy: float, rx: float, ry: float, fill: RGB, outline: bool = True) -> None:
        """A filled ellipse (turned with the frame)."""
        self.shape(ellipse_points(cx, cy, rx, ry), fill, outline)

    def dot(self, x: float, y: float, radius_px: float, fill: RGB) -> None:
        """A round dot of a fixed pixel radius."""
        cx, cy = self.px(x, y)
        self.draw.ellipse((cx - radius_px, cy - radius_px, cx + radius_px, cy + radius_px), fill=fill)

    def line(self, pts: Sequence[Point], width_px: float, fill: RGB = INK) -> None:
        """A plain line with round joints and caps, width in pixels."""
        xy = [self.px(x, y) for x, y in pts]
        w = max(1, int(round(width_px)))
        self.draw.line(xy, fill=fill, width=w, joint="curve")
        for p in (xy[0], xy[-1]):
            self.draw.ellipse((p[0] - w / 2, p[1] - w / 2, p[0] + w / 2, p[1] + w / 2), fill=fill)

    def stroke(self, pts: Sequence[Point], width: float, fill: RGB) -> None:
        """A thick outlined limb or tail along `pts`; `width` in local units."""
        w = width * self.scale
        self.line(pts, w + 2 * self.ink, INK)
        self.line(pts, w, fill)


# --------------------------------------------------------------------------- backgrounds


@dataclass(frozen=True)
class Background:
    """A background picture and, when it shows one, the height of its floor line in pixels."""

    image: Image.Image
    floor_y: Optional[float]


def vertical_gradient(img: Image.Image, top: RGB, bottom: RGB,
                      y0: int = 0, y1: Optional[int] = None) -> None:
    """Fill rows y0..y1 of `img` with a top-to-bottom gradient, in a few flat bands."""
    y1 = img.height if y1 is None else y1
    draw = ImageDraw.Draw(img)
    bands = 16
    for i in range(bands):
        a = y0 + (y1 - y0) * i // bands
        b = y0 + (y1 - y0) * (i + 1) // bands
        draw.rectangle((0, a, img.width, b), fill=mix(top, bottom, i / (bands - 1)))


def horizontal_gradient(img: Image.Image, left: RGB, right: RGB) -> None:
    """Fill `img` with a left-to-right gradient, in a few flat bands."""
    draw = ImageDraw.Draw(img)
    bands = 16
    for i in range(bands):
        a = img.width * i // bands
        b = img.width * (i + 1) // bands
        draw.rectangle((a, 0, b, img.height), fill=mix(left, right, i / (bands - 1)))


def background_flat(size: int, rng: random.Random) -> Background:
    """One soft flat colour."""
    return Background(Image.new("RGB", (size, size), pastel(rng)), None)


def background_gradient(size: int, rng: random.Random) -> Background:
    """A simple two-colour gradient, vertical or horizontal."""
    img = Image.new("RGB", (size, size))
    a, b = pastel(rng), pastel(rng)
    if rng.random() < 0.6:
        vertical_gradient(img, a, b)
    else:
        horizontal_gradient(img, a, b)
    return Background(img, None)


def background_floor(size: int, rng: random.Random) -> Background:
    """A wall colour above a floor colour, split by a dark floor line."""
    wall = pastel(rng)
    floor = pastel(rng, sat=(0.2, 0.5), val=(0.55, 0.85))
    floor_y = size * rng.uniform(0.62, 0.82)
    img = Image.new("RGB", (size, size), wall)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, floor_y, size, size), fill=floor)
    draw.line((0, floor_y, size, floor_y), fill=INK, width=max(2, size // 110))
    return Background(img, floor_y)


def draw_window(draw: ImageDraw.ImageDraw, size: int, rng: random.Random, floor_y: float) -> None:
    """A window with sky and a cross frame on the wall."""
    w = size * rng.uniform(0.18, 0.3)
    h = w * rng.uniform(0.9, 1.4)
    x = rng.uniform(0.03, 0.97) * size - w / 2
    y = rng.uniform(0.06, max(0.08, floor_y / size - 0.1 - h / size)) * size
    frame = pastel(rng, sat=(0.0, 0.3), val=(0.85, 1.0))
    sky = (168, 210, 240) if rng.random() < 0.7 else (70, 80, 140)
    lw = max(2, size // 100)
    draw.rectangle((x, y, x + w, y + h), fill=sky, outline=INK, width=lw)
    draw.line((x + w / 2, y, x + w / 2, y + h), fill=frame, width=lw * 2)
    draw.line((x, y + h / 2, x + w, y + h / 2), fill=frame, width=lw * 2)


def draw_picture(draw: ImageDraw.ImageDraw, size: int, rng: random.Random, floor_y: float) -> None:
    """A framed picture hanging on the wall."""
    w = size * rng.uniform(0.12, 0.22)
    h = w * rng.uniform(0.7, 1.3)
    x = rng.uniform(0.05, 0.95) * size - w / 2
    y = size * rng.uniform(0.08, 0.25)
    lw = max(2, size // 100)
    draw.rectangle((x, y, x + w, y + h), fill=(150, 100, 60), outline=INK, width=lw)
    inset = w * 0.15
    draw.rectangle((x + inset, y + inset, x + w - inset, y + h - inset),
                   fill=pastel(rng, sat=(0.3, 0.6)))


def draw_door(draw: ImageDraw.ImageDraw, size: int, rng: random.Random, floor_y: float) -> None:
    """A plain door standing on the floor line."""
    w = size * rng.uniform(0.22, 0.3)
    h = min(floor_y - size * 0.05, w * 2.2)
    x = rng.choice((rng.uniform(-0.05, 0.1), rng.uniform(0.65, 0.85))) * size
    lw = max(2, size // 100)
    color = shade(pastel(rng, sat=(0.3, 0.5), val=(0.5, 0.8)), 0.9)
    draw.rectangle((x, floor_y - h, x + w, floor_y), fill=color, outline=INK, width=lw)
    knob = size * 0.012
    kx, ky = x + w * 0.8, floor_y - h * 0.48
    draw.ellipse((kx - knob, ky - knob, kx + knob, ky + knob), fill=(220, 180, 60), outline=INK)


def draw_mouse_hole(draw: ImageDraw.ImageDraw, size: int, rng: random.Random, floor_y: float) -> None:
    """A dark arched hole in the skirting board."""
    w = size * rng.uniform(0.08, 0.14)
    h = w * 1.1
    x = rng.uniform(0.05, 0.9) * size
    lw = max(2, size // 120)
    draw.pieslice((x, floor_y - h, x + w, floor_y + h), 180, 360,
                  fill=(25, 20, 25), outline=INK, width=lw)


def draw_rug(draw: ImageDraw.ImageDraw, size: int, rng: random.Random, floor_y: float) -> None:
    """An oval rug lying on the floor."""
    cx = rng.uniform(0.25, 0.75) * size
    rx = size * rng.uniform(0.25, 0.4)
    ry = max(size * 0.03, (size - floor_y) * rng.uniform(0.25, 0.4))
    cy = floor_y + (size - floor_y) * 0.55
    lw = max(2, size // 120)
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=pastel(rng, sat=(0.35, 0.6), val=(0.6, 0.9)),
                 outline=INK, width=lw)


def background_room(size: int, rng: random.Random) -> Background:
    """A simple cartoon room: wall, skirting board, floor and one or two furnishings."""
    floor_y = size * rng.uniform(0.6, 0.8)
    img = Image.new("RGB", (size, size))
    wall_a = pastel(rng, sat=(0.1, 0.4))
    if rng.random() < 0.4:
        vertical_gradient(img, wall_a, shade(wall_a, 0.85), 0, int(floor_y))
    else:
        ImageDraw.Draw(img).rectangle((0, 0, size, floor_y), fill=wall_a)
    draw = ImageDraw.Draw(img)
    if rng.random() < 0.3:  # wallpaper stripes
        stripe = shade(wall_a, 0.93)
        step = size / rng.choice((6, 8, 10))
        for i in range(0, 12, 2):
            draw.rectangle((i * step, 0, (i + 1) * step, floor_y), fill=stripe)
    floor = pastel(rng, sat=(0.25, 0.55), val=(0.5, 0.8))
    draw.rectangle((0, floor_y, size, size), fill=floor)
    if rng.random() < 0.5:  # floor boards
        for k in range(1, 4):
            y = floor_y + (size - floor_y) * k / 4
            draw.line((0, y, size, y), fill=shade(floor, 0.85), width=max(1, size // 160))
    board_h = size * 0.035
    lw = max(2, size // 110)
    draw.rectangle((0, floor_y - board_h, size, floor_y), fill=shade(wall_a, 0.7))
    draw.line((0, floor_y - board_h, size, floor_y - board_h), fill=INK, width=max(1, lw // 2))
    draw.line((0, floor_y, size, floor_y), fill=INK, width=lw)
    extras: list[Callable[[ImageDraw.ImageDraw, int, random.Random, float], None]] = [
        draw_window, draw_picture, draw_door, draw_mouse_hole, draw_rug]
    for extra in rng.sample(extras, rng.choice((1, 1, 2))):
        extra(draw, size, rng, floor_y)
    return Background(img, floor_y)


BACKGROUNDS: tuple[Callable[[int, random.Random], Background], ...] = (
    background_flat, background_gradient, background_floor, background_room, background_room)


def make_background(size: int, rng: random.Random) -> Background:
    """A background from one of the generators, chosen at random."""
    return rng.choice(BACKGROUNDS)(size, rng)


# --------------------------------------------------------------------------- the cat


@dataclass(frozen=True)
class Fur:
    """An animal's colours."""

    main: RGB
    light: RGB
    inner_ear: RGB
    eye: RGB


def cat_fur(rng: random.Random) -> Fur:
    """Grey / blue-grey fur with a cream muzzle, with some variety."""
    base = rng.choice([(122, 138, 165), (110, 126, 156), (140, 146, 160), (150, 160, 182),
                       (98, 110, 138), (132, 132, 140), (120, 140, 150)])
    return Fur(main=jitter(base, rng, 14),
               light=jitter((238, 230, 208), rng, 8),
               inner_ear=jitter(PINK, rng, 10),
               eye=rng.choice([WHITE, WHITE, (246, 240, 190), (222, 238, 180)]))


def draw_whiskers(pen: Pen, x: float, y: float, direction: int, length: float,
                  rng: random.Random) -> None:
    """Three whiskers fanning out from (x, y) to the right (direction=1) or left (-1)."""
    for k in (-1, 0, 1):
        droop = k * 0.14 + rng.uniform(-0.04, 0.04)
        pen.line([(x, y + k * 0.05), (x + direction * length * 0.55, y + k * 0.05 + droop * 0.5),
                  (x + direction * length, y + droop + 0.03)], max(1.0, pen.ink * 0.45))


def draw_eye(pen: Pen, x: float, y: float, rx: float, ry: float, look: Point, fur: Fur,
             lid: float = 0.0) -> None:
    """An eye: white oval, black pupil looking towards `look`, a highlight and optional lid."""
    pen.oval(x, y, rx, ry, fur.eye)
    px, py = x + look[0] * rx * 0.45, y + look[1] * ry * 0.3
    pen.oval(px, py, rx * 0.45, ry * 0.55, INK, outline=False)
    pen.dot(px + rx * 0.15, py - ry * 0.22, max(1.5, rx * pen.scale * 0.14), WHITE)
    if lid > 0:  # a fur-coloured lid over the top `lid` fraction of the eye
        cut = y - ry + 2 * ry * lid
        arc = [(x + 1.08 * rx * math.cos(a), min(cut, y - 1.08 * ry * math.sin(a)))
               for a in (math.pi * i / 16 for i in range(17))]
        pen.shape(arc, fur.main)


def draw_cat_ears(pen: Pen, fur: Fur, perk: float) -> None:
    """Two triangular ears with pink insides, behind the head."""
    for base_l, tip, base_r in (((-0.95, -0.25), (-0.85 - perk * 0.1, -1.45), (-0.15, -0.78)),
                                ((0.05, -0.82), (0.72 + perk * 0.1, -1.45), (0.92, -0.2))):
        pen.shape([base_l, tip, base_r], fur.main)
        cx, cy = (base_l[0] + base_r[0]) / 2, (base_l[1] + base_r[1]) / 2
        inner = [(cx + (p[0] - cx) * 0.6, cy + (p[1] - cy) * 0.6) for p in (base_l, tip, base_r)]
        inner = [(p[0], p[1] - 0.12) for p in inner]
        pen.shape(inner, fur.inner_ear, outline=False)


def draw_cat_head(pen: Pen, fur: Fur, rng: random.Random) -> None:
    """Tom-style cat head in its own frame (radius about 1), facing right."""
    draw_cat_ears(pen, fur, rng.uniform(-1, 1))
    for side in (-1, 1):  # cheek tufts
        pen.shape([(side * 0.8, 0.0), (side * 1.28, 0.22), (side * 0.95, 0.3),
                   (side * 1.22, 0.5), (side * 0.75, 0.55)], fur.main)
    pen.oval(0.0, 0.0, 1.0, 0.86, fur.main)
    pen.shape(ellipse_points(0.28, 0.38, 0.55, 0.36), fur.light)
    look = (rng.uniform(0.2, 1.0), rng.uniform(-0.6, 0.6))
    lid = rng.choice((0.0, 0.0, 0.0, rng.uniform(0.25, 0.5)))
    eye_ry = rng.uniform(0.27, 0.34)
    draw_eye(pen, -0.14, -0.22, 0.24, eye_ry, look, fur, lid)
    draw_eye(pen, 0.42, -0.22, 0.24, eye_ry, look, fur, lid)
    pen.oval(0.32, 0.16, 0.13, 0.09, INK, outline=False)
    pen.line([(0.32, 0.22), (0.32, 0.36)], pen.ink * 0.8)
    smile = rng.uniform(-0.05, 0.16)
    mouth = bezier((0.08, 0.38), (0.18, 0.45 + smile), (0.46, 0.45 + smile), (0.56, 0.38), 12)
    pen.line(mouth, pen.ink * 0.8)
    draw_whiskers(pen, -0.05, 0.36, -1, 0.95, rng)
    draw_whiskers(pen, 0.68, 0.36, 1, 0.95, rng)


def draw_cat_tail(pen: Pen, base: Point, angle: float, fur: Fur, rng: random.Random) -> None:
    """A long thick tail leaving `base` in direction `angle` (degrees) with a bend."""
    length = rng.uniform(0.8, 1.1)
    bend = rng.choice((-1, 1)) * rng.uniform(25, 60)
    p1 = polar(angle, length * 0.4, base)
    p2 = polar(angle + bend * 0.6, length * 0.4, p1)
    p3 = polar(angle + bend, length * 0.35, p2)
    pts = bezier(base, p1, p2, p3)
    pen.stroke(pts, 0.13, fur.main)
    tip = pts[-4:]
    pen.stroke(tip, 0.13, shade(fur.main, 0.8))


def draw_cat_upright(pen: Pen, fur: Fur, rng: random.Random) -> None:
    """A cat standing on its hind legs, the way cartoon cats do."""
    draw_cat_tail(pen, (-0.3, 0.62), rng.uniform(-200, -120), fur, rng)
    for fx in (-0.2, 0.22):  # feet
        pen.oval(fx, 0.92, 0.2, 0.09, fur.light)
    pen.stroke([(-0.14, 0.7), (-0.18, 0.88)], 0.16, fur.main)
    pen.stroke([(0.16, 0.7), (0.2, 0.88)], 0.16, fur.main)
    pen.oval(0.0, 0.48, 0.33, 0.36, fur.main)
    pen.oval(0.08, 0.53, 0.19, 0.26, fur.light)
    for sx, arm_angle in ((-0.22, rng.uniform(95, 150)), (0.22, rng.uniform(-60, 80))):
        hand = polar(arm_angle, 0.38, (sx, 0.28))
        pen.stroke([(sx, 0.28), ((sx + hand[0]) / 2 + 0.03, (0.28 + hand[1]) / 2), hand], 0.13, fur.main)
        pen.oval(hand[0], hand[1], 0.09, 0.08, fur.light)
    head = pen.sub(0.06, -0.3, 0.42, rng.uniform(-15, 15))
    draw_cat_head(head, fur, rng)


def draw_cat_prowl(pen: Pen, fur: Fur, rng: random.Random) -> None:
    """A cat on all fours, head raised at the front."""
    draw_cat_tail(pen, (-0.62, 0.25), rng.uniform(-150, -100), fur, rng)
    legs = ((-0.45, 0.42), (-0.2, 0.45), (0.2, 0.45), (0.42, 0.42))
    for i, (lx, ly) in enumerate(legs):
        dx = rng.uniform(-0.1, 0.1)
        color = shade(fur.main, 0.85) if i in (0, 2) else fur.main
        pen.stroke([(lx, ly), (lx + dx, 0.85)], 0.14, color)
        pen.oval(lx + dx + 0.05, 0.9, 0.12, 0.065, fur.light)
    pen.oval(-0.05, 0.33, 0.6, 0.27, fur.main)
    pen.oval(0.05, 0.45, 0.35, 0.12, fur.light)
    head = pen.sub(0.5, -0.12, 0.38, rng.uniform(-15, 10))
    draw_cat_head(head, fur, rng)


def draw_cat(pen: Pen, rng: random.Random) -> None:
    """A cartoon cat in a random posture and fur colour."""
    fur = cat_fur(rng)
    posture = draw_cat_upright if rng.random() < 0.6 else draw_cat_prowl
    posture(pen, fur, rng)


# --------------------------------------------------------------------------- the mouse


def mouse_fur(rng: random.Random) -> Fur:
    """Brown / tan fur with a light tan face and belly."""
    base = rng.choice([(165, 102, 55), (182, 122, 66), (140, 84, 44), (196, 142, 86),
                       (152, 96, 62), (175, 110, 50)])
    return Fur(main=jitter(base, rng, 12),
               light=jitter((240, 204, 156), rng, 8),
               inner_ear=jitter((238, 156, 160), rng, 10),
               eye=WHITE)


def draw_mouse_ears(pen: Pen, fur: Fur, rng: random.Random) -> None:
    """Two large round ears with pink insides, behind the head."""
    for ex, ey in ((-0.62, -0.72), (0.22, -0.95)):
        ex += rng.uniform(-0.05, 0.05)
        pen.oval(ex, ey, 0.52, 0.5, fur.main)
        pen.oval(ex + 0.04, ey + 0.04, 0.34, 0.33, fur.inner_ear, outline=False)


def draw_mouse_head(pen: Pen, fur: Fur, rng: random.Random) -> None:
    """Jerry-style mouse head in its own frame (radius about 0.8), snout pointing right."""
    draw_mouse_ears(pen, fur, rng)
    snout_dir = rng.uniform(5, 20)
    pen.shape(snout_head_points(0.78, 0.7, 0.62, snout_dir), fur.main)
    muzzle = pen.sub(0.42, 0.22)
    muzzle.shape(snout_head_points(0.42, 0.3, 0.5, snout_dir - 5), fur.light, outline=False)
    look = (rng.uniform(0.3, 1.0), rng.uniform(-0.5, 0.5))
    eye_ry = rng.uniform(0.2, 0.26)
    draw_eye(pen, 0.02, -0.22, 0.15, eye_ry, look, fur)
    draw_eye(pen, 0.38, -0.2, 0.15, eye_ry, look, fur)
    snout = pen.sub(0.0, 0.0, 1.0, snout_dir)  # x runs along the snout to its tip at (1.32, 0)
    smile = rng.uniform(0.0, 0.1)
    snout.line(bezier((0.68, 0.3), (0.82, 0.4 + smile), (1.02, 0.36 + smile), (1.12, 0.16), 12),
               pen.ink * 0.8)
    draw_whiskers(snout, 1.0, 0.04, 1, 0.75, rng)
    snout.oval(1.26, 0.0, 0.13, 0.11, INK, outline=False)
    snout.dot(1.23, -0.04, max(1.5, pen.scale * 0.03), WHITE)


def draw_mouse_tail(pen: Pen, base: Point, angle: float, rng: random.Random) -> None:
    """A thin, long, wavy tail leaving `base` in direction `angle` (degrees)."""
    length = rng.uniform(0.9, 1.25)
    wave = rng.choice((-1, 1)) * rng.uniform(30, 70)
    p1 = polar(angle + wave, length * 0.4, base)
    p2 = polar(angle - wave, length * 0.45, p1)
    p3 = polar(angle + wave * rng.uniform(0.5, 1.5), length * 0.35, p2)
    pen.stroke(bezier(base, p1, p2, p3, 36), 0.035, shade((230, 160, 150), rng.uniform(0.85, 1.0)))


def draw_mouse_upright(pen: Pen, fur: Fur, rng: random.Random) -> None:
    """A small mouse standing on its hind legs."""
    draw_mouse_tail(pen, (-0.2, 0.72), rng.uniform(-200, -150), rng)
    for fx in (-0.14, 0.22):  # big feet
        pen.stroke([(fx - 0.02, 0.68), (fx, 0.86)], 0.09, fur.main)
        pen.oval(fx + 0.06, 0.92, 0.17, 0.07, fur.light)
    pen.shape(ellipse_points(0.0, 0.56, 0.25, 0.3), fur.main)
    pen.oval(0.06, 0.6, 0.14, 0.2, fur.light)
    for sx, arm_angle in ((-0.16, rng.uniform(100, 160)), (0.16, rng.uniform(-70, 80))):
        hand = polar(arm_angle, 0.28, (sx, 0.4))
        pen.stroke([(sx, 0.4), hand], 0.075, fur.main)
        pen.oval(hand[0], hand[1], 0.06, 0.055, fur.light)
    head = pen.sub(0.0, -0.1, 0.42, rng.uniform(-15, 15))
    draw_mouse_head(head, fur, rng)


def draw_mouse_scurry(pen: Pen, fur: Fur, rng: random.Random) -> None:
    """A mouse on all fours, tail trailing behind."""
    draw_mouse_tail(pen, (-0.5, 0.55), rng.uniform(-190, -150), rng)
    for lx in (-0.35, -0.15, 0.12, 0.3):
        dx = rng.uniform(-0.08, 0.08)
        pen.stroke([(lx, 0.55), (lx + dx, 0.85)], 0.08, fur.main)
        pen.oval(lx + dx + 0.05, 0.89, 0.1, 0.05, fur.light)
    pen.oval(-0.08, 0.52, 0.45, 0.26, fur.main)
    pen.oval(0.0, 0.64, 0.28, 0.1, fur.light)
    head = pen.sub(0.38, 0.18, 0.4, rng.uniform(-15, 10))
    draw_mouse_head(head, fur, rng)


def draw_mouse(pen: Pen, rng: random.Random) -> None:
    """A cartoon mouse in a random posture and fur colour."""
    fur = mouse_fur(rng)
    posture = draw_mouse_upright if rng.random() < 0.6 else draw_mouse_scurry
    posture(pen, fur, rng)


# --------------------------------------------------------------------------- composing


ANIMALS: dict[str, Callable[[Pen, random.Random], None]] = {"tom": draw_cat, "jerry": draw_mouse}


def place_animal(size: int, background: Background, rng: random.Random,
                 domain: str) -> tuple[Point, float]:
    """Centre (pixels) and unit radius (pixels) of the animal, standing on the floor if any."""
    scale = rng.uniform(0.75, 1.05) * (0.88 if domain == "jerry" else 1.0)
    radius = size * 0.4 * scale
    cx = size * 0.5 + rng.uniform(-0.14, 0.14) * size
    if background.floor_y is not None:
        cy = background.floor_y - 0.95 * radius + rng.uniform(-0.03, 0.06) * size
    else:
        cy = size * 0.5 + rng.uniform(-0.1, 0.1) * size
    cy = min(max(cy, radius * 1.05), size - radius * 0.8)
    return (cx, cy), radius


def draw_picture_of(domain: str, size: int, rng: random.Random) -> Image.Image:
    """One sample of `domain` at final `size`: background plus animal, antialiased."""
    big = size * SUPERSAMPLE
    background = make_background(big, rng)
    (cx, cy), radius = place_animal(big, background, rng, domain)
    layer = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if background.floor_y is not None:
        sy = cy + 0.94 * radius
        draw.ellipse((cx - radius * 0.6, sy - radius * 0.07, cx + radius * 0.6, sy + radius * 0.07),
                     fill=(0, 0, 0, 55))
    ink = max(2, int(round(radius * 0.028)))
    pen = Pen(draw, (cx, cy), radius, ink=ink)
    ANIMALS[domain](pen, rng)
    if rng.random() < 0.5:
        layer = layer.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        cx = big - cx
    layer = layer.rotate(rng.uniform(-18, 18), resample=Image.Resampling.BICUBIC, center=(cx, cy))
    picture = Image.alpha_composite(background.image.convert("RGBA"), layer).convert("RGB")
    return picture.resize((size, size), Image.Resampling.LANCZOS)


def write_split(out: Path, domain: str, split: str, count: int, size: int, seed: int) -> None:
    """Write `count` pictures of `domain` to OUT/domain/split/domain_NNNN.png."""
    folder = out / domain / split
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        rng = random.Random(f"{seed}/{domain}/{split}/{index}")
        draw_picture_of(domain, size, rng).save(folder / f"{domain}_{index:04d}.png", optimize=True)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="data", help="output folder (default: data)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default: 128)")
    parser.add_argument("--train", type=int, default=90, help="training images per domain (default: 90)")
    parser.add_argument("--test", type=int, default=10, help="test images per domain (default: 10)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Generate both domains."""
    args = parse_args(argv)
    out = Path(args.out)
    for domain in DOMAINS:
        write_split(out, domain, "train", args.train, args.size, args.seed)
        write_split(out, domain, "test", args.test, args.size, args.seed)
    print(f"wrote {len(DOMAINS)} x ({args.train} train + {args.test} test) images of "
          f"{args.size}px to {out}/")


if __name__ == "__main__":
    main()
