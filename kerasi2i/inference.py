"""Translating image files of any size with a trained generator."""
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from kerasi2i.data.checks import IMAGE_EXTENSIONS

FIT_MODES = ("resize", "pad")
DIRECTIONS = ("AtoB", "BtoA")


def generator_file(model, direction=None):
    """The generator file to translate with: `model` is a `.keras` file or a training
    output folder.

    A folder gives `generator_<direction>.keras` (a CycleGAN run; `direction` None means
    "AtoB") or, with `direction` None, the `generator.keras` of a pix2pix run. A file is
    used as given, unless its name says it translates the other way than `direction`
    (`generator_AtoB.keras` with `direction="BtoA"`), which is an error.
    """
    model = Path(model)
    if direction is not None and direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}.")
    if model.is_dir():
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


def load_generator(path):
    """Load a saved generator (`generator.keras`), with a clear error for a wrong path."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Model file '{path}' does not exist (expected a .keras file from training).")
    import kerasi2i.models  # noqa: F401  (registers the custom layers)

    return keras.saving.load_model(path, compile=False)


def read_rgb(path, channels=3):
    """Read any image file PIL can open as uint8 with 1 or 3 channels; alpha is
    composited over white."""
    with Image.open(path) as im:
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


def translate_array(generator, image, fit="resize", training=False):
    """Translate one uint8 image (H, W, C) of any size; returns uint8 at the same size.

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
    pil = Image.fromarray(image[..., 0] if in_c == 1 else image)
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
    x = x.reshape(1, in_h, in_w, in_c).astype(np.float32) / 127.5 - 1.0
    y = keras.ops.convert_to_numpy(generator(x, training=training))[0]
    y = np.round(np.clip((y + 1.0) * 127.5, 0, 255)).astype(np.uint8)
    out = Image.fromarray(y[..., 0] if y.shape[-1] == 1 else y).crop(box)
    return np.asarray(out.resize((w, h), Image.BICUBIC))


def translate_files(generator, inputs, output_dir, fit="resize", verbose=True):
    """Translate a file or every image in a folder into `output_dir` (PNG, same names).

    A file that cannot be read is reported and skipped. Returns (written, failed) lists.
    """
    inputs = Path(inputs)
    if inputs.is_dir():
        files = sorted(p for p in inputs.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise FileNotFoundError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) in '{inputs}'.")
    elif inputs.exists():
        files = [inputs]
    else:
        raise FileNotFoundError(f"Input '{inputs}' does not exist.")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    in_c = generator.input_shape[-1]
    written, failed = [], []
    for f in files:
        try:
            image = read_rgb(f, in_c)
        except Exception as err:  # PIL raises many types for broken files
            failed.append((f, f"{type(err).__name__}: {err}"))
            if verbose:
                print(f"skipped {f}: cannot read it as an image ({type(err).__name__}: {err})")
            continue
        out = translate_array(generator, image, fit=fit)
        target = output_dir / (f.stem + ".png")
        Image.fromarray(out[..., 0] if out.ndim == 3 and out.shape[-1] == 1 else out).save(target)
        written.append(target)
        if verbose:
            print(f"{f} -> {target}")
    if verbose:
        print(f"Translated {len(written)} image(s), skipped {len(failed)}.")
    return written, failed
