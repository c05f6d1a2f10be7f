"""Decoding and the papers' preprocessing, as TensorFlow ops for `tf.data`.

All images leave here as float32 (H, W, C) in [-1, 1].

Channel rules (documented in the README): greyscale files are repeated to 3 channels when
3 are asked for; RGB is converted to grey with ITU-R 601 weights when 1 is asked for; an
alpha channel is composited over white (transparent pixels become white, as on a page);
16-bit PNGs are scaled from [0, 65535]; palette images are expanded to RGB.

Modes (the reference implementation's `--preprocess`):

| mode                    | training                                   | evaluation              |
|-------------------------|--------------------------------------------|-------------------------|
| `resize_and_crop`       | resize to load_size^2, random crop_size^2  | resize to crop_size^2   |
| `crop`                  | random crop_size^2 crop at full resolution | centre crop             |
| `scale_width`           | width to load_size, keep aspect            | width to crop_size      |
| `scale_width_and_crop`  | width to load_size, random crop_size^2     | width to crop_size, centre crop |
| `none`                  | sides rounded to a multiple of 4 (*)       | the same                |

Non-square images are therefore squashed by `resize_and_crop` (as in the papers) and keep
their aspect with the `scale_width*` and `crop` modes. Horizontal flips apply in training
only. For a pair, one random draw is applied to both images.

(*) As the reference's `__make_power_2(img, base=4)`: `round(side / 4) * 4` with Python's
`round`, which rounds halves to even (10 -> 8, 14 -> 16, 18 -> 16), at least 4.
"""
import tensorflow as tf

PREPROCESS_MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")


def check_mode(preprocess):
    if preprocess not in PREPROCESS_MODES:
        raise ValueError(f"preprocess must be one of {PREPROCESS_MODES}, got {preprocess!r}.")


def check_channels(channels, what="channels"):
    if channels not in (1, 3):
        raise ValueError(f"{what} must be 1 (greyscale) or 3 (RGB), got {channels!r}.")


def decode_image(contents, channels=3):
    """Bytes of a JPEG/PNG/BMP/GIF to float32 (H, W, channels) in [0, 1]."""
    image = tf.io.decode_image(contents, channels=0, dtype=tf.float32, expand_animations=False)
    n = tf.shape(image)[-1]

    def grey_alpha():  # LA: composite over white
        return image[..., :1] * image[..., 1:2] + (1.0 - image[..., 1:2])

    def rgba():
        return image[..., :3] * image[..., 3:4] + (1.0 - image[..., 3:4])

    if channels == 3:
        image = tf.switch_case(
            n - 1,
            [
                lambda: tf.tile(image[..., :1], [1, 1, 3]),
                lambda: tf.tile(grey_alpha(), [1, 1, 3]),
                lambda: image[..., :3],
                rgba,
            ],
        )
    else:
        image = tf.switch_case(
            n - 1,
            [
                lambda: image[..., :1],
                grey_alpha,
                lambda: tf.image.rgb_to_grayscale(image[..., :3]),
                lambda: tf.image.rgb_to_grayscale(rgba()),
            ],
        )
    image.set_shape([None, None, channels])
    return image


def to_signed(image):
    """[0, 1] -> [-1, 1]."""
    return image * 2.0 - 1.0


def to_unit(image):
    """[-1, 1] -> [0, 1], clipped."""
    return tf.clip_by_value((image + 1.0) / 2.0, 0.0, 1.0)


def resize(image, height, width):
    """Bicubic resize with antialiasing (as PIL's BICUBIC, which the reference uses), clipped."""
    image = tf.image.resize(image, [height, width], method="bicubic", antialias=True)
    return tf.clip_by_value(image, 0.0, 1.0)


def _scale_width_size(image, width, min_height):
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    new_h = tf.cast(tf.round(h * width / w), tf.int32)
    return tf.maximum(new_h, min_height), width


