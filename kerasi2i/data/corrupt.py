"""Corruptions for denoising and inpainting, as tf.data helpers.

Denoising and inpainting turn a dataset of clean images into ``(corrupted, clean)`` pairs
on the fly, with new noise or holes every epoch (``denoising_pairs``,
``inpainting_pairs``). An inpainting model sees four channels: the image with its hole
blanked out (set to 0, mid-grey in [-1, 1]) and the mask (1 in the hole, 0 where the
pixel is known), the input of Pathak et al.'s context encoders (CVPR 2016) and most
later inpainting networks. ``fill_holes`` pastes the prediction into the hole and keeps
every known pixel.
"""
import math

import tensorflow as tf

from kerasi2i.networks.blocks import check_choice, check_int

MASK_KINDS = ("rectangle", "free_form", "mixed")


def _stateless_seed(seed):
    """A shape-[2] int64 seed for the stateless ops: from a tensor, an int or, for None,
    a fresh random draw."""
    if seed is None:
        return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    if isinstance(seed, int):
        return tf.constant([seed, 0], tf.int64)
    return tf.cast(seed, tf.int64)


def _check_fraction_range(low, high, what):
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 < low <= high <= 1):
        raise ValueError(
            f"`{what}` must satisfy 0 < min <= max <= 1; received min={low!r}, max={high!r}"
        )


def rectangle_masks(batch_size, height, width, seed=None, min_size=0.25, max_size=0.5):
    """One random axis-aligned rectangular hole per image.

    Side lengths are uniform in ``[min_size, max_size]`` times the image's height (and
    width), the position uniform over the image.

    Args:
        batch_size, height, width: the shape of the batch (ints or scalar tensors).
        seed: a stateless seed (a shape-[2] int tensor or an int); None draws one.
        min_size, max_size: fractions of the image side, ``0 < min <= max <= 1``.

    Returns:
        float32 ``(batch_size, height, width, 1)``: 1 in the hole, 0 elsewhere.
    """
    _check_fraction_range(min_size, max_size, "min_size/max_size")
    seed = _stateless_seed(seed)
    h_f = tf.cast(height, tf.float32)
    w_f = tf.cast(width, tf.float32)
    frac = tf.random.stateless_uniform([batch_size, 2], seed, min_size, max_size)
    hole_h = tf.maximum(tf.round(frac[:, 0] * h_f), 1.0)
    hole_w = tf.maximum(tf.round(frac[:, 1] * w_f), 1.0)
    pos = tf.random.stateless_uniform([batch_size, 2], seed + [0, 1])
    top = tf.floor(pos[:, 0] * (h_f - hole_h + 1.0))
    left = tf.floor(pos[:, 1] * (w_f - hole_w + 1.0))
    rows = tf.range(h_f)[None, :]  # (1, H)
    cols = tf.range(w_f)[None, :]  # (1, W)
    in_rows = (rows >= top[:, None]) & (rows < (top + hole_h)[:, None])  # (bs, H)
    in_cols = (cols >= left[:, None]) & (cols < (left + hole_w)[:, None])  # (bs, W)
    mask = tf.logical_and(in_rows[:, :, None], in_cols[:, None, :])  # (bs, H, W)
    return tf.cast(mask, tf.float32)[..., None]


