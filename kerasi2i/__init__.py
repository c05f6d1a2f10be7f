"""kerasi2i: image-to-image translation in Keras 3.

pix2pix (paired, conditional GAN), CycleGAN (unpaired), autoencoder baselines and
(conditional) VAEs, with a tf.data pipeline for the real dataset layouts, metrics,
a CLI and teaching notebooks. See README.md.
"""
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
