"""The networks that pix2pix and CycleGAN share: U-Net and ResNet generators, PatchGAN.

Each builder returns a functional ``keras.Model``. Architectures, initialisation and
parameter counts follow the reference PyTorch implementation
(junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py``):

- ``unet_generator``: ``unet_256`` (256x256x3, batch norm) 54,413,955 trainable
  parameters; ``unet_128`` (128x128x3) 41,828,995.
- ``resnet_generator``: ``resnet_9blocks`` (instance norm) 11,378,179;
  ``resnet_6blocks`` 7,837,699.
- ``patch_discriminator``: the 70x70 PatchGAN, 2,768,705 on 3 + 3 channels with batch
  norm (pix2pix), 2,764,737 on 3 channels with instance norm (CycleGAN).
- ``pixel_discriminator``: the 1x1 PixelGAN, 9,024 on 3 + 3 channels with batch norm.

Conventions shared by all builders (all from the reference):

- Weights ~ N(0, 0.02), biases 0, BatchNorm gamma ~ N(1, 0.02) (``init_weights``).
- ``norm="batch"``: ``BatchNormalization(momentum=0.9, epsilon=1e-5)`` (PyTorch's
  momentum 0.1 and eps); ``norm="instance"``: ``GroupNormalization(groups=-1)`` without
  affine parameters (PyTorch ``InstanceNorm2d(affine=False)``); ``norm="none"``.
- With ``norm="batch"`` the convolutions have no bias (batch norm's beta makes it
  redundant), with ``"instance"`` or ``"none"`` they have one; the convolution that ends a
  network, and the first PatchGAN convolution, always have one. (The reference also drops
  the biases for ``norm="none"``, which leaves such a network without any offset; here
  ``"none"`` keeps them.)
- PyTorch's symmetric "padding=1" is written as ``ZeroPadding2D(1)`` + a ``"valid"``
  convolution wherever TensorFlow's ``"same"`` would pad differently, so that the
  receptive fields, output sizes and pixel alignment are the reference's.
- Images are NHWC (``channels_last``) in [-1, 1]; generators end in ``tanh`` and
  discriminators return logits.
"""
import math

import keras
from keras import layers

from kerasi2i.layers import ReflectionPadding2D

NORMS = ("batch", "instance", "none")
DROPOUT_PLACEMENTS = ("paper", "reference")
UPSAMPLINGS = ("transpose", "resize")
IMAGE_CHANNELS = (1, 3)
# Patch discriminators offered by `discriminator_for_receptive_field`.
MAX_PATCH_LAYERS = 5


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------
def _kernel_init():
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def _check_choice(value, arg, allowed):
    if value not in allowed:
        raise ValueError(f"`{arg}` must be one of {allowed}; received {arg}={value!r}")