def free_form_masks(
    batch_size,
    height,
    width,
    seed=None,
    max_strokes=4,
    vertices=5,
    max_length=0.3,
    brush_width=(0.05, 0.12),
):
    """Free-form holes: thick random brush strokes, after the masks of Yu et al.'s
    "Free-Form Image Inpainting with Gated Convolution" (ICCV 2019), simplified.

    Each image gets 1 to ``max_strokes`` strokes. A stroke is a random walk of
    ``vertices`` points from a uniform start, each step in a uniform direction with a
    length uniform in ``[0.1, 1] * max_length`` times the image size, drawn with a brush
    whose width is uniform in ``brush_width`` (fractions of the image size). A pixel is in
    the hole when it is within half a brush width of a stroke segment.

    Args:
        batch_size, height, width: the shape of the batch.
        seed: a stateless seed (a shape-[2] int tensor or an int); None draws one.
        max_strokes, vertices: ints >= 1 and >= 2.
        max_length: longest step, as a fraction of the image size.
        brush_width: ``(min, max)`` brush width, fractions of the image size.

    Returns:
        float32 ``(batch_size, height, width, 1)``: 1 in the hole, 0 elsewhere.
    """
    check_int(max_strokes, "max_strokes", 1)
    check_int(vertices, "vertices", 2)
    _check_fraction_range(max_length, max_length, "max_length")
    _check_fraction_range(brush_width[0], brush_width[1], "brush_width")
    seed = _stateless_seed(seed)
    h_f = tf.cast(height, tf.float32)
    w_f = tf.cast(width, tf.float32)
    size = tf.minimum(h_f, w_f)
    # Pixel centres as (row, col): (1, H, W, 2).
    grid = tf.stack(tf.meshgrid(tf.range(h_f) + 0.5, tf.range(w_f) + 0.5, indexing="ij"), -1)[None]
    n_strokes = tf.random.stateless_uniform([batch_size], seed, 1, max_strokes + 1, dtype=tf.int32)
    start = tf.random.stateless_uniform([batch_size, max_strokes, 1, 2], seed + [0, 1]) * tf.stack([h_f, w_f])
    angle = tf.random.stateless_uniform([batch_size, max_strokes, vertices - 1], seed + [0, 2], 0, 2 * math.pi)
    length = tf.random.stateless_uniform(
        [batch_size, max_strokes, vertices - 1], seed + [0, 3], 0.1 * max_length, max_length
    ) * size
    steps = tf.stack([tf.sin(angle), tf.cos(angle)], -1) * length[..., None]  # (bs, S, V-1, 2)
    points = tf.concat([start, start + tf.cumsum(steps, axis=2)], axis=2)  # (bs, S, V, 2)
    points = tf.clip_by_value(points, 0.0, tf.stack([h_f, w_f]))
    radius = 0.5 * size * tf.random.stateless_uniform(
        [batch_size, max_strokes], seed + [0, 4], brush_width[0], brush_width[1]
    )
    mask = tf.zeros(tf.stack([batch_size, tf.cast(height, tf.int32), tf.cast(width, tf.int32)]), tf.bool)
    for s in range(max_strokes):
        active = (s < n_strokes)[:, None, None]  # (bs, 1, 1)
        r = radius[:, s, None, None]
        for v in range(vertices - 1):
            a = points[:, s, v, None, None, :]  # (bs, 1, 1, 2)
            b = points[:, s, v + 1, None, None, :]
            ab = b - a
            t = tf.reduce_sum((grid - a) * ab, -1) / tf.maximum(tf.reduce_sum(ab * ab, -1), 1e-6)
            nearest = a + tf.clip_by_value(t, 0.0, 1.0)[..., None] * ab  # (bs, H, W, 2)
            dist = tf.norm(grid - nearest, axis=-1)  # (bs, H, W)
            mask = mask | (active & (dist <= r))
    return tf.cast(mask, tf.float32)[..., None]


def random_masks(batch_size, height, width, kind="mixed", seed=None, **kwargs):
    """Holes of one ``kind``: ``"rectangle"`` (``rectangle_masks``), ``"free_form"``
    (``free_form_masks``) or ``"mixed"`` (each image one or the other with probability
    1/2). ``kwargs`` go to the mask function(s) that accept them."""
    check_choice(kind, "kind", MASK_KINDS)
    seed = _stateless_seed(seed)
    rect_kwargs = {k: v for k, v in kwargs.items() if k in ("min_size", "max_size")}
    free_kwargs = {k: v for k, v in kwargs.items() if k not in rect_kwargs}
    unknown = set(kwargs) - {"min_size", "max_size", "max_strokes", "vertices", "max_length", "brush_width"}
    if unknown:
        raise ValueError(f"Unknown mask arguments {sorted(unknown)}.")
    if kind == "rectangle":
        return rectangle_masks(batch_size, height, width, seed, **rect_kwargs)
    if kind == "free_form":
        return free_form_masks(batch_size, height, width, seed, **free_kwargs)
    rect = rectangle_masks(batch_size, height, width, seed + [1, 0], **rect_kwargs)
    free = free_form_masks(batch_size, height, width, seed + [2, 0], **free_kwargs)
    use_rect = tf.random.stateless_uniform([batch_size, 1, 1, 1], seed + [3, 0]) < 0.5
    return tf.where(use_rect, rect, free)


