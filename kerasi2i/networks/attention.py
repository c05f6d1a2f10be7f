"""An attention U-Net: the pix2pix U-Net with additive attention gates on its skips
(Oktay et al., "Attention U-Net: learning where to look for the pancreas", MIDL 2018).

This is the architecture of docs/architecture.md's worked example of adding a model; it
is not a configuration of any pix2pix paper. Each skip connection ``x`` is weighted, pixel
by pixel, by a gate computed from ``x`` and the decoder features ``g`` it is concatenated
with:

    alpha = sigmoid(psi(relu(W_x x + W_g g)))        x_gated = alpha * x

with 1x1 convolutions ``W_x`` (no bias), ``W_g`` and ``psi`` (to one channel). The paper
takes ``g`` one level coarser and resamples; here ``g`` is the decoder output already at
the skip's size (a common simplification), so no resampling is needed.
"""
from keras import layers

from kerasi2i.networks.blocks import conv2d
from kerasi2i.networks.unet import unet_generator


def attention_gate(skip, gating, name, inter_channels=None):
    """``skip`` weighted by an additive attention gate computed from ``skip`` and
    ``gating`` (same height and width). ``inter_channels``: channels of the gate's hidden
    layer (default: half the skip's, at least 1)."""
    channels = int(skip.shape[-1])
    inter = inter_channels or max(1, channels // 2)
    theta = conv2d(inter, 1, use_bias=False, name=f"{name}_x")(skip)
    phi = conv2d(inter, 1, name=f"{name}_g")(gating)
    hidden = layers.ReLU(name=f"{name}_relu")(layers.Add(name=f"{name}_add")([theta, phi]))
    alpha = layers.Activation("sigmoid", name=f"{name}_alpha")(conv2d(1, 1, name=f"{name}_psi")(hidden))
    return layers.Multiply(name=f"{name}_apply")([skip, alpha])


def attention_unet_generator(input_shape=(256, 256, 3), output_channels=3, name="attention_unet_generator",
                             **kwargs):
    """``unet_generator`` with an ``attention_gate`` on every skip connection; other
    arguments as ``unet_generator``'s."""
    return unet_generator(input_shape, output_channels, name=name, skip_gate=attention_gate, **kwargs)
