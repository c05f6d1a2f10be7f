"""Domain adaptation scored by a segmenter, the way CyCADA measures it.

Hoffman et al., *CyCADA: Cycle-Consistent Adversarial Domain Adaptation*, ICML 2018: a
segmenter trained on a *source* domain (GTA5 game frames, with free labels) loses much of
its accuracy on a *target* domain (Cityscapes photos). Translating the target images to
look like the source with a CycleGAN trained without pairs, and segmenting the
translations, recovers part of the drop. Three rows tell the story:

- **lower bound**: the segmenter on the target images as they are (no adaptation);
- **adapted**: the segmenter on the target images translated to the source domain;
- **upper bound**: the segmenter on source-domain images of the same scenes (here they
  exist: the procedural facades render every test building by day and by night; in the
  paper, the segmenter trained on the target's own labels).

Each row is scored by per-pixel accuracy, per-class accuracy and class IoU against the
true label maps (`kerasi2i.evaluation.fcn.fcn_scores`).

Offline, the bundled `facades_day2night` task plays the part: the source is day (the
facade segmenter, `fcn.facade_segmenter()`, was trained on day photos), the target is
night, and `facade_test_labels` renders the label maps of its test buildings.

    >>> from kerasi2i.evaluation import adaptation, fcn
    >>> test = adaptation.facade_adaptation_test(64)          # day, night, labels
    >>> rows = adaptation.adaptation_scores(fcn.facade_segmenter(), test["night"],
    ...                                      test["labels"], translate=F, source=test["day"])
    >>> print(adaptation.format_scores(rows))

`kerasi2i evaluate --segmenter facades --model RUN/ --direction BtoA --data
sample:facades_day2night` runs `evaluate_adaptation`, which does the same from the
command line.
"""
import json
from pathlib import Path

import numpy as np

LOWER = "lower bound: target as is"
ADAPTED = "adapted: target -> source"
UPPER = "upper bound: source image"
SCORE_KEYS = ("pixel_accuracy", "class_accuracy", "class_iou")


