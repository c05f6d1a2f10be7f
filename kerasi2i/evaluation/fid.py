"""FID and KID on deep features, and scoring a generator on a paired dataset split.

Features are computed once per image set (`compute_features`, streaming over an array
or a `tf.data` dataset in batches, with a progress bar) and then compared as often as
needed:

    extractor = inception_feature_extractor()            # or weights="path/to/file.h5"
    real = compute_features(real_images, extractor)      # (N, 2048)
    fake = compute_features(fake_images, extractor)
    frechet_distance(real, fake), kernel_inception_distance(real, fake)

FID (Heusel et al. 2017) is the Frechet distance between Gaussians fitted to the two
feature sets: ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)). It is biased upwards for
small sets (its expected value falls as the number of images grows), so only compare FIDs
computed on the same number of images; papers use 10k-50k. KID (Binkowski et al. 2018) is
the unbiased estimate of the squared MMD with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over random subsets: its expected value is 0 for two
samples of the same distribution whatever their size, so it suits small test sets.

Two Inception networks are offered, and every FID printed here says which one it used:

- `fid_inception_extractor()`: **the standard FID network**, the 2015 Inception graph of
  TF-GAN, pytorch-fid and clean-fid (`kerasi2i.evaluation.fid_inception`), with pytorch-fid's
  weights converted once by `kerasi2i.evaluation.fid_inception.convert_pytorch_fid_weights()`. Its
  FIDs are comparable with published ones (same number of images, same resize).
- `inception_feature_extractor()`: `keras.applications.InceptionV3` with its ImageNet
  weights (no top, global average pool: 2048 features). **Not the standard network**:
  other weights and blocks, so its FIDs are on a different scale and cannot be compared
  with any paper's; only with each other.

Both take 299x299 images in [-1, 1] (the scale kerasi2i's images are already in).
`compute_features(..., resize="bilinear")` resizes as pytorch-fid does (bilinear, no
antialiasing); `resize="clean"` as clean-fid's default mode does (PIL bicubic, with
antialiasing, per channel in float, and clean-fid's (x - 128) / 128 scaling). Any Keras
model can be passed instead, with the image size it expects.
"""
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerasi2i.imaging import from_uint8_tf

__all__ = [
    "FeatureStats",
    "INCEPTION_SIZE",
    "INCEPTION_WEIGHTS_FILE",
    "INCEPTION_WEIGHTS_URL",
    "KERAS_INCEPTION_LABEL",
    "METRIC_LABELS",
    "RESIZE_MODES",
    "STANDARD_FID_LABEL",
    "WeightsUnavailableError",
    "cached_fid_weights",
    "cached_inception_weights",
    "compute_features",
    "describe_extractor",
    "evaluate_generator",
    "fid_inception_extractor",
    "frechet_distance",
    "frechet_distance_from_stats",
    "inception_feature_extractor",
    "kernel_inception_distance",
    "load_feature_extractor",
    "mmd2_unbiased",
    "polynomial_kernel",
    "prepare_images",
    "run_evaluation",
]

INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
                         + INCEPTION_WEIGHTS_FILE)
INCEPTION_SIZE = 299


RESIZE_MODES = ("bilinear", "clean")
STANDARD_FID_LABEL = "standard FID Inception (pytorch-fid / TF-GAN 2015 weights; comparable with papers)"
KERAS_INCEPTION_LABEL = ("keras.applications InceptionV3 ImageNet (NOT the standard FID network: "
                         "not comparable with papers)")


class WeightsUnavailableError(RuntimeError):
    """The InceptionV3 ImageNet weights are neither cached nor downloadable."""


def _keras_cache_dirs():
    dirs = []
    if os.environ.get("KERAS_HOME"):
        dirs.append(Path(os.environ["KERAS_HOME"]))
    dirs += [Path.home() / ".keras", Path("/tmp/.keras")]
    return [d / "models" for d in dirs]


def _in_keras_cache(filename):
    """The path of `filename` in the first Keras cache folder that has it, or None."""
    for d in _keras_cache_dirs():
        if (d / filename).is_file():
            return d / filename
    return None


