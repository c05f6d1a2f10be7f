"""Input drift checks for a deployed generator: do incoming images still look like the
training inputs?

A translation model is only trustworthy on inputs like those it was trained on; a new
camera, other lighting or another kind of scene degrade it silently (it always returns
*some* image). ``DriftMonitor`` keeps feature statistics of the training inputs and flags
batches whose statistics are further from them than held-out training batches ever are:

    monitor = DriftMonitor().fit(train_inputs)      # arrays or a tf.data dataset of (x, y)
    monitor.score(batch)                            # a distance, 0 = typical
    monitor.is_drift(batch)                         # score > threshold(len(batch))
    monitor.report(batch)                           # score, threshold, and per feature group

Features of each image, after resizing to ``image_size`` (all deterministic, nothing is
downloaded):

- ``colour``: per-channel mean and standard deviation;
- ``histogram``: a ``bins``-bin histogram per channel (fractions of pixels);
- ``embedding``: a fixed random convolutional network (two 3x3 stride-2 convolutions
  with ReLU, weights drawn from ``seed``, global average pooling): cheap texture and
  structure statistics, in the spirit of random-feature two-sample tests. A trained
  network (Inception, as in FID) would be more semantic but needs downloaded weights.

**Distance.** Features are standardised with the mean and standard deviation of the
reference (training) images (with a floor of a tenth of the group's median spread, so
that a colour the training set never has cannot dominate through a zero spread). A batch is summarised by the per-feature mean ``m`` and
standard deviation ``s`` of its standardised features, and its distance to the reference
``N(0, 1)`` is the Frechet distance between diagonal Gaussians, per feature:
``mean(m**2 + (s - 1)**2)``. (Diagonal, because batches of a few images cannot estimate
a full covariance; FID uses the full one with thousands of images.)

**Threshold.** ``fit`` holds out a part of the training images (``holdout``). For a
batch of ``n`` images, ``threshold(n)`` is the ``quantile`` (0.99) of the distances of
``calibration_draws`` random batches of ``n`` held-out images (drawn with replacement),
computed once per ``n``. So about 1% of batches from the training distribution are
flagged (the false-alarm rate), and a batch is flagged when it is further from the
training statistics than 99% of genuine held-out batches. Larger batches detect smaller
shifts. The held-out part should have at least as many images as the batches you score.

What counts as "the same distribution" is what the held-out images vary like. A random
hold-out of the training set only knows the training set's own variety: on the bundled
samples, cut from a handful of photos, a batch from a *new* photo is flagged, and rightly
so at that scale (the generator is also worse there). Pass ``calibration=`` images that
show the variation you accept (other scenes, cameras, seasons) to widen the threshold.
"""
import numpy as np
from keras import ops

GROUPS = ("colour", "histogram", "embedding")


def _batches(data):
    """Yield numpy image batches from an array, a list of arrays, or a dataset of
    batches or of ``(x, y)`` tuples (the input side is used)."""
    if isinstance(data, np.ndarray) or hasattr(data, "shape"):
        yield np.asarray(data)
        return
    for item in data:
        if isinstance(item, (tuple, list)) and len(item) == 2 and np.ndim(item[0]) == 4:
            item = item[0]
        yield np.asarray(item)


