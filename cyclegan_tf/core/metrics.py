"""Metrics of image translation: pixel metrics, FID and KID, and the Inception features.

Images are float tensors in [-1, 1], the package's convention. PSNR, SSIM and L1 are
computed on [0, 1] intensities (data range 1), the usual convention in papers; each returns
one value per image so that callers can average over any number of batches.

FID and KID compare two sets of InceptionV3 pool features (`InceptionFeatures`). Their
absolute values depend on the network weights and the preprocessing, so they match only
numbers computed the same way (ImageNet weights, bilinear antialiased resize to 299).

`translation_metrics` and `paired_metrics` run a pair of generators over test images and
name every metric by the domain its compared images belong to: `cycle_l1_a` compares A with
F(G(A)), `identity_l1_b` compares B with G(B), `fid_b` compares G(A) with real B.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import os
from typing import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from cyclegan_tf.core.configs import ConfigError

Translate = Callable[[tf.Tensor, str], tf.Tensor]

# Identical images would give an infinite PSNR; the cap keeps averages and JSON finite.
MAX_PSNR = 100.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000

INCEPTION_SIZE = 299
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                         "inception_v3/" + INCEPTION_WEIGHTS_FILE)


class InceptionWeightsError(ConfigError):
    """The InceptionV3 weights that FID and KID need are not on this machine."""


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of `metric` is better: PSNR and SSIM; not L1, FID or KID."""
    return "psnr" in metric or "ssim" in metric


# Pixel metrics, one value per image. ----------------------------------------------------


def _unit(images: tf.Tensor) -> tf.Tensor:
    """[-1, 1] to [0, 1], as float32."""
    return (tf.cast(images, tf.float32) + 1.0) / 2.0


def l1(x: tf.Tensor, y: tf.Tensor) -> np.ndarray:
    """Mean absolute difference per image, in [0, 1] intensity units; shape [N]."""
    return tf.reduce_mean(tf.abs(_unit(x) - _unit(y)), axis=[1, 2, 3]).numpy()


def psnr(x: tf.Tensor, y: tf.Tensor) -> np.ndarray:
    """Peak signal-to-noise ratio per image in dB (data range 1), capped at `MAX_PSNR`."""
    mse = tf.reduce_mean(tf.square(_unit(x) - _unit(y)), axis=[1, 2, 3])
    value = -10.0 * tf.math.log(mse) / tf.math.log(10.0)
    return tf.minimum(value, MAX_PSNR).numpy()


def ssim(x: tf.Tensor, y: tf.Tensor) -> np.ndarray:
    """Structural similarity per image: 11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03,
    data range 1, averaged over pixels and channels; shape [N]. Images need 11 px or more."""
    return tf.image.ssim(_unit(x), _unit(y), max_val=1.0, filter_size=SSIM_WINDOW,
                         filter_sigma=SSIM_SIGMA, k1=SSIM_K1, k2=SSIM_K2).numpy()


# Distances between feature sets. --------------------------------------------------------


def _features(values: np.ndarray, name: str) -> np.ndarray:
    features = np.asarray(values, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"{name} must be an [N, D] array with N >= 2, got shape "
                         f"{features.shape}; FID and KID need at least two images per set.")
    return features


def symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (negative
    eigenvalues from rounding count as zero)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _trace_sqrt_product(centered_1: np.ndarray, centered_2: np.ndarray) -> float:
    """tr sqrt(S1 S2) for the sample covariances S_i = c_i^T c_i / (n_i - 1).

    S1 S2 has the eigenvalues of the symmetric positive semi-definite R S2 R, R = S1^(1/2),
    so the trace is the sum of their square roots: two symmetric eigen-decompositions in
    numpy, which stay real and stable where a general matrix square root (scipy's `sqrtm`,
    the reference implementation's) goes complex on a near-singular product. With fewer
    images than features the nonzero eigenvalues are the squared singular values of
    c_1 c_2^T / sqrt((n_1 - 1)(n_2 - 1)): its nuclear norm, an SVD of an n_1 x n_2 matrix.
    """
    (n1, dims), n2 = centered_1.shape, len(centered_2)
    if min(n1, n2) < dims:
        singular = np.linalg.svd(centered_1 @ centered_2.T, compute_uv=False)
        return float(singular.sum() / np.sqrt((n1 - 1) * (n2 - 1)))
    sigma_1 = centered_1.T @ centered_1 / (n1 - 1)
    sigma_2 = centered_2.T @ centered_2 / (n2 - 1)
    root_1 = symmetric_sqrt(sigma_1)
    product = root_1 @ sigma_2 @ root_1
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2.0)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def fid(features_1: np.ndarray, features_2: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two [N, D] feature sets:
    ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 sqrt(S_1 S_2))."""
    f1, f2 = _features(features_1, "features_1"), _features(features_2, "features_2")
    c1, c2 = f1 - f1.mean(axis=0), f2 - f2.mean(axis=0)
    mean_term = np.sum((f1.mean(axis=0) - f2.mean(axis=0)) ** 2)
    trace_1 = np.sum(c1 ** 2) / (len(f1) - 1)
    trace_2 = np.sum(c2 ** 2) / (len(f2) - 1)
    return float(mean_term + trace_1 + trace_2 - 2.0 * _trace_sqrt_product(c1, c2))


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """KID's kernel k(x, y) = (x . y / D + 1)^3 between the rows of x and y."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased estimate of the squared MMD between the rows of x and y (polynomial kernel)."""
    n, m = len(x), len(y)
    k_xx, k_yy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * polynomial_kernel(x, y).mean())


