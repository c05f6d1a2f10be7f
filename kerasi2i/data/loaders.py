"""`tf.data` loaders for the on-disk layouts of the real pix2pix and CycleGAN datasets.

Every loader returns a `tf.data.Dataset` of float32 NHWC tensors in [-1, 1]:
paired loaders yield `(input, target)` batches, the unpaired loader yields `(a, b)`.

Layouts recognised by `detect_layout`:

- ``berkeley``: ``<root>/{train,val,test}/*.jpg``, each image A | B side by side
  (the Berkeley pix2pix archives and the bundled samples).
- ``kaggle``: ``<root>/<name>/{train,val}/*.jpg`` (Kaggle's "pix2pix-dataset", where each
  set sits one folder deeper), same side-by-side images.
- ``a_b``: ``<root>/A/<split>/`` and ``<root>/B/<split>/`` (or flat ``A/``, ``B/``) holding
  files with matching names.
- ``flat``: a folder of side-by-side images with no split folders (e.g. ``test_pairs/``).
- ``cyclegan``: ``<root>/{trainA,trainB,testA,testB}/`` (unpaired).
"""
import contextlib
import functools
import warnings
from pathlib import Path

import tensorflow as tf

from kerasi2i.data.checks import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    DatasetError,
    check_files,
    check_image,
    list_images,
    natural_key,
)
from kerasi2i.data.preprocess import (
    check_channels,
    check_mode,
    decode_image,
    split_side_by_side,
    to_signed,
    transform,
    transform_pair,
)

AUTOTUNE = tf.data.AUTOTUNE
DIRECTIONS = ("AtoB", "BtoA")
SPLITS = ("train", "val", "test")


def _subdirs(path):
    return sorted(p.name for p in Path(path).iterdir() if p.is_dir()) if Path(path).is_dir() else []


def _has_images(path):
    path = Path(path)
    return path.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() for p in path.iterdir())


