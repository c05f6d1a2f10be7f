"""U-Net generators (pix2pix) and the encoder-decoder without skips.

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

from kerasi2i.networks.blocks import (
    DROPOUT_PLACEMENTS,
    IMAGE_CHANNELS,
    INITS,
    NORMS,
    UPSAMPLINGS,
    apply_norm,
    check_choice,
    check_image_shape,
    check_int,
    check_rate,
    conv2d,
    upsample,
)
from kerasi2i.networks.layers import ResidualImage


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
    skip_gate=None,
    residual=False,
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
        skip_gate: None (the paper), or a function ``(skip, decoder, name) -> tensor``
            applied to every skip connection before it is concatenated, given the decoder
            features of the same size; e.g. ``kerasi2i.networks.attention.attention_gate``
            (an attention U-Net).
        residual: False (the paper): the network outputs the image. True: it outputs a
            correction in [-1, 1] that is added to its input, clipped to [-1, 1]
            (``kerasi2i.networks.layers.ResidualImage``), the global residual learning of
            super-resolution networks such as VDSR. Not in pix2pix; for tasks whose target
            is close to the input (x4 super-resolution, denoising, inpainting), where a
            plain U-Net trained for minutes stays worse than returning the input (measured
            by ``benchmarks/photo_tasks.py``). Adds no weights. Needs ``output_channels``
            equal to the input's channels, or a 1-channel input (which is broadcast).

    Returns:
        A ``keras.Model`` from ``(bs, height, width, channels)`` to
        ``(bs, height, width, output_channels)`` in [-1, 1].
    """
    check_image_shape(input_shape, channels=IMAGE_CHANNELS)
    if residual and input_shape[-1] not in (1, output_channels):
        raise ValueError(
            f"`residual=True` adds the output to the input, so the input needs 1 or "
            f"output_channels={output_channels} channels; received input_shape={tuple(input_shape)}"
        )
    _check_unet_args(output_channels, base_filters, norm, upsampling, dropout)
    num_downs = resolve_num_downs(input_shape, num_downs, "unet_generator", "U-Net")
    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    outputs = unet_body(inputs, output_channels, num_downs, base_filters, norm, dropout, dropout_blocks,
                         upsampling, name, skip_connections=True, dropout_placement=dropout_placement,
                         skip_gate=skip_gate)
    if residual:
        outputs = ResidualImage(dtype="float32", name=f"{name}_residual")([inputs, outputs])
    return keras.Model(inputs, outputs, name=name)


def unet_body(x, output_channels, num_downs, base_filters, norm, dropout, dropout_blocks, upsampling, name,
               skip_connections, dropout_placement="paper", skip_gate=None, down_input=None, init="normal"):
    """The layers of the U-Net (``skip_connections=True``) or of the same network without
    its skips, the paper's encoder-decoder (``kerasi2i.models.encoder_decoder_generator``),
    from the input tensor ``x`` to the tanh output. Arguments as in ``unet_generator``,
    already checked except ``dropout_blocks`` and ``dropout_placement``; and two hooks that
    leave the network as it is by default:

    - ``down_input``: None, or a function ``(x, level, name) -> tensor`` applied to the
      input of every encoder level (before its LeakyReLU and convolution; the skip
      connections keep ``x`` itself). BicycleGAN's add-all generator concatenates the
      tiled code z there (``conditional_unet_generator(where_add="all")``).
    - ``init``: the convolutions' initialiser, ``"normal"`` (N(0, 0.02)) or ``"xavier"``
      (``blocks.kernel_init``)."""
    check_choice(dropout_placement, "dropout_placement", DROPOUT_PLACEMENTS)
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
        h = x if down_input is None else down_input(x, i, f"{name}_down{i}")
        if i > 1:
            h = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_down{i}_lrelu")(h)
        x = conv2d(
            level_filters(i), 4, strides=2, padding="same", use_bias=use_bias,
            name=f"{name}_down{i}_conv", init=init,
        )(h)
        if 1 < i < num_downs:  # neither the outermost nor the innermost (bottleneck)
            x = apply_norm(x, norm, f"{name}_down{i}_norm")
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
        x = upsample(x, filters, upsampling, bias, f"{name}_up{j}", init=init)
        if last:
            break
        x = apply_norm(x, norm, f"{name}_up{j}_norm")
        if dropout > 0 and j in dropout_at:
            x = layers.Dropout(dropout, name=f"{name}_up{j}_dropout")(x)
        if skip_connections:
            skip = skips[level - 2]
            if skip_gate is not None:
                skip = skip_gate(skip, x, f"{name}_up{j}_gate")
            x = layers.Concatenate(name=f"{name}_up{j}_concat")([skip, x])
    # float32 output under mixed precision too (Keras's advice: the last layer in float32).
    return layers.Activation("tanh", dtype="float32", name=f"{name}_output")(x)  # (bs, H, W, out)


