"""Training runs: the one training entry point (``train``), the options (``config``),
callbacks and checkpoints (``callbacks``) and distribution (``distribute``).

    from kerasi2i.training import train
    model, history = train("pix2pix", "sample:facades", "runs/facades", image_size=128, epochs=5,
                           direction="BtoA")
"""
from kerasi2i.training.trainer import load_training_data, make_config, train, train_cyclegan, train_pix2pix

__all__ = ["load_training_data", "make_config", "train", "train_cyclegan", "train_pix2pix"]