def detect_layout(path):
    """Name the layout of the dataset folder at `path` and the folder it is rooted at.

    Returns ``(layout, root)`` with layout one of ``berkeley``, ``kaggle``, ``a_b``,
    ``cyclegan``, ``flat``. Raises DatasetError naming what was found otherwise.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(f"Dataset folder '{path}' does not exist.")
    if not path.is_dir():
        raise DatasetError(f"'{path}' is a file; expected a dataset folder.")
    subs = _subdirs(path)
    if {"trainA", "trainB"} <= set(subs) or {"testA", "testB"} <= set(subs):
        return "cyclegan", path
    if any(s in subs for s in SPLITS):
        return "berkeley", path
    if "A" in subs and "B" in subs:
        return "a_b", path
    if len(subs) == 1 and any(s in _subdirs(path / subs[0]) for s in SPLITS):
        return "kaggle", path / subs[0]
    if _has_images(path):
        return "flat", path
    raise DatasetError(
        f"Unknown dataset layout at '{path}' (sub-folders: {subs or 'none'}). Expected one of: "
        "<root>/{train,val,test}/ of side-by-side A|B images (Berkeley pix2pix); "
        "<root>/<name>/{train,val}/ (Kaggle pix2pix-dataset); <root>/A/ and <root>/B/ with "
        "matching file names; <root>/{trainA,trainB,testA,testB}/ (CycleGAN); or a folder of "
        "side-by-side images."
    )


def _check_side_by_side(path, max_pixels=MAX_PIXELS):
    width, height, _ = check_image(path, max_pixels)
    if width % 2:
        raise DatasetError(
            f"'{path}' is {width}x{height}: a side-by-side A|B image needs an even width "
            f"(two halves of {width // 2} and {width - width // 2} pixels cannot be split evenly)."
        )


def _check_a_b(pair, max_pixels=MAX_PIXELS):
    a, b = pair
    wa, ha, _ = check_image(a, max_pixels)
    wb, hb, _ = check_image(b, max_pixels)
    if (wa, ha) != (wb, hb):
        raise DatasetError(f"'{a}' is {wa}x{ha} but its partner '{b}' is {wb}x{hb}; a pair must share its size.")


def paired_files(path, split="train", on_bad="raise", check=True, max_pixels=MAX_PIXELS):
    """The files of one split of a paired dataset.

    Returns ``("side_by_side", [file, ...])`` or ``("a_b", [(a_file, b_file), ...])``
    after checking every file (unless `check=False`): header, pixel cap and a full decode
    (`kerasi2i.data.checks.check_image`).
    """
    layout, root = detect_layout(path)
    if layout == "cyclegan":
        raise DatasetError(
            f"'{root}' is an unpaired CycleGAN dataset (trainA/trainB/...); use load_unpaired, "
            "or its test_pairs/ folder if it has one."
        )
    if layout in ("berkeley", "kaggle"):
        folder = root / split
        if not folder.is_dir():
            have = [s for s in SPLITS if (root / s).is_dir()]
            raise DatasetError(f"Split '{split}' not found in '{root}': expected '{folder}'. Splits present: {have}.")
        files = list_images(folder, what=f"'{split}' images")
    elif layout == "flat":
        files = list_images(root, what="side-by-side images")
    if layout != "a_b":
        if check:
            files = check_files(files, functools.partial(_check_side_by_side, max_pixels=max_pixels), on_bad,
                                what="side-by-side images")
        return "side_by_side", [str(f) for f in files]

    folders = []
    for d in ("A", "B"):
        if (root / d / split).is_dir():
            folders.append(root / d / split)
            continue
        have = [s for s in SPLITS if (root / d / s).is_dir()]
        if have:  # split folders exist, just not this one
            raise DatasetError(
                f"Split '{split}' not found in '{root / d}': expected '{root / d / split}'. Splits present: {have}."
            )
        folders.append(root / d)
    a_files = {f.name: f for f in list_images(folders[0], what="A images")}
    b_files = {f.name: f for f in list_images(folders[1], what="B images")}
    missing_b = sorted(set(a_files) - set(b_files))
    missing_a = sorted(set(b_files) - set(a_files))
    if missing_a or missing_b:
        problem = f"{len(missing_b)} A files have no B partner (e.g. {missing_b[:3]})" if missing_b else ""
        if missing_a:
            problem += ("; " if problem else "") + f"{len(missing_a)} B files have no A partner (e.g. {missing_a[:3]})"
        if on_bad == "raise":
            raise DatasetError(
                f"Folders '{folders[0]}' and '{folders[1]}' must hold files with matching names: {problem}. "
                "(Pass on_bad='skip' to leave such files out with a warning.)"
            )
        if on_bad == "skip":
            unmatched = len(missing_a) + len(missing_b)
            warnings.warn(
                f"Skipped {unmatched} of {len(set(a_files) | set(b_files))} A/B files without a partner "
                f"in '{folders[0]}' / '{folders[1]}': {problem}.",
                stacklevel=3,
            )
    pairs = [(a_files[n], b_files[n]) for n in sorted(set(a_files) & set(b_files), key=natural_key)]
    if not pairs:
        raise DatasetError(f"No file name appears in both '{folders[0]}' and '{folders[1]}'.")
    if check:
        pairs = check_files(pairs, functools.partial(_check_a_b, max_pixels=max_pixels), on_bad, what="A/B pairs")
    return "a_b", [(str(a), str(b)) for a, b in pairs]


def _default_load_size(crop_size):
    """The papers' 286 for 256, scaled the same way (x 286/256) for other sizes."""
    return int(round(crop_size * 286 / 256))


def _finish(ds, *, batch_size, repeat, drop_remainder, cache, seed, post, deterministic):
    """Shared tail of every pipeline: cache, random jitter, batch, prefetch."""
    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    # Per-element stateless seeds for the jitter: reproducible for a given `seed`, new every epoch.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip(ds, seeds).map(post, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(AUTOTUNE)


