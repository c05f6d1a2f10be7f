"""A painted domain with ground truth: photos and facades rendered as paintings.

Style transfer (photo <-> Monet, photo <-> Van Gogh) is CycleGAN's best-known application,
and its datasets have no ground truth: no one painted *this* photo. This module makes an
offline stand-in that does. `paint(photo)` is a deterministic painterly rendering:

1. a **Kuwahara filter** (Kuwahara et al. 1976), the classic "oil paint" filter: every
   pixel takes the mean colour of whichever of the four windows it is the corner of has
   the least variance in brightness, so flat regions become uniform strokes of colour
   while edges stay sharp;
2. a **colour grade**: saturation and contrast up, a warm cast, as a painter's palette;
3. a **palette reduction** to `PALETTE`, a fixed set of 16 pigment colours (nearest colour
   in RGB, mixed 3:1 with the graded colour, so tones survive as broken colour rather
   than hard posterisation);
4. a faint **canvas texture** (a fixed weave pattern, the same on every painting).

Every step is a pure function of the input pixels, so the painted version of an image is
its ground truth, and a translator trained on *unpaired* photos and paintings can be
scored against it.

`build_painted(size)` writes the bundled `painted` task (`kerasi2i data build --tasks
painted`, or `kerasi2i.data.sample_path("painted", 64)`) in the CycleGAN layout, from two
bundled sample tasks that it builds first when missing: the procedural facades
(`facades`, their day photos) and the real-photo crops of `colorization` (their colour
side). The training images of each source are split in two halves: the first half stays
a photo (`trainA/`), the second half is painted (`trainB/`), so no training photo has its
painting in `trainB/`. The test photos of both sources, and their paintings, are
`testA/`, `testB/` and `test_pairs/` (photo | painting side by side):

    <root>/<size>/painted/{trainA,trainB,testA,testB,test_pairs}/<N>.jpg  + _MANIFEST.json
"""
import numpy as np
from PIL import Image

# 16 pigments (sRGB, 0-255): earths, blues, greens, warm lights and darks.
PALETTE = np.array([
    [246, 236, 210],   # titanium white, warm
    [236, 200, 96],    # cadmium yellow light
    [214, 150, 52],    # yellow ochre
    [196, 96, 48],     # burnt sienna
    [168, 48, 40],     # cadmium red deep
    [112, 60, 40],     # burnt umber
    [60, 40, 36],      # van dyke brown
    [28, 28, 44],      # payne's grey, dark
    [40, 64, 128],     # ultramarine
    [84, 128, 184],    # cerulean
    [160, 196, 216],   # sky, light
    [48, 96, 72],      # viridian
    [120, 148, 80],    # sap green
    [196, 204, 140],   # green-yellow light
    [150, 120, 150],   # mauve
    [128, 124, 116],   # neutral grey
], dtype=np.float64) / 255.0
PALETTE_MIX = 0.85          # how much of each pixel's colour is its nearest pigment
PAINTED_VERSION = 1         # bump when `paint` or the task's composition changes: rebuilds


def kuwahara(image, radius):
    """The Kuwahara filter of a float (H, W, C) image: each pixel becomes the mean of the
    one of its four (radius + 1)^2 corner windows whose luminance varies least."""
    image = np.asarray(image, np.float64)
    if image.ndim != 3:
        raise ValueError(f"kuwahara expects an (H, W, C) image; got shape {image.shape}.")
    if int(radius) < 1:
        raise ValueError(f"radius must be a positive integer; got {radius!r}.")
    r = int(radius)
    h, w = image.shape[:2]
    luma = image.mean(axis=-1, keepdims=True)
    stack = np.concatenate([image, luma, luma ** 2], axis=-1)
    padded = np.pad(stack, ((r, r), (r, r), (0, 0)), mode="reflect")
    # box means of every (r + 1) x (r + 1) window, by an integral image
    s = r + 1
    integral = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0), (0, 0)))
    box = (integral[s:, s:] - integral[:-s, s:] - integral[s:, :-s] + integral[:-s, :-s]) / (s * s)
    # box[y, x] is the window whose top-left corner is padded[y, x]; a pixel (i, j) sits at
    # padded[i + r, j + r] and is the bottom-right, bottom-left, top-right, top-left corner
    # of the windows that start at (i, j), (i, j + r), (i + r, j), (i + r, j + r)
    quads = np.stack([box[dy:dy + h, dx:dx + w] for dy in (0, r) for dx in (0, r)])   # (4, H, W, C + 2)
    variance = quads[..., -1] - quads[..., -2] ** 2
    best = np.argmin(variance, axis=0)                                                  # (H, W)
    return np.take_along_axis(quads[..., :-2], best[None, ..., None], axis=0)[0]