def cached_inception_weights():
    """The path of the InceptionV3 no-top ImageNet weights in the Keras cache, or None."""
    return _in_keras_cache(INCEPTION_WEIGHTS_FILE)


def _weights_help():
    return (f"Download {INCEPTION_WEIGHTS_URL} on a machine with internet and either put it in "
            f"{_keras_cache_dirs()[0] / INCEPTION_WEIGHTS_FILE} (where Keras caches it; then weights='imagenet' "
            f"works offline) or pass its path: inception_feature_extractor(weights='path/to/{INCEPTION_WEIGHTS_FILE}') "
            f"(on the command line: --fid-weights FILE).")


def inception_feature_extractor(weights="imagenet", input_size=INCEPTION_SIZE):
    """Non-standard FID/KID features: keras.applications' InceptionV3 without its
    classifier, global average pooled: 2048 features per image.

    Not the network published FIDs use (see `fid_inception_extractor`): its FIDs compare
    runs scored with it, never a paper's numbers.

    `weights="imagenet"` uses the Keras cache (`~/.keras/models/`) and downloads the file
    once when online; a path loads that weights file (Keras' own
    `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, or a `.weights.h5` saved
    from `InceptionV3(include_top=False, pooling="avg")`). Offline without either, raises
    `WeightsUnavailableError` saying where to get the file. `weights=None` gives random
    weights (for tests only: its FIDs mean nothing). `input_size` is 299 for FID as
    published; at least 75.
    """
    kwargs = dict(include_top=False, pooling="avg", input_shape=(input_size, input_size, 3))
    if weights is None:
        return keras.applications.InceptionV3(weights=None, **kwargs)
    if weights == "imagenet":
        cached = cached_inception_weights()
        if cached is not None:
            return keras.applications.InceptionV3(weights=str(cached), **kwargs)
        try:
            return keras.applications.InceptionV3(weights="imagenet", **kwargs)
        except Exception as err:  # keras raises a bare Exception for a failed download
            raise WeightsUnavailableError(
                f"Could not get the InceptionV3 ImageNet weights for FID/KID ({err}). {_weights_help()}"
            ) from err
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"InceptionV3 weights file '{path}' does not exist. {_weights_help()}")
    try:
        return keras.applications.InceptionV3(weights=str(path), **kwargs)
    except Exception as err:  # h5py, zipfile and Keras raise many types for a file that is not weights
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        raise WeightsUnavailableError(
            f"'{path}' is not an InceptionV3 no-top weights file ({type(err).__name__}: {reason}). {_weights_help()}"
        ) from None


def cached_fid_weights():
    """The path of the converted standard FID Inception weights in the Keras cache
    (written by `kerasi2i.evaluation.fid_inception.convert_pytorch_fid_weights()`), or None."""
    from kerasi2i.evaluation.fid_inception import FID_WEIGHTS_FILE

    return _in_keras_cache(FID_WEIGHTS_FILE)


def _fid_weights_help():
    from kerasi2i.evaluation.fid_inception import FID_WEIGHTS_FILE, FID_WEIGHTS_URL

    return (f"Convert pytorch-fid's weights once, on a machine with internet and torch (pip install "
            f"'kerasi2i[fid]'): python -c \"from kerasi2i.evaluation.fid_inception import convert_pytorch_fid_weights as c; "
            f"c()\" downloads {FID_WEIGHTS_URL} and writes {_keras_cache_dirs()[0] / FID_WEIGHTS_FILE}; "
            f"copy that file to the same place on an offline machine, or pass its path "
            f"(fid_inception_extractor(weights='path/to/{FID_WEIGHTS_FILE}'), --fid-weights FILE).")


