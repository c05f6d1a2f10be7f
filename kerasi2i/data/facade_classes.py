"""The 12 classes of the CMP Facade Database and the colours its label images use.

The pix2pix paper's `facades` dataset is CMP Facades (Tylecek and Sara, 2013): rectified
building fronts labelled with 12 classes, stored as label images painted with a 12-step
"jet" colour map (dark blue background ... dark red shop). The procedural facades of
`kerasi2i.data.facades` use the same classes, in the same order, with the same colours, so
a model or scorer written for the bundled set reads the real one unchanged.

This module has no dependencies beyond numpy, so the metrics, the demo server's paint
canvas and the data builder can all import it.
"""
import numpy as np

FACADE_CLASSES = (
    "background",  # sky, neighbouring buildings, street
    "facade",      # the wall
    "window",
    "door",
    "cornice",     # horizontal ledges between floors and along the roof line
    "sill",        # window sills
    "balcony",
    "blind",       # shutters and roller blinds
    "deco",        # ornaments, pediments above windows
    "molding",     # frames around windows and doors
    "pillar",      # pilasters between bays
    "shop",        # ground-floor shop fronts
)

# Index i is painted with the colour of the jet map at (i + 1) / 12 levels, as the CMP
# label images are (background is dark blue, shop dark red). Well separated, so a label
# image survives JPEG and nearest-colour decoding.
FACADE_PALETTE = np.array([
    [0, 0, 170],      # background
    [0, 0, 255],      # facade
    [0, 85, 255],     # window
    [0, 170, 255],    # door
    [0, 255, 255],    # cornice
    [85, 255, 170],   # sill
    [170, 255, 85],   # balcony
    [255, 255, 0],    # blind
    [255, 170, 0],    # deco
    [255, 85, 0],     # molding
    [255, 0, 0],      # pillar
    [170, 0, 0],      # shop
], dtype=np.uint8)
FACADE_PALETTE.setflags(write=False)

NUM_FACADE_CLASSES = len(FACADE_CLASSES)


def class_index(name):
    """The class id of a `FACADE_CLASSES` name (ValueError listing the classes otherwise)."""
    try:
        return FACADE_CLASSES.index(name)
    except ValueError:
        raise ValueError(f"Unknown facade class {name!r}; classes: {list(FACADE_CLASSES)}.") from None


def paint_labels(class_map, palette=FACADE_PALETTE):
    """A (H, W) integer class map painted as a uint8 (H, W, 3) label image."""
    class_map = np.asarray(class_map)
    if class_map.ndim != 2 or not np.issubdtype(class_map.dtype, np.integer):
        raise ValueError(f"Expected an integer class map of shape (H, W); got {class_map.dtype} {class_map.shape}.")
    return np.asarray(palette, dtype=np.uint8)[class_map]


def nearest_class(image, palette=FACADE_PALETTE):
    """Class id per pixel of a painted label image: the index of the nearest colour of
    `palette` ((K, 3), any palette: the bundled samples', Cityscapes') in RGB.

    `image` is uint8 (H, W, 3) or (N, H, W, 3); returns int64 of shape (H, W) or (N, H, W).
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.shape[-1] != 3 or image.ndim not in (3, 4):
        raise ValueError(f"Expected uint8 RGB label images (..., H, W, 3); got {image.dtype} {image.shape}.")
    pixels = image.reshape(-1, 3).astype(np.int32)
    palette = np.asarray(palette, dtype=np.int32)
    # |p - c|^2 = |p|^2 - 2 p.c + |c|^2; |p|^2 is the same for every class.
    scores = -2 * pixels @ palette.T + (palette**2).sum(axis=1)
    return np.argmin(scores, axis=1).reshape(image.shape[:-1]).astype(np.int64)
