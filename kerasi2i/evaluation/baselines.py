"""Trivial translators that every trained model must beat, as callables `f(x) -> y` on
batches in [-1, 1], so that `kerasi2i.evaluation.metrics.score_translation(f, pairs)` scores them
like a generator.

- `ConstantImage(image)`: the same output for every input (the mean or median target);
  `mean_photo(path, image_size)` is the mean target of a paired folder's train split.
- `PixelGain.fit(a_images, b_images)`: a per-pixel, per-channel brightness gain fitted on
  two *unpaired* collections (the ratio of the mean B image to the mean A image, on the
  [0, 1] scale): the best a global colour/brightness transform with a fixed layout can do
  without pairs. It darkens a day photo the way night darkens the average building.

Both are fitted on training data only.
"""
import numpy as np


def _array(images):
    return np.asarray(images, np.float32)


def stack_images(dataset):
    """All images of a dataset of batches (or of `(a, b)` batches: the first element) as
    one float32 array."""
    parts = []
    for batch in dataset:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        parts.append(_array(batch))
    return np.concatenate(parts, axis=0)


class ConstantImage:
    """A "translator" that returns `image` for every input."""

    def __init__(self, image):
        self.image = _array(image)

    @classmethod
    def mean(cls, images):
        """The mean image: the best constant under L2."""
        return cls(_array(images).mean(axis=0))

    @classmethod
    def median(cls, images):
        """The per-pixel median image: the best constant under L1."""
        return cls(np.median(_array(images), axis=0))

    def __call__(self, x, training=False):
        return np.broadcast_to(self.image, (int(x.shape[0]),) + self.image.shape).copy()


class PixelGain:
    """`y = gain * x` on the [0, 1] scale, one gain per pixel and channel."""

    def __init__(self, gain):
        self.gain = _array(gain)

    @classmethod
    def fit(cls, a_images, b_images, eps=1e-3):
        """The gain that maps the mean A image onto the mean B image (no pairs needed)."""
        mean_a = (_array(a_images).mean(axis=0) + 1.0) / 2.0
        mean_b = (_array(b_images).mean(axis=0) + 1.0) / 2.0
        if mean_a.shape != mean_b.shape:
            raise ValueError(f"A and B images must have the same shape; received {mean_a.shape} and {mean_b.shape}")
        return cls(mean_b / np.maximum(mean_a, eps))

    def __call__(self, x, training=False):
        unit = (_array(x) + 1.0) / 2.0
        return np.clip(unit * self.gain, 0.0, 1.0) * 2.0 - 1.0


def mean_photo(path, image_size, direction="BtoA"):
    """The mean target image of a paired folder's train split (no jitter): the trivial
    baseline for labels -> photo (one image whatever the input; the best constant under L2,
    the median being the best under L1)."""
    from kerasi2i import data as kdata

    train = kdata.load_paired(path, "train", direction=direction, image_size=image_size, training=False,
                              batch_size=64)
    total, count = 0.0, 0
    for _, y in train:
        total = total + np.asarray(y, np.float64).sum(axis=0)
        count += int(y.shape[0])
    return (total / count).astype(np.float32)