def fid_inception_extractor(weights="standard", input_size=INCEPTION_SIZE):
    """The standard FID network (`kerasi2i.evaluation.fid_inception.fid_inception_v3`): 2048 pool
    features per image, as pytorch-fid, TF-GAN and clean-fid compute them.

    `weights="standard"` loads the converted weights from the Keras cache
    (`cached_fid_weights()`) and raises `WeightsUnavailableError`, saying how to make
    them, when they are not there; a path loads that `.weights.h5` (or converts a
    pytorch-fid `.pth`, which needs torch); None gives random weights (tests only: its
    FIDs mean nothing). `input_size` is 299 for FID as published.
    """
    from kerasi2i.evaluation.fid_inception import convert_pytorch_fid_weights, fid_inception_v3

    shape = (input_size, input_size, 3)
    if weights is None:
        return fid_inception_v3(shape, weights=None)
    if isinstance(weights, str) and weights == "standard":
        cached = cached_fid_weights()
        if cached is None:
            raise WeightsUnavailableError(f"The standard FID Inception weights are not in the Keras cache. "
                                          f"{_fid_weights_help()}")
        return fid_inception_v3(shape, weights=cached)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"FID Inception weights file '{path}' does not exist. {_fid_weights_help()}")
    if path.suffix == ".pth":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            converted = convert_pytorch_fid_weights(path, Path(tmp) / "fid_inception.weights.h5")
            return fid_inception_v3(shape, weights=converted)
    return fid_inception_v3(shape, weights=path)


def describe_extractor(extractor):
    """Which feature network an extractor is, in words, for every printed FID: the
    standard FID Inception, keras.applications' InceptionV3 (not comparable with papers)
    or another model (named)."""
    if extractor is None:
        return None
    name = getattr(extractor, "name", "")
    if name == "fid_inception_v3":
        return STANDARD_FID_LABEL
    if name == "inception_v3":
        return KERAS_INCEPTION_LABEL
    return f"custom feature extractor '{name or type(extractor).__name__}' (not comparable with papers)"


def load_feature_extractor(weights):
    """A feature extractor from a weights file of either network: a pytorch-fid `.pth`
    or a converted `.weights.h5` gives the standard FID Inception; a file that does not
    fit it is loaded into keras.applications' InceptionV3 (non-standard)."""
    path = Path(weights).expanduser()
    if path.suffix == ".pth":
        return fid_inception_extractor(path)
    if path.is_file():
        try:
            return fid_inception_extractor(path)
        except Exception:  # not the FID network's weights: try keras.applications' InceptionV3
            pass
    return inception_feature_extractor(weights=weights)


def _batches(data, batch_size, element):
    """Yield float32 numpy batches from an array or a dataset (of batches or tuples)."""
    if isinstance(data, tf.data.Dataset):
        for item in data:
            if isinstance(item, (tuple, list)):
                if element is None:
                    raise ValueError("The dataset yields tuples (e.g. (input, target) pairs): pass element=1 to "
                                     "use the targets, element=0 for the inputs.")
                item = item[element]
            yield np.asarray(item)
        return
    data = np.asarray(data)
    if data.ndim == 3:
        data = data[None]
    for start in range(0, len(data), batch_size):
        yield data[start:start + batch_size]


def _clean_resize(images, input_size):
    """clean-fid's "clean" mode (`make_resizer("PIL", False, "bicubic", ...)`): each
    channel resized on its own as a float32 PIL image with bicubic filtering (PIL
    antialiases when it shrinks), clipped to [0, 255], then scaled by (x - 128) / 128 as
    clean-fid does before its Inception network. `images` are in [0, 255]."""
    from PIL import Image

    out = np.empty((len(images), input_size, input_size, images.shape[-1]), np.float32)
    for i, image in enumerate(images):
        for c in range(image.shape[-1]):
            channel = Image.fromarray(image[..., c].astype(np.float32), mode="F")
            channel = channel.resize((input_size, input_size), resample=Image.BICUBIC)
            out[i, ..., c] = np.asarray(channel).clip(0, 255)
    return tf.constant((out - 128.0) / 128.0)