def load_paired(
    path,
    split="train",
    *,
    direction="AtoB",
    image_size=256,
    load_size=None,
    preprocess="resize_and_crop",
    flip=True,
    training=None,
    input_channels=3,
    output_channels=3,
    batch_size=1,
    shuffle=None,
    repeat=False,
    drop_remainder=False,
    cache=False,
    seed=None,
    on_bad="raise",
    check=True,
    max_pixels=MAX_PIXELS,
):
    """A paired dataset of `(input, target)` batches, float32 in [-1, 1].

    Args:
        path: dataset folder in any paired layout (see the module docstring).
        split: "train", "val" or "test" (ignored by a flat folder).
        direction: "AtoB" (input = left/A) or "BtoA" (input = right/B); facades, cityscapes
            and maps are trained BtoA.
        image_size: the crop size the model sees (the reference's `crop_size`, 256).
        load_size: size before the random crop (default image_size * 286 / 256).
        preprocess: one of `PREPROCESS_MODES` (see `kerasi2i.data.preprocess`).
        flip: random horizontal mirroring in training.
        training: apply random jitter; defaults to `split == "train"`. Evaluation resizes only.
        input_channels, output_channels: 1 or 3.
        shuffle: defaults to `training`.
        cache: True caches decoded images in memory (before the random jitter); a string
            caches to that file.
        seed: makes shuffling and jitter reproducible.
        on_bad: "raise" (default) stops at the first bad file with a DatasetError naming
            it; "skip" leaves bad files out with a warning and a count.
        check: check every file first (header, pixel cap, a full decode whose verdict is
            cached); False skips the checks.
        max_pixels: the largest width x height accepted (`kerasi2i.data.checks.MAX_PIXELS`).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}.")
    check_mode(preprocess)
    check_channels(input_channels, "input_channels")
    check_channels(output_channels, "output_channels")
    training = (split == "train") if training is None else training
    shuffle = training if shuffle is None else shuffle
    load_size = load_size or _default_load_size(image_size)
    kind, items = paired_files(path, split, on_bad=on_bad, check=check, max_pixels=max_pixels)

    if kind == "side_by_side":
        ds = tf.data.Dataset.from_tensor_slices(items)
    else:
        ds = tf.data.Dataset.from_tensor_slices(tuple(list(x) for x in zip(*items)))
    if shuffle:
        ds = ds.shuffle(len(items), seed=seed, reshuffle_each_iteration=True)

    def load(*paths):
        if kind == "side_by_side":
            a, b = split_side_by_side(decode_image(tf.io.read_file(paths[0]), 3))
        else:
            a = decode_image(tf.io.read_file(paths[0]), 3)
            b = decode_image(tf.io.read_file(paths[1]), 3)
        x, y = (a, b) if direction == "AtoB" else (b, a)
        if input_channels == 1:
            x = tf.image.rgb_to_grayscale(x)
        if output_channels == 1:
            y = tf.image.rgb_to_grayscale(y)
        return x, y

    def jitter(pair, seed_pair):
        x, y = transform_pair(
            pair[0], pair[1], preprocess=preprocess, load_size=load_size, crop_size=image_size,
            training=training, flip=flip, seed=seed_pair,
        )
        return to_signed(x), to_signed(y)

    # Evaluation (and any seeded pipeline) keeps the files' order on every pass; unseeded
    # training may hand out elements as soon as they are ready, which is faster.
    ordered = seed is not None or not training
    ds = ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=ordered)
    return _finish(
        ds, batch_size=batch_size, repeat=repeat, drop_remainder=drop_remainder, cache=cache, seed=seed, post=jitter,
        deterministic=ordered,
    )


def unpaired_files(path, split="train", on_bad="raise", check=True, max_pixels=MAX_PIXELS):
    """The A and B files of one split of a CycleGAN-layout dataset (`<split>A/`, `<split>B/`)."""
    layout, root = detect_layout(path)
    if layout != "cyclegan":
        raise DatasetError(
            f"'{root}' has the {layout} layout; an unpaired dataset needs <root>/{{trainA,trainB,testA,testB}}/."
        )
    domains = []
    for d in ("A", "B"):
        files = list_images(root / f"{split}{d}", what=f"domain {d} '{split}' images")
        if check:
            files = check_files(files, functools.partial(check_image, max_pixels=max_pixels), on_bad,
                                what=f"domain {d} images")
        domains.append([str(f) for f in files])
    return domains


def load_unpaired(
    path,
    split="train",
    *,
    image_size=256,
    load_size=None,
    preprocess="resize_and_crop",
    flip=True,
    training=None,
    channels_a=3,
    channels_b=3,
    batch_size=1,
    repeat=False,
    drop_remainder=False,
    cache=False,
    seed=None,
    on_bad="raise",
    check=True,
    max_pixels=MAX_PIXELS,
):
    """An unpaired dataset of `(a, b)` batches in [-1, 1] from `<split>A/` and `<split>B/`.

    The two domains are shuffled independently (in training) and each pass over the
    dataset is as long as the larger domain, the smaller one wrapping around, as in the
    reference implementation. Each image gets its own random jitter. Arguments as in
    `load_paired`.
    """
    check_mode(preprocess)
    check_channels(channels_a, "channels_a")
    check_channels(channels_b, "channels_b")
    files_a, files_b = unpaired_files(path, split, on_bad=on_bad, check=check, max_pixels=max_pixels)

    def decoded(files, channels):
        ds = tf.data.Dataset.from_tensor_slices(files)
        return ds, lambda f: decode_image(tf.io.read_file(f), channels)

    return unpaired_pipeline(
        decoded(files_a, channels_a), decoded(files_b, channels_b), (len(files_a), len(files_b)),
        training=(split == "train") if training is None else training, image_size=image_size,
        load_size=load_size, preprocess=preprocess, flip=flip, batch_size=batch_size, repeat=repeat,
        drop_remainder=drop_remainder, cache=cache, seed=seed,
    )


def unpaired_pipeline(
    source_a, source_b, lengths, *, training, image_size, load_size, preprocess, flip, batch_size,
    repeat, drop_remainder, cache, seed,
):
    """Shared by the folder and TFDS loaders: each source is `(dataset, decode_fn)`."""
    load_size = load_size or _default_load_size(image_size)
    ordered = seed is not None or not training   # see paired_pipeline / load_paired
    if cache and training:
        raise ValueError("cache=True is not supported for unpaired training data (the domains are re-paired every epoch).")

    def domain(source, n, domain_seed):
        ds, decode = source
        if training:
            ds = ds.shuffle(n, seed=domain_seed, reshuffle_each_iteration=True)
        ds = ds.repeat()  # the smaller domain wraps around; `take` below ends the pass
        return ds.map(decode, num_parallel_calls=AUTOTUNE, deterministic=ordered)

    seed_b = None if seed is None else seed + 1
    ds = tf.data.Dataset.zip(domain(source_a, lengths[0], seed), domain(source_b, lengths[1], seed_b))
    ds = ds.take(max(lengths))

    def jitter(pair, seed_pair):
        opts = dict(preprocess=preprocess, load_size=load_size, crop_size=image_size, training=training, flip=flip)
        a = transform(pair[0], seed=seed_pair, **opts)
        b = transform(pair[1], seed=seed_pair + [7, 3], **opts)
        return to_signed(a), to_signed(b)

    return _finish(
        ds, batch_size=batch_size, repeat=repeat, drop_remainder=drop_remainder, cache=cache, seed=seed, post=jitter,
        deterministic=ordered,
    )


def load_domain(
    path, split="testA", *, image_size=256, channels=3, batch_size=1, preprocess="resize_and_crop", on_bad="raise",
    max_pixels=MAX_PIXELS,
):
    """One folder of single images (e.g. `testA/`) for translation or scoring: evaluation
    preprocessing, in file-name order, as float32 batches in [-1, 1]."""
    check_mode(preprocess)
    check_channels(channels)
    folder = Path(path) / split if (Path(path) / split).is_dir() else Path(path)
    files = [str(f) for f in check_files(list_images(folder), functools.partial(check_image, max_pixels=max_pixels),
                                         on_bad)]

    def load(f):
        image = decode_image(tf.io.read_file(f), channels)
        image = transform(image, preprocess=preprocess, load_size=image_size, crop_size=image_size,
                          training=False, flip=False, seed=None)
        return to_signed(image)

    ds = tf.data.Dataset.from_tensor_slices(files).map(load, num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size).prefetch(AUTOTUNE)


TFDS_PROBE_TIMEOUT = 5.0  # seconds to wait for the CycleGAN archive host before giving up


@contextlib.contextmanager
def _tfds_offline(offline):
    """Keep TFDS off its GCS bucket while a builder is made.

    Without prepared data in `data_dir`, older tensorflow-datasets releases (4.9.4, for
    one) fetch the dataset info from gs://tfds-data when a builder is constructed (recent
    releases have GCS off by default); with `download=False` nothing may touch the network.
    """
    if not offline:
        yield
        return
    from tensorflow_datasets.core.utils import gcs_utils

    before = getattr(gcs_utils, "_is_gcs_disabled", None)
    gcs_utils._is_gcs_disabled = True
    try:
        yield
    finally:
        if before is None:
            del gcs_utils._is_gcs_disabled
        else:
            gcs_utils._is_gcs_disabled = before


def load_cycle_gan_tfds(
    name="horse2zebra",
    split="train",
    *,
    local_dir=None,
    data_dir=None,
    download=True,
    image_size=256,
    load_size=None,
    preprocess="resize_and_crop",
    flip=True,
    training=None,
    batch_size=1,
    repeat=False,
    drop_remainder=False,
    seed=None,
):
    """TFDS `cycle_gan/<name>` as `(a, b)` batches, with an offline route.

    Order of sources: `local_dir` (a folder in the CycleGAN layout, e.g. an extracted
    `horse2zebra.zip`); the archive already extracted by `download_cyclegan` under
    `downloads_root()`; otherwise `tensorflow_datasets.load("cycle_gan/<name>")` (which
    downloads when online, or reads a prepared `data_dir`; with `download=False` it only
    reads `data_dir` and never touches the network). `split` is "train" or "test".
    Offline with none of these, a DatasetError says what to fetch, within seconds: the
    archive host is probed (`TFDS_PROBE_TIMEOUT`) before TFDS is asked to download.
    """
    from kerasi2i.data.download import CYCLEGAN_DATASETS
    from kerasi2i.data.paths import downloads_root

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test' for cycle_gan, got {split!r}.")
    opts = dict(image_size=image_size, load_size=load_size, preprocess=preprocess, flip=flip, training=training,
                batch_size=batch_size, repeat=repeat, drop_remainder=drop_remainder, seed=seed)
    extracted = downloads_root() / f"{name}_extracted" / name
    for folder in (local_dir, extracted):
        if folder is not None and Path(folder).is_dir():
            return load_unpaired(folder, split, **opts)

    import tensorflow_datasets as tfds

    from kerasi2i.data import download as kdownload

    try:
        # The builder is made with GCS off (nothing is fetched yet); only when the data is
        # not prepared in data_dir does TFDS download, and then the archive host must answer
        # a quick probe first: offline, TFDS's own retries take minutes to give up.
        with _tfds_offline(True):
            builder = tfds.builder(f"cycle_gan/{name}", data_dir=data_dir)
        if download and not builder.is_prepared():
            url = kdownload.CYCLEGAN_URL.format(name=name)
            problem = kdownload.host_reachable(url, timeout=TFDS_PROBE_TIMEOUT)
            if problem is not None:
                raise ConnectionError(f"cannot reach {url} ({problem}); TFDS would download from there")
            builder.download_and_prepare()
        ds_a, ds_b = builder.as_dataset(split=[f"{split}A", f"{split}B"])
        lengths = (builder.info.splits[f"{split}A"].num_examples, builder.info.splits[f"{split}B"].num_examples)
    except Exception as err:  # network errors, missing prepared data, unknown config
        known = ", ".join(sorted(CYCLEGAN_DATASETS))
        if name not in CYCLEGAN_DATASETS:
            raise DatasetError(
                f"Could not load TFDS 'cycle_gan/{name}': {name!r} is not a CycleGAN dataset. Known sets: "
                f"{known}; or pass local_dir= a folder with trainA/ trainB/ testA/ testB/."
            ) from None
        raise DatasetError(
            f"Could not load TFDS 'cycle_gan/{name}' ({type(err).__name__}: {str(err)[:200]}). Offline, copy "
            f"the CycleGAN archive {name}.zip into '{downloads_root()}' and run "
            f"kerasi2i.data.download_cyclegan('{name}'), or pass local_dir= a folder with trainA/ trainB/ "
            f"testA/ testB/. Known sets: {known}."
        ) from None

    def to_unit(example):
        return tf.image.convert_image_dtype(example["image"], tf.float32)

    training = (split == "train") if training is None else training
    opts["training"] = training
    return unpaired_pipeline((ds_a, to_unit), (ds_b, to_unit), lengths, cache=False, **opts)
