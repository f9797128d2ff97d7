"""Image folders or TFDS to `tf.data` pipelines of float images in [-1, 1].

Training batches are unpaired: each domain is shuffled on its own and an epoch covers the
larger domain (the smaller one repeats). Every random choice (order, crop, flip) is a
function of (`seed`, epoch, position), so a run restarted mid-epoch sees the same data.
This module knows nothing of models.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Collection, Sequence

import numpy as np
import tensorflow as tf

from cyclegan_tf.core.configs import Config
from cyclegan_tf.data.scan import FileGuard, ScanResult, decode_with_pillow, scan_images

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
ACCEPTED_FORMATS = "JPEG, PNG, BMP, GIF, WebP or TIFF (" + ", ".join(IMAGE_EXTENSIONS) + ")"
# Image files we do not read. They are listed (and then skipped by the scan, by name and
# format) rather than silently ignored, so a folder of HEIC phone photos is not a mystery.
UNSUPPORTED_EXTENSIONS = (".heic", ".heif", ".avif", ".jxl", ".jp2", ".psd", ".svg", ".ico",
                          ".tga", ".ppm", ".pgm", ".exr", ".hdr", ".dng", ".cr2", ".nef",
                          ".arw", ".raw")


class DataError(ValueError):
    """Training data that cannot be used: a missing folder, no images, an unknown source."""


# Finding the files. ----------------------------------------------------------------------


def list_images(folder: str) -> list[str]:
    """The image files directly inside `folder`, sorted by name: those we read, and those
    in a known image format we do not read (the scan skips them, naming the format).

    Raises `DataError` naming the folder when it is missing or holds no images we read.
    """
    if not os.path.isdir(folder):
        raise DataError(f"Image folder {folder!r} does not exist; it should hold the domain's "
                        f"images, accepted: {ACCEPTED_FORMATS}.")
    files = sorted(
        os.path.join(folder, name)
        for name in os.listdir(folder)
        if name.lower().endswith(IMAGE_EXTENSIONS + UNSUPPORTED_EXTENSIONS)
        and not name.startswith(".")
    )
    if not any(path.lower().endswith(IMAGE_EXTENSIONS) for path in files):
        raise DataError(f"Image folder {folder!r} holds no images; accepted: {ACCEPTED_FORMATS}.")
    return files


@dataclasses.dataclass(frozen=True)
class DomainFiles:
    """The training and test images of one domain."""

    train: list[str]
    test: list[str]


def _folder_layout(data_dir: str, domain: str) -> DomainFiles:
    root = os.path.join(data_dir, domain)
    train_dir, test_dir = os.path.join(root, "train"), os.path.join(root, "test")
    if os.path.isdir(train_dir):
        train = list_images(train_dir)
        test = list_images(test_dir) if os.path.isdir(test_dir) else train
        return DomainFiles(train, test)
    files = list_images(root)
    return DomainFiles(files, files)


def _train_ab_layout(data_dir: str, letter: str) -> DomainFiles:
    train = list_images(os.path.join(data_dir, "train" + letter))
    test_dir = os.path.join(data_dir, "test" + letter)
    test = list_images(test_dir) if os.path.isdir(test_dir) else train
    return DomainFiles(train, test)


def find_domain_files(config: Config) -> tuple[DomainFiles, DomainFiles]:
    """Locates the images of domains A and B under `config.data_dir` (see data/README.md)."""
    data_dir = config.data_dir
    if not os.path.isdir(data_dir):
        raise DataError(f"--data_dir={data_dir!r} does not exist.")
    layout = config.layout
    if layout == "auto":
        has_domain = os.path.isdir(os.path.join(data_dir, config.domain_a))
        has_ab = os.path.isdir(os.path.join(data_dir, "trainA"))
        layout = "trainAB" if has_ab and not has_domain else "folders"
    if layout == "trainAB":
        return _train_ab_layout(data_dir, "A"), _train_ab_layout(data_dir, "B")
    for flag, domain in (("domain_a", config.domain_a), ("domain_b", config.domain_b)):
        if not os.path.isdir(os.path.join(data_dir, domain)):
            present = sorted(d for d in os.listdir(data_dir)
                             if os.path.isdir(os.path.join(data_dir, d)))
            raise DataError(
                f"--{flag}={domain!r}: folder {os.path.join(data_dir, domain)!r} does not exist. "
                f"Folders in {data_dir!r}: {', '.join(present) or 'none'}. Accepted images: "
                f"{ACCEPTED_FORMATS}."
            )
    _check_distinct(os.path.join(data_dir, config.domain_a), os.path.join(data_dir, config.domain_b))
    return _folder_layout(data_dir, config.domain_a), _folder_layout(data_dir, config.domain_b)


def _check_distinct(folder_a: str, folder_b: str) -> None:
    """Raises `DataError` when the two domains' folders are one, or one holds the other."""
    real_a, real_b = os.path.realpath(folder_a), os.path.realpath(folder_b)
    if real_a == real_b:
        raise DataError(f"--domain_a and --domain_b name the same folder ({real_a!r}); "
                        "give each domain its own folder.")
    for inner, outer, flags in ((real_a, real_b, "--domain_a is inside --domain_b"),
                                (real_b, real_a, "--domain_b is inside --domain_a")):
        if os.path.commonpath([inner, outer]) == outer:
            raise DataError(f"{flags} ({inner!r} in {outer!r}); the domains' folders must "
                            "not overlap.")