def _numbered(folder):
    files = [p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    try:
        return sorted(files, key=lambda p: int(p.stem))
    except ValueError:
        return sorted(files)


def load_folder(folder, image_size=None):
    """The images of a folder, in file-name order (numbers as numbers), as float32
    (N, H, W, 3) in [-1, 1]; resized (bilinear) to `image_size` when given."""
    from PIL import Image

    files = _numbered(folder)
    if not files:
        raise FileNotFoundError(f"'{folder}' holds no .jpg or .png images.")
    images = []
    for path in files:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image_size is not None and image.size != (image_size, image_size):
                image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
            images.append(np.asarray(image))
    return np.stack(images).astype(np.float32) / 127.5 - 1.0


def facade_test_labels(path, split="testA"):
    """The label maps of the buildings in a procedural-facades split (painted, float32
    (N, size, size, 3) in [-1, 1]), rendered from the seeds its `_MANIFEST.json` records.

    For `facades_day2night`, `testA` (day) and `testB` (night) show the same buildings, so
    these are the true labels of both. Raises ValueError for a folder that was not built
    from the facade grammar (its manifest names no seeds).
    """
    from kerasi2i.data import facades

    path = Path(path)
    try:
        manifest = json.loads((path / "_MANIFEST.json").read_text())
        files = manifest["files"][split]
        seeds = [int(f["seed"]) for f in files]
        size = int(manifest["size"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"'{path}' is not a procedural-facades sample folder with seeds for '{split}' in its "
                         "_MANIFEST.json: pass the label maps yourself (--labels FOLDER).") from None
    labels = np.stack([facades.render_labels(facades.generate_facade(seed), size) for seed in seeds])
    return labels.astype(np.float32) / 127.5 - 1.0


def facade_adaptation_test(size=64, root=None):
    """The `facades_day2night` test buildings at `size`: a dict with `day` (source),
    `night` (target) and `labels` (their shared label maps), float32 in [-1, 1]."""
    from kerasi2i.data.samples import sample_path

    path = sample_path("facades_day2night", size, root=root)
    return {"day": load_folder(path / "testA"), "night": load_folder(path / "testB"),
            "labels": facade_test_labels(path, "testA")}


def translate_images(generator, images, batch_size=50):
    """`generator(images)` in batches (inference mode), as one float32 array."""
    outputs = [np.asarray(generator(images[i:i + batch_size], training=False), np.float32)
               for i in range(0, len(images), batch_size)]
    return np.concatenate(outputs)


def adaptation_scores(segmenter, target, labels, translate=None, source=None, batch_size=50):
    """The CyCADA table: segmentation scores of the target images as they are (the lower
    bound), translated to the source domain by `translate` (adapted; any callable on a
    batch, e.g. a CycleGAN generator) and, when given, of the source images of the same
    scenes (the upper bound).

    Args:
        segmenter: a Keras segmenter (e.g. `fcn.facade_segmenter()`), trained on the source.
        target: float (N, H, W, 3) target-domain images in [-1, 1].
        labels: their label maps, painted (N, H, W, 3) in [-1, 1] or class ids (N, H, W).
        translate: target -> source translator, or None to leave out the adapted row.
        source: float (N, H, W, 3) source-domain images of the same scenes, or None.

    Returns:
        {row name: {"pixel_accuracy", "class_accuracy", "class_iou", "per_class_iou"}},
        rows in the order lower bound, adapted, upper bound (`LOWER`, `ADAPTED`, `UPPER`).
    """
    from kerasi2i.evaluation.fcn import fcn_scores

    target = np.asarray(target, np.float32)
    if len(target) != len(labels):
        raise ValueError(f"target and labels must hold the same number of images; got {len(target)} and "
                         f"{len(labels)}.")
    if source is not None and len(source) != len(target):
        raise ValueError(f"source must show the same scenes as target; got {len(source)} and {len(target)} images.")
    rows = {LOWER: fcn_scores(segmenter, target, labels)}
    if translate is not None:
        rows[ADAPTED] = fcn_scores(segmenter, translate_images(translate, target, batch_size), labels)
    if source is not None:
        rows[UPPER] = fcn_scores(segmenter, np.asarray(source, np.float32), labels)
    return rows


def recovered_fraction(rows, key="class_iou"):
    """How much of the drop the adaptation recovers: (adapted - lower) / (upper - lower)."""
    lower, adapted, upper = (rows[name][key] for name in (LOWER, ADAPTED, UPPER))
    if upper <= lower:
        raise ValueError(f"no drop to recover: the upper bound ({upper:.3f}) is not above the lower bound "
                         f"({lower:.3f}) on {key}.")
    return (adapted - lower) / (upper - lower)


def format_scores(rows, digits=3):
    """The rows as a plain-text table (pixel accuracy, class accuracy, class IoU)."""
    width = max(len(name) for name in rows) + 2
    lines = [f"{'':{width}s}{'pixel acc':>10s}{'class acc':>10s}{'class IoU':>10s}"]
    for name, scores in rows.items():
        lines.append(f"{name:{width}s}" + "".join(f"{scores[k]:10.{digits}f}" for k in SCORE_KEYS))
    return "\n".join(lines)


def load_segmenter(spec="facades"):
    """The segmenter a command line names: "facades" (the bundled facade segmenter,
    `fcn.facade_segmenter()`) or a `.keras` file of a segmenter (images in [-1, 1] ->
    per-pixel class logits)."""
    import keras

    from kerasi2i.evaluation import fcn

    if str(spec) == "facades":
        return fcn.facade_segmenter()
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"--segmenter: '{spec}' is neither 'facades' nor a .keras file.")
    return keras.saving.load_model(path, compile=False)


def evaluate_adaptation(model, data, segmenter="facades", direction="BtoA", labels=None, json_path=None,
                        verbose=True):
    """Score a translator by a segmenter (what `kerasi2i evaluate --segmenter` runs).

    Args:
        model: a generator `.keras` file or a training output folder (a CycleGAN run's
            `generator_<direction>.keras`).
        data: a CycleGAN-layout folder, or `sample:NAME`, whose testA/ and testB/ show the
            same scenes in the two domains (file N of one is file N of the other).
        segmenter: "facades" or a segmenter `.keras` file (see `load_segmenter`); it was
            trained on the domain the generator translates *to*.
        direction: "BtoA" translates testB (the target) to A (the source, the segmenter's
            domain); "AtoB" the other way.
        labels: a folder of painted label maps in the same file order, or None to render
            them for a procedural-facades sample folder (`facade_test_labels`).
        json_path: also write the rows to this JSON file.

    Returns the rows of `adaptation_scores` (lower bound, adapted, upper bound).
    """
    from kerasi2i.data.samples import resolve_data
    from kerasi2i.deploy.inference import generator_file, load_generator

    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"direction must be AtoB or BtoA; got {direction!r}.")
    path = Path(resolve_data(data))
    target_split, source_split = ("testB", "testA") if direction == "BtoA" else ("testA", "testB")
    for split in (target_split, source_split):
        if not (path / split).is_dir():
            raise FileNotFoundError(f"'{path}' has no {split}/ folder: --segmenter needs a CycleGAN-layout dataset "
                                    "whose testA/ and testB/ show the same scenes.")
    generator = load_generator(generator_file(model, direction))
    size = generator.input_shape[1]
    target = load_folder(path / target_split, size)
    source = load_folder(path / source_split, size)
    label_images = facade_test_labels(path, "testA") if labels is None else load_folder(labels)
    seg = load_segmenter(segmenter)
    rows = adaptation_scores(seg, target, label_images, translate=generator, source=source)
    if verbose:
        print(f"{generator_file(model, direction)} on {path} [{target_split} -> {source_split[-1]}, {len(target)} "
              f"images, {size} px], scored by the segmenter '{segmenter}':")
        print(format_scores(rows))
        if rows[UPPER]["class_iou"] > rows[LOWER]["class_iou"]:
                print(f"recovered {recovered_fraction(rows):.0%} of the class-IoU drop")
    if json_path is not None:
        out = {name: {k: float(v) for k, v in scores.items() if k in SCORE_KEYS} for name, scores in rows.items()}
        Path(json_path).write_text(json.dumps(out, indent=1) + "\n")
    return rows
