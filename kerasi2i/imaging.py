"""Looking at translations: input | output | target columns as a figure or a PNG grid."""
from pathlib import Path

import numpy as np


def to_uint8(images):
    """A batch (or one image) in [-1, 1] to uint8 RGB in [0, 255]; grey is repeated to RGB."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return np.round(np.clip((images + 1.0) * 127.5, 0, 255)).astype(np.uint8)


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
    """Save `image_grid(columns)` as a PNG; returns the path."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(columns, max_rows=max_rows)).save(path)
    return path


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