# Decoding and augmentation. ------------------------------------------------------------


def decode_image(contents: tf.Tensor, background: Sequence[int] = (255, 255, 255)) -> tf.Tensor:
    """Decodes JPEG, PNG, BMP or GIF bytes to a float32 RGB image in [0, 255].

    Grayscale becomes RGB; transparent pixels are composited onto `background`. A GIF
    gives its first frame.
    """
    image = tf.io.decode_image(contents, channels=0, expand_animations=False)
    return to_rgb(image, background)


def to_rgb(image: tf.Tensor, background: Sequence[int] = (255, 255, 255)) -> tf.Tensor:
    """A uint8 [H, W, 1|2|3|4] image as float32 RGB in [0, 255], alpha composited."""
    image = tf.cast(image, tf.float32)
    channels = tf.shape(image)[-1]
    # Pad every layout to RGBA: gray -> gray*3, missing alpha -> opaque.
    gray = image[..., :1]
    rgb = tf.cond(channels >= 3, lambda: image[..., :3], lambda: tf.tile(gray, [1, 1, 3]))
    alpha = tf.cond(
        tf.equal(channels % 2, 0),  # 2 (gray + alpha) or 4 (RGBA) channels
        lambda: image[..., -1:] / 255.0,
        lambda: tf.ones_like(gray),
    )
    background = tf.constant(background, tf.float32, shape=[1, 1, 3])
    return rgb * alpha + background * (1.0 - alpha)


def decode_file_with_pillow(path: tf.Tensor, min_size: int,
                            background: Sequence[int] = (255, 255, 255)) -> tf.Tensor:
    """Like `decode_image(tf.io.read_file(path))`, but decoded by Pillow (see
    `data_scan.decode_with_pillow`): upright, any mode, downscaled towards `min_size`."""
    image = tf.numpy_function(lambda p: decode_with_pillow(os.fsdecode(p), min_size), [path],
                              tf.uint8, stateful=False)
    image.set_shape([None, None, None])
    return to_rgb(image, background)


def _resize(image: tf.Tensor, size: int, method: str) -> tf.Tensor:
    return tf.image.resize(image, [size, size], method=method)


def normalize(image: tf.Tensor) -> tf.Tensor:
    """[0, 255] to [-1, 1]."""
    return image / 127.5 - 1.0


def augment(image: tf.Tensor, seed: tf.Tensor, config: Config) -> tf.Tensor:
    """Training jitter: resize to the load size, random crop, random flip; then [-1, 1].

    `seed` is a shape-[2] int tensor; the same seed gives the same crop and flip.
    """
    image = _resize(image, config.resolved_load_size, config.resize_method)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    if config.resolved_load_size != config.image_size:
        image = tf.image.stateless_random_crop(
            image, [config.image_size, config.image_size, 3], seed=crop_seed)
    if config.flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return normalize(image)


def preprocess_test(image: tf.Tensor, config: Config) -> tf.Tensor:
    """Test images: resized to the image size, no jitter, in [-1, 1]."""
    return normalize(_resize(image, config.image_size, config.resize_method))


# Sources. ------------------------------------------------------------------------------


