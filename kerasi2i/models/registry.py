"""The registry of trainable methods: a name -> its config class.

A config class (a ``kerasi2i.training.config.TrainConfig`` subclass, defined next to its
model) carries everything the training entry point needs to know about a method: its
options with defaults and help, ``build()`` (the model), ``compile_options()`` (its loss
weights) and ``DATA``, whether it trains on ``"paired"`` data, ``"unpaired"`` domains or
``"images"`` alone. The CLI makes one ``kerasi2i train NAME`` command per entry.

The built-in methods are imported on first use. A new one is one file in
``kerasi2i/models/`` plus one line in ``BUILTIN`` below, or, from outside the package,
``register(MyConfig)``.
"""
import importlib

BUILTIN = {
    "pix2pix": "kerasi2i.models.pix2pix:Pix2PixConfig",
    "cyclegan": "kerasi2i.models.cyclegan:CycleGANConfig",
    "bicyclegan": "kerasi2i.models.bicyclegan:BicycleGANConfig",
    "regression": "kerasi2i.models.regression:RegressionConfig",
    "vae": "kerasi2i.models.vae:VAEConfig",
    "attention_pix2pix": "kerasi2i.models.attention_pix2pix:AttentionPix2PixConfig",
}
_REGISTERED = {}


def register(config_class):
    """Add a method: ``config_class.MODEL`` becomes a name for ``train`` and the CLI.
    Usable as a class decorator."""
    name = getattr(config_class, "MODEL", None)
    if not name or not isinstance(name, str):
        raise ValueError(f"{config_class.__name__} must set MODEL, the name to register it under.")
    _REGISTERED[name] = config_class
    return config_class


def names():
    """Every registered method name."""
    return list(BUILTIN) + [n for n in _REGISTERED if n not in BUILTIN]


def get(name):
    """The config class registered as ``name``; an unknown name is a ValueError that
    lists the known ones."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in BUILTIN:
        raise ValueError(f"Unknown model {name!r}; the registered models are: {', '.join(names())}.")
    module, attr = BUILTIN[name].split(":")
    config_class = getattr(importlib.import_module(module), attr)
    _REGISTERED[name] = config_class
    return config_class
