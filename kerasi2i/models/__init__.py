"""Trainers: one ``keras.Model`` with its own ``train_step`` per method.

The architectures they train live in ``kerasi2i.networks`` (re-exported here, so that
``from kerasi2i.models import unet_generator`` keeps working).
"""
from kerasi2i.models.base import TranslationModel
from kerasi2i.models.bicyclegan import BicycleGAN, build_bicyclegan
from kerasi2i.models.cyclegan import CycleGAN, ImagePool, build_cyclegan
from kerasi2i.models.pix2pix import Pix2Pix, build_pix2pix
from kerasi2i.models.regression import Regression
from kerasi2i.models.vae import VAE, build_vae
from kerasi2i.networks import (
    conditional_unet_generator,
    discriminator_for_receptive_field,
    encoder_decoder_generator,
    gaussian_encoder,
    image_decoder,
    multichannel_unet_generator,
    patch_discriminator,
    pixel_discriminator,
    receptive_field,
    resnet_generator,
    unet_generator,
)

__all__ = [
    "BicycleGAN", "CycleGAN", "ImagePool", "Pix2Pix", "Regression", "TranslationModel", "VAE", "build_bicyclegan", "build_cyclegan",
    "build_pix2pix", "build_vae", "conditional_unet_generator", "discriminator_for_receptive_field",
    "encoder_decoder_generator", "gaussian_encoder", "image_decoder", "multichannel_unet_generator",
    "patch_discriminator", "pixel_discriminator", "receptive_field", "resnet_generator", "unet_generator",
]