def _check_unet_args(output_channels, base_filters, norm, upsampling, dropout):
    """The checks `unet_generator` and `encoder_decoder_generator` share."""
    if output_channels not in IMAGE_CHANNELS:
        raise ValueError(
            f"`output_channels` must be one of {IMAGE_CHANNELS}; "
            f"received output_channels={output_channels!r}"
        )
    check_int(base_filters, "base_filters", 1)
    check_choice(norm, "norm", NORMS)
    check_choice(upsampling, "upsampling", UPSAMPLINGS)
    check_rate(dropout, "dropout")


def resolve_num_downs(input_shape, num_downs, builder, network=None):
    """``num_downs`` checked against ``input_shape`` (``None``: down to a 1-pixel
    bottleneck). Errors name ``builder`` (a missing ``num_downs``) and ``network`` (default
    ``builder``; a size that is no multiple of ``2**num_downs``, with the largest
    ``num_downs`` that would fit)."""
    height, width = input_shape[:2]
    if num_downs is None:
        if height is None or width is None:
            raise ValueError(
                f"{builder} needs `num_downs` when height or width is None; received "
                f"input_shape={input_shape!r}, num_downs=None"
            )
        num_downs = int(math.log2(min(height, width)))
    check_int(num_downs, "num_downs", 2)
    step = 2**num_downs
    if any(s is not None and s % step for s in (height, width)):
        fits = [
            k for k in range(2, num_downs)
            if all(s is None or s % 2**k == 0 for s in (height, width))
        ]
        hint = f" (num_downs <= {fits[-1]} would fit this size)" if fits else ""
        raise ValueError(
            f"With num_downs={num_downs} the {network or builder} needs height and width that are "
            f"multiples of 2**{num_downs} = {step}; received input_shape={input_shape!r}"
            f"{hint}."
        )
    return num_downs


def encoder_decoder_generator(
    input_shape=(256, 256, 3),
    output_channels=3,
    num_downs=None,
    base_filters=64,
    norm="batch",
    dropout=0.5,
    dropout_blocks=3,
    upsampling="transpose",
    name="encoder_decoder_generator",
):
    """The pix2pix paper's encoder-decoder (appendix 6.1.1): ``unet_generator`` without
    its skip connections.

    - encoder ``C64-C128-C256-C512-C512-C512-C512-C512`` (256x256): 4x4 convolutions with
      stride 2, LeakyReLU(0.2) before every one but the first, normalization after every
      one but the first and the bottleneck;
    - decoder ``CD512-CD512-CD512-C512-C256-C128-C64``: ReLU, 4x4 transposed convolution
      with stride 2, normalization, dropout in the first ``dropout_blocks`` blocks; a last
      transposed convolution (with bias) to ``output_channels`` and ``tanh``.

    Layer for layer the U-Net's, so the two differ only in the skips (the U-Net's decoder
    convolutions read twice the channels, hence its larger parameter count). The whole
    image has to pass the 1x1 bottleneck, which is the point of the comparison.

    Args:
        input_shape: ``(height, width, channels)``, any number of channels (4 for
            inpainting: image + mask); height and width multiples of ``2**num_downs``.
        output_channels: 1 or 3.
        num_downs: stride-2 levels; ``None`` takes ``log2(min(height, width))`` (a 1x1
            bottleneck).
        base_filters, norm, dropout, dropout_blocks, upsampling, name: as in
            ``unet_generator``.

    Returns:
        A ``keras.Model`` from ``(bs, H, W, C)`` to ``(bs, H, W, output_channels)`` in
        [-1, 1].
    """
    check_image_shape(input_shape)
    _check_unet_args(output_channels, base_filters, norm, upsampling, dropout)
    num_downs = resolve_num_downs(input_shape, num_downs, "encoder-decoder")
    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    outputs = unet_body(inputs, output_channels, num_downs, base_filters, norm, dropout, dropout_blocks,
                         upsampling, name, skip_connections=False)
    return keras.Model(inputs, outputs, name=name)


def multichannel_unet_generator(input_shape=(256, 256, 4), name="unet_generator", **kwargs):
    """``unet_generator`` for an input with any number of channels.

    ``unet_generator`` accepts images of 1 or 3 channels; an inpainting network reads 4
    (image + mask) and the conditional VAE's generator 3 + nz (image + tiled code). This
    builds the U-Net for 3 channels and clones it onto the wider input: the same layers,
    names and initialisers, only the first convolution's kernel is wider.

    Args:
        input_shape: ``(height, width, channels)``, any number of channels.
        name: the model's name.
        **kwargs: the other arguments of ``unet_generator`` (``output_channels``,
            ``base_filters``, ``norm``, ``dropout``, ...).
    """
    height, width, channels = check_image_shape(input_shape)
    template = unet_generator((height, width, 3), name=name, **kwargs)
    if channels == 3:
        return template
    inputs = keras.Input(shape=(height, width, channels), name=f"{name}_input")
    return keras.models.clone_model(template, input_tensors=inputs)


WHERE_ADD = ("input", "all")


