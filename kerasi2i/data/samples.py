"""Small, deterministic image-to-image datasets: procedural facades, and tasks cut from
real photos that ship inside installed packages (scikit-image's `skimage.data` and
matplotlib's sample data).

Nothing is downloaded. Every task is rebuilt from the same photos with fixed seeds,
fixed parameters and fixed JPEG settings, so a rebuild with the same library versions is
byte-identical. The result lives in `samples_root()` (`data/samples/` in a checkout,
git-ignored) as

    <root>/<size>/<task>/{train,val,test}/<N>.jpg          paired tasks, Berkeley pix2pix
                                                           layout: A (left) | B (right)
    <root>/<size>/day2night/{trainA,trainB,testA,testB}/<N>.jpg   CycleGAN layout
    <root>/<size>/day2night/test_pairs/<N>.jpg              testA[N] | testB[N], to score
    <root>/<size>/painted/...                               CycleGAN layout + test_pairs: photos
                                                           and their paintings (`DERIVED_TASKS`,
                                                           made from facades and colorization by
                                                           kerasi2i.data.painted)

plus `_MANIFEST.json` in each `<root>/<size>/<task>` folder (counts, source photos per
split, the crop box behind every file, the photos' regions, and the build version).

The real-photo tasks split every photo into regions (`PHOTO_REGIONS`): each photo trains,
and one or two square regions of it are held out for val or test, with a guard band
around them that no training crop enters. Train and test so show the same photos, and
no test pixel is ever seen in training. What is learnable at quick-mode scale:
`denoise` and `colorization`, and `superres` and `inpaint` with a residual U-Net
(`benchmarks/photo_tasks.py`); `edges2photo`, `labels2photo` and the photo `day2night`
are kept as hard examples. `data/README.md` documents the photos,
their licences, the regions and every task.

    >>> from kerasi2i.data.samples import sample_path
    >>> sample_path("superres", size=64)             # builds it on first use (seconds)
    PosixPath('.../data/samples/64/superres')
"""
import json
import logging
import shutil
import tempfile
import time
import zlib
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image

from kerasi2i.data.sample_classes import LABEL_CLASSES, PALETTE  # noqa: F401  (samples.PALETTE: notebook 00)
from kerasi2i.data.paths import samples_root

logger = logging.getLogger(__name__)

# Bump whenever anything that changes the written bytes changes (photos, crops, transforms,
# JPEG settings, counts). A folder whose manifest has another version is rebuilt.
SAMPLES_VERSION = 5

# Procedural facades (kerasi2i.data.facades): learnable in minutes, the default tasks.
FACADE_TASKS = ("facades", "facades_day2night")
# Real photos, region split: what real photos teach best (superres, denoise, inpaint,
# colorization) and three hard examples (edges2photo, labels2photo, day2night).
PAIRED_TASKS = ("facades", "colorization", "denoise", "edges2photo", "inpaint", "labels2photo", "superres")
UNPAIRED_TASKS = ("facades_day2night", "day2night")
SAMPLE_TASKS = PAIRED_TASKS + UNPAIRED_TASKS
# Tasks made from other sample tasks, built after them: `painted` (kerasi2i.data.painted),
# photos and facades as paintings, for style transfer with ground truth (notebook 08).
DERIVED_TASKS = ("painted",)
SAMPLE_SIZES = (64, 128, 256)

# ---------------------------------------------------------------------------------------
# Source photos and their regions
# ---------------------------------------------------------------------------------------

# Region split. Every photo trains, and some of its area is held out: each photo has one
# or two square held-out regions (val or test) of HELD_OUT_SIDE source pixels, and its
# train area is the rest of the photo minus a guard band of GUARD pixels around every
# held-out region. So the test crops show the same photos (the same textures, colours and
# kinds of object) as the training crops, and still no test pixel, nor any pixel within
# GUARD of one, is ever in a training crop. Regions are (split, top, left) of a
# HELD_OUT_SIDE x HELD_OUT_SIDE square in the photo's own pixels; a held-out region holds
# a 256 px window (the largest sample size) with 32 px of play. The big photos
# (hubble_deep_field, retina) hold out one val and one test region; the others one of the
# two. Do not move a region: published numbers would stop being comparable.
HELD_OUT_SIDE = 288
GUARD = 16
PHOTO_REGIONS = MappingProxyType({
    "astronaut": (("test", 0, 224),),                 # top right: half the face, the shuttle
    "rocket": (("test", 139, 352),),                  # lower right: towers and launch lights
    "hubble_deep_field": (("val", 0, 0), ("test", 584, 712)),
    "immunohistochemistry": (("val", 224, 224),),     # lower right: glands and stroma
    "retina": (("val", 300, 800), ("test", 820, 250)),  # vessels, inside the fundus circle
    "chelsea": (("val", 12, 0),),                     # the cat's left side and eye
    "coffee": (("test", 112, 312),),                  # the right of the cup, saucer, spoon
    "grace_hopper": (("test", 0, 224),),              # the cap and part of the face
})
SPLITS = ("train", "val", "test")


