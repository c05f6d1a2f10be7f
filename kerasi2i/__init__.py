"""kerasi2i: image-to-image translation in Keras 3.

pix2pix (paired, conditional GAN), CycleGAN (unpaired), autoencoder baselines and
(conditional) VAEs, with a tf.data pipeline for the real dataset layouts, metrics,
a CLI and teaching notebooks. See README.md.
"""
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

# The training models, their builders and the training entry point, importable from the
# top level (`kerasi2i.CycleGAN`, `kerasi2i.build_pix2pix`, `kerasi2i.train`, ...). Loaded on first use, so that
# `import kerasi2i` (and the CLI's --help) stays fast.
_LAZY = {
    "Pix2Pix": "kerasi2i.models.pix2pix",
    "build_pix2pix": "kerasi2i.models.pix2pix",
    "CycleGAN": "kerasi2i.models.cyclegan",
    "build_cyclegan": "kerasi2i.models.cyclegan",
    "VAE": "kerasi2i.models.vae",
    "build_vae": "kerasi2i.models.vae",
    "BicycleGAN": "kerasi2i.models.bicyclegan",
    "build_bicyclegan": "kerasi2i.models.bicyclegan",
    "Regression": "kerasi2i.models.regression",
    "train": "kerasi2i.training",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kerasi2i' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