def _grade(image):
    """Saturation x1.7, contrast x1.2 about mid-grey, a warm cast (float [0, 1])."""
    grey = image.mean(axis=-1, keepdims=True)
    image = grey + 1.7 * (image - grey)
    image = 0.5 + 1.2 * (image - 0.5)
    image = image * np.array([1.08, 1.0, 0.82])
    return np.clip(image, 0.0, 1.0)


def _reduce_palette(image, palette=PALETTE, mix=PALETTE_MIX):
    """Each pixel moved `mix` of the way to its nearest palette colour."""
    distance = ((image[..., None, :] - palette) ** 2).sum(axis=-1)      # (H, W, K)
    nearest = palette[np.argmin(distance, axis=-1)]
    return mix * nearest + (1.0 - mix) * image


def _canvas(height, width, size):
    """A fixed weave pattern in [-1, 1]: the same canvas under every painting."""
    period = max(2.0, size / 32.0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.sin(np.pi * yy / period) * np.sin(np.pi * xx / period)


def paint(photo, radius=None):
    """The painting of a uint8 RGB photo (H, W, 3): uint8 (H, W, 3), deterministic.

    `radius` of the Kuwahara filter defaults to `max(1, round(min(H, W) / 32))`: 2 px at
    64 px, 8 px at 256 px, so a painting shows the same strokes at every size.
    """
    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[-1] != 3:
        raise ValueError(f"paint expects a uint8 RGB image (H, W, 3); got dtype {photo.dtype}, shape {photo.shape}.")
    h, w = photo.shape[:2]
    side = min(h, w)
    radius = max(1, round(side / 32)) if radius is None else int(radius)
    image = kuwahara(photo.astype(np.float64) / 255.0, radius)
    image = _reduce_palette(_grade(image))
    image = image * (1.0 + 0.03 * _canvas(h, w, side)[..., None])
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


# ---------------------------------------------------------------------------------------
# The bundled `painted` task
# ---------------------------------------------------------------------------------------

PAINTED_TASK = "painted"
# The sample tasks the painted domain is made from, and the side of each pair that holds
# the photo: facades are photo (left) | labels, colorization is grey (left) | photo.
PAINTED_SOURCES = (("facades", "left"), ("colorization", "right"))


def _photo_of(path, side):
    with Image.open(path) as image:
        pair = np.asarray(image.convert("RGB"))
    half = pair.shape[1] // 2
    return pair[:, :half] if side == "left" else pair[:, half:]


def _numbered(folder):
    return sorted(folder.glob("*.jpg"), key=lambda p: int(p.stem))


def _write_painted(size, folder, root=None):
    """Write the painted task at `size` into `folder` (new, empty); returns the manifest."""
    from kerasi2i.data import samples

    for split in ("trainA", "trainB"):
        (folder / split).mkdir()
    manifest = {"layout": "cyclegan (trainA = photos, trainB = paintings of other photos, testA, testB) "
                          "+ test_pairs (photo | painting)",
                "painted_version": PAINTED_VERSION, "function": "kerasi2i.data.painted.paint(photo)",
                "counts": {}, "sources": {}, "files": {}}
    files = {split: [] for split in ("trainA", "trainB", "test")}
    test_pairs = []
    for task, side in PAINTED_SOURCES:
        source = samples.sample_path(task, size, root=root)
        train = _numbered(source / "train")
        half = len(train) // 2
        for path in train[:half]:
            files["trainA"].append((f"{task}/train/{path.name}", _photo_of(path, side)))
        for path in train[half:2 * half]:
            files["trainB"].append((f"{task}/train/{path.name}", paint(_photo_of(path, side))))
        for path in _numbered(source / "test"):
            photo = _photo_of(path, side)
            files["test"].append((f"{task}/test/{path.name}", None))
            test_pairs.append((photo, paint(photo)))
    for split in ("trainA", "trainB"):
        for number, (_, image) in enumerate(files[split], start=1):
            samples._write_jpeg(folder / split / f"{number}.jpg", image)
        manifest["counts"][split] = len(files[split])
        manifest["files"][split] = [name for name, _ in files[split]]
        manifest["sources"][split] = [task for task, _ in PAINTED_SOURCES]
    samples._write_test_pairs(folder, test_pairs)
    for split in samples._TEST_PAIR_SPLITS:
        manifest["counts"][split] = len(test_pairs)
        manifest["files"][split] = [name for name, _ in files["test"]]
        manifest["sources"][split] = [task for task, _ in PAINTED_SOURCES]
    return manifest