def _source(loader, shape, origin, licence):
    return MappingProxyType({"loader": loader, "shape": shape, "origin": origin, "licence": licence})


# Only public-domain / CC0 photos (or ones marked "no known copyright restrictions") are
# used. Licences are quoted from each loader's docstring (matplotlib ships no licence text
# for its sample photo; see the note on grace_hopper). These are all the colour photos the
# installed packages ship that load offline (checked with the network blocked and an
# empty download cache). Left out: skimage.data.stereo_motorcycle (its docstring states
# no licence), cat (chelsea again), colorwheel and logo (drawings, not photos), lily,
# skin, eagle, kidney and the other loaders that fetch with pooch (not offline), and
# matplotlib's Minduka_Present_Blue_Pack.png (a 128 px clip-art icon, no licence text).
_SOURCES = {
    "astronaut": _source(
        "skimage.data.astronaut()", (512, 512, 3),
        "Eileen Collins, NASA Great Images database (https://flic.kr/p/r9qvLn)",
        "No known copyright restrictions, released into the public domain.",
    ),
    "rocket": _source(
        "skimage.data.rocket()", (427, 640, 3),
        "Launch of DSCOVR on Falcon 9, SpaceX Photos on Flickr",
        "Captured by SpaceX and released in the public domain.",
    ),
    "hubble_deep_field": _source(
        "skimage.data.hubble_deep_field()", (872, 1000, 3),
        "Hubble eXtreme Deep Field, NASA / HubbleSite",
        "Captured by NASA and may be freely used in the public domain.",
    ),
    "immunohistochemistry": _source(
        "skimage.data.immunohistochemistry()", (512, 512, 3),
        "IHC staining of colonic glands, Center for Microscopy And Molecular Imaging (CMMI)",
        "No known copyright restrictions.",
    ),
    "retina": _source(
        "skimage.data.retina()", (1411, 1411, 3),
        "Fundus photograph of a normal left eye, Mikael Häggström, Wikimedia Commons",
        "Creative Commons CC0 1.0 Universal Public Domain Dedication.",
    ),
    "chelsea": _source(
        "skimage.data.chelsea()", (300, 451, 3),
        "Chelsea the cat, photographed by Stefan van der Walt",
        "No copyright restrictions. CC0 by the photographer (Stefan van der Walt).",
    ),
    "coffee": _source(
        "skimage.data.coffee()", (400, 600, 3),
        "Coffee cup, courtesy of Pikolo Espresso Bar, photographed by Rachel Michetti",
        "No copyright restrictions. CC0 by the photographer (Rachel Michetti).",
    ),
    "grace_hopper": _source(
        "PIL.Image.open(matplotlib.cbook.get_sample_data('grace_hopper.jpg'))", (600, 512, 3),
        "Official 1984 U.S. Navy portrait of Commodore Grace M. Hopper; the JPEG comment reads "
        "'File source: http://commons.wikimedia.org/wiki/File:Grace_Hopper.jpg'",
        "No licence text in matplotlib; a U.S. Navy photograph (work of the U.S. federal "
        "government), public domain in the United States.",
    ),
}

def _splits_of(name):
    return ("train",) + tuple(s for s in SPLITS[1:] if any(r[0] == s for r in PHOTO_REGIONS[name]))


# The photos each split draws crops from: every photo trains; val and test take crops from
# the photos that hold out a region of theirs (PHOTO_REGIONS).
PHOTO_SPLIT = MappingProxyType({
    split: tuple(name for name in _SOURCES if split in _splits_of(name)) for split in SPLITS
})

SOURCE_PHOTOS = MappingProxyType({
    name: MappingProxyType({
        "name": name,
        "split": "+".join(_splits_of(name)),   # the splits that take crops from it
        "regions": PHOTO_REGIONS[name],
        **_SOURCES[name],
    })
    for name in _SOURCES
})

# day2night is unpaired: both domains cut their own crops (different seeds, so no file is
# paired with another) from the train area of every photo, so day and night show the same
# kinds of content, and its test pairs are the paired tasks' test crops.
DAY2NIGHT_DOMAINS = MappingProxyType({"A": PHOTO_SPLIT["train"], "B": PHOTO_SPLIT["train"]})