def prepare_images(images, input_size=INCEPTION_SIZE, channels=3, resize="bilinear"):
    """[-1, 1] float or uint8 images -> float32 in about [-1, 1], resized to `input_size`
    (None keeps the size), grey repeated to `channels`.

    `resize="bilinear"`: bilinear without antialiasing, what pytorch-fid does
    (`F.interpolate(..., mode="bilinear", align_corners=False)`). `resize="clean"`:
    clean-fid's default mode, PIL bicubic per channel in float on the [0, 255] values
    (float images are mapped there as (x + 1) * 127.5, uint8 ones as they are; pass uint8
    to match clean-fid on image files exactly), then (x - 128) / 128.
    """
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}; received resize={resize!r}")
    images = tf.convert_to_tensor(images)
    if channels == 3 and images.shape[-1] == 1:
        images = tf.repeat(images, 3, axis=-1)
    if resize == "clean":
        values = tf.cast(images, tf.float32) if images.dtype == tf.uint8 else \
            (tf.cast(images, tf.float32) + 1.0) * 127.5
        return _clean_resize(np.asarray(values), input_size or int(images.shape[1]))
    if images.dtype == tf.uint8:
        images = from_uint8_tf(images)
    images = tf.cast(images, tf.float32)
    if input_size is not None and tuple(images.shape[1:3]) != (input_size, input_size):
        images = tf.image.resize(images, (input_size, input_size), method="bilinear", antialias=False)
    return images


def compute_features(data, extractor=None, *, input_size="auto", batch_size=32, element=None, progress=True,
                     resize="bilinear"):
    """Features of every image in `data`, shape (N, features).

    Args:
        data: images (N, H, W, C) in [-1, 1] (or uint8), or a `tf.data` dataset of such
            batches; a dataset of tuples needs `element` (0 inputs, 1 targets).
        extractor: a Keras model from images to feature vectors; None builds
            `fid_inception_extractor()` (the standard FID network; its converted
            weights must be in the Keras cache).
        input_size: the square size images are resized to; "auto" takes it from the
            extractor's input shape (keeping the images' size if that is None).
        batch_size: images per forward pass for arrays (a dataset keeps its batches).
        progress: show a `keras.utils.Progbar`.
        resize: "bilinear" (pytorch-fid) or "clean" (clean-fid); see `prepare_images`.
    """
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}; received resize={resize!r}")
    if extractor is None:
        extractor = fid_inception_extractor()
    if input_size == "auto":
        input_size = extractor.input_shape[1]
    channels = extractor.input_shape[-1]
    total = None
    if not isinstance(data, tf.data.Dataset):
        total = len(np.asarray(data))
    elif int(data.cardinality()) > 0:
        total = int(data.cardinality())
    bar = keras.utils.Progbar(total, unit_name="image" if not isinstance(data, tf.data.Dataset) else "batch") \
        if progress else None
    features = []
    for i, batch in enumerate(_batches(data, batch_size, element)):
        x = prepare_images(batch, input_size, channels, resize=resize)
        features.append(np.asarray(extractor(x, training=False), dtype=np.float64).reshape(len(batch), -1))
        if bar is not None:
            bar.update(sum(len(f) for f in features) if not isinstance(data, tf.data.Dataset) else i + 1)
    if not features:
        raise ValueError("No images to compute features of.")
    return np.concatenate(features)


class FeatureStats:
    """Mean and covariance of a feature set (what FID needs), plus the features themselves
    (what KID needs) when built from them. Save the stats of a large reference set once
    (`np.savez(path, mu=s.mu, sigma=s.sigma, n=s.n)`) and reuse them."""

    def __init__(self, mu, sigma, n=None, features=None):
        self.mu = np.asarray(mu, dtype=np.float64)
        self.sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
        self.n = n
        self.features = features
        if self.sigma.shape != (len(self.mu), len(self.mu)):
            raise ValueError(f"sigma must be ({len(self.mu)}, {len(self.mu)}) for a mean of length {len(self.mu)}; "
                             f"got {self.sigma.shape}.")

    @classmethod
    def from_features(cls, features):
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or len(features) < 2:
            raise ValueError(f"features must be (N >= 2, d); got shape {features.shape}.")
        return cls(features.mean(axis=0), np.cov(features, rowvar=False), len(features), features)

    def __repr__(self):
        return f"FeatureStats(n={self.n}, dim={len(self.mu)})"


def _stats(x):
    return x if isinstance(x, FeatureStats) else FeatureStats.from_features(x)