def _check_int(value, arg, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{arg}` must be an int >= {minimum}; received {arg}={value!r}")


def _check_rate(value, arg):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"`{arg}` must be a number in [0, 1); received {arg}={value!r}")


def _check_image_shape(input_shape, arg="input_shape", channels=None):
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


def _norm(norm, name):
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


def _apply_norm(x, norm, name):
    layer = _norm(norm, name)
    return x if layer is None else layer(x)


def _conv(filters, kernel_size, strides=1, padding="valid", use_bias=True, name=None):
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=_kernel_init(),
        bias_initializer="zeros",
        name=name,
    )


def _conv_transpose(filters, kernel_size, strides, padding, use_bias, name):
    return layers.Conv2DTranspose(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=_kernel_init(),
        bias_initializer="zeros",
        name=name,
    )


# --------------------------------------------------------------------------------------
# U-Net generator (pix2pix)
# --------------------------------------------------------------------------------------
def unet_generator(
    input_shape=(256, 256, 3),
    output_channels=3,
    num_downs=None,
    base_filters=64,
    norm="batch",
    dropout=0.5,
    dropout_blocks=3,
    upsampling="transpose",
    name="unet_generator",
    dropout_placement="paper",
):
    """The pix2pix U-Net generator (Isola et al. 2017, appendix 6.1.1).

    For a 256x256 input (``num_downs=8``) the paper writes it as

    - encoder ``C64-C128-C256-C512-C512-C512-C512-C512``: 4x4 convolutions with stride 2,
      LeakyReLU(0.2) before every one but the first, normalization after every one but
      the first and the last (the 1x1 bottleneck);
    - decoder ``CD512-CD512-CD512-C512-C256-C128-C64``: ReLU, 4x4 transposed convolution
      with stride 2, normalization, dropout in the first ``dropout_blocks`` blocks, then
      concatenation ``[skip, up]`` with the encoder output of the same size; a last
      transposed convolution (with bias) to ``output_channels`` and ``tanh``.

    Args:
        input_shape: ``(height, width, channels)``, channels 1 or 3. Height and width must
            be multiples of ``2**num_downs``.
        output_channels: 1 or 3.
        num_downs: number of stride-2 levels. ``None`` takes ``log2(min(height, width))``,
            which brings the bottleneck to 1 pixel (256 -> 8, 128 -> 7, 64 -> 6).
        base_filters: filters of the first level; level ``i`` has
            ``base_filters * min(2**(i - 1), 8)``.
        norm: ``"batch"`` (the paper), ``"instance"`` or ``"none"``.
        dropout: dropout rate in the decoder; 0 disables it.
        dropout_blocks: with ``dropout_placement="paper"``, how many decoder blocks,
            counted from the bottleneck, use dropout (the paper: 3). Between 0 and
            ``num_downs - 1``.
        upsampling: ``"transpose"`` (4x4 transposed convolution with stride 2, the paper)
            or ``"resize"`` (bilinear 2x upsampling then a 3x3 convolution, which avoids
            checkerboard artifacts).
        name: the model's name, which prefixes every layer name.
        dropout_placement: which decoder blocks get dropout (counted from the bottleneck;
            the paper and the PyTorch reference disagree):
            ``"paper"`` (the default): blocks 1 to ``dropout_blocks``, the paper's
            ``CD512-CD512-CD512`` and the Lua original's (``d1``-``d3``);
            ``"reference"``: as junyanz/pytorch-CycleGAN-and-pix2pix builds it, the
            ``num_downs - 5`` ngf*8 blocks after the first, i.e. blocks 2 to
            ``num_downs - 4`` (unet_256: 2-4; unet_128: only 2-3; 64 px: only 2; none
            below); ``dropout_blocks`` is not used. Dropout has no weights: the
            parameter count is the same either way.

    Returns:
        A ``keras.Model`` from ``(bs, height, width, channels)`` to
        ``(bs, height, width, output_channels)`` in [-1, 1].
    """
    height, width, _ = _check_image_shape(input_shape, channels=IMAGE_CHANNELS)
    if output_channels not in IMAGE_CHANNELS:
        raise ValueError(
            f"`output_channels` must be one of {IMAGE_CHANNELS}; "
            f"received output_channels={output_channels!r}"
        )
    _check_int(base_filters, "base_filters", 1)
    _check_choice(norm, "norm", NORMS)
    _check_choice(upsampling, "upsampling", UPSAMPLINGS)
    _check_rate(dropout, "dropout")
    if num_downs is None:
        if height is None or width is None:
            raise ValueError(
                "unet_generator needs `num_downs` when height or width is None; received "
                f"input_shape={input_shape!r}, num_downs=None"
            )
        num_downs = int(math.log2(min(height, width)))
    _check_int(num_downs, "num_downs", 2)
    step = 2**num_downs
    if any(s is not None and s % step for s in (height, width)):
        fits = [
            k for k in range(2, num_downs)
            if all(s is None or s % 2**k == 0 for s in (height, width))
        ]
        hint = f" (num_downs <= {fits[-1]} would fit this size)" if fits else ""
        raise ValueError(
            f"With num_downs={num_downs} the U-Net needs height and width that are "
            f"multiples of 2**{num_downs} = {step}; received input_shape={input_shape!r}"
            f"{hint}."
        )
    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    outputs = _unet_body(inputs, output_channels, num_downs, base_filters, norm, dropout, dropout_blocks,
                         upsampling, name, skip_connections=True, dropout_placement=dropout_placement)
    return keras.Model(inputs, outputs, name=name)


def _unet_body(x, output_channels, num_downs, base_filters, norm, dropout, dropout_blocks, upsampling, name,
               skip_connections, dropout_placement="paper"):
    """The layers of the U-Net (``skip_connections=True``) or of the same network without
    its skips, the paper's encoder-decoder (``kerasi2i.models.encoder_decoder_generator``),
    from the input tensor ``x`` to the tanh output. Arguments as in ``unet_generator``,
    already checked except ``dropout_blocks`` and ``dropout_placement``."""
    _check_choice(dropout_placement, "dropout_placement", DROPOUT_PLACEMENTS)
    if isinstance(dropout_blocks, bool) or not isinstance(dropout_blocks, int) or not (
        0 <= dropout_blocks <= num_downs - 1
    ):
        raise ValueError(
            f"`dropout_blocks` must be an int between 0 and num_downs - 1 = {num_downs - 1}; "
            f"received dropout_blocks={dropout_blocks!r}"
        )
    use_bias = norm != "batch"
    if dropout_placement == "paper":
        dropout_at = set(range(1, dropout_blocks + 1))
    else:  # the reference's UnetSkipConnectionBlock(use_dropout=True) loop: num_downs - 5 blocks
        dropout_at = set(range(2, num_downs - 3))

    def level_filters(level):
        return base_filters * min(2 ** (level - 1), 8)

    # Encoder. (The reference applies its LeakyReLU in place, so its skips carry the
    # activated features; this makes no difference because the decoder reads the skips
    # only through ReLU, and ReLU(LeakyReLU(x)) == ReLU(x).) Level i halves the size: (bs, H / 2**i, W / 2**i, level_filters(i)),
    # for 256x256x3 and base 64: 128x128x64, 64x64x128, 32x32x256, 16x16x512, 8x8x512,
    # 4x4x512, 2x2x512, 1x1x512.
    skips = []
    for i in range(1, num_downs + 1):
        if i > 1:
            x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_down{i}_lrelu")(x)
        x = _conv(
            level_filters(i), 4, strides=2, padding="same", use_bias=use_bias,
            name=f"{name}_down{i}_conv",
        )(x)
        if 1 < i < num_downs:  # neither the outermost nor the innermost (bottleneck)
            x = _apply_norm(x, norm, f"{name}_down{i}_norm")
        skips.append(x)  # (bs, H / 2**i, W / 2**i, level_filters(i))

    # Decoder. Block j undoes encoder level num_downs - j + 1: (bs, H / 2**(N-j),
    # W / 2**(N-j), filters); the U-Net then concatenates the encoder output of the same
    # size, doubling the channels: for 256x256x3, 2x2x1024, 4x4x1024, 8x8x1024, 16x16x1024,
    # 32x32x512, 64x64x256, 128x128x128, then the output 256x256x3.
    for j in range(1, num_downs + 1):
        level = num_downs - j + 1
        last = j == num_downs
        filters = output_channels if last else level_filters(level - 1)
        bias = True if last else use_bias
        x = layers.ReLU(name=f"{name}_up{j}_relu")(x)
        if upsampling == "transpose":
            x = _conv_transpose(
                filters, 4, strides=2, padding="same", use_bias=bias, name=f"{name}_up{j}_conv"
            )(x)
        else:
            x = layers.UpSampling2D(
                2, interpolation="bilinear", name=f"{name}_up{j}_resize"
            )(x)
            x = _conv(filters, 3, padding="same", use_bias=bias, name=f"{name}_up{j}_conv")(x)
        if last:
            break
        x = _apply_norm(x, norm, f"{name}_up{j}_norm")
        if dropout > 0 and j in dropout_at:
            x = layers.Dropout(dropout, name=f"{name}_up{j}_dropout")(x)
        if skip_connections:
            x = layers.Concatenate(name=f"{name}_up{j}_concat")([skips[level - 2], x])
    return layers.Activation("tanh", name=f"{name}_output")(x)  # (bs, H, W, out)


# --------------------------------------------------------------------------------------
# ResNet generator (CycleGAN, after Johnson et al. 2016)
# --------------------------------------------------------------------------------------
def resnet_generator(
    input_shape=(256, 256, 3),
    output_channels=3,
    base_filters=64,
    n_blocks=9,
    norm="instance",
    dropout=0.0,
    name="resnet_generator",
):
    """CycleGAN's generator (Zhu et al. 2017, appendix 7.2):
    ``c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3``.

    - ``c7s1-k``: reflection padding 3, 7x7 convolution, norm, ReLU (the last one: bias
      and ``tanh`` instead);
    - ``dk``: 3x3 convolution with stride 2 and zero padding 1, norm, ReLU;
    - ``Rk``: reflection pad 1, 3x3 conv, norm, ReLU, (dropout), reflection pad 1, 3x3
      conv, norm, added to the block's input;
    - ``uk``: 3x3 transposed convolution with stride 2 (PyTorch ``padding=1,
      output_padding=1``: exactly twice the size), norm, ReLU.

    Block count: the CycleGAN paper's rule is 9 blocks for 256x256 (and larger) images
    and 6 for 128x128; the PyTorch reference's default is ``--netG resnet_9blocks`` at
    every size (6 blocks only when asked for). This builder's default is 9;
    ``kerasi2i.models.cyclegan.default_n_blocks`` applies the paper's rule.

    Args:
        input_shape: ``(height, width, channels)``, channels 1 or 3; height and width
            multiples of 4 and at least 8, or ``None`` (the network is fully
            convolutional).
        output_channels: 1 or 3.
        base_filters: filters of the first convolution (64).
        n_blocks: number of residual blocks.
        norm: ``"instance"`` (the paper), ``"batch"`` or ``"none"``.
        dropout: dropout rate inside the residual blocks; 0 (the default) disables it.
        name: the model's name, which prefixes every layer name.
    """
    height, width, _ = _check_image_shape(input_shape, channels=IMAGE_CHANNELS)
    if output_channels not in IMAGE_CHANNELS:
        raise ValueError(
            f"`output_channels` must be one of {IMAGE_CHANNELS}; "
            f"received output_channels={output_channels!r}"
        )
    if any(s is not None and (s % 4 or s < 8) for s in (height, width)):
        raise ValueError(
            "The ResNet generator needs height and width that are multiples of 4 and at "
            f"least 8; received input_shape={input_shape!r}"
        )
    _check_int(base_filters, "base_filters", 1)
    _check_int(n_blocks, "n_blocks", 0)
    _check_choice(norm, "norm", NORMS)
    _check_rate(dropout, "dropout")
    use_bias = norm != "batch"

    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")

    # c7s1-64: (bs, H, W, 64)
    x = ReflectionPadding2D(3, name=f"{name}_stem_pad")(inputs)
    x = _conv(base_filters, 7, use_bias=use_bias, name=f"{name}_stem_conv")(x)
    x = _apply_norm(x, norm, f"{name}_stem_norm")
    x = layers.ReLU(name=f"{name}_stem_relu")(x)

    # d128, d256: (bs, H/2, W/2, 128), (bs, H/4, W/4, 256)
    for i in (1, 2):
        x = layers.ZeroPadding2D(1, name=f"{name}_down{i}_pad")(x)
        x = _conv(
            base_filters * 2**i, 3, strides=2, use_bias=use_bias, name=f"{name}_down{i}_conv"
        )(x)
        x = _apply_norm(x, norm, f"{name}_down{i}_norm")
        x = layers.ReLU(name=f"{name}_down{i}_relu")(x)

    # R256 x n_blocks: (bs, H/4, W/4, 256)
    filters = base_filters * 4
    for b in range(1, n_blocks + 1):
        prefix = f"{name}_res{b}"
        y = ReflectionPadding2D(1, name=f"{prefix}_pad1")(x)
        y = _conv(filters, 3, use_bias=use_bias, name=f"{prefix}_conv1")(y)
        y = _apply_norm(y, norm, f"{prefix}_norm1")
        y = layers.ReLU(name=f"{prefix}_relu")(y)
        if dropout > 0:
            y = layers.Dropout(dropout, name=f"{prefix}_dropout")(y)
        y = ReflectionPadding2D(1, name=f"{prefix}_pad2")(y)
        y = _conv(filters, 3, use_bias=use_bias, name=f"{prefix}_conv2")(y)
        y = _apply_norm(y, norm, f"{prefix}_norm2")
        x = layers.Add(name=f"{prefix}_add")([x, y])

    # u128, u64: (bs, H/2, W/2, 128), (bs, H, W, 64). A "valid" transposed convolution
    # gives 2n + 1 pixels; dropping the first row and column leaves 2n with PyTorch's
    # alignment (padding=1, output_padding=1). TensorFlow's "same" would give 2n too but
    # shifted by one pixel.
    for i in (1, 2):
        x = _conv_transpose(
            base_filters * 2 ** (2 - i), 3, strides=2, padding="valid", use_bias=use_bias,
            name=f"{name}_up{i}_conv",
        )(x)
        x = layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_up{i}_crop")(x)
        x = _apply_norm(x, norm, f"{name}_up{i}_norm")
        x = layers.ReLU(name=f"{name}_up{i}_relu")(x)

    # c7s1-3: (bs, H, W, output_channels)
    x = ReflectionPadding2D(3, name=f"{name}_head_pad")(x)
    x = _conv(output_channels, 7, use_bias=True, name=f"{name}_head_conv")(x)
    outputs = layers.Activation("tanh", name=f"{name}_output")(x)

    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------------------
# Discriminators
# --------------------------------------------------------------------------------------
def receptive_field(n_layers):
    """Receptive field, in input pixels, of one output logit of
    ``patch_discriminator(n_layers=n_layers)``: 1 -> 16, 2 -> 34, 3 -> 70, 4 -> 142,
    5 -> 286.

    Going backwards from one output pixel through the two stride-1 4x4 convolutions
    (``r + 3`` each) and then the ``n_layers`` stride-2 4x4 convolutions
    (``2 * (r - 1) + 4`` each).
    """
    _check_int(n_layers, "n_layers", 1)
    field = 1 + 3 + 3
    for _ in range(n_layers):
        field = 2 * (field - 1) + 4
    return field


def _discriminator_inputs(input_shape, condition_channels, name):
    """The model inputs and their channel concatenation ``[condition, image]``."""
    height, width, _ = _check_image_shape(input_shape)
    _check_int(condition_channels, "condition_channels", 0)
    if condition_channels == 0:
        image = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
        return image, image
    condition = keras.Input(shape=(height, width, condition_channels), name=f"{name}_condition")
    image = keras.Input(shape=tuple(input_shape), name=f"{name}_image")
    # (bs, H, W, condition_channels + C), the order of the reference's torch.cat((A, B), 1)
    x = layers.Concatenate(name=f"{name}_concat")([condition, image])
    return [condition, image], x


def patch_discriminator(
    input_shape=(256, 256, 3),
    condition_channels=0,
    base_filters=64,
    n_layers=3,
    norm="batch",
    name="patch_discriminator",
):
    """The PatchGAN discriminator (pix2pix appendix 6.1.2, the reference's
    ``NLayerDiscriminator``); the default is the 70x70 PatchGAN ``C64-C128-C256-C512``.

    - a 4x4 convolution with stride 2 to ``base_filters`` (bias, no norm), LeakyReLU(0.2);
    - ``n_layers - 1`` blocks: 4x4 convolution with stride 2 to
      ``base_filters * min(2**n, 8)``, norm, LeakyReLU(0.2);
    - a 4x4 convolution with stride 1 to ``base_filters * min(2**n_layers, 8)``, norm,
      LeakyReLU(0.2);
    - a 4x4 convolution with stride 1 to one channel: logits, no activation.

    Every convolution pads 1 pixel on each side, so a 256x256 input gives a 30x30 map of
    logits, each judging a ``receptive_field(n_layers)`` square patch (70 for 3 layers).

    Args:
        input_shape: ``(height, width, channels)`` of the judged image.
        condition_channels: if > 0, the model takes two inputs ``[condition, image]``, the
            condition of shape ``(height, width, condition_channels)``, and concatenates
            them on channels (pix2pix's conditional discriminator); if 0 just the image.
        base_filters: filters of the first convolution (64).
        n_layers: number of stride-2 convolutions (3 -> 70x70; 1 -> 16x16; 5 -> 286x286).
        norm: ``"batch"`` (pix2pix), ``"instance"`` (CycleGAN) or ``"none"``.
        name: the model's name, which prefixes every layer name.

    Returns:
        A ``keras.Model`` returning logits of shape ``(bs, h, w, 1)``.
    """
    _check_int(base_filters, "base_filters", 1)
    _check_int(n_layers, "n_layers", 1)
    _check_choice(norm, "norm", NORMS)
    inputs, x = _discriminator_inputs(input_shape, condition_channels, name)
    for size in input_shape[:2]:
        if size is None:
            continue
        out = size
        for _ in range(n_layers):
            out = (out + 2 - 4) // 2 + 1
        out -= 2
        if out < 1:
            raise ValueError(
                f"An input of {input_shape[:2]} pixels is too small for a patch "
                f"discriminator with n_layers={n_layers} (its logits map would be "
                f"{out} pixels wide); use a larger image or fewer layers."
            )
    use_bias = norm != "batch"

    # Block 1: (bs, H/2, W/2, 64)
    x = layers.ZeroPadding2D(1, name=f"{name}_block1_pad")(x)
    x = _conv(base_filters, 4, strides=2, name=f"{name}_block1_conv")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_block1_lrelu")(x)

    # Blocks 2..n_layers: (bs, H/2**n, W/2**n, 64 * min(2**(n-1), 8)), 128 and 256 for the
    # 70x70 PatchGAN; block n_layers + 1 has stride 1: (bs, H/2**n_layers - 1, ..., 512).
    for block in range(2, n_layers + 2):
        strides = 2 if block <= n_layers else 1
        filters = base_filters * min(2 ** (block - 1), 8)
        x = layers.ZeroPadding2D(1, name=f"{name}_block{block}_pad")(x)
        x = _conv(
            filters, 4, strides=strides, use_bias=use_bias, name=f"{name}_block{block}_conv"
        )(x)
        x = _apply_norm(x, norm, f"{name}_block{block}_norm")
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_block{block}_lrelu")(x)

    # Logits: (bs, H/2**n_layers - 2, W/2**n_layers - 2, 1), 30x30 for 256x256 and 3 layers.
    x = layers.ZeroPadding2D(1, name=f"{name}_logits_pad")(x)
    outputs = _conv(1, 4, name=f"{name}_logits")(x)
    return keras.Model(inputs, outputs, name=name)


def pixel_discriminator(
    input_shape=(256, 256, 3),
    condition_channels=0,
    base_filters=64,
    norm="batch",
    name="pixel_discriminator",
):
    """The 1x1 PixelGAN (pix2pix section 4.4, the reference's ``PixelDiscriminator``):
    judges every pixel on its own (receptive field 1).

    1x1 convolution to ``base_filters`` (bias) + LeakyReLU(0.2); 1x1 convolution to
    ``2 * base_filters`` + norm + LeakyReLU(0.2); 1x1 convolution to one logit. The last
    two have a bias unless ``norm="batch"``, as in the reference.

    Args: as :func:`patch_discriminator` (without ``n_layers``).

    Returns:
        A ``keras.Model`` returning logits of shape ``(bs, height, width, 1)``.
    """
    _check_int(base_filters, "base_filters", 1)
    _check_choice(norm, "norm", NORMS)
    inputs, x = _discriminator_inputs(input_shape, condition_channels, name)
    use_bias = norm != "batch"

    x = _conv(base_filters, 1, name=f"{name}_conv1")(x)  # (bs, H, W, 64)
    x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_conv1_lrelu")(x)
    x = _conv(2 * base_filters, 1, use_bias=use_bias, name=f"{name}_conv2")(x)  # (bs, H, W, 128)
    x = _apply_norm(x, norm, f"{name}_conv2_norm")
    x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_conv2_lrelu")(x)
    outputs = _conv(1, 1, use_bias=use_bias, name=f"{name}_logits")(x)  # (bs, H, W, 1)
    return keras.Model(inputs, outputs, name=name)


def discriminator_for_receptive_field(receptive_field_size, **kwargs):
    """The discriminator whose logits each see a ``receptive_field_size`` square patch:
    1 -> :func:`pixel_discriminator` (PixelGAN), 16, 34, 70, 142 or 286 ->
    :func:`patch_discriminator` with ``n_layers`` 1 to 5 (the pix2pix ablation compares
    1, 16, 70 and 286, the last an "ImageGAN" for 256x256 images).

    ``kwargs`` go to the builder (``input_shape``, ``condition_channels``, ``norm``, ...).
    """
    if "n_layers" in kwargs:
        raise ValueError(
            "discriminator_for_receptive_field chooses n_layers itself; received "
            f"n_layers={kwargs['n_layers']!r}"
        )
    if receptive_field_size == 1:
        return pixel_discriminator(**kwargs)
    fields = {receptive_field(n): n for n in range(1, MAX_PATCH_LAYERS + 1)}
    if receptive_field_size not in fields:
        raise ValueError(
            f"`receptive_field_size` must be one of {[1, *fields]}; "
            f"received receptive_field_size={receptive_field_size!r}"
        )
    return patch_discriminator(n_layers=fields[receptive_field_size], **kwargs)
