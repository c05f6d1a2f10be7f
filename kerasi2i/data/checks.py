"""Finding image files and checking them before TensorFlow sees them.

A corrupt file deep inside a `tf.data` pipeline surfaces as an `InvalidArgumentError`
that names no file. Every loader here therefore checks its files first and raises a
`DatasetError` that names the file and says what was expected, or skips bad files with a
warning and a count when asked to (`on_bad="skip"`, `--on-bad skip` on the command line).

The check (`check_image`) has two stages:

1. the header and the tail (`inspect_image`): format, pixel mode, a missing end marker,
   and the size the header declares, which must not exceed `MAX_PIXELS` (a 219-byte PNG
   can declare 12000x12000 and make a decoder allocate gigabytes);
2. a full decode with `tf.io.decode_image`, the decoder the `tf.data` pipelines use
   (`decode_check`), which catches what the header cannot show: corrupted bytes in the
   middle, or data shorter than the header declares.

Decoding is the slow part, so `check_files` runs the checks in a thread pool (TensorFlow's
decoders release the GIL) and the verdict of the decode is cached per process by path,
size and modification time: a second loader over the same files (training, then
evaluation) pays only for a `stat`. We chose this over catching the error inside the
pipeline because a `tf.data` error cannot say which file it came from, and because a
file that fails after an hour of training costs that hour.
"""
import os
import re
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")

# The largest image (width x height) that kerasi2i decodes: the CLI (`--max-pixels`), the
# loaders and the demo server share it. 40 million pixels is a 7300x5500 photo; decoded
# as float32 RGB it takes 480 MB.
MAX_PIXELS = 40_000_000

# PIL modes that tf.io.decode_image turns into 1, 2, 3 or 4 channels we know how to read.
_READABLE_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I;16", "I;16B", "I;16L", "I"}


class DatasetError(ValueError):
    """A dataset on disk is not what a loader expects; the message names the path."""


class ImageTooLargeError(DatasetError):
    """An image declares more pixels than the cap (`MAX_PIXELS` unless raised)."""


def check_pixel_count(width, height, name="The image", max_pixels=MAX_PIXELS):
    """Raise `ImageTooLargeError` when `width * height` exceeds `max_pixels`.

    The one place the pixel cap is enforced: `inspect_image` (the loaders), `read_rgb`
    (`kerasi2i translate`) and the demo server call it with the size an image header
    declares, before decoding. `max_pixels=None` (or 0) disables the cap. `name` starts
    the message (a quoted path, or "The upload").
    """
    if max_pixels and width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width}x{height} = {width * height:,} pixels, more than the limit of "
            f"{max_pixels:,} (--max-pixels / max_pixels=); it was not decoded."
        )


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


def inspect_image(path, max_pixels=MAX_PIXELS):
    """Open the header of one image: returns (width, height, mode); DatasetError if unreadable
    or larger than `max_pixels` (see `check_pixel_count`)."""
    path = Path(path)
    try:
        with warnings.catch_warnings():  # our own cap replaces PIL's DecompressionBombWarning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height, mode, fmt = im.width, im.height, im.mode, im.format
    except FileNotFoundError:
        raise DatasetError(f"Image '{path}' does not exist.") from None
    except Image.DecompressionBombError as err:
        raise ImageTooLargeError(f"'{path}' is too large to decode ({err}).") from None
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
    check_pixel_count(width, height, f"'{path}'", max_pixels)
    return width, height, mode


_DECODE_VERDICTS = {}  # (path, size, mtime_ns) -> None (decodes) or the error message
_DECODE_LOCK = threading.Lock()


def decode_check(path):
    """Decode one image completely with `tf.io.decode_image` (the pipelines' decoder);
    raise DatasetError naming the file if it fails.

    The verdict is cached by (path, size, modification time), so a file is decoded once
    per process unless it changes. Check the header first (`inspect_image`): this decodes
    whatever size the header declares.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as err:
        raise DatasetError(f"Cannot read '{path}' ({type(err).__name__}: {err}).") from None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _DECODE_LOCK:
        known = key in _DECODE_VERDICTS
        verdict = _DECODE_VERDICTS.get(key)
    if not known:
        import tensorflow as tf

        try:
            tf.io.decode_image(path.read_bytes(), channels=0, dtype=tf.uint8, expand_animations=False)
            verdict = None
        except (tf.errors.OpError, OSError, ValueError) as err:
            reason = getattr(err, "message", None) or str(err)
            verdict = reason.strip().splitlines()[0][:200] if reason.strip() else type(err).__name__
        with _DECODE_LOCK:
            _DECODE_VERDICTS[key] = verdict
    if verdict is not None:
        raise DatasetError(
            f"'{path}' cannot be decoded: its header is fine but the image data is damaged ({verdict})."
        )


def check_image(path, max_pixels=MAX_PIXELS, decode=True):
    """`inspect_image` (header, tail, pixel cap), then `decode_check` (a full decode, cached)."""
    info = inspect_image(path, max_pixels=max_pixels)
    if decode:
        decode_check(path)
    return info


def check_files(items, check_one, on_bad="raise", what="images"):
    """Run `check_one(item)` (which raises DatasetError) over items; raise or skip bad ones.

    Returns the good items. With `on_bad="skip"` a warning says how many were skipped and
    shows the first reasons. The checks run in a thread pool; the first bad item in input
    order is the one reported.
    """
    if on_bad not in ("raise", "skip"):
        raise ValueError(f"on_bad must be 'raise' or 'skip', got {on_bad!r}.")

    def verdict(item):
        try:
            check_one(item)
        except DatasetError as err:
            return err
        return None

    good, bad = [], []
    workers = min(8, os.cpu_count() or 1, max(1, len(items)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for item, problem in zip(items, pool.map(verdict, items)):
            if problem is None:
                good.append(item)
            elif on_bad == "raise":
                pool.shutdown(wait=True, cancel_futures=True)
                raise type(problem)(
                    f"{problem} (Pass --on-bad skip on the command line, or on_bad='skip', to leave "
                    f"such files out with a warning.)"
                ) from None
            else:
                bad.append(str(problem))
    if bad:
        shown = "\n  ".join(bad[:3])
        warnings.warn(f"Skipped {len(bad)} of {len(items)} {what}:\n  {shown}", stacklevel=3)
    if not good:
        raise DatasetError(f"All {len(items)} {what} were unreadable; first problem: {bad[0]}")
    return good