@lru_cache(maxsize=None)
def _cached_photo(name):
    if name == "grace_hopper":
        import matplotlib.cbook

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        with Image.open(path) as image:
            photo = np.asarray(image.convert("RGB"))
    else:
        import skimage.data

        photo = getattr(skimage.data, name)()
    photo = np.ascontiguousarray(photo, dtype=np.uint8)
    photo.setflags(write=False)
    return photo


def load_source_photo(name):
    """One of the `SOURCE_PHOTOS` as a `uint8` array of shape `(H, W, 3)` (offline)."""
    if name not in SOURCE_PHOTOS:
        raise ValueError(f"Unknown source photo {name!r}; allowed: {sorted(SOURCE_PHOTOS)}.")
    return _cached_photo(name).copy()


# ---------------------------------------------------------------------------------------
# Per-task transforms: each maps a uint8 (H, W, 3) photo B to its uint8 (H, W, 3) input A
# ---------------------------------------------------------------------------------------

def _check_photo(photo):
    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[-1] != 3:
        raise ValueError(
            f"Expected a uint8 RGB image of shape (H, W, 3), got dtype {photo.dtype} and "
            f"shape {photo.shape}."
        )
    return photo


def _luminance(photo):
    """Rec. 709 luma in [0, 1] as float64 (the weights `skimage.color.rgb2gray` uses)."""
    return photo.astype(np.float64) @ np.array([0.2125, 0.7154, 0.0721]) / 255.0