def conditional_unet_generator(
    input_shape=(256, 256, 3),
    nz=8,
    output_channels=3,
    num_downs=None,
    base_filters=64,
    norm="instance",
    dropout=0.0,
    upsampling="transpose",
    name="conditional_unet_generator",
    where_add="input",
    init="normal",
):
    """BicycleGAN's generator G(A, z), a U-Net (``unet_generator``'s layers) that also reads
    a code z of ``nz`` dimensions, built as the reference's ``G_Unet_add_input`` or
    ``G_Unet_add_all`` (junyanz/BicycleGAN, ``models/networks.py``).

    - ``where_add="input"`` (``G_Unet_add_input``): z is tiled over the image and
      concatenated to A; the U-Net maps the ``C + nz`` channels to the output. Built as
      a nested model ``{name}_unet``.
    - ``where_add="all"`` (``G_Unet_add_all``, the reference's default ``--where_add all``):
      z, tiled to the size of each encoder level, is concatenated to the input of every
      one of the ``num_downs`` down-sampling convolutions (before its LeakyReLU, as the
      reference's ``UnetBlock_with_z``); the skips and the decoder do not see it. Each
      level's convolution reads ``nz`` more channels: ``16 * nz * filters`` more weights
      per level.

    The default here is ``"input"``, this builder's behaviour before the option existed;
    ``build_bicyclegan`` defaults to ``"all"``.

    Instance norm is the reference's ``--norm`` default; convolutions keep their biases,
    as the reference's (which always have one). ``dropout`` (rate; the reference's
    ``--use_dropout`` means 0.5, which all of its training scripts set) goes where the
    reference puts it: the ``num_downs - 5`` decoder blocks after the innermost one
    (``dropout_placement="reference"``: one block at 64 px, three at 256 px, none below
    64 px). Other differences from the reference: the skip is concatenated before the
    decoder features (``[skip, up]``, the reference ``[up, skip]``: a permutation of
    channels, the same function class and parameter count); ``upsampling="transpose"`` is
    the reference's ``--upsample basic``, while its ``bilinear`` pads by reflection
    where ``"resize"`` pads with zeros; any ``num_downs >= 2`` is accepted, where the
    reference builds 7 (unet_128) or 8 (unet_256) levels.

    Args:
        input_shape: ``(height, width, channels)``, fixed height and width.
        nz: dimensions of z.
        output_channels, num_downs, base_filters, norm, upsampling: as in
            ``unet_generator`` (``num_downs=None``: down to a 1-pixel bottleneck).
        dropout: decoder dropout rate (0: none).
        name: the model's name.
        where_add: ``"input"`` or ``"all"``, see above.
        init: ``"normal"`` (N(0, 0.02)) or ``"xavier"`` (the reference's default
            ``--init_type xavier`` with gain 0.02; ``blocks.kernel_init``).

    Returns:
        A ``keras.Model`` from ``[(bs, H, W, C), (bs, nz)]`` to
        ``(bs, H, W, output_channels)`` in [-1, 1].
    """
    height, width, channels = check_image_shape(input_shape, channels=IMAGE_CHANNELS)
    if height is None or width is None:
        raise ValueError(f"The conditional U-Net needs a fixed height and width; received input_shape={input_shape!r}")
    check_int(nz, "nz", 1)
    check_choice(where_add, "where_add", WHERE_ADD)
    check_choice(init, "init", INITS)
    _check_unet_args(output_channels, base_filters, norm, upsampling, dropout)
    num_downs = resolve_num_downs(input_shape, num_downs, "conditional_unet_generator", "conditional U-Net")
    body = dict(output_channels=output_channels, num_downs=num_downs, base_filters=base_filters, norm=norm,
                dropout=dropout, dropout_blocks=min(3, num_downs - 1), upsampling=upsampling,
                skip_connections=True, dropout_placement="reference", init=init)
    image = keras.Input(shape=(height, width, channels), name=f"{name}_image")
    z = keras.Input(shape=(nz,), name=f"{name}_z")
    z_map = layers.Reshape((1, 1, nz), name=f"{name}_z_reshape")(z)  # (bs, 1, 1, nz)
    if where_add == "input":
        tiled = layers.UpSampling2D((height, width), name=f"{name}_z_tile")(z_map)  # (bs, H, W, nz)
        x = layers.Concatenate(name=f"{name}_concat")([image, tiled])  # (bs, H, W, C + nz)
        unet_input = keras.Input(shape=(height, width, channels + nz), name=f"{name}_unet_input")
        unet = keras.Model(unet_input, unet_body(unet_input, name=f"{name}_unet", **body), name=f"{name}_unet")
        return keras.Model([image, z], unet(x), name=name)

    def add_z(x, level, prefix):  # (bs, H / 2**(level-1), W / 2**(level-1), filters + nz)
        size = (height // 2 ** (level - 1), width // 2 ** (level - 1))
        tiled = layers.UpSampling2D(size, name=f"{prefix}_z_tile")(z_map)
        return layers.Concatenate(name=f"{prefix}_z_concat")([x, tiled])

    outputs = unet_body(image, name=name, down_input=add_z, **body)
    return keras.Model([image, z], outputs, name=name)
