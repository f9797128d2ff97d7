"""Tests of `cyclegan_tf.metrics`: FID and KID against direct NumPy/SciPy computations,
pixel metrics on constructed cases, and the Inception feature path with random weights."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.signal
import tensorflow as tf

from cyclegan_tf.core import metrics


def _reference_fid(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook formula, as pytorch-fid computes it."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root))


def _reference_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, written as explicit sums over pairs."""
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("n, dims", [(400, 6), (12, 40)], ids=["more_images", "fewer_images"])
def test_fid_matches_scipy_sqrtm(n, dims):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, dims)) @ rng.normal(size=(dims, dims))
    y = rng.normal(0.5, 2.0, size=(n + 3, dims))
    assert metrics.fid(x, y) == pytest.approx(_reference_fid(x, y), rel=1e-6, abs=1e-6)
    assert metrics.fid(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_of_shifted_gaussians_has_the_closed_form():
    rng = np.random.default_rng(1)
    dims, n = 4, 20000
    sd_1, sd_2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([1.5, 2.0, 1.0, 0.5])
    shift = np.array([1.0, -2.0, 0.0, 0.5])
    x = rng.normal(size=(n, dims)) * sd_1
    y = rng.normal(size=(n, dims)) * sd_2 + shift
    # N(0, diag(s1^2)) vs N(mu, diag(s2^2)): ||mu||^2 + sum (s1 - s2)^2.
    closed = np.sum(shift ** 2) + np.sum((sd_1 - sd_2) ** 2)
    assert metrics.fid(x, y) == pytest.approx(closed, abs=0.05)
    # The same samples shifted: the covariances agree exactly, only the mean term is left.
    assert metrics.fid(x, x + shift) == pytest.approx(np.sum(shift ** 2), rel=1e-9)


def test_fid_needs_two_images_per_set():
    with pytest.raises(ValueError, match="at least two images"):
        metrics.fid(np.ones((1, 4)), np.ones((5, 4)))


def test_mmd_and_kid_match_direct_computation():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(9, 5)), rng.normal(0.3, 1.2, size=(7, 5))
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(_reference_mmd2(x, y), rel=1e-9)
    # Subsets as large as the smaller set, drawn from equal-sized sets: every subset is the
    # whole set, so the mean is the MMD of the sets and the spread is zero.
    mean, std = metrics.kid(x[:7], y, num_subsets=5)
    assert mean == pytest.approx(_reference_mmd2(x[:7], y), rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_subsets_are_seeded_and_sized_by_the_smaller_set():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(60, 8)), rng.normal(1.0, 1.0, size=(50, 8))
    shifted = metrics.kid(x, y, num_subsets=20, subset_size=10, seed=4)
    assert shifted == metrics.kid(x, y, num_subsets=20, subset_size=10, seed=4)
    assert shifted != metrics.kid(x, y, num_subsets=20, subset_size=10, seed=5)
    assert shifted[1] > 0  # Subsets of 10 differ.
    identical, _ = metrics.kid(x, x, num_subsets=20)
    assert abs(identical) < 0.05 * shifted[0]


def _images(n: int = 3, size: int = 32, seed: int = 0) -> tf.Tensor:
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-0.6, 0.6, (n, size, size, 3)), tf.float32)


def test_pixel_metrics_on_constructed_cases():
    images = _images(size=64)
    sigma = 0.02  # In [0, 1] units; the images' [-1, 1] range doubles it.
    noisy = images + tf.random.stateless_normal(images.shape, [1, 2], stddev=2 * sigma)
    assert metrics.l1(images, images) == pytest.approx(np.zeros(3))
    assert metrics.psnr(images, images) == pytest.approx(np.full(3, metrics.MAX_PSNR))
    mse = np.mean(((noisy - images).numpy() / 2) ** 2, axis=(1, 2, 3))
    assert metrics.psnr(images, noisy) == pytest.approx(-10 * np.log10(mse), abs=1e-3)
    assert metrics.psnr(images, noisy) == pytest.approx(np.full(3, -20 * np.log10(sigma)),
                                                        abs=0.3)
    assert metrics.l1(images, noisy) == pytest.approx(
        np.mean(np.abs((noisy - images).numpy() / 2), axis=(1, 2, 3)), rel=1e-5)
    assert metrics.l1(images, noisy) == pytest.approx(np.full(3, sigma * np.sqrt(2 / np.pi)),
                                                      rel=0.05)
    assert metrics.ssim(images, images) == pytest.approx(np.ones(3), abs=1e-6)