def to_grey(photo):
    """Grey version of an RGB photo, stored as three equal channels: the colorization input."""
    photo = _check_photo(photo)
    grey = np.round(_luminance(photo) * 255.0).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def edge_map(photo, sigma=None, low_threshold=0.04, high_threshold=0.1):
    """Thin dark edges on white, like the edges2shoes inputs: the edges2photo input.

    Canny on the grey image; `sigma` defaults to `sqrt(min(H, W) / 64)` (1 at 64 px, 2 at
    256 px) so a crop shows the same level of detail at every size. Edge fragments shorter
    than `min(H, W) / 16` pixels are dropped as noise.

    edges2photo is kept as a hard example: edges of such varied photos (deep sky, tissue,
    a fundus, a cat) leave colour and texture undetermined, and no model learns to
    restore them at quick-mode scale.
    """
    from skimage.feature import canny
    from skimage.measure import label

    photo = _check_photo(photo)
    short = min(photo.shape[:2])
    if sigma is None:
        sigma = (short / 64.0) ** 0.5
    edges = canny(
        _luminance(photo), sigma=sigma, low_threshold=low_threshold, high_threshold=high_threshold
    )
    fragments = label(edges, connectivity=2)
    lengths = np.bincount(fragments.ravel())
    keep = lengths >= max(3, short // 16)
    keep[0] = False  # background
    edges = keep[fragments]
    grey = np.where(edges, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


# Semantic-style classes (kerasi2i.data.sample_classes). Segments of a photo are assigned to the
# class whose prototype colour (what such a region looks like in a photo) is nearest in CIELAB.
_PROTOTYPES = np.array([
    [110, 160, 220],  # sky
    [80, 130, 60],    # vegetation
    [220, 170, 140],  # skin
    [180, 40, 40],    # red
    [225, 200, 70],   # yellow
    [240, 240, 240],  # white
    [12, 12, 12],     # dark
    [128, 128, 128],  # grey
    [120, 75, 40],    # brown
    [140, 80, 150],   # purple
    [35, 45, 95],     # navy
], dtype=np.uint8)


def labels_from_colors(image):
    """Class id per pixel: the index of the nearest `PALETTE` colour (RGB distance).

    Turns a painted label map (a generated one, or a JPEG of one) back into an integer
    class map of shape `(H, W)`, e.g. to score photo -> labels translations.
    """
    from kerasi2i.data.facade_classes import nearest_class

    return nearest_class(_check_photo(image), PALETTE)


def label_ids(photo, n_segments=None):
    """Class id per pixel of a photo: SLIC superpixels, each given the `LABEL_CLASSES`
    prototype nearest to its mean CIELAB colour. `n_segments` defaults to one per 128 px."""
    from skimage.color import rgb2lab
    from skimage.segmentation import slic

    photo = _check_photo(photo)
    height, width = photo.shape[:2]
    if n_segments is None:
        n_segments = max(16, height * width // 128)
    lab = rgb2lab(photo)
    segments = slic(
        lab, n_segments=n_segments, compactness=10.0, sigma=1.0, start_label=0,
        convert2lab=False, channel_axis=-1,
    )
    lab = lab.reshape(-1, 3)
    flat = segments.ravel()
    counts = np.maximum(np.bincount(flat), 1)
    means = np.stack([np.bincount(flat, weights=lab[:, c]) / counts for c in range(3)], axis=1)
    prototypes = rgb2lab(_PROTOTYPES[None]).reshape(-1, 3)
    distances = ((means[:, None, :] - prototypes[None, :, :]) ** 2).sum(axis=-1)
    return np.argmin(distances, axis=1)[segments]


def label_map(photo):
    """Segmentation-style label map of a photo painted with `PALETTE`: the labels2photo input.

    labels2photo is kept as a hard example: at 64 px a crop's superpixel labels are a few
    coarse colour blocks that say little about the photo, unlike a facade's label map."""
    return PALETTE[label_ids(photo)]


def degrade_x4(photo):
    """x4 super-resolution input: bicubic (antialiased) downscale by 4, bicubic upscale back."""
    photo = _check_photo(photo)
    height, width = photo.shape[:2]
    small = Image.fromarray(photo).resize(
        (max(1, width // 4), max(1, height // 4)), Image.Resampling.BICUBIC, reducing_gap=None
    )
    return np.asarray(small.resize((width, height), Image.Resampling.BICUBIC))


def render_night(photo):
    """Deterministic 'night' rendering of a daylight photo (domain B of day2night).

    Saturation down to 40 %, a gamma of 1.8 and half the exposure, a moonlight blue tint
    and a vignette: far from the identity, so a translator has to learn something.

    The photo day2night is kept as a hard example (unpaired, from a few hundred crops of
    unrelated photos); `facades_day2night` is the learnable unpaired task.
    """
    photo = _check_photo(photo)
    height, width = photo.shape[:2]
    rgb = photo.astype(np.float64) / 255.0
    grey = _luminance(photo)[..., None]
    rgb = grey + 0.4 * (rgb - grey)                      # desaturate
    rgb = 0.5 * rgb**1.8                                  # darken, deepen the shadows
    rgb = rgb * np.array([0.6, 0.8, 1.3]) + np.array([0.0, 0.01, 0.04])  # moonlight tint
    y, x = np.mgrid[0:height, 0:width]
    radius2 = ((y - (height - 1) / 2) / (height / 2)) ** 2 + ((x - (width - 1) / 2) / (width / 2)) ** 2
    rgb = rgb * (1.0 - 0.3 * radius2 / 2.0)[..., None]  # vignette: 70 % in the corners
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


# Noise of the denoise task: white Gaussian, sigma on the [0, 1] intensity scale, the
# convention of kerasi2i.data.corrupt.denoising_pairs (0.1 is "sigma 25" on 0..255).
DENOISE_SIGMA = 0.1
# Holes of the inpaint task: kerasi2i.data.corrupt.random_masks of this kind.
INPAINT_MASK_KIND = "mixed"
_HOLE_VALUE = 128  # mid-grey: 0 in [-1, 1], what corrupt.mask_images puts in a hole


def add_noise(photo, seed, sigma=DENOISE_SIGMA):
    """The denoise input: the photo plus white Gaussian noise of standard deviation
    `sigma` (on the [0, 1] scale), clipped to 0..255; `seed` (an int) fixes the noise."""
    photo = _check_photo(photo)
    noise = np.random.RandomState(seed).standard_normal(photo.shape) * (sigma * 255.0)
    return np.round(np.clip(photo + noise, 0.0, 255.0)).astype(np.uint8)


_MASK_GRAPHS = {}


def hole_mask(seed, height, width):
    """The inpaint task's hole for `seed`: a bool `(height, width)` array, True in the hole.

    It is `kerasi2i.data.corrupt.random_masks(1, height, width, kind="mixed", seed=seed)`
    (run as a compiled graph, with the same values), so the mask behind every file of the
    inpaint task can be rebuilt from the `seed` its manifest records."""
    import tensorflow as tf

    key = (int(height), int(width))
    if key not in _MASK_GRAPHS:
        from kerasi2i.data import corrupt

        def masks(pair):
            return corrupt.random_masks(1, key[0], key[1], kind=INPAINT_MASK_KIND, seed=pair)

        _MASK_GRAPHS[key] = tf.function(
            masks, input_signature=[tf.TensorSpec([2], tf.int64)], autograph=False
        )
    mask = _MASK_GRAPHS[key](tf.constant([int(seed), 0], tf.int64))
    return mask.numpy()[0, ..., 0] > 0.5


def cut_holes(photo, seed):
    """The inpaint input: the photo with the hole of `hole_mask(seed, H, W)` set to
    mid-grey (128, i.e. 0 in [-1, 1], as `corrupt.mask_images` blanks a hole)."""
    photo = _check_photo(photo)
    out = photo.copy()
    out[hole_mask(seed, *photo.shape[:2])] = _HOLE_VALUE
    return out


_PAIRED_TRANSFORMS = {
    "colorization": to_grey,
    "edges2photo": edge_map,
    "labels2photo": label_map,
    "superres": degrade_x4,
}
# Transforms that also take a seed: the seed of each file, recorded in its manifest.
_SEEDED_TRANSFORMS = {
    "denoise": add_noise,
    "inpaint": cut_holes,
}

# ---------------------------------------------------------------------------------------
# Crops
# ---------------------------------------------------------------------------------------

# Crops per photo for each split and size. A photo takes part at a size when its train
# area holds a window of that size (at 256 px: rocket, hubble_deep_field, retina, coffee
# and grace_hopper; the 512 px squares and chelsea are too small around their held-out
# region). 64 px: 8 x 100 = 800 train, 4 x 16 = 64 val, 6 x 16 = 96 test; 128 px: 480 /
# 32 / 48; 256 px: 5 x 40 = 200 / 2 x 8 = 16 / 5 x 8 = 40. day2night gives each of its
# two domains half the train count of every photo.
_CROPS_PER_PHOTO = {
    "train": {64: 100, 128: 60, 256: 40},
    "val": {64: 16, 128: 8, 256: 8},
    "test": {64: 16, 128: 8, 256: 8},
}
# Source windows (sides in the photo's own pixels) a crop is cut from, then resized
# (Lanczos) to the sample size: several zoom levels, never enlarged. A photo uses the
# sides that fit its train area and every held-out region, so all its splits show the
# same zoom levels.
_WINDOW_SIDES = (64, 96, 128, 192, 256)
_MAX_TRIES = 20
_JPEG_OPTIONS = {"quality": 95, "subsampling": 0, "optimize": False, "progressive": False}
_MANIFEST = "_MANIFEST.json"


def _seed(*parts):
    """A seed that depends only on `parts` (unlike `hash`, stable across runs)."""
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def region_boxes(name):
    """The held-out regions of photo `name` as `(split, top, left, bottom, right)` boxes
    (bottom and right exclusive), in the photo's own pixels."""
    return tuple(
        (split, top, left, top + HELD_OUT_SIDE, left + HELD_OUT_SIDE)
        for split, top, left in PHOTO_REGIONS[name]
    )


@lru_cache(maxsize=None)
def _positions(name, split, side):
    """Where a `side` x `side` window may lie in `split`'s area of photo `name`: the flat
    indices of its valid top-left corners in the (H - side + 1) x (W - side + 1) grid, and
    that grid's width. Train windows keep GUARD pixels away from every held-out region;
    a val or test window lies inside one region of its split."""
    height, width = _cached_photo(name).shape[:2]
    rows, cols = np.arange(max(0, height - side + 1)), np.arange(max(0, width - side + 1))
    boxes = region_boxes(name)
    if split == "train":
        valid = np.ones((rows.size, cols.size), bool)
        for _, top, left, bottom, right in boxes:
            hit_rows = (rows < bottom + GUARD) & (rows + side > top - GUARD)
            hit_cols = (cols < right + GUARD) & (cols + side > left - GUARD)
            valid &= ~(hit_rows[:, None] & hit_cols[None, :])
    else:
        valid = np.zeros((rows.size, cols.size), bool)
        for region_split, top, left, bottom, right in boxes:
            if region_split == split:
                in_rows = (rows >= top) & (rows + side <= bottom)
                in_cols = (cols >= left) & (cols + side <= right)
                valid |= in_rows[:, None] & in_cols[None, :]
    positions = np.flatnonzero(valid)
    positions.setflags(write=False)
    return positions, cols.size


def window_sides(name, size):
    """The source window sides photo `name` is cut with at sample `size` (empty when its
    train area is too small for a `size` window: it then sits that size out)."""
    return tuple(
        side for side in _WINDOW_SIDES
        if side >= size and all(_positions(name, split, side)[0].size for split in _splits_of(name))
    )


def photos_at(size, split):
    """The photos that give crops to `split` at sample `size`."""
    return tuple(name for name in PHOTO_SPLIT[split] if window_sides(name, size))


def _informative(crop):
    """Reject flat windows (retina corners, empty sky) and mostly black ones."""
    return _luminance(crop).std() >= 0.02 and (crop.max(axis=-1) < 12).mean() <= 0.5


def _crops(name, size, split, count, seed_parts):
    """`count` deterministic size x size crops from `split`'s area of photo `name`,
    cycling through its window sides."""
    rng = np.random.RandomState(_seed(*seed_parts, name))
    photo = _cached_photo(name)
    sides = window_sides(name, size)
    crops = []
    for i in range(count):
        side = sides[i % len(sides)]
        positions, grid_width = _positions(name, split, side)
        for _ in range(_MAX_TRIES):
            top, left = divmod(int(positions[rng.randint(positions.size)]), grid_width)
            crop = photo[top:top + side, left:left + side]
            if side != size:
                crop = np.asarray(Image.fromarray(crop).resize(
                    (size, size), Image.Resampling.LANCZOS, reducing_gap=None))
            if _informative(crop):
                break
        crops.append(({"photo": name, "top": top, "left": left, "side": side}, crop))
    return crops


def _interleaved(per_photo):
    """Crop 1 of every photo, then crop 2 of every photo, ...: the first files of a split
    already show all of its photos."""
    longest = max(len(crops) for crops in per_photo)
    return [crops[i] for i in range(longest) for crops in per_photo if i < len(crops)]


def _split_crops(size, split, cache, task="photo", count_scale=1.0):
    """The crops of `split` at `size`, interleaved photo by photo (cached per size: every
    paired task cuts the same crops, so file N is the same crop in every task)."""
    key = (task, size, split)
    if key not in cache:
        base = split[:-1] if task == "day2night" else split   # trainA / trainB: train area
        count = int(_CROPS_PER_PHOTO[base][size] * count_scale)
        names = photos_at(size, base)
        cache[key] = (names, _interleaved([_crops(n, size, base, count, (task, size, split)) for n in names]))
    return cache[key]


def _regions_manifest():
    return {
        "held_out_side": HELD_OUT_SIDE,
        "guard": GUARD,
        "photos": {
            name: {
                "shape": list(_SOURCES[name]["shape"][:2]),
                "regions": [
                    {"split": split, "top": top, "left": left, "bottom": bottom, "right": right}
                    for split, top, left, bottom, right in region_boxes(name)
                ],
            }
            for name in _SOURCES
        },
    }


def _write_jpeg(path, array):
    Image.fromarray(array).save(path, format="JPEG", **_JPEG_OPTIONS)


def _new_manifest(layout):
    return {"layout": layout, "counts": {}, "sources": {}, "files": {}}


def _record(manifest, splits, sources, files):
    """Enter `splits` (which hold the same images) in `manifest`: count, sources, files."""
    for split in splits:
        manifest["counts"][split] = len(files)
        manifest["sources"][split] = sources
        manifest["files"][split] = files


_TEST_PAIR_SPLITS = ("testA", "testB", "test_pairs")


def _write_test_pairs(folder, pairs):
    """The day2night test splits from `(day, night)` pairs of the same scene: testA (day),
    testB (night) and test_pairs (day | night side by side), numbered from 1."""
    for split in _TEST_PAIR_SPLITS:
        (folder / split).mkdir()
    for number, (day, night) in enumerate(pairs, start=1):
        _write_jpeg(folder / "testA" / f"{number}.jpg", day)
        _write_jpeg(folder / "testB" / f"{number}.jpg", night)
        _write_jpeg(folder / "test_pairs" / f"{number}.jpg", np.concatenate([day, night], axis=1))


# ---------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------

def _write_paired(task, size, folder, cache):
    manifest = _new_manifest("pix2pix (A | B side by side)")
    for split in SPLITS:
        names, items = _split_crops(size, split, cache)
        (folder / split).mkdir()
        files = []
        for number, (info, crop) in enumerate(items, start=1):
            if task in _SEEDED_TRANSFORMS:
                seed = _seed(task, size, split, number)
                a = _SEEDED_TRANSFORMS[task](crop, seed)
                info = {**info, "seed": seed}
            else:
                a = _PAIRED_TRANSFORMS[task](crop)
            _write_jpeg(folder / split / f"{number}.jpg", np.concatenate([a, crop], axis=1))
            files.append(info)
        _record(manifest, [split], list(names), files)
    if task == "inpaint":
        import tensorflow as tf

        manifest["masks"] = {"function": "kerasi2i.data.samples.hole_mask(seed, size, size)",
                             "tensorflow": tf.__version__}
    manifest["regions"] = _regions_manifest()
    return manifest


def _write_day2night(size, folder, cache):
    task = "day2night"
    manifest = _new_manifest("cyclegan (trainA, trainB, testA, testB) + test_pairs (A | B side by side)")
    for domain in DAY2NIGHT_DOMAINS:
        split = "train" + domain
        names, items = _split_crops(size, split, cache, task=task, count_scale=0.5)
        (folder / split).mkdir()
        for number, (_, crop) in enumerate(items, start=1):
            _write_jpeg(folder / split / f"{number}.jpg", crop if domain == "A" else render_night(crop))
        _record(manifest, [split], list(names), [info for info, _ in items])

    names, items = _split_crops(size, "test", cache)
    _write_test_pairs(folder, ((crop, render_night(crop)) for _, crop in items))
    _record(manifest, _TEST_PAIR_SPLITS, list(names), [info for info, _ in items])
    manifest["regions"] = _regions_manifest()
    return manifest


# Buildings per split of the facade tasks. 256 px follows CMP Facades as the pix2pix paper
# splits it (400 train, 100 val, 106 test); 64 px, the notebooks' size, gets 1,000
# training buildings, and 128 px, the demo's size, 600 (its first build stays short). Every split draws its buildings
# from its own seed range, so no building is in two splits, and a building has the same
# seed (the same design) at every size.
FACADE_COUNTS = MappingProxyType({
    64: MappingProxyType({"train": 1000, "val": 100, "test": 100}),
    128: MappingProxyType({"train": 600, "val": 100, "test": 100}),   # the demo's size: a quick first build
    256: MappingProxyType({"train": 400, "val": 100, "test": 106}),
})
_FACADE_SEED_BASE = MappingProxyType({
    "train": 0, "val": 100_000, "test": 200_000, "trainA": 300_000, "trainB": 400_000, "unpaired_test": 500_000,
})


def facade_seeds(split, size):
    """The building seeds of a facade split ("train", "val", "test", "trainA", "trainB",
    "unpaired_test") at `size`."""
    counts = FACADE_COUNTS[size]
    count = counts["test"] if split == "unpaired_test" else counts.get(split, counts["train"] // 2)
    return range(_FACADE_SEED_BASE[split], _FACADE_SEED_BASE[split] + count)


def _facade_render(args):
    """(labels, day photo, night photo or None) of one building; a module-level function
    so that a process pool can run it."""
    from kerasi2i.data import facades

    seed, size, what = args
    building = facades.generate_facade(seed)
    labels = facades.render_labels(building, size) if "labels" in what else None
    day = facades.render_photo(building, size) if "day" in what else None
    night = facades.render_photo(building, size, night=True) if "night" in what else None
    return labels, day, night


def _render_many(seeds, size, what, label=None):
    """Render buildings one after the other, with a progress bar when `label` is given.

    Serial on purpose: a process pool measured slower on 2 cores (each worker imports
    TensorFlow through the kerasi2i.data package before it renders anything)."""
    bar = None
    if label is not None and len(seeds) >= 100:
        from keras.utils import Progbar

        print(label)
        bar = Progbar(len(seeds), unit_name="building")
    images = []
    for i, seed in enumerate(seeds, start=1):
        images.append(_facade_render((seed, size, what)))
        if bar is not None and (i % 25 == 0 or i == len(seeds)):
            bar.update(i)
    return images


def _write_facades(size, folder, verbose=False):
    """`facades`: photo (A, left) | labels (B, right), the real CMP set's direction, so
    BtoA is labels -> photo."""
    manifest = _new_manifest("pix2pix (A = photo | B = labels, side by side)")
    for split in ("train", "val", "test"):
        seeds = facade_seeds(split, size)
        (folder / split).mkdir()
        label = f"Rendering {size} px facades, {split} split" if verbose else None
        for number, (labels, day, _) in enumerate(_render_many(seeds, size, ("labels", "day"), label), start=1):
            _write_jpeg(folder / split / f"{number}.jpg", np.concatenate([day, labels], axis=1))
        _record(manifest, [split], f"kerasi2i.data.facades.generate_facade(seed), seeds {seeds.start}-{seeds.stop - 1}",
                [{"seed": s} for s in seeds])
    return manifest


def _write_facades_day2night(size, folder, verbose=False):
    """`facades_day2night`: day photos (trainA) and night photos (trainB) of different
    buildings; testA / testB / test_pairs show the same test buildings by day and night."""
    manifest = _new_manifest("cyclegan (trainA, trainB, testA, testB) + test_pairs (A | B side by side)")
    for split, what, index in (("trainA", ("day",), 1), ("trainB", ("night",), 2)):
        seeds = facade_seeds(split, size)
        (folder / split).mkdir()
        label = f"Rendering {size} px facades, {split}" if verbose else None
        for number, images in enumerate(_render_many(seeds, size, what, label), start=1):
            _write_jpeg(folder / split / f"{number}.jpg", images[index])
        _record(manifest, [split], f"generate_facade(seed), seeds {seeds.start}-{seeds.stop - 1}",
                [{"seed": s} for s in seeds])
    seeds = facade_seeds("unpaired_test", size)
    label = f"Rendering {size} px facades, test pairs" if verbose else None
    rendered = _render_many(seeds, size, ("day", "night"), label)
    _write_test_pairs(folder, ((day, night) for _, day, night in rendered))
    _record(manifest, _TEST_PAIR_SPLITS, f"generate_facade(seed), seeds {seeds.start}-{seeds.stop - 1}",
            [{"seed": s} for s in seeds])
    return manifest


def _library_versions():
    import PIL
    import skimage

    return {"numpy": np.__version__, "pillow": PIL.__version__, "scikit-image": skimage.__version__}


def _is_built(folder):
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("task") in DERIVED_TASKS:
        from kerasi2i.data.painted import PAINTED_VERSION

        if manifest.get("painted_version") != PAINTED_VERSION:
            return False
    return manifest.get("build_version") == SAMPLES_VERSION


def _build_one(task, size, folder, cache, verbose=False):
    """Write task/size into a temporary sibling folder, then rename it into place: an
    interrupted build never leaves a half-written dataset under the final name."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{task}-building-", dir=folder.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the dataset is not
    try:
        if task == "facades":
            manifest = _write_facades(size, staging, verbose)
        elif task == "facades_day2night":
            manifest = _write_facades_day2night(size, staging, verbose)
        elif task == "day2night":
            manifest = _write_day2night(size, staging, cache)
        elif task == "painted":
            from kerasi2i.data.painted import _write_painted

            manifest = _write_painted(size, staging, root=folder.parent.parent)
        else:
            manifest = _write_paired(task, size, staging, cache)
        manifest = {
            "task": task,
            "size": size,
            "build_version": SAMPLES_VERSION,
            "builder": "kerasi2i.data.samples.build_samples",
            "libraries": _library_versions(),
            **manifest,
        }
        (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if folder.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{task}-old-", dir=folder.parent))
            folder.rename(retired / task)
            shutil.rmtree(retired)
        try:
            staging.rename(folder)
        except OSError:
            if not _is_built(folder):  # not another process that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _check_choices(kind, given, allowed):
    if given is None:
        return tuple(allowed)
    if isinstance(given, (str, int)):
        given = (given,)
    given = tuple(given)
    unknown = [g for g in given if g not in allowed]
    if unknown:
        raise ValueError(f"Unknown sample {kind} {unknown!r} (given {given!r}); allowed: {allowed!r}.")
    return given


def build_samples(tasks=None, sizes=None, root=None, force=False, verbose=False):
    """Build the sample datasets that are missing (or out of date) and return the root.

    Args:
        tasks: task names from `SAMPLE_TASKS` or `DERIVED_TASKS` (default: all; a derived
            task builds the tasks it is made from first).
        sizes: image sizes from `SAMPLE_SIZES` (default: all).
        root: where to write; default `samples_root()` (`data/samples/` in a checkout).
        force: rebuild even when an up-to-date copy exists.
        verbose: log one line per task and size with its counts and build time (the
            "kerasi2i" logger, INFO), and a progress bar while facades render (100 or more).
    """
    tasks = _check_choices("task", tasks, SAMPLE_TASKS + DERIVED_TASKS)
    sizes = _check_choices("size", sizes, SAMPLE_SIZES)
    root = Path(samples_root() if root is None else root)
    for size in sizes:
        cache = {}  # rescaled photos, shared by the tasks of one size
        for task in tasks:
            folder = root / str(size) / task
            if not force and _is_built(folder):
                continue
            start = time.perf_counter()
            manifest = _build_one(task, size, folder, cache, verbose)
            if verbose:
                counts = ", ".join(f"{k} {v}" for k, v in manifest["counts"].items())
                logger.info("built %s/%s: %s (%.1f s)", size, task, counts, time.perf_counter() - start)
    return root


def sample_path(task, size=64, root=None, build=True, verbose=False):
    """The folder `<root>/<size>/<task>` of a sample dataset, built first if missing
    (`verbose=True` shows progress while it builds)."""
    _check_choices("task", task, SAMPLE_TASKS + DERIVED_TASKS)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise ValueError(f"Unknown sample size {size!r}; allowed: {SAMPLE_SIZES!r}.")
    _check_choices("size", int(size), SAMPLE_SIZES)
    root = Path(samples_root() if root is None else root)
    folder = root / str(int(size)) / task
    if build and not _is_built(folder):
        build_samples(tasks=[task], sizes=[int(size)], root=root, verbose=verbose)
    return folder


def resolve_data(spec, size=None, verbose=False):
    """A dataset argument as a path: a folder as given, or ``sample:NAME`` for a bundled
    sample task at ``size`` pixels (64 when None; one of SAMPLE_SIZES), built first if
    needed."""
    spec = str(spec)
    if spec.startswith("sample:"):
        return sample_path(spec.split(":", 1)[1], size or 64, verbose=verbose)
    return Path(spec).expanduser()
