"""Building blocks shared by the kerasi2i networks.

Only what Keras lacks lives here. Instance normalization, for example, is the built-in
``keras.layers.GroupNormalization(groups=-1)`` and needs no custom layer.
"""
import keras
from keras import layers, ops


def _normalize_padding(padding):
    """Turn ``p``, ``(ph, pw)`` or ``((top, bottom), (left, right))`` into the last form."""
    if isinstance(padding, int):
        pairs = ((padding, padding), (padding, padding))
    elif isinstance(padding, (tuple, list)) and len(padding) == 2:
        if all(isinstance(p, int) for p in padding):
            pairs = ((padding[0], padding[0]), (padding[1], padding[1]))
        elif all(
            isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(q, int) for q in p)
            for p in padding
        ):
            pairs = (tuple(padding[0]), tuple(padding[1]))
        else:
            pairs = None
    else:
        pairs = None
    if pairs is None or any(q < 0 for p in pairs for q in p):
        raise ValueError(
            "`padding` must be a non-negative int, a pair of ints (height, width) or a pair "
            f"of pairs ((top, bottom), (left, right)); received padding={padding!r}"
        )
    return pairs


@keras.saving.register_keras_serializable(package="kerasi2i")
class ReflectionPadding2D(layers.Layer):
    """Pads the two spatial axes of an NHWC batch by reflection (like PyTorch's
    ``nn.ReflectionPad2d``): the border row itself is not repeated, so padding ``[1, 2, 3]``
    by 2 gives ``[3, 2, 1, 2, 3, 2, 1]``.

    CycleGAN's ResNet generator pads this way before every convolution so that the image
    border carries no artificial zero frame.

    Args:
        padding: an int ``p`` (``p`` on all four sides), a pair ``(ph, pw)``, or
            ``((top, bottom), (left, right))``. Each amount must be smaller than the size of
            the axis it pads (reflection never reuses the border pixel).
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _normalize_padding(padding)
        self.input_spec = layers.InputSpec(ndim=4)

    def _check_sizes(self, height, width):
        for axis, size, (before, after) in (
            ("height", height, self.padding[0]),
            ("width", width, self.padding[1]),
        ):
            if size is not None and max(before, after) >= size:
                raise ValueError(
                    f"Reflection padding of {max(before, after)} needs a {axis} larger than "
                    f"that; received {axis}={size} (layer {self.name!r})."
                )

    def build(self, input_shape):
        self._check_sizes(input_shape[1], input_shape[2])
        super().build(input_shape)

    def call(self, inputs):
        (top, bottom), (left, right) = self.padding
        return ops.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        (top, bottom), (left, right) = self.padding
        height = None if height is None else height + top + bottom
        width = None if width is None else width + left + right
        return (batch, height, width, channels)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding})
        return config


@keras.saving.register_keras_serializable(package="kerasi2i")
class ExcludePadAveragePooling2D(layers.Layer):
    """Average pooling with symmetric zero padding that is left out of the average:
    PyTorch's ``AvgPool2d(pool_size, stride=strides, padding=padding,
    count_include_pad=False)``, which BicycleGAN's ``D_NLayersMulti`` uses (3, 2, 1) to
    downsample the image between scales. (Keras' ``padding="same"`` pools differently: it
    pads only after the image for a 3x3 window with stride 2 on an even size.)
    ``(bs, H, W, C) -> (bs, (H + 2p - k) // s + 1, ..., C)``."""

    def __init__(self, pool_size=3, strides=2, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = pool_size
        self.strides = strides
        self.padding = padding

    def call(self, x):
        pad = [[0, 0], [self.padding, self.padding], [self.padding, self.padding], [0, 0]]
        total = ops.average_pool(ops.pad(x, pad), self.pool_size, self.strides, "valid")
        count = ops.average_pool(ops.pad(ops.ones_like(x[..., :1]), pad), self.pool_size, self.strides, "valid")
        return total / count  # the mean over the pixels inside the image

    def compute_output_shape(self, input_shape):
        def out(size):
            return None if size is None else (size + 2 * self.padding - self.pool_size) // self.strides + 1
        return (input_shape[0], out(input_shape[1]), out(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


@keras.saving.register_keras_serializable(package="kerasi2i")
class ResidualImage(layers.Layer):
    """``[image, correction] -> clip(image + correction, -1, 1)``: the output of a
    generator that predicts what to change in its input rather than the whole image, as
    super-resolution networks do (VDSR, Kim et al. 2016, learns the residual between the
    bicubic upscale and the sharp image). Where the target is already close to the input
    (x4 super-resolution, denoising, inpainting), the network starts near the identity
    and only has to learn the difference. Both inputs are ``(bs, H, W, C)`` images in
    [-1, 1]; a 1-channel image is broadcast to a 3-channel correction."""

    def call(self, inputs):
        image, correction = inputs
        return ops.clip(ops.add(image, correction), -1.0, 1.0)

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[1])