def _to_unit(images):
    """uint8 [0, 255] or float [-1, 1] (the loaders' range) -> float32 [0, 1], NHWC."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"Expected images (batch, height, width, channels); got shape {images.shape}.")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return np.clip((images.astype(np.float32) + 1.0) / 2.0, 0.0, 1.0)


class DriftMonitor:
    """Flags batches of images whose feature statistics differ from the training set's.

    Args:
        image_size: images are resized to this square size before the features.
        bins: histogram bins per channel.
        embedding_dim: channels of the random convolutional embedding.
        quantile: the calibration quantile (0.99: about 1% false alarms).
        holdout: fraction of the fitted images held out for calibration (at least 8).
        calibration_draws: random held-out batches per batch size.
        seed: the random embedding and the hold-out split.
    """

    def __init__(self, image_size=64, bins=16, embedding_dim=32, quantile=0.99, holdout=0.3,
                 calibration_draws=500, seed=0):
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {quantile!r}.")
        if not 0 < holdout < 1:
            raise ValueError(f"holdout must be in (0, 1), got {holdout!r}.")
        self.image_size = image_size
        self.bins = bins
        self.embedding_dim = embedding_dim
        self.quantile = quantile
        self.holdout = holdout
        self.calibration_draws = calibration_draws
        self.seed = seed
        self.channels = None
        self._thresholds = {}

    # ---------------------------------------------------------------------------- features
    def _build_embedding(self, channels):
        rng = np.random.default_rng(self.seed)
        hidden = self.embedding_dim // 2
        # He-scaled Gaussian kernels (3, 3, in, out).
        self._k1 = rng.normal(0, np.sqrt(2 / (9 * channels)), (3, 3, channels, hidden)).astype(np.float32)
        self._k2 = rng.normal(0, np.sqrt(2 / (9 * hidden)), (3, 3, hidden, self.embedding_dim)).astype(np.float32)

    def features(self, images):
        """Per-image features ``(n, d)`` and the slice of each group in ``d``."""
        x = _to_unit(images)
        if self.channels is None:
            self.channels = x.shape[-1]
            self._build_embedding(self.channels)
        if x.shape[-1] != self.channels:
            raise ValueError(f"The monitor was fitted on {self.channels}-channel images; got {x.shape[-1]} channels.")
        x = ops.convert_to_numpy(
            ops.image.resize(x, (self.image_size, self.image_size), interpolation="bilinear", antialias=True))
        x = np.clip(x, 0.0, 1.0)
        n, c = len(x), self.channels
        colour = np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2))], axis=1)
        # Histogram of every (image, channel) with one bincount.
        idx = np.minimum((x * self.bins).astype(np.int64), self.bins - 1)  # (n, h, w, c)
        offset = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * self.bins  # (n, c)
        counts = np.bincount((idx + offset[:, None, None, :]).ravel(), minlength=n * c * self.bins)
        histogram = counts.reshape(n, c * self.bins) / float(self.image_size**2)
        h = ops.relu(ops.conv(x - 0.5, self._k1, strides=2, padding="same"))
        h = ops.relu(ops.conv(h, self._k2, strides=2, padding="same"))
        embedding = ops.convert_to_numpy(ops.mean(h, axis=(1, 2)))
        feats = np.concatenate([colour, histogram, embedding], axis=1).astype(np.float64)
        return feats

    def _group_slices(self):
        c = self.channels
        sizes = {"colour": 2 * c, "histogram": c * self.bins, "embedding": self.embedding_dim}
        slices, start = {}, 0
        for name in GROUPS:
            slices[name] = slice(start, start + sizes[name])
            start += sizes[name]
        return slices

    def _all_features(self, data):
        feats = [self.features(batch) for batch in _batches(data)]
        if not feats:
            raise ValueError("No images to compute features of.")
        return np.concatenate(feats)

    # --------------------------------------------------------------------------- fit/score
    def fit(self, data, calibration=None):
        """Learn the reference statistics from training inputs (arrays or a dataset of
        batches or ``(x, y)`` batches) and keep a held-out part to calibrate thresholds.

        ``calibration``: images to calibrate on instead of a random held-out part of
        ``data``, when the variation you want to accept is not inside the training set
        (e.g. other cameras or scenes that the model handles well: pass their images).
        """
        self.channels = None
        feats = self._all_features(data)
        n = len(feats)
        if calibration is None:
            n_hold = max(8, int(round(self.holdout * n)))
            if n - n_hold < 8:
                raise ValueError(f"DriftMonitor.fit needs at least 16 images (8 reference + 8 held out); got {n}.")
            order = np.random.default_rng(self.seed).permutation(n)
            reference, held = feats[order[n_hold:]], feats[order[:n_hold]]
        else:
            reference, held = feats, self._all_features(calibration)
            if len(reference) < 8 or len(held) < 8:
                raise ValueError(f"DriftMonitor.fit needs at least 8 images and 8 calibration images; got "
                                 f"{len(reference)} and {len(held)}.")
        self.mean_ = reference.mean(axis=0)
        # A floor for features (nearly) constant on the training set, such as histogram bins
        # of colours it never has: a tenth of the group's median spread. Without it a
        # single odd pixel would dominate the score.
        std = reference.std(axis=0)
        for group in self._group_slices().values():
            std[group] = np.maximum(std[group], max(0.1 * np.median(std[group]), 1e-3))
        self.std_ = std
        self.heldout_ = (held - self.mean_) / self.std_
        self.n_reference_, self.n_heldout_ = len(reference), len(held)
        self._thresholds = {}
        return self

    def _check_fitted(self):
        if not hasattr(self, "mean_"):
            raise RuntimeError("Call DriftMonitor.fit(training_images) first.")

    @staticmethod
    def _distance(z):
        """Diagonal Frechet distance per feature of standardised features ``z`` (n, d)
        to N(0, 1); returns (d,)."""
        return z.mean(axis=0) ** 2 + (z.std(axis=0) - 1.0) ** 2

    def _standardised(self, images):
        self._check_fitted()
        return (self._all_features(images) - self.mean_) / self.std_

    def score(self, images):
        """The distance of a batch of images from the training statistics (0: typical)."""
        return float(self._distance(self._standardised(images)).mean())

    def threshold(self, n):
        """The score above which a batch of ``n`` images is flagged."""
        self._check_fitted()
        if n not in self._thresholds:
            rng = np.random.default_rng(self.seed + n)
            draws = rng.integers(0, self.n_heldout_, (self.calibration_draws, n))
            scores = [self._distance(self.heldout_[d]).mean() for d in draws]
            self._thresholds[n] = float(np.quantile(scores, self.quantile))
        return self._thresholds[n]

    def is_drift(self, images):
        """True when the batch's score exceeds ``threshold(len(batch))``."""
        return self.report(images)["drift"]

    def report(self, images):
        """Score, threshold, verdict, and the score of each feature group (which kind
        of statistic moved: colours, histogram, or texture/structure)."""
        z = self._standardised(images)
        per_feature = self._distance(z)
        score, threshold = float(per_feature.mean()), self.threshold(len(z))
        groups = {name: float(per_feature[s].mean()) for name, s in self._group_slices().items()}
        return {"n": len(z), "score": score, "threshold": threshold, "drift": score > threshold, "groups": groups}
