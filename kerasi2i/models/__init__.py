"""Model builders and, per method, the trainable models (pix2pix, CycleGAN, ...)."""
from kerasi2i.models.cyclegan import CycleGAN, ImagePool, build_cyclegan
from kerasi2i.models.pix2pix import Pix2Pix, build_pix2pix
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
    "Pix2Pix",
    "build_cyclegan",
    "build_pix2pix",
    "discriminator_for_receptive_field",
    "patch_discriminator",
    "pixel_discriminator",
    "receptive_field",
    "resnet_generator",
    "unet_generator",
]

# Autoencoder baselines and (conditional) VAEs.
from kerasi2i.models.autoencoder import encoder_decoder_generator, multichannel_unet_generator  # noqa: E402
from kerasi2i.models.vae import (  # noqa: E402
    VAE,
    BicycleGAN,
    build_bicyclegan,
    build_vae,
    conditional_unet_generator,
    gaussian_encoder,
    image_decoder,
)

__all__ += [
    "BicycleGAN",
    "VAE",
    "build_bicyclegan",
    "build_vae",
    "conditional_unet_generator",
    "encoder_decoder_generator",
    "gaussian_encoder",
    "image_decoder",
    "multichannel_unet_generator",
]