def _sqrtm_psd(m):
    values, vectors = np.linalg.eigh((m + m.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance_from_stats(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), the Frechet (2-Wasserstein)
    distance between two Gaussians.

    Tr((S1 S2)^(1/2)) is computed as the sum of the square roots of the eigenvalues of
    the symmetric PSD matrix S1^(1/2) S2 S1^(1/2) (same eigenvalues as S1 S2), which stays
    real and stable where `scipy.linalg.sqrtm` of S1 S2 can return complex noise.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    root1 = _sqrtm_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    tr_covmean = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def frechet_distance(feats_a, feats_b):
    """FID between two feature sets (arrays (N, d) or `FeatureStats`)."""
    a, b = _stats(feats_a), _stats(feats_b)
    return frechet_distance_from_stats(a.mu, a.sigma, b.mu, b.sigma)


def polynomial_kernel(x, y):
    """KID's kernel k(x, y) = (x.y / d + 1)^3 between the rows of x and y."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y):
    """Unbiased estimate of the squared MMD between samples x (m, d) and y (n, d) with
    `polynomial_kernel` (the diagonal terms k(x_i, x_i) are left out)."""
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def kernel_inception_distance(feats_a, feats_b, subsets=100, subset_size=1000, seed=0, return_std=False):
    """KID: the unbiased squared MMD, averaged over `subsets` random subsets of
    `min(subset_size, len(a), len(b))` features drawn without replacement from each set.

    Returns the mean (and, with `return_std=True`, the standard deviation over subsets).
    Values can be slightly negative: the estimator is unbiased, not positive. Often
    reported x 1000.
    """
    a = feats_a.features if isinstance(feats_a, FeatureStats) else np.asarray(feats_a, np.float64)
    b = feats_b.features if isinstance(feats_b, FeatureStats) else np.asarray(feats_b, np.float64)
    if a is None or b is None:
        raise ValueError("KID needs the features themselves: pass arrays or FeatureStats.from_features(...).")
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError(f"KID needs at least 2 features per set; got {len(a)} and {len(b)}.")
    rng = np.random.default_rng(seed)
    values = np.array([
        mmd2_unbiased(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
        for _ in range(subsets)
    ])
    return (float(values.mean()), float(values.std())) if return_std else float(values.mean())


# --------------------------------------------------------------------------------------
# Scoring a generator on a paired split (`kerasi2i evaluate`)


def evaluate_generator(generator, dataset, extractor=None, kid_subset_size=1000, resize="bilinear"):
    """Scores of `generator` on a paired dataset of `(input, target)` batches in [-1, 1].

    L1, PSNR, SSIM, sharpness and MS-SSIM (with `kerasi2i.evaluation.metrics.ms_ssim_scales` scales;
    left out for images under 22 px, where it would be plain SSIM), averaged over images;
    with a feature `extractor`, also FID and KID between outputs and targets (images
    resized as `resize` says, see `prepare_images`), and `fid_network`: which network
    they come from, in words (`describe_extractor`).
    Returns a dict of floats (plus `ms_ssim_scales` and `images`).
    """
    from kerasi2i.evaluation import metrics

    fns = {"l1": metrics.l1, "psnr": metrics.psnr, "ssim": metrics.ssim, "sharpness": metrics.sharpness}
    values = {name: [] for name in fns}
    feats_out, feats_true = [], []
    scales = None
    for x, y in dataset:
        out = generator(x, training=False)
        if out.shape[-1] != y.shape[-1]:
            out = tf.repeat(out, y.shape[-1], axis=-1)
        if scales is None:
            scales = metrics.ms_ssim_scales(min(y.shape[1], y.shape[2]))
            if scales >= 2:
                fns["ms_ssim"], values["ms_ssim"] = metrics.ms_ssim, []
        for name, fn in fns.items():
            values[name].extend(np.asarray(fn(y, out)).tolist())
        if extractor is not None:
            feats_out.append(compute_features(out, extractor, progress=False, resize=resize))
            feats_true.append(compute_features(y, extractor, progress=False, resize=resize))
    result = {name: float(np.mean(v)) for name, v in values.items()}
    result["ms_ssim_scales"] = scales
    result["images"] = len(values["l1"])
    if extractor is not None:
        a, b = np.concatenate(feats_true), np.concatenate(feats_out)
        result["fid"] = frechet_distance(a, b)
        result["kid"] = kernel_inception_distance(a, b, subsets=100, subset_size=kid_subset_size)
        result["fid_network"] = describe_extractor(extractor)
        result["fid_resize"] = resize
    return result


METRIC_LABELS = {"l1": "L1 (lower is better)", "psnr": "PSNR dB", "ssim": "SSIM", "ms_ssim": "MS-SSIM",
                 "sharpness": "sharpness (1 = as sharp as targets)", "fid": "FID (lower is better)",
                 "kid": "KID (lower is better)"}


def run_evaluation(model, data, *, split="test", direction="AtoB", image_size=None, fid_weights=None,
                   json_path=None, batch_size=8, printer=print, on_bad="raise", test_mode=None):
    """`kerasi2i evaluate`: score a saved generator on a paired split, print a table and
    optionally write the scores as JSON. FID/KID are computed when `fid_weights` (a
    weights file of either network, `load_feature_extractor`) is given, or else with the
    standard FID Inception when its converted weights are in the Keras cache, or else
    with keras.applications' InceptionV3 (non-standard) when its ImageNet weights are;
    the table says which network; otherwise a line says why they are skipped. `on_bad="skip"`
    leaves unreadable images out with a warning (as `load_paired`). `test_mode`: "eval" or
    "paper" (`kerasi2i.models.pix2pix.generate`); None takes the training run's, else
    "eval". Returns the dict of scores."""
    import json

    from kerasi2i import data as kdata
    from kerasi2i.deploy.inference import generator_file, load_generator, run_test_mode
    from kerasi2i.models.pix2pix import generate

    path_of_model = generator_file(model)
    generator = load_generator(path_of_model)
    test_mode = test_mode or run_test_mode(path_of_model)
    size = image_size or generator.input_shape[1]
    if size is None:
        raise ValueError("The generator accepts any size: pass --image-size.")
    path = kdata.resolve_data(data, size)
    ds = kdata.load_paired(path, split, direction=direction, image_size=size, training=False,
                           input_channels=generator.input_shape[-1], output_channels=generator.output_shape[-1],
                           batch_size=batch_size, on_bad=on_bad)
    extractor, skipped = None, None
    if fid_weights is not None:
        extractor = load_feature_extractor(fid_weights)
    elif cached_fid_weights() is not None:
        extractor = fid_inception_extractor("standard")
    elif cached_inception_weights() is not None:
        extractor = inception_feature_extractor(weights="imagenet")
    else:
        skipped = ("FID/KID skipped: no Inception weights. For the standard FID network (comparable with "
                   f"papers): {_fid_weights_help()} Or, non-standard (not comparable with papers): put "
                   f"{INCEPTION_WEIGHTS_FILE} (from {INCEPTION_WEIGHTS_URL}) in {_keras_cache_dirs()[0]}.")
    scores = evaluate_generator(lambda x, training=False: generate(generator, x, test_mode), ds, extractor=extractor)
    scores["test_mode"] = test_mode
    printer(f"{Path(str(model)).name} on {path} [{split}, {direction}, {size} px, {scores['images']} images, "
            f"test mode {test_mode}]")
    for key, label in METRIC_LABELS.items():
        if key in scores:
            note = f"  ({scores['ms_ssim_scales']} scales)" if key == "ms_ssim" else ""
            printer(f"  {label:<38s}{scores[key]:10.4f}{note}")
    if "fid_network" in scores:
        printer(f"  FID/KID network: {scores['fid_network']}")
    if "ms_ssim" not in scores:
        printer(f"  MS-SSIM skipped: {size} px images are too small for 2 scales (needs 22 px or more).")
    if skipped:
        printer(skipped)
    scores.update(model=str(model), data=str(path), split=split, direction=direction, image_size=size)
    if json_path is not None:
        Path(json_path).write_text(json.dumps(scores, indent=1))
        printer(f"Scores written to {json_path}")
    return scores