@dataclasses.dataclass
class ImageSource:
    """One split of one domain: cheap elements (file paths or encoded bytes), a function that
    decodes one element to a float RGB image in [0, 255], and the number of elements.

    Shuffling happens on the cheap elements, so a shuffle buffer never holds decoded images.
    """

    elements: tf.data.Dataset
    decode: Callable[[tf.Tensor], tf.Tensor]
    length: int
    name: str
    paths: bool = False  # Whether the elements are file paths.

    def images(self) -> tf.data.Dataset:
        """The decoded images in order."""
        return self.elements.map(self.decode, num_parallel_calls=tf.data.AUTOTUNE)

    def cached(self, size: int, method: str) -> ImageSource:
        """The same images decoded once, resized to `size` and kept in memory as uint8."""
        decode = self.decode
        images = self.elements.map(
            lambda element: tf.cast(tf.round(tf.clip_by_value(
                _resize(decode(element), size, method), 0, 255)), tf.uint8),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).cache()
        return ImageSource(images, lambda image: tf.cast(image, tf.float32), self.length,
                           self.name)


def file_source(files: Sequence[str], config: Config, name: str,
                pillow_files: Collection[str] = ()) -> ImageSource:
    """Images read from files; those among `pillow_files` are decoded by Pillow."""
    background, min_size = config.background, config.resolved_load_size
    routed = sorted(set(files) & set(pillow_files))
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(routed, tf.ones(len(routed), tf.int32)), 0,
    ) if routed else None

    def decode(path: tf.Tensor) -> tf.Tensor:
        if table is None:
            return decode_image(tf.io.read_file(path), background)
        return tf.cond(table.lookup(path) > 0,
                       lambda: decode_file_with_pillow(path, min_size, background),
                       lambda: decode_image(tf.io.read_file(path), background))

    return ImageSource(tf.data.Dataset.from_tensor_slices(list(files)), decode, len(files), name,
                       paths=True)


def check_tfds_name(name: str) -> None:
    """Raises `DataError` listing the valid `cycle_gan/*` names unless `name` is one
    (optionally with a version, e.g. cycle_gan/horse2zebra:3.0.0)."""
    import tensorflow_datasets as tfds  # Imported lazily: slow, and only needed here.

    configs = list(tfds.builder_cls("cycle_gan").builder_configs)
    family, _, rest = name.partition("/")
    if family != "cycle_gan" or rest.split(":")[0] not in configs:
        raise DataError(
            f"--tfds={name!r} is not a TFDS CycleGAN dataset; use one of "
            f"{', '.join('cycle_gan/' + c for c in configs)} (only the cycle_gan/* datasets "
            "have the trainA/trainB/testA/testB splits).")


def tfds_sources(config: Config) -> tuple[ImageSource, ImageSource, ImageSource, ImageSource]:
    """trainA, trainB, testA and testB of a TFDS `cycle_gan/*` dataset."""
    import tensorflow_datasets as tfds  # Imported lazily: slow, and only needed here.

    check_tfds_name(config.tfds)
    splits = ["trainA", "trainB", "testA", "testB"]
    datasets = tfds.load(config.tfds, split=splits, shuffle_files=False,
                         decoders={"image": tfds.decode.SkipDecoding()})
    background = config.background
    sources = []
    for split, dataset in zip(splits, datasets):
        length = int(dataset.cardinality())
        if length < 0:
            length = sum(1 for _ in dataset)
        if length == 0:
            raise DataError(f"--tfds={config.tfds!r}: split {split} holds no images.")
        sources.append(ImageSource(
            dataset.map(lambda example: example["image"]),
            lambda contents: decode_image(contents, background),
            length,
            f"{config.tfds}:{split}",
        ))
    return tuple(sources)


# Datasets. -----------------------------------------------------------------------------