def _reference_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM of two [H, W, C] images in [0, 1]: 11x11 Gaussian (sigma 1.5), valid windows."""
    ax = np.arange(11) - 5
    g = np.exp(-(ax ** 2) / (2 * 1.5 ** 2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    filt = lambda a: scipy.signal.convolve2d(a, window, mode="valid")  # noqa: E731
    maps = []
    for c in range(x.shape[-1]):
        a, b = x[..., c], y[..., c]
        mu_a, mu_b = filt(a), filt(b)
        var_a, var_b = filt(a * a) - mu_a ** 2, filt(b * b) - mu_b ** 2
        cov = filt(a * b) - mu_a * mu_b
        maps.append((2 * mu_a * mu_b + c1) * (2 * cov + c2)
                    / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))
    return float(np.mean(maps))


def test_ssim_matches_the_standard_definition():
    x, y = _images(1, seed=1), _images(1, seed=2) * 0.5 + _images(1, seed=1) * 0.5
    expected = _reference_ssim((x[0].numpy() + 1) / 2, (y[0].numpy() + 1) / 2)
    assert metrics.ssim(x, y)[0] == pytest.approx(expected, abs=1e-4)


def test_translation_metrics_of_identity_and_noisy_generators():
    batches = [_images(2, size=64, seed=1), _images(3, size=64, seed=2)]
    perfect = metrics.translation_metrics(lambda images, direction: images, batches, batches)
    for domain in "ab":
        assert perfect[f"cycle_l1_{domain}"] == 0 and perfect[f"identity_l1_{domain}"] == 0
        assert perfect[f"cycle_psnr_{domain}"] == metrics.MAX_PSNR

    sigma = 0.01
    counter = iter(range(1000))

    def noisy(images, direction):
        noise = tf.random.stateless_normal(images.shape, [next(counter), 0], stddev=2 * sigma)
        return images + noise

    values = metrics.translation_metrics(noisy, batches, batches)
    # A cycle adds noise twice: MSE 2 sigma^2.
    assert values["cycle_psnr_a"] == pytest.approx(-10 * np.log10(2 * sigma ** 2), abs=0.15)
    assert values["identity_l1_b"] == pytest.approx(sigma * np.sqrt(2 / np.pi), rel=0.05)
    assert not any(name.startswith(("fid", "kid")) for name in values)

    truth = [(a, a + tf.random.stateless_normal(a.shape, [7, i], stddev=2 * sigma))
             for i, a in enumerate(batches)]
    paired = metrics.paired_metrics(lambda images, direction: images, truth)
    assert paired["paired_psnr"] == pytest.approx(-20 * np.log10(sigma), abs=0.15)
    assert 0.5 < paired["paired_ssim"] < 1 and paired["paired_l1"] > 0


def test_higher_is_better():
    assert metrics.higher_is_better("cycle_psnr_a") and metrics.higher_is_better("paired_ssim")
    assert not any(map(metrics.higher_is_better, ("cycle_l1_a", "fid_b", "kid_a")))


@pytest.fixture(scope="module")
def random_inception() -> metrics.InceptionFeatures:
    return metrics.InceptionFeatures(weights=None)


def test_inception_features_with_random_weights(random_inception):
    features = random_inception(_images(2, size=32))
    assert features.shape == (2, 2048) and np.isfinite(features).all()
    # Deterministic, and independent of the rest of the batch.
    np.testing.assert_allclose(random_inception(_images(2, size=32)[:1]), features[:1],
                               rtol=1e-4, atol=1e-5)
    assert random_inception(_images(1, size=40)).shape == (1, 2048)  # Any size is resized.

    batches = [_images(1, seed=1), _images(1, seed=2)]
    values = metrics.translation_metrics(lambda images, direction: images, batches, batches,
                                         extractor=random_inception)
    assert values["fid_a"] == pytest.approx(0.0, abs=1e-3)  # Translations equal the reals.
    assert {"fid_b", "kid_a", "kid_a_std", "kid_b", "kid_b_std"} <= set(values)


def test_inception_weights_from_a_local_file(random_inception, tmp_path):
    path = str(tmp_path / "inception.weights.h5")
    random_inception.model.save_weights(path)
    assert metrics.find_inception_weights(path) == path
    loaded = metrics.InceptionFeatures(path).model.get_weights()
    for mine, theirs in zip(loaded, random_inception.model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)

    bad = tmp_path / metrics.INCEPTION_WEIGHTS_FILE
    bad.write_bytes(b"not weights")
    with pytest.raises(metrics.InceptionWeightsError, match=metrics.INCEPTION_WEIGHTS_FILE):
        metrics.InceptionFeatures(str(bad))


def test_missing_inception_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(metrics, "_keras_cache_dirs",
                        lambda: [str(tmp_path / "keras" / "models")])
    with pytest.raises(metrics.InceptionWeightsError) as error:
        metrics.find_inception_weights()
    message = str(error.value)
    assert metrics.INCEPTION_WEIGHTS_URL in message and "--inception_weights" in message
    assert str(tmp_path / "keras" / "models") in message
    with pytest.raises(metrics.InceptionWeightsError, match="--inception_weights='nope.h5'"):
        metrics.find_inception_weights("nope.h5")

    cached = tmp_path / "keras" / "models" / metrics.INCEPTION_WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert metrics.find_inception_weights() == str(cached)
