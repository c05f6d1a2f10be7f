"""Finding image files and checking them before TensorFlow sees them.

A corrupt file deep inside a `tf.data` pipeline surfaces as an `InvalidArgumentError`
that names no file. Every loader here therefore scans its files first (header and tail
only, which is fast) and raises a `DatasetError` that names the file and says what was
expected, or skips bad files with a warning and a count when asked to (`on_bad="skip"`).
"""
import re
import warnings
from pathlib import Path

from PIL import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")

# PIL modes that tf.io.decode_image turns into 1, 2, 3 or 4 channels we know how to read.
_READABLE_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I;16", "I;16B", "I;16L", "I"}


class DatasetError(ValueError):
    """A dataset on disk is not what a loader expects; the message names the path."""


def natural_key(path):
    """Sort key that puts 2.jpg before 10.jpg."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", Path(path).name)]


def list_images(folder, what="images"):
    """Image files directly inside `folder` in natural order (2.jpg before 10.jpg); a clear
    error if none are there."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"Expected a folder of {what} at '{folder}', but it does not exist.")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
                   key=natural_key)
    if not files:
        others = sorted(p.name for p in folder.iterdir())[:5]
        raise DatasetError(
            f"No {what} found in '{folder}' (looked for {', '.join(IMAGE_EXTENSIONS)} files; "
            f"found {others if others else 'an empty folder'})."
        )
    return files


def _truncated(path, fmt):
    """True when a JPEG or PNG file stops before its end marker (a partial download)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 64))
        tail = f.read()
    if fmt == "JPEG":
        return b"\xff\xd9" not in tail
    if fmt == "PNG":
        return b"IEND" not in tail
    return False


def inspect_image(path):
    """Open the header of one image: returns (width, height, mode); DatasetError if unreadable."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            width, height, mode, fmt = im.width, im.height, im.mode, im.format
    except FileNotFoundError:
        raise DatasetError(f"Image '{path}' does not exist.") from None
    except Exception as err:  # PIL raises several types for unreadable files
        raise DatasetError(
            f"Cannot read '{path}' as an image ({type(err).__name__}: {err}). "
            f"Expected a JPEG, PNG, BMP or GIF file."
        ) from None
    if fmt not in ("JPEG", "PNG", "BMP", "GIF"):
        raise DatasetError(f"'{path}' is a {fmt} image; expected JPEG, PNG, BMP or GIF.")
    if mode not in _READABLE_MODES:
        raise DatasetError(f"'{path}' has pixel mode {mode!r}, which cannot be decoded; save it as 8-bit RGB.")
    if _truncated(path, fmt):
        raise DatasetError(f"'{path}' is truncated: the {fmt} file ends before its end marker (a partial copy?).")
    if width < 1 or height < 1:
        raise DatasetError(f"'{path}' is empty ({width}x{height}).")
    return width, height, mode


def check_files(items, check_one, on_bad="raise", what="images"):
    """Run `check_one(item)` (which raises DatasetError) over items; raise or skip bad ones.

    Returns the good items. With `on_bad="skip"` a warning says how many were skipped and
    shows the first reasons.
    """
    if on_bad not in ("raise", "skip"):
        raise ValueError(f"on_bad must be 'raise' or 'skip', got {on_bad!r}.")
    good, bad = [], []
    for item in items:
        try:
            check_one(item)
        except DatasetError as err:
            if on_bad == "raise":
                raise DatasetError(
                    f"{err} (Pass on_bad='skip' to leave such files out with a warning.)"
                ) from None
            bad.append(str(err))
        else:
            good.append(item)
    if bad:
        shown = "\n  ".join(bad[:3])
        warnings.warn(f"Skipped {len(bad)} of {len(items)} {what}:\n  {shown}", stacklevel=3)
    if not good:
        raise DatasetError(f"All {len(items)} {what} were unreadable; first problem: {bad[0]}")
    return good