class UnpairedData:
    """The training and test pipelines of a run, built from folders or TFDS.

    Folders are scanned first (`data_scan.scan_images`, cached in `scan_cache` when given):
    files that cannot be decoded are left out and listed in `self.scan.skipped`.
    """

    def __init__(self, config: Config, scan_cache: str | None = None):
        self.config = config
        self.scan = ScanResult({})
        self.guard: FileGuard | None = None
        if config.tfds:
            self.train_a, self.train_b, self.test_a, self.test_b = tfds_sources(config)
        else:
            files_a, files_b = find_domain_files(config)
            self.scan = scan_images(files_a.train + files_a.test + files_b.train + files_b.test,
                                    scan_cache)
            self.train_a = self._scanned_source(files_a.train)
            self.train_b = self._scanned_source(files_b.train)
            self.test_a = self._scanned_source(files_a.test)
            self.test_b = self._scanned_source(files_b.test)
            self.guard = FileGuard(self.scan.identities)
        if config.cache:
            size, method = config.resolved_load_size, config.resize_method
            self.train_a = self.train_a.cached(size, method)
            self.train_b = self.train_b.cached(size, method)

    def _scanned_source(self, files: list[str]) -> ImageSource:
        """The usable `files`, named by their folder under --data_dir (e.g. tom/train)."""
        name = os.path.relpath(os.path.dirname(files[0]), self.config.data_dir)
        usable = self.scan.usable(files)
        if not usable:
            raise DataError(
                f"Image folder {os.path.dirname(files[0])!r}: none of its {len(files)} image "
                f"files can be decoded (e.g. {os.path.basename(files[0])}: "
                f"{self.scan.images[files[0]].error}). Accepted: {ACCEPTED_FORMATS}."
            )
        return file_source(usable, self.config, name, self.scan.pillow_files)

    @property
    def steps_per_epoch(self) -> int:
        """Batches in one epoch: the larger domain once, capped by --steps_per_epoch."""
        steps = max(self.train_a.length, self.train_b.length) // self.config.batch_size
        if steps == 0:
            raise DataError(
                f"--batch_size={self.config.batch_size} is larger than both domains "
                f"({self.train_a.length} and {self.train_b.length} images)."
            )
        if self.config.steps_per_epoch:
            steps = min(steps, self.config.steps_per_epoch)
        return steps

    def _shuffled(self, source: ImageSource, epoch: int, domain: int) -> tf.data.Dataset:
        # A fixed seed per (run seed, epoch, domain) makes the order reproducible and lets a
        # resumed run skip exactly the batches it already trained on.
        seed = int(np.random.SeedSequence([self.config.seed, epoch, domain]).generate_state(1)[0])
        return (source.elements.shuffle(source.length, seed=seed, reshuffle_each_iteration=True)
                .repeat())

    def train_dataset(self, epoch: int, start_step: int = 0) -> tf.data.Dataset:
        """Batches `(a, b)` of epoch `epoch`, starting at batch `start_step` of that epoch."""
        config = self.config
        steps = self.steps_per_epoch
        count = steps * config.batch_size
        start = start_step * config.batch_size
        pairs = tf.data.Dataset.zip(self._shuffled(self.train_a, epoch, 0),
                                    self._shuffled(self.train_b, epoch, 1)).take(count)
        positions = tf.data.Dataset.range(count)
        dataset = tf.data.Dataset.zip(pairs, positions).skip(start)
        seed = config.seed

        decode_a, decode_b = self.train_a.decode, self.train_b.decode
        guarded = self.guard is not None and self.train_a.paths and self.train_b.paths

        def load(pair, position):
            base = tf.stack([tf.constant(seed, tf.int64), epoch * 2**32 + position])
            seed_a, seed_b = tf.unstack(tf.random.experimental.stateless_split(base, 2))
            return (augment(decode_a(pair[0]), seed_a, config),
                    augment(decode_b(pair[1]), seed_b, config))

        def load_guarded(pair, position):
            # A file that vanished or broke since the scan is dropped (with its partner),
            # not read: the loop names it and training goes on.
            usable = tf.numpy_function(
                lambda a, b: np.bool_(self.guard.check(os.fsdecode(a))
                                      & self.guard.check(os.fsdecode(b))),
                [pair[0], pair[1]], tf.bool, stateful=True)
            usable.set_shape([])
            empty = tf.zeros([config.image_size, config.image_size, 3])
            return tf.cond(usable, lambda: load(pair, position) + (usable,),
                           lambda: (empty, empty, usable))

        def is_usable(image_a, image_b, usable):
            return usable

        def images_only(image_a, image_b, usable):
            return image_a, image_b

        if guarded:
            dataset = (dataset.map(load_guarded, num_parallel_calls=tf.data.AUTOTUNE)
                       .filter(is_usable).map(images_only))
        else:
            dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.batch(config.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    def test_batch(self, domain: str, count: int) -> tf.Tensor:
        """The first `count` test images of domain 'a' or 'b', preprocessed, as one batch."""
        source = self.test_a if domain == "a" else self.test_b
        config = self.config
        images = source.images().take(count).map(lambda image: preprocess_test(image, config))
        return next(iter(images.batch(count)))

    def test_dataset(self, domain: str, batch_size: int = 1) -> tf.data.Dataset:
        """All test images of domain 'a' or 'b', preprocessed and batched."""
        source = self.test_a if domain == "a" else self.test_b
        config = self.config
        return (source.images().map(lambda image: preprocess_test(image, config),
                                    num_parallel_calls=tf.data.AUTOTUNE)
                .batch(batch_size).prefetch(tf.data.AUTOTUNE))
