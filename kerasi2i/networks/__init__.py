"""Architectures only: functional builders that return ``keras.Model``\\ s.

Nothing here knows about losses, optimizers or data; the trainers in ``kerasi2i.models``
combine these networks. Parameter counts and initialisation follow the reference
implementations named in each module (tests/test_networks.py asserts them).

- ``unet``: ``unet_generator`` (pix2pix), ``encoder_decoder_generator`` (the same without
  skips), ``multichannel_unet_generator``, ``conditional_unet_generator`` (BicycleGAN).
- ``resnet``: ``resnet_generator`` (CycleGAN).
- ``discriminators``: ``patch_discriminator`` (PatchGAN), ``pixel_discriminator``
  (PixelGAN), ``discriminator_for_receptive_field``, ``receptive_field``,
  ``multiscale_discriminator`` (BicycleGAN's two-scale PatchGAN).
- ``attention``: ``attention_unet_generator`` (the U-Net with attention gates on its
  skips; the architecture guide's worked example).
- ``encoders``: ``gaussian_encoder``, ``resnet_encoder`` (BicycleGAN's E_ResNet) and
  ``image_decoder`` (VAE, BicycleGAN).
- ``layers``: ``ReflectionPadding2D``, ``ExcludePadAveragePooling2D``, ``ResidualImage``; ``blocks``: the shared convolution, normalization
  and argument-checking helpers.
"""
from kerasi2i.networks.attention import attention_gate, attention_unet_generator
from kerasi2i.networks.blocks import (
    DROPOUT_PLACEMENTS,
    IMAGE_CHANNELS,
    NORMS,
    UPSAMPLINGS,
)
from kerasi2i.networks.discriminators import (
    RECEPTIVE_FIELDS,
    discriminator_for_receptive_field,
    multiscale_discriminator,
    patch_discriminator,
    pixel_discriminator,
    receptive_field,
)
from kerasi2i.networks.encoders import (
    POOLINGS,
    gaussian_encoder,
    image_decoder,
    resnet_encoder,
)
from kerasi2i.networks.layers import ExcludePadAveragePooling2D, ReflectionPadding2D, ResidualImage
from kerasi2i.networks.resnet import resnet_generator
from kerasi2i.networks.unet import (
    conditional_unet_generator,
    encoder_decoder_generator,
    multichannel_unet_generator,
    unet_generator,
)

__all__ = [
    "DROPOUT_PLACEMENTS", "IMAGE_CHANNELS", "NORMS", "POOLINGS", "UPSAMPLINGS", "ExcludePadAveragePooling2D", "RECEPTIVE_FIELDS", "ReflectionPadding2D", "ResidualImage",
    "attention_gate", "attention_unet_generator", "conditional_unet_generator", "discriminator_for_receptive_field", "encoder_decoder_generator",
    "gaussian_encoder", "image_decoder", "multichannel_unet_generator", "multiscale_discriminator", "patch_discriminator",
    "pixel_discriminator", "receptive_field", "resnet_encoder", "resnet_generator", "unet_generator",
]
