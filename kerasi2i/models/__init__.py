"""Model builders and, per method, the trainable models (pix2pix, CycleGAN, ...)."""
from kerasi2i.models.cyclegan import CycleGAN, ImagePool, build_cyclegan
from kerasi2i.models.networks import (
    discriminator_for_receptive_field,
    patch_discriminator,
    pixel_discriminator,
    receptive_field,
    resnet_generator,
    unet_generator,
)

__all__ = [
    "CycleGAN",
    "ImagePool",
    "build_cyclegan",
    "discriminator_for_receptive_field",
    "patch_discriminator",
    "pixel_discriminator",
    "receptive_field",
    "resnet_generator",
    "unet_generator",
]
