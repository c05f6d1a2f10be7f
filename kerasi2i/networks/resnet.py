"""The ResNet generator of CycleGAN (Johnson et al. 2016 as the reference builds it)."""
import keras
from keras import layers

from kerasi2i.networks.blocks import (
    IMAGE_CHANNELS,
    NORMS,
    apply_norm,
    check_choice,
    check_image_shape,
    check_int,
    check_rate,
    conv2d,
    conv2d_transpose,
)
from kerasi2i.networks.layers import ReflectionPadding2D


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
    height, width, _ = check_image_shape(input_shape, channels=IMAGE_CHANNELS)
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
    check_int(base_filters, "base_filters", 1)
    check_int(n_blocks, "n_blocks", 0)
    check_choice(norm, "norm", NORMS)
    check_rate(dropout, "dropout")
    use_bias = norm != "batch"

    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")

    # c7s1-64: (bs, H, W, 64)
    x = ReflectionPadding2D(3, name=f"{name}_stem_pad")(inputs)
    x = conv2d(base_filters, 7, use_bias=use_bias, name=f"{name}_stem_conv")(x)
    x = apply_norm(x, norm, f"{name}_stem_norm")
    x = layers.ReLU(name=f"{name}_stem_relu")(x)

    # d128, d256: (bs, H/2, W/2, 128), (bs, H/4, W/4, 256)
    for i in (1, 2):
        x = layers.ZeroPadding2D(1, name=f"{name}_down{i}_pad")(x)
        x = conv2d(
            base_filters * 2**i, 3, strides=2, use_bias=use_bias, name=f"{name}_down{i}_conv"
        )(x)
        x = apply_norm(x, norm, f"{name}_down{i}_norm")
        x = layers.ReLU(name=f"{name}_down{i}_relu")(x)

    # R256 x n_blocks: (bs, H/4, W/4, 256)
    filters = base_filters * 4
    for b in range(1, n_blocks + 1):
        prefix = f"{name}_res{b}"
        y = ReflectionPadding2D(1, name=f"{prefix}_pad1")(x)
        y = conv2d(filters, 3, use_bias=use_bias, name=f"{prefix}_conv1")(y)
        y = apply_norm(y, norm, f"{prefix}_norm1")
        y = layers.ReLU(name=f"{prefix}_relu")(y)
        if dropout > 0:
            y = layers.Dropout(dropout, name=f"{prefix}_dropout")(y)
        y = ReflectionPadding2D(1, name=f"{prefix}_pad2")(y)
        y = conv2d(filters, 3, use_bias=use_bias, name=f"{prefix}_conv2")(y)
        y = apply_norm(y, norm, f"{prefix}_norm2")
        x = layers.Add(name=f"{prefix}_add")([x, y])

    # u128, u64: (bs, H/2, W/2, 128), (bs, H, W, 64). A "valid" transposed convolution
    # gives 2n + 1 pixels; dropping the first row and column leaves 2n with PyTorch's
    # alignment (padding=1, output_padding=1). TensorFlow's "same" would give 2n too but
    # shifted by one pixel.
    for i in (1, 2):
        x = conv2d_transpose(
            base_filters * 2 ** (2 - i), 3, strides=2, padding="valid", use_bias=use_bias,
            name=f"{name}_up{i}_conv",
        )(x)
        x = layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_up{i}_crop")(x)
        x = apply_norm(x, norm, f"{name}_up{i}_norm")
        x = layers.ReLU(name=f"{name}_up{i}_relu")(x)

    # c7s1-3: (bs, H, W, output_channels)
    x = ReflectionPadding2D(3, name=f"{name}_head_pad")(x)
    x = conv2d(output_channels, 7, use_bias=True, name=f"{name}_head_conv")(x)
    outputs = layers.Activation("tanh", dtype="float32", name=f"{name}_output")(x)  # float32 under mixed precision

    return keras.Model(inputs, outputs, name=name)
