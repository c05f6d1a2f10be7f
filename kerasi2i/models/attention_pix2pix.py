"""pix2pix with an attention U-Net generator: docs/architecture.md's worked example of
adding a model (one file here plus one line in ``registry.BUILTIN``).

The trainer is pix2pix's own (same objective, same update); only the generator differs:
``kerasi2i.networks.attention.attention_unet_generator``, the U-Net with an additive
attention gate on every skip connection. Not a configuration from the pix2pix paper.

    kerasi2i train attention_pix2pix --data sample:facades --direction BtoA --image-size 64 ...
"""
import dataclasses

from kerasi2i.models.pix2pix import Pix2Pix, Pix2PixConfig, build_pix2pix
from kerasi2i.networks.attention import attention_unet_generator


@dataclasses.dataclass
class AttentionPix2PixConfig(Pix2PixConfig):
    """pix2pix's options, with an attention U-Net as the generator."""

    MODEL = "attention_pix2pix"
    TRAINER = Pix2Pix
    SUMMARY = "pix2pix with attention gates on the U-Net's skips (the architecture guide's example)"

    def build(self):
        generator = attention_unet_generator(
            (self.image_size, self.image_size, self.input_channels), self.output_channels,
            base_filters=self.base_filters, norm=self.norm, upsampling=self.upsampling)
        return build_pix2pix(self.image_size, self.input_channels, self.output_channels,
                             base_filters=self.base_filters, norm=self.norm, receptive_field=self.receptive_field,
                             test_mode=self.test_mode, generator=generator)
