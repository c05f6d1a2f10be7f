"""Translating image files of any size with a trained generator."""
import logging
import os
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from kerasi2i.data.checks import IMAGE_EXTENSIONS, MAX_PIXELS, ImageTooLargeError, check_pixel_count
from kerasi2i.imaging import as_uint8, from_uint8, save_png, to_pil

logger = logging.getLogger(__name__)

FIT_MODES = ("resize", "pad")
DIRECTIONS = ("AtoB", "BtoA")


def _run_exports(folder):
    """The file stems a training run in `folder` saved (its model's EXPORTS, from the
    registry and the run's config.json), or None for a folder that is not a known run."""
    from kerasi2i.models import registry
    from kerasi2i.training.config import read_run_config

    config = read_run_config(folder)
    method = config.get("method") if isinstance(config, dict) else None
    if method not in registry.names():
        return None
    trainer = registry.get(method).TRAINER
    return method, list(trainer.EXPORTS) if trainer is not None else None


def run_test_mode(model):
    """The test_mode a generator's training run used (its config.json, next to the file
    or in the folder), or "eval" when there is none."""
    from kerasi2i.training.config import read_run_config

    model = Path(model)
    config = read_run_config(model if model.is_dir() else model.parent)
    mode = config.get("test_mode") if isinstance(config, dict) else None
    return mode if mode in ("eval", "paper") else "eval"


def generator_file(model, direction=None):
    """The generator file to translate with: `model` is a `.keras` file or a training
    output folder.

    A folder gives the generator its run saved: `generator.keras` (pix2pix and the other
    paired methods) or, for a CycleGAN run, `generator_<direction>.keras` (`direction`
    None means "AtoB"). The names come from the run's model (`config.json` and the
    registry); a folder without a config.json is searched for those names. A file is used
    as given, unless its name says it translates the other way than `direction`
    (`generator_AtoB.keras` with `direction="BtoA"`), which is an error.
    """
    model = Path(model)
    if direction is not None and direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}.")
    if model.is_dir():
        run = _run_exports(model)
        if run is not None and run[1] is not None and not any(s.startswith("generator") for s in run[1]):
            raise ValueError(f"'{model}' is a {run[0]} run: it saved {', '.join(s + '.keras' for s in run[1])}, "
                             f"and none of them is an image-to-image generator.")
        names = [f"generator_{direction}.keras"] if direction else ["generator.keras", "generator_AtoB.keras"]
        for name in names:
            if (model / name).exists():
                return model / name
        found = sorted(p.name for p in model.glob("*.keras"))
        hint = (" A pix2pix run translates only the direction it was trained in: leave out --direction."
                if direction and (model / "generator.keras").exists() else "")
        raise FileNotFoundError(
            f"'{model}' has no {' or '.join(names)} (it holds {found or 'no .keras files'}).{hint}"
        )
    if direction is not None:
        other = DIRECTIONS[1 - DIRECTIONS.index(direction)]
        if model.name == f"generator_{other}.keras":
            raise ValueError(
                f"'{model}' translates {other}, but direction {direction} was asked for: pass "
                f"'{model.with_name(f'generator_{direction}.keras')}' or the run's folder."
            )
    return model


class ModelFileError(ValueError):
    """A model file is not a usable image-to-image generator; the message names the file."""


