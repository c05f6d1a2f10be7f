"""The base class of every trainer in ``kerasi2i.models``.

A trainer is a ``keras.Model`` that holds its networks (functional models from
``kerasi2i.networks``) and defines its own ``train_step``. What every method needs besides
its update rule lives here, once:

- ``compile`` with one or two optimizers (``OPTIMIZERS``), each wrapped for loss scaling
  under ``mixed_float16`` and built at once, so a checkpoint can be loaded before the
  first step;
- ``get_compile_config`` / ``compile_from_config``: a saved model keeps its optimizers and
  its loss weights (``COMPILE_OPTIONS``);
- ``scale_loss``: the loss an optimizer differentiates, divided by the number of replicas
  under a ``tf.distribute`` strategy (gradients are summed over replicas) and scaled for
  mixed precision;
- ``translate(x, num_samples=1)``: ``(num_samples, batch, H, W, C)`` outputs, the way the
  model is used at test time;
- ``get_config`` / ``from_config`` over the networks named in ``NETWORKS`` and the
  constructor options named in ``INIT_OPTIONS``;
- ``EXPORTS``: which networks a training run saves, and under which file names.

A new method subclasses ``TranslationModel``, sets those class attributes, writes
``__init__``, ``compile`` (calling ``_compile``) and ``train_step``; see
``docs/architecture.md`` for a worked example.
"""
import keras

from kerasi2i.training import distribute
from kerasi2i.training.optimizers import FusedAdam


def default_optimizer(learning_rate=2e-4):
    """The papers' Adam(lr=2e-4, beta_1=0.5); `learning_rate` may be a schedule. It is
    `FusedAdam`: Keras's Adam update, one fused kernel per variable (3.5x faster updates
    of the pix2pix U-Net on a 2-core CPU: `benchmarks/optimizer_update.py`)."""
    return FusedAdam(learning_rate=learning_rate, beta_1=0.5, beta_2=0.999)


def maybe_loss_scale(optimizer):
    """Wrap an optimizer for loss scaling when the global policy is mixed_float16."""
    policy = keras.mixed_precision.dtype_policy()
    if policy.name == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def check_weights(**weights):
    """Raise ValueError unless every loss weight is a number >= 0; returns them as floats."""
    for key, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"`{key}` must be a number >= 0; received {key}={value!r}")
    return {key: float(value) for key, value in weights.items()}


class TranslationModel(keras.Model):
    """Base class of the trainers (see the module docstring).

    Class attributes a subclass sets:
        NETWORKS: names of the attributes holding its networks (serialized by get_config;
            an attribute may be None).
        INIT_OPTIONS: other constructor arguments kept by get_config.
        OPTIMIZERS: names of its optimizers, the first one the one Keras reports the
            learning rate of: ("g_optimizer", "d_optimizer") for a GAN.
        COMPILE_OPTIONS: the loss options of its ``compile`` (gan_loss, lambda_*, ...),
            kept by get_compile_config so a saved model remembers them.
        EXPORTS: ``{file stem: attribute}``, the networks a training run saves as
            ``<stem>.keras``; the first is what ``kerasi2i translate`` uses.
    """

    NETWORKS = ("generator",)
    INIT_OPTIONS = ()
    OPTIMIZERS = ("g_optimizer", "d_optimizer")
    COMPILE_OPTIONS = ()
    EXPORTS = {"generator": "generator"}

    # ----- compile ----------------------------------------------------------------------
    def _compile(self, optimizers, options, **kwargs):
        """Set the optimizers and loss options; the subclass's ``compile`` calls this.

        Args:
            optimizers: ``{name: (optimizer, variables)}`` for every name in OPTIMIZERS;
                each optimizer is wrapped for mixed precision and built on its variables.
            options: the loss options (COMPILE_OPTIONS), set as attributes.
            **kwargs: ``jit_compile`` (default False), ``steps_per_execution``, ... for Keras.
        """
        kwargs.setdefault("jit_compile", False)
        if set(optimizers) != set(self.OPTIMIZERS):
            raise ValueError(f"{type(self).__name__} needs the optimizers {self.OPTIMIZERS}; got {tuple(optimizers)}.")
        wrapped = {name: maybe_loss_scale(opt) for name, (opt, _) in optimizers.items()}
        for name, optimizer in wrapped.items():
            setattr(self, name, optimizer)
        # Keras logs the learning rate of `self.optimizer`: let that be the first one's.
        super().compile(optimizer=wrapped[self.OPTIMIZERS[0]], **kwargs)
        for key, value in options.items():
            setattr(self, key, value)
        # Build optimizer state now so a checkpoint can be loaded before the first step.
        for name, (_, variables) in optimizers.items():
            wrapped[name].build(variables)

    def get_compile_config(self):
        if not self.compiled:
            return None
        serialize = keras.saving.serialize_keras_object
        config = {name: serialize(getattr(self, name)) for name in self.OPTIMIZERS}
        config.update({key: getattr(self, key) for key in self.COMPILE_OPTIONS})
        return config

    def compile_from_config(self, config):
        config = dict(config)
        for name in self.OPTIMIZERS:
            if config.get(name) is not None:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        self.compile(**config)

    def scale_loss(self, loss, optimizer):
        """The loss to differentiate for ``optimizer``: divided by the replicas of a
        distribution strategy (their gradients are summed) and scaled for mixed precision."""
        return optimizer.scale_loss(distribute.scale_loss_for_replicas(loss))

    # ----- use ----------------------------------------------------------------------------
    def translate(self, x, num_samples=1):
        """``num_samples`` translations of every input, ``(num_samples, batch, H, W, C)``,
        made as at test time. Deterministic models repeat the same output."""
        outputs = self(x, training=False)
        return keras.ops.stack([outputs] * num_samples)

    def exports(self):
        """``{file stem: network}``: what a training run saves (``<stem>.keras``)."""
        return {stem: getattr(self, attr) for stem, attr in self.EXPORTS.items()}

    # ----- serialization ------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        for name in self.NETWORKS:
            network = getattr(self, name)
            config[name] = None if network is None else keras.saving.serialize_keras_object(network)
        config.update({key: getattr(self, key) for key in self.INIT_OPTIONS})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in cls.NETWORKS:
            if config.get(name) is not None:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