def kid(features_1: np.ndarray, features_2: np.ndarray, num_subsets: int = KID_SUBSETS,
        subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: mean and standard deviation of `mmd2_unbiased` over
    `num_subsets` random subsets of min(`subset_size`, N_1, N_2) rows of each set,
    drawn without replacement with `seed`."""
    f1, f2 = _features(features_1, "features_1"), _features(features_2, "features_2")
    size = min(subset_size, len(f1), len(f2))
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(f1[rng.choice(len(f1), size, replace=False)],
                            f2[rng.choice(len(f2), size, replace=False)])
              for _ in range(num_subsets)]
    return float(np.mean(values)), float(np.std(values))


# The Inception feature extractor. -------------------------------------------------------


def _keras_cache_dirs() -> list[str]:
    """Where Keras keeps downloaded weights: $KERAS_HOME, ~/.keras, or /tmp/.keras."""
    homes = [os.environ.get("KERAS_HOME", ""), os.path.join(os.path.expanduser("~"), ".keras"),
             os.path.join("/tmp", ".keras")]
    return [os.path.join(home, "models") for home in homes if home]


def _how_to_get_weights() -> str:
    return (f"Download {INCEPTION_WEIGHTS_URL} on a machine with internet and either pass "
            f"--inception_weights=PATH/{INCEPTION_WEIGHTS_FILE} or copy the file to "
            f"{_keras_cache_dirs()[0]}/. Nothing is downloaded.")


def find_inception_weights(path: str = "") -> str:
    """The InceptionV3 (no top) weights file to use: `path`, or the one in the Keras cache.

    Raises `InceptionWeightsError`, saying how to get the file, when there is none.
    """
    if path:
        if not os.path.isfile(path):
            raise InceptionWeightsError(
                f"--inception_weights={path!r} does not exist. {_how_to_get_weights()}")
        return path
    for folder in _keras_cache_dirs():
        candidate = os.path.join(folder, INCEPTION_WEIGHTS_FILE)
        if os.path.isfile(candidate):
            return candidate
    raise InceptionWeightsError(
        f"FID and KID need the ImageNet InceptionV3 weights ({INCEPTION_WEIGHTS_FILE}), which "
        f"are not in the Keras cache ({', '.join(_keras_cache_dirs())}). {_how_to_get_weights()}")


def file_md5(path: str) -> str:
    """The MD5 hex digest of a file (Keras publishes the weights files' MD5s)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class InceptionFeatures:
    """InceptionV3 average-pool features (2048 per image) of images in [-1, 1].

    Images are resized to 299x299 (bilinear, antialiased) and scaled by
    `keras.applications.inception_v3.preprocess_input`. `weights` is a weights file (see
    `find_inception_weights`) or None for random weights, which only tests should use.
    """

    def __init__(self, weights: str | None):
        self.weights = weights
        try:
            self.model = keras.applications.InceptionV3(
                include_top=False, pooling="avg", weights=weights,
                input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
        except (ValueError, OSError) as error:
            raise InceptionWeightsError(
                f"Could not load InceptionV3 weights from {weights!r}: {error}. It must be "
                f"{INCEPTION_WEIGHTS_FILE} (the file without the classifier). "
                f"{_how_to_get_weights()}") from error
        spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        self._features = tf.function(self._compute, input_signature=[spec])

    def _compute(self, images: tf.Tensor) -> tf.Tensor:
        pixels = tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)
        resized = tf.image.resize(pixels, [INCEPTION_SIZE, INCEPTION_SIZE], method="bilinear",
                                  antialias=True)
        inputs = keras.applications.inception_v3.preprocess_input(resized)
        return self.model(inputs, training=False)

    def __call__(self, images: tf.Tensor) -> np.ndarray:
        """Features of a batch [N, H, W, 3] in [-1, 1], as a float32 array [N, 2048]."""
        return self._features(tf.cast(images, tf.float32)).numpy()


# Metrics of a pair of generators over test images. --------------------------------------


@dataclasses.dataclass
class _DomainPass:
    """What one domain's test images yield: per-image values and, with an extractor,
    features of the real images and of their translations."""

    per_image: dict[str, list[np.ndarray]] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(list))
    real_features: list[np.ndarray] = dataclasses.field(default_factory=list)
    fake_features: list[np.ndarray] = dataclasses.field(default_factory=list)

    def means(self) -> dict[str, float]:
        return {name: float(np.mean(np.concatenate(values)))
                for name, values in self.per_image.items()}


def _domain_pass(translate: Translate, images: Iterable[tf.Tensor], domain: str,
                 extractor: InceptionFeatures | None) -> _DomainPass:
    forward, backward = ("a2b", "b2a") if domain == "a" else ("b2a", "a2b")
    result = _DomainPass()
    for real in images:
        fake = translate(real, forward)
        cycled = translate(fake, backward)
        same = translate(real, backward)  # The generator into this domain: should change little.
        result.per_image[f"cycle_l1_{domain}"].append(l1(real, cycled))
        result.per_image[f"cycle_psnr_{domain}"].append(psnr(real, cycled))
        result.per_image[f"identity_l1_{domain}"].append(l1(real, same))
        if extractor is not None:
            result.real_features.append(extractor(real))
            result.fake_features.append(extractor(fake))
    if not result.per_image:
        raise ValueError(f"No test images of domain {domain.upper()} to evaluate.")
    return result


def translation_metrics(translate: Translate, images_a: Iterable[tf.Tensor],
                        images_b: Iterable[tf.Tensor], extractor: InceptionFeatures | None = None,
                        kid_subsets: int = KID_SUBSETS, kid_subset_size: int = KID_SUBSET_SIZE,
                        seed: int = 0) -> dict[str, float]:
    """Metrics of generators G ('a2b') and F ('b2a') over batches of test images in [-1, 1].

    Always: `cycle_l1_a`, `cycle_psnr_a` (A vs F(G(A))), `identity_l1_a` (A vs F(A)), and the
    same for B. With `extractor`: `fid_a`, `kid_a`, `kid_a_std` (F(B) vs real A), and
    `fid_b`, `kid_b`, `kid_b_std` (G(A) vs real B); `seed` draws the KID subsets.
    """
    pass_a = _domain_pass(translate, images_a, "a", extractor)
    pass_b = _domain_pass(translate, images_b, "b", extractor)
    values = {**pass_a.means(), **pass_b.means()}
    if extractor is not None:
        for domain, real, fake in (("a", pass_a.real_features, pass_b.fake_features),
                                   ("b", pass_b.real_features, pass_a.fake_features)):
            real, fake = np.concatenate(real), np.concatenate(fake)
            values[f"fid_{domain}"] = fid(real, fake)
            values[f"kid_{domain}"], values[f"kid_{domain}_std"] = kid(
                real, fake, kid_subsets, kid_subset_size, seed)
    return dict(sorted(values.items()))


def paired_metrics(translate: Translate,
                   pairs: Iterable[tuple[tf.Tensor, tf.Tensor]]) -> dict[str, float]:
    """`paired_l1`, `paired_psnr` and `paired_ssim` of G(A) against ground truth, over
    batches of (A image, matching B image) in [-1, 1]."""
    per_image = collections.defaultdict(list)
    for real_a, truth_b in pairs:
        fake_b = translate(real_a, "a2b")
        per_image["paired_l1"].append(l1(truth_b, fake_b))
        per_image["paired_psnr"].append(psnr(truth_b, fake_b))
        per_image["paired_ssim"].append(ssim(truth_b, fake_b))
    if not per_image:
        raise ValueError("No image pairs to evaluate.")
    return {name: float(np.mean(np.concatenate(values))) for name, values in per_image.items()}
