"""PatchGAN and PixelGAN discriminators (pix2pix, CycleGAN), conditional or not, and
BicycleGAN's multi-scale PatchGAN."""

import keras
from keras import layers

from kerasi2i.networks.blocks import (
    INITS,
    MAX_PATCH_LAYERS,
    NORMS,
    apply_norm,
    check_choice,
    check_image_shape,
    check_int,
    conv2d,
)
from kerasi2i.networks.layers import ExcludePadAveragePooling2D

# The receptive fields discriminator_for_receptive_field offers: PixelGAN and 1-5 layer PatchGANs.
RECEPTIVE_FIELDS = (1, 16, 34, 70, 142, 286)


def receptive_field(n_layers):
    """Receptive field, in input pixels, of one output logit of
    ``patch_discriminator(n_layers=n_layers)``: 1 -> 16, 2 -> 34, 3 -> 70, 4 -> 142,
    5 -> 286.

    Going backwards from one output pixel through the two stride-1 4x4 convolutions
    (``r + 3`` each) and then the ``n_layers`` stride-2 4x4 convolutions
    (``2 * (r - 1) + 4`` each).
    """
    check_int(n_layers, "n_layers", 1)
    field = 1 + 3 + 3
    for _ in range(n_layers):
        field = 2 * (field - 1) + 4
    return field


def _discriminator_inputs(input_shape, condition_channels, name):
    """The model inputs and their channel concatenation ``[condition, image]``."""
    height, width, _ = check_image_shape(input_shape)
    check_int(condition_channels, "condition_channels", 0)
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
    init="normal",
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
        init: ``"normal"`` (N(0, 0.02), pix2pix and CycleGAN) or ``"xavier"``
            (``xavier_normal_`` with gain 0.02, BicycleGAN's default).

    Returns:
        A ``keras.Model`` returning logits of shape ``(bs, h, w, 1)``.
    """
    check_int(base_filters, "base_filters", 1)
    check_int(n_layers, "n_layers", 1)
    check_choice(norm, "norm", NORMS)
    check_choice(init, "init", INITS)
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
    x = conv2d(base_filters, 4, strides=2, name=f"{name}_block1_conv", init=init)(x)
    x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_block1_lrelu")(x)

    # Blocks 2..n_layers: (bs, H/2**n, W/2**n, 64 * min(2**(n-1), 8)), 128 and 256 for the
    # 70x70 PatchGAN; block n_layers + 1 has stride 1: (bs, H/2**n_layers - 1, ..., 512).
    for block in range(2, n_layers + 2):
        strides = 2 if block <= n_layers else 1
        filters = base_filters * min(2 ** (block - 1), 8)
        x = layers.ZeroPadding2D(1, name=f"{name}_block{block}_pad")(x)
        x = conv2d(
            filters, 4, strides=strides, use_bias=use_bias, name=f"{name}_block{block}_conv", init=init
        )(x)
        x = apply_norm(x, norm, f"{name}_block{block}_norm")
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_block{block}_lrelu")(x)

    # Logits: (bs, H/2**n_layers - 2, W/2**n_layers - 2, 1), 30x30 for 256x256 and 3 layers.
    x = layers.ZeroPadding2D(1, name=f"{name}_logits_pad")(x)
    outputs = conv2d(1, 4, name=f"{name}_logits", init=init)(x)
    return keras.Model(inputs, outputs, name=name)


def pixel_discriminator(
    input_shape=(256, 256, 3),
    condition_channels=0,
    base_filters=64,
    norm="batch",
    name="pixel_discriminator",
    init="normal",
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
    check_int(base_filters, "base_filters", 1)
    check_choice(norm, "norm", NORMS)
    check_choice(init, "init", INITS)
    inputs, x = _discriminator_inputs(input_shape, condition_channels, name)
    use_bias = norm != "batch"

    x = conv2d(base_filters, 1, name=f"{name}_conv1", init=init)(x)  # (bs, H, W, 64)
    x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_conv1_lrelu")(x)
    x = conv2d(2 * base_filters, 1, use_bias=use_bias, name=f"{name}_conv2", init=init)(x)  # (bs, H, W, 128)
    x = apply_norm(x, norm, f"{name}_conv2_norm")
    x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_conv2_lrelu")(x)
    outputs = conv2d(1, 1, use_bias=use_bias, name=f"{name}_logits", init=init)(x)  # (bs, H, W, 1)
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


def multiscale_discriminator(
    input_shape=(256, 256, 3),
    condition_channels=0,
    base_filters=64,
    n_layers=3,
    norm="instance",
    num_scales=2,
    name="multiscale_discriminator",
    init="normal",
):
    """BicycleGAN's multi-scale PatchGAN, the reference's ``D_NLayersMulti``
    (junyanz/BicycleGAN, ``--netD basic_256_multi --num_Ds 2``, its defaults): one
    ``patch_discriminator`` per scale, scale ``i`` with ``round(base_filters / 2**i)``
    filters in its first layer, judging the image downsampled ``i`` times by a 3x3
    average pooling with stride 2 that leaves the padding out of the average
    (``ExcludePadAveragePooling2D``). It returns one map of logits per scale; the GAN
    losses are summed over the scales (the reference's ``GANLoss``).

    Scale 0 is ``{name}_scale0``, a nested ``patch_discriminator``, and so on. With
    ``norm="instance"`` (the reference's default) the parameter count is the reference's;
    with ``norm="batch"`` the reference keeps the biases of the normalised convolutions,
    which ``patch_discriminator`` drops.

    Args:
        input_shape, condition_channels, base_filters, n_layers, norm: as
            ``patch_discriminator`` (``n_layers=3``: the 70x70 PatchGAN at scale 0).
        num_scales: number of scales (the reference's ``num_Ds``), >= 1.
        name: the model's name.
        init: ``"normal"`` or ``"xavier"`` (``patch_discriminator``).

    Returns:
        A ``keras.Model`` returning a list of ``num_scales`` logit maps, the first
        ``(bs, H/2**n_layers - 2, W/2**n_layers - 2, 1)`` as ``patch_discriminator``'s.
    """
    check_int(num_scales, "num_scales", 1)
    check_int(base_filters, "base_filters", 1)
    inputs, x = _discriminator_inputs(input_shape, condition_channels, name)
    outputs = []
    for i in range(num_scales):
        if i > 0:  # (bs, ceil(H / 2**i), ceil(W / 2**i), C)
            x = ExcludePadAveragePooling2D(3, 2, 1, name=f"{name}_downsample{i}")(x)
        filters = int(round(base_filters / 2**i))
        if filters < 1:
            raise ValueError(
                f"Scale {i} of the multi-scale discriminator would have round({base_filters} / 2**{i}) = 0 "
                f"filters; use base_filters >= {2 ** i} or fewer scales (num_scales={num_scales})."
            )
        scale = patch_discriminator(tuple(x.shape[1:]), base_filters=filters, n_layers=n_layers, norm=norm,
                                    name=f"{name}_scale{i}", init=init)
        outputs.append(scale(x))  # (bs, h_i, w_i, 1)
    return keras.Model(inputs, outputs, name=name)