def _random_crop(image, size, seed):
    shape = tf.shape(image)
    top = tf.random.stateless_uniform([], seed, 0, shape[0] - size + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], seed + [0, 1], 0, shape[1] - size + 1, dtype=tf.int32)
    return image[top : top + size, left : left + size]


def _centre_crop(image, size):
    shape = tf.shape(image)
    top = (shape[0] - size) // 2
    left = (shape[1] - size) // 2
    return image[top : top + size, left : left + size]


def _at_least(image, size):
    """Upscale so both sides are >= size (a `crop` on a small image would otherwise fail)."""
    shape = tf.shape(image)
    short = tf.minimum(shape[0], shape[1])

    def grow():
        scale = tf.cast(size, tf.float32) / tf.cast(short, tf.float32)
        h = tf.cast(tf.math.ceil(tf.cast(shape[0], tf.float32) * scale), tf.int32)
        w = tf.cast(tf.math.ceil(tf.cast(shape[1], tf.float32) * scale), tf.int32)
        return resize(image, h, w)

    return tf.cond(short < size, grow, lambda: image)


def transform(image, *, preprocess, load_size, crop_size, training, flip, seed):
    """Apply one preprocessing mode to an image in [0, 1].

    To give both images of a pair the same jitter, concatenate them on the channel axis
    first and split afterwards (what `transform_pair` does). `seed` is a stateless seed
    (shape [2], int32/int64), so results are reproducible.
    """
    check_mode(preprocess)
    if preprocess == "resize_and_crop":
        if training:
            image = resize(image, load_size, load_size)
            image = _random_crop(image, crop_size, seed)
        else:
            image = resize(image, crop_size, crop_size)
    elif preprocess == "crop":
        image = _at_least(image, crop_size)
        image = _random_crop(image, crop_size, seed) if training else _centre_crop(image, crop_size)
    elif preprocess in ("scale_width", "scale_width_and_crop"):
        width = load_size if training else crop_size
        h, w = _scale_width_size(image, width, crop_size)
        image = resize(image, h, w)
        if preprocess == "scale_width_and_crop":
            image = _random_crop(image, crop_size, seed) if training else _centre_crop(image, crop_size)
    else:  # none: sides rounded to a multiple of 4, as the reference does
        shape = tf.shape(image)
        h, w = round_to_multiple(shape[0]), round_to_multiple(shape[1])
        image = tf.cond(
            tf.logical_and(tf.equal(h, shape[0]), tf.equal(w, shape[1])),
            lambda: image,
            lambda: resize(image, h, w),
        )
    if training and flip:
        do_flip = tf.random.stateless_uniform([], seed + [1, 0]) < 0.5
        image = tf.cond(do_flip, lambda: tf.image.flip_left_right(image), lambda: image)
    if preprocess in ("resize_and_crop", "crop", "scale_width_and_crop"):
        image.set_shape([crop_size, crop_size, image.shape[-1]])
    return image


def round_to_multiple(size, base=4):
    """`size` rounded to the nearest multiple of `base` (at least `base`), halves to even:
    the reference's `int(round(size / base) * base)` (Python's `round` is banker's
    rounding: 10 -> 8, 14 -> 16 for base 4). Works on ints and int tensors."""
    size = tf.convert_to_tensor(size, tf.int32)
    quotient, remainder = size // base, size % base
    up = (2 * remainder > base) | ((2 * remainder == base) & (quotient % 2 == 1))
    return tf.maximum(base, (quotient + tf.cast(up, tf.int32)) * base)


def transform_pair(a, b, **kwargs):
    """`transform` with one random draw for both images (they must share height and width)."""
    ca = a.shape[-1]
    both = transform(tf.concat([a, b], axis=-1), **kwargs)
    return both[..., :ca], both[..., ca:]


def split_side_by_side(image):
    """A Berkeley pix2pix image (A | B) into its left and right halves."""
    half = tf.shape(image)[1] // 2
    return image[:, :half], image[:, half : 2 * half]