def mask_images(images, masks):
    """The inpainting model's input: the image with its hole set to 0 (mid-grey in
    [-1, 1]), concatenated with the mask: ``(bs, H, W, C + 1)``."""
    images = tf.convert_to_tensor(images, tf.float32)
    masks = tf.convert_to_tensor(masks, tf.float32)
    return tf.concat([images * (1.0 - masks), masks], axis=-1)


def fill_holes(model, inputs, training=False):
    """Inpaint: run ``model`` on ``mask_images`` inputs and keep every known pixel, so
    only the hole comes from the network. Returns ``(bs, H, W, C)``."""
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    known, masks = inputs[..., :-1], inputs[..., -1:]
    outputs = tf.cast(model(inputs, training=training), tf.float32)
    return known * (1.0 - masks) + outputs * masks


def _per_batch_seeds(dataset, seed):
    """Zip a dataset with a shape-[2] stateless seed per element: reproducible for an
    int ``seed``, new on every pass over the data (as the loaders' jitter)."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip(dataset, seeds)


def _check_image_dataset(dataset, helper):
    spec = dataset.element_spec
    if not isinstance(spec, tf.TensorSpec) or spec.shape.rank != 4:
        raise ValueError(
            f"{helper} needs a dataset of clean image batches (bs, H, W, C); received "
            f"elements {spec}. From a paired dataset take the targets first: "
            "`ds.map(lambda x, y: y)`."
        )


def denoising_pairs(dataset, sigma=0.1, clip=True, seed=None):
    """``(noisy, clean)`` batches from a dataset of clean image batches in [-1, 1].

    Adds white Gaussian noise, new noise on every pass over the data.

    Args:
        dataset: a ``tf.data.Dataset`` of float batches ``(bs, H, W, C)`` in [-1, 1].
        sigma: the noise standard deviation on the [0, 1] intensity scale (the usual
            convention: 0.1 is "sigma 25" on 0..255); in the models' [-1, 1] scale it is
            ``2 * sigma``. A pair ``(low, high)`` draws one sigma per image uniformly (blind
            denoising).
        clip: clip the noisy image to [-1, 1], as a sensor saturates.
        seed: an int makes the noise reproducible.
    """
    _check_image_dataset(dataset, "denoising_pairs")
    low, high = (sigma, sigma) if isinstance(sigma, (int, float)) else tuple(sigma)
    if not (0 <= low <= high):
        raise ValueError(f"`sigma` must be >= 0 (or a pair low <= high); received sigma={sigma!r}")

    def corrupt(clean, pair_seed):
        clean = tf.cast(clean, tf.float32)
        shape = tf.shape(clean)
        std = tf.random.stateless_uniform([shape[0], 1, 1, 1], pair_seed, low, high) if high > low else low
        noisy = clean + 2.0 * std * tf.random.stateless_normal(shape, pair_seed + [0, 1])
        return (tf.clip_by_value(noisy, -1.0, 1.0) if clip else noisy), clean

    return _per_batch_seeds(dataset, seed).map(corrupt, num_parallel_calls=tf.data.AUTOTUNE)


def inpainting_pairs(dataset, kind="mixed", seed=None, **mask_kwargs):
    """``(mask_images(clean, mask), clean)`` batches from a dataset of clean image batches.

    New holes on every pass over the data. The input has ``C + 1`` channels: the image
    with its hole set to 0 (mid-grey) and the mask (1 = hole). Train a network with
    ``C + 1`` input channels on it (``encoder_decoder_generator((H, W, 4))`` or
    ``multichannel_unet_generator((H, W, 4))``), and inpaint with ``fill_holes``.

    Args:
        dataset: a ``tf.data.Dataset`` of float batches ``(bs, H, W, C)`` in [-1, 1].
        kind: ``"rectangle"``, ``"free_form"`` or ``"mixed"`` (see ``random_masks``).
        seed: an int makes the masks reproducible.
        **mask_kwargs: passed to the mask functions (``min_size``, ``max_size``,
            ``max_strokes``, ``brush_width``, ...).
    """
    _check_image_dataset(dataset, "inpainting_pairs")
    check_choice(kind, "kind", MASK_KINDS)

    def corrupt(clean, pair_seed):
        clean = tf.cast(clean, tf.float32)
        shape = tf.shape(clean)
        masks = random_masks(shape[0], shape[1], shape[2], kind, pair_seed, **mask_kwargs)
        return mask_images(clean, masks), clean

    return _per_batch_seeds(dataset, seed).map(corrupt, num_parallel_calls=tf.data.AUTOTUNE)
