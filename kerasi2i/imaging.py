"""Images as the models see them and as people see them.

The models work on float32 images in [-1, 1]; files, web pages and exported models use
uint8 in [0, 255]. This module is the one place for the conversion between the two
(numpy, and a TensorFlow version for graphs: the exported serving signature, FID), for
writing PNGs, and for input | output | target columns as a figure or a PNG grid.

    x = from_uint8(photo)        # uint8 (H, W, 3) -> float32 in [-1, 1]: x / 127.5 - 1
    y = as_uint8(model(x))       # [-1, 1] -> uint8: round(clip((y + 1) * 127.5, 0, 255))

`as_uint8` rounds half to even (numpy's and TensorFlow's `round`) and clips, so a
round trip `as_uint8(from_uint8(u)) == u` for every uint8 `u`.
"""
import os
from pathlib import Path

import numpy as np


# --------------------------------------------------------------------------------------
# [-1, 1] <-> uint8
# --------------------------------------------------------------------------------------
def from_uint8(images):
    """uint8 images (or any values in 0..255) -> float32 in [-1, 1], as the loaders
    produce: ``x / 127.5 - 1``. Any shape."""
    return np.asarray(images, dtype=np.float32) / 127.5 - 1.0


def as_uint8(images):
    """Images in [-1, 1] -> uint8 of the same shape: ``round(clip((x + 1) * 127.5, 0, 255))``,
    rounding half to even. uint8 input is returned as it is (already converted).

    The arithmetic is done in the input's float type (float16 outputs of a mixed-precision
    model stay float16; integer input becomes float32); cast first for another."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        images = images.astype(np.float32)
    return np.round(np.clip((images + 1.0) * 127.5, 0, 255)).astype(np.uint8)


def to_uint8(images):
    """A batch (or one image) in [-1, 1] to uint8 RGB in [0, 255] for display: always a
    batch (N, H, W, 3), grey repeated to RGB; computed in float32 (see `as_uint8` for
    the same conversion without the reshaping)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return as_uint8(images)


def from_uint8_tf(images):
    """`from_uint8` as TensorFlow ops, for graphs (a tf.function, a SavedModel
    signature): a uint8 tensor -> float32 in [-1, 1]."""
    import tensorflow as tf

    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8_tf(images):
    """`as_uint8` as TensorFlow ops, for graphs: a float tensor in [-1, 1] -> uint8
    (computed in float32, rounding half to even as `tf.round` does)."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


# --------------------------------------------------------------------------------------
# PNG
# --------------------------------------------------------------------------------------
def to_pil(image):
    """A uint8 image (H, W), (H, W, 1) or (H, W, 3) as a PIL image ("L" or "RGB")."""
    from PIL import Image

    image = np.asarray(image)
    return Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image)


def png_bytes(image):
    """A uint8 image (see `to_pil`) or a PIL image encoded as PNG bytes."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    (image if isinstance(image, Image.Image) else to_pil(image)).save(buf, format="PNG")
    return buf.getvalue()


def save_png(image, path):
    """Write a uint8 image (see `to_pil`) as a PNG file through a temporary file in the
    same folder, so a failure never leaves half a file; returns the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        to_pil(image).save(tmp, "PNG")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# --------------------------------------------------------------------------------------
# Grids and figures
# --------------------------------------------------------------------------------------
def image_grid(columns, max_rows=None, pad=2):
    """Rows of images side by side: `columns` is a list of batches of equal length and size.

    Returns one uint8 (H, W, 3) array, white gaps between the cells.
    """
    columns = [to_uint8(c) for c in columns if c is not None]
    if not columns:
        raise ValueError("image_grid needs at least one batch of images.")
    rows = min(len(c) for c in columns)
    rows = rows if max_rows is None else min(rows, max_rows)
    h, w = columns[0].shape[1:3]
    for c in columns:
        if c.shape[1:3] != (h, w):
            raise ValueError(f"All images in a grid must share a size; got {(h, w)} and {c.shape[1:3]}.")
    grid = np.full((rows * (h + pad) - pad, len(columns) * (w + pad) - pad, 3), 255, np.uint8)
    for i in range(rows):
        for j, c in enumerate(columns):
            grid[i * (h + pad) : i * (h + pad) + h, j * (w + pad) : j * (w + pad) + w] = c[i]
    return grid


def save_grid(path, columns, max_rows=None):
    """Save `image_grid(columns)` as a PNG (`save_png`), creating its folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(image_grid(columns, max_rows=max_rows), path)


def show_batch(inputs, outputs=None, targets=None, titles=("input", "output", "target"), max_rows=4, scale=2.0):
    """A matplotlib figure with input | output | target columns (None columns are left out)."""
    import matplotlib.pyplot as plt

    named = [(t, to_uint8(c)) for t, c in zip(titles, (inputs, outputs, targets)) if c is not None]
    rows = min(max_rows, min(len(c) for _, c in named))
    fig, axes = plt.subplots(rows, len(named), figsize=(scale * len(named), scale * rows), squeeze=False)
    for j, (title, batch) in enumerate(named):
        axes[0, j].set_title(title)
        for i in range(rows):
            axes[i, j].imshow(batch[i])
            axes[i, j].axis("off")
    fig.tight_layout()
    return fig