def load_generator(path):
    """Load a saved generator (`generator.keras`), with one clear sentence naming the file
    when it is missing, not a Keras model file, or not an image-to-image generator (see
    `check_generator`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Model file '{path}' does not exist (expected a .keras file from training).")
    if path.is_dir():
        raise ModelFileError(f"'{path}' is a folder, not a .keras model file.")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"'{path}' is not a Keras model file: a .keras file is a zip archive written by model.save(), "
            f"and this one is not (damaged, truncated, or another format)."
        )
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    if "config.json" not in names:
        raise ModelFileError(
            f"'{path}' is a zip archive but not a Keras model file: it has no config.json "
            f"(it holds {sorted(names)[:5] or 'nothing'})."
        )
    import kerasi2i.models  # noqa: F401  (registers the custom layers)

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a bad config or weights
        reason = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
        raise ModelFileError(f"Could not load '{path}' as a Keras model ({type(err).__name__}: {reason}).") from None
    check_generator(model, path)
    return model


def check_generator(model, path="the model", fixed_size=False):
    """Raise ModelFileError unless `model` maps one image batch (None, H, W, 1 or 3) to an
    image batch with 1 or 3 channels. `fixed_size=True` also requires H and W to be known
    (`kerasi2i translate` resizes inputs to them)."""
    inputs = model.inputs if isinstance(model.inputs, (list, tuple)) else [model.inputs]
    if len(inputs) != 1:
        raise ModelFileError(f"'{path}' takes {len(inputs)} inputs; an image-to-image generator takes one image.")
    in_shape = tuple(inputs[0].shape)
    out_shape = model.output_shape
    if isinstance(out_shape, list) or (isinstance(out_shape, tuple) and out_shape and isinstance(out_shape[0], tuple)):
        raise ModelFileError(f"'{path}' has {len(out_shape)} outputs; an image-to-image generator returns one image.")
    out_shape = tuple(out_shape)
    if len(in_shape) != 4 or in_shape[-1] not in (1, 3):
        raise ModelFileError(
            f"'{path}' takes input of shape {in_shape}; an image generator takes (batch, height, width, 1 or 3)."
        )
    if len(out_shape) != 4 or out_shape[-1] not in (1, 3):
        raise ModelFileError(
            f"'{path}' outputs shape {out_shape}, not an image batch (batch, height, width, 1 or 3): "
            f"it is not an image-to-image generator (a classifier?)."
        )
    if fixed_size and (in_shape[1] is None or in_shape[2] is None):
        raise ModelFileError(
            f"'{path}' accepts any image size (input shape {in_shape}); translating needs a generator "
            f"with a fixed input size such as (256, 256, 3). Save it with that input shape."
        )


def read_rgb(path, channels=3, max_pixels=MAX_PIXELS):
    """Read any image file PIL can open as uint8 with 1 or 3 channels; alpha is
    composited over white. An image whose header declares more than `max_pixels`
    pixels raises `ImageTooLargeError` before it is decoded."""
    with warnings.catch_warnings():  # check_pixel_count replaces PIL's DecompressionBombWarning
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError as err:
            raise ImageTooLargeError(f"{path if isinstance(path, (str, Path)) else 'The image'} is too large "
                                     f"to decode ({err}).") from None
    with im:
        name = f"'{path}'" if isinstance(path, (str, Path)) else "The image"
        check_pixel_count(im.width, im.height, name, max_pixels)
        im.load()
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            im = im.convert("RGBA")
            background = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(background, im)
        if im.mode.startswith("I;16") or im.mode == "I":
            arr = np.asarray(im, dtype=np.float64)
            im = Image.fromarray(np.round(arr / 257.0).clip(0, 255).astype(np.uint8))
        im = im.convert("L" if channels == 1 else "RGB")
        arr = np.asarray(im)
    return arr[..., None] if arr.ndim == 2 else arr


def translate_array(generator, image, fit="resize", test_mode="eval"):
    """Translate one uint8 image (H, W, C) of any size; returns uint8 at the same size.

    test_mode: "eval" (dropout off, batch norm's moving statistics) or "paper" (dropout
    and batch statistics on, as the pix2pix paper tests; `kerasi2i.models.pix2pix.generate`).

    fit="resize" squashes the image to the generator's input size and the result back;
    fit="pad" scales the longer side to the input size, pads with edge pixels to a square
    and crops the padding off the result, so the aspect ratio is kept.
    """
    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}.")
    _, in_h, in_w, in_c = generator.input_shape
    h, w = image.shape[:2]
    if image.shape[-1] != in_c:
        image = np.repeat(image, 3, -1) if in_c == 3 else np.asarray(
            Image.fromarray(image).convert("L"))[..., None]
    pil = to_pil(image)
    if fit == "resize":
        x = np.asarray(pil.resize((in_w, in_h), Image.BICUBIC))
        box = (0, 0, in_w, in_h)
    else:
        scale = min(in_w / w, in_h / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        small = np.asarray(pil.resize((nw, nh), Image.BICUBIC))
        top, left = (in_h - nh) // 2, (in_w - nw) // 2
        pad = [(top, in_h - nh - top), (left, in_w - nw - left)] + ([(0, 0)] if small.ndim == 3 else [])
        x = np.pad(small, pad, mode="edge")
        box = (left, top, left + nw, top + nh)
    x = from_uint8(x.reshape(1, in_h, in_w, in_c))
    from kerasi2i.models.pix2pix import generate

    y = as_uint8(keras.ops.convert_to_numpy(generate(generator, x, test_mode))[0])
    out = to_pil(y).crop(box)
    return np.asarray(out.resize((w, h), Image.BICUBIC))


def _same_path(a, b):
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def plan_outputs(files, output_dir, overwrite=False):
    """Map input files to `output_dir/<stem>.png`, refusing anything that would lose data.

    Raises FileExistsError, before anything is written, when two inputs share a stem
    (`a.jpg` and `a.png`), when an output would replace one of the inputs (same folder
    in and out), or, unless `overwrite`, when an output file already exists. Returns
    `(plan, skipped)`: `plan` is a list of (input, target); `skipped` lists
    (input, reason) for outputs that cannot be written (a folder has the name).
    """
    output_dir = Path(output_dir)
    by_target = {}
    for f in files:
        by_target.setdefault(output_dir / (f.stem + ".png"), []).append(f)
    clashes = {t: fs for t, fs in by_target.items() if len(fs) > 1}
    if clashes:
        t, fs = next(iter(clashes.items()))
        raise FileExistsError(
            f"{len(clashes)} output name(s) would be written by more than one input: "
            f"{' and '.join(repr(str(f)) for f in fs)} would both become '{t}'. Rename one or translate them "
            f"into separate folders; nothing was written."
        )
    for t, (f,) in by_target.items():
        if any(_same_path(t, g) for g in files):
            raise FileExistsError(
                f"Writing '{t}' would replace the input image it is made from ('{f}'): choose an --output "
                f"folder other than the input folder; nothing was written."
            )
    plan, skipped, existing = [], [], []
    for t, (f,) in by_target.items():
        if t.is_dir():
            skipped.append((f, f"the output path '{t}' is a folder"))
        elif t.exists() or t.is_symlink():
            existing.append(t)
            plan.append((f, t))
        else:
            plan.append((f, t))
    if existing and not overwrite:
        shown = ", ".join(f"'{t.name}'" for t in existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise FileExistsError(
            f"{len(existing)} output file(s) already exist in '{output_dir}' ({shown}); pass --overwrite "
            f"(overwrite=True) to replace them, or choose another --output folder; nothing was written."
        )
    return plan, skipped


def translate_files(generator, inputs, output_dir, fit="resize", verbose=True, overwrite=False,
                    max_pixels=MAX_PIXELS, test_mode="eval"):
    """Translate a file or every image in a folder into `output_dir` (PNG, same names).

    Nothing is ever overwritten without `overwrite=True`, and an input is never
    overwritten at all (see `plan_outputs`; those problems raise before anything is
    written). A file that cannot be read or is larger than `max_pixels`, or whose
    output cannot be written, is reported and skipped. With `verbose`, every file and the
    totals are logged (the "kerasi2i" logger; skipped files as warnings). `test_mode`:
    see `translate_array`. Returns (written, failed) lists.
    """
    inputs = Path(inputs)
    if inputs.is_dir():
        files = sorted(p for p in inputs.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not files:
            raise FileNotFoundError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) in '{inputs}'.")
    elif inputs.exists():
        files = [inputs]
    else:
        raise FileNotFoundError(f"Input '{inputs}' does not exist.")
    output_dir = Path(output_dir)
    if inputs.is_dir() and _same_path(inputs, output_dir):
        raise FileExistsError(
            f"The output folder '{output_dir}' is the input folder: the translations would replace the "
            f"originals. Choose another --output folder; nothing was written."
        )
    if output_dir.exists() and not output_dir.is_dir():
        raise FileExistsError(f"The output path '{output_dir}' is a file, not a folder; nothing was written.")
    plan, failed = plan_outputs(files, output_dir, overwrite=overwrite)
    if verbose:
        for f, reason in failed:
            logger.warning("skipped %s: %s", f, reason)
    output_dir.mkdir(parents=True, exist_ok=True)
    in_c = generator.input_shape[-1]
    written = []
    for f, target in plan:
        try:
            image = read_rgb(f, in_c, max_pixels=max_pixels)
        except Exception as err:  # PIL raises many types for broken files
            failed.append((f, f"{type(err).__name__}: {err}"))
            if verbose:
                logger.warning("skipped %s: cannot read it as an image (%s: %s)", f, type(err).__name__, err)
            continue
        out = translate_array(generator, image, fit=fit, test_mode=test_mode)
        try:
            save_png(out, target)
        except OSError as err:
            failed.append((f, f"cannot write '{target}' ({type(err).__name__}: {err})"))
            if verbose:
                logger.warning("skipped %s: cannot write '%s' (%s: %s)", f, target, type(err).__name__, err)
            continue
        written.append(target)
        if verbose:
            logger.info("%s -> %s", f, target)
    if verbose:
        logger.info("Translated %d image(s), skipped %d.", len(written), len(failed))
    return written, failed
