"""Building blocks shared by every network in ``kerasi2i.networks``: argument checks,
the reference's initialisation, normalization and convolution layers.

Conventions (all from junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py``):

- Weights ~ N(0, 0.02), biases 0, BatchNorm gamma ~ N(1, 0.02) (``init_weights``). The
  builders that take ``init="xavier"`` use the other choice of the reference's
  ``init_weights``, BicycleGAN's default: ``xavier_normal_(gain=0.02)``, i.e. N(0, std)
  with ``std = 0.02 * sqrt(2 / (fan_in + fan_out))`` (``kernel_init("xavier")``).
- ``norm="batch"``: ``BatchNormalization(momentum=0.9, epsilon=1e-5)`` (PyTorch's
  momentum 0.1 and eps); ``norm="instance"``: ``GroupNormalization(groups=-1)`` without
  affine parameters (PyTorch ``InstanceNorm2d(affine=False)``); ``norm="none"``.
"""
import keras
from keras import layers

NORMS = ("batch", "instance", "none")
DROPOUT_PLACEMENTS = ("paper", "reference")
# Weight initialisations of the reference's init_weights offered here: N(0, gain) or
# xavier_normal_(gain); both with the reference's gain 0.02.
INITS = ("normal", "xavier")
INIT_GAIN = 0.02
UPSAMPLINGS = ("transpose", "resize")
IMAGE_CHANNELS = (1, 3)
# Patch discriminators offered by `discriminator_for_receptive_field`.
MAX_PATCH_LAYERS = 5


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------
def kernel_init(init="normal"):
    """The reference's weight initialiser: ``"normal"``, N(0, 0.02) (the default
    everywhere); ``"xavier"``, PyTorch's ``xavier_normal_(gain=0.02)``: an untruncated
    normal with ``std = 0.02 * sqrt(2 / (fan_in + fan_out))``, the fans counted as PyTorch
    counts them (``kh * kw * channels``; the sum is the same for transposed convolutions)."""
    check_choice(init, "init", INITS)
    if init == "xavier":
        return keras.initializers.VarianceScaling(
            scale=INIT_GAIN**2, mode="fan_avg", distribution="untruncated_normal")
    return keras.initializers.RandomNormal(mean=0.0, stddev=INIT_GAIN)


def dense_kernel_init(init="normal"):
    """The kernel initialiser of the dense heads of the encoders: Keras' default (Glorot
    uniform) for ``"normal"``, as these builders always had (the reference would use
    N(0, 0.02) there too), and ``xavier_normal_(gain=0.02)`` for ``"xavier"``, as the
    reference."""
    check_choice(init, "init", INITS)
    return kernel_init("xavier") if init == "xavier" else "glorot_uniform"


def check_choice(value, arg, allowed):
    if value not in allowed:
        raise ValueError(f"`{arg}` must be one of {allowed}; received {arg}={value!r}")


def check_int(value, arg, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{arg}` must be an int >= {minimum}; received {arg}={value!r}")


def check_rate(value, arg):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"`{arg}` must be a number in [0, 1); received {arg}={value!r}")


def check_image_shape(input_shape, arg="input_shape", channels=None):
    """Validates ``(height, width, channels)``; height and width may be ``None``."""
    ok = isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
    if ok:
        height, width, depth = input_shape
        ok = all(
            s is None or (isinstance(s, int) and not isinstance(s, bool) and s > 0)
            for s in (height, width)
        ) and isinstance(depth, int) and not isinstance(depth, bool) and depth > 0
    if not ok:
        raise ValueError(
            f"`{arg}` must be (height, width, channels) with positive ints (height and "
            f"width may be None); received {arg}={input_shape!r}"
        )
    if channels is not None and depth not in channels:
        raise ValueError(
            f"The image must have one of {channels} channels; received {arg}={input_shape!r}"
        )
    return height, width, depth


def norm_layer(norm, name):
    """The normalization layer for ``norm``, or ``None`` for ``"none"``."""
    if norm == "batch":
        return layers.BatchNormalization(
            momentum=0.9,
            epsilon=1e-5,
            gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02),
            name=name,
        )
    if norm == "instance":
        return layers.GroupNormalization(
            groups=-1, center=False, scale=False, epsilon=1e-5, name=name
        )
    return None


def apply_norm(x, norm, name):
    layer = norm_layer(norm, name)
    return x if layer is None else layer(x)


def _initialised(layer_class, filters, kernel_size, strides, padding, use_bias, name, init="normal"):
    """A convolution layer with the reference's initialisation (weights N(0, 0.02), or
    xavier with gain 0.02 for ``init="xavier"``; biases 0)."""
    return layer_class(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=kernel_init(init),
        bias_initializer="zeros",
        name=name,
    )


def conv2d(filters, kernel_size, strides=1, padding="valid", use_bias=True, name=None, init="normal"):
    return _initialised(layers.Conv2D, filters, kernel_size, strides, padding, use_bias, name, init)


def conv2d_transpose(filters, kernel_size, strides, padding, use_bias, name, init="normal"):
    return _initialised(layers.Conv2DTranspose, filters, kernel_size, strides, padding, use_bias, name, init)


def upsample(x, filters, upsampling, use_bias, name, init="normal"):
    """Double the height and width of ``x``: ``upsampling="transpose"``, a 4x4 transposed
    convolution with stride 2 (``{name}_conv``); ``"resize"``, bilinear 2x upsampling
    (``{name}_resize``) then a 3x3 convolution (``{name}_conv``), which avoids
    checkerboard artifacts. (bs, 2H, 2W, filters)"""
    if upsampling == "transpose":
        return conv2d_transpose(filters, 4, strides=2, padding="same", use_bias=use_bias, name=f"{name}_conv",
                                init=init)(x)
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_resize")(x)
    return conv2d(filters, 3, padding="same", use_bias=use_bias, name=f"{name}_conv", init=init)(x)
