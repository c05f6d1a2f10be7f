"""Training options, declared once.

Every option of a training run is a field of a dataclass, with its default and its help
text. ``TrainConfig`` holds what every method shares (data, sizes, epochs, learning rate,
checkpoints, devices); each method's config in ``kerasi2i.models`` subclasses it, adds its
own fields (architecture and loss weights) and says how to build and compile its model:

    @dataclass
    class Pix2PixConfig(TrainConfig):
        MODEL = "pix2pix"          # the registry name (kerasi2i.models.registry)
        DATA = "paired"            # "paired", "unpaired" or "images"
        lambda_l1: float = option(100.0, "weight of the L1 term")
        def build(self): ...       # -> the TranslationModel
        def compile_options(self): ...   # -> the loss options of model.compile

The CLI's ``kerasi2i train <model>`` options are generated from these fields
(``add_arguments``), ``kerasi2i.training.train`` takes them as keyword arguments, and a
run's ``config.json`` is ``to_dict()``: ``kerasi2i train --config RUN/config.json`` reloads
it (``from_dict``).
"""
import dataclasses
import json
import typing
from pathlib import Path

from kerasi2i.data.preprocess import PREPROCESS_MODES
from kerasi2i.training.precision import PRECISIONS

STRATEGIES = ("default", "mirrored", "multi-worker", "tpu")
ON_BAD = ("raise", "skip")
DATA_KINDS = ("paired", "unpaired", "images")


def option(default, help, *, choices=None, flag=None, metavar=None, resume_may_change=False, required=False):
    """A config field: its default, help text, allowed values, CLI flag (default
    ``--name-with-dashes``), and whether it may differ when a run is resumed."""
    return dataclasses.field(default=default, metadata=dict(
        help=help, choices=choices, flag=flag, metavar=metavar, resume_may_change=resume_may_change,
        required=required))


@dataclasses.dataclass
class TrainConfig:
    """The options every training run shares. Subclasses (one per method) add theirs."""

    MODEL: typing.ClassVar[str] = None
    TRAINER: typing.ClassVar[type] = None  # the TranslationModel subclass build() returns
    DATA: typing.ClassVar[str] = "paired"
    SUMMARY: typing.ClassVar[str] = ""
    KEEP_BEST_DEFAULT: typing.ClassVar[str] = "val_l1"  # a metric --keep-best may name (shown in help)

    data: str = option(None, "dataset folder, or sample:NAME for a bundled sample task", required=True)
    output: str = option(None, "folder for checkpoints, previews, history.csv, config.json and the saved networks",
                         required=True, resume_may_change=True)
    image_size: int = option(256, "height and width of the training images, in pixels")
    load_size: typing.Optional[int] = option(None, "size before the random crop (default: image_size * 286 / 256)")
    preprocess: str = option("resize_and_crop", "how images are resized and cropped (kerasi2i.data.preprocess)",
                             choices=PREPROCESS_MODES)
    epochs: int = option(100, "epochs at the initial learning rate", resume_may_change=True)
    epochs_decay: int = option(100, "epochs of linear decay of the learning rate to zero", resume_may_change=True)
    batch_size: int = option(1, "images per step (the global batch under a distribution strategy)")
    learning_rate: float = option(2e-4, "initial learning rate of every optimizer", flag="--lr")
    steps_per_epoch: typing.Optional[int] = option(None, "cap on the steps of an epoch (default: one pass)")
    seed: typing.Optional[int] = option(None, "random seed of the weights, shuffling and jitter",
                                        resume_may_change=True)
    keep_best: typing.Optional[str] = option(
        None, "end with the weights of the best epoch on validation by this metric (lower is better for "
        "names ending in l1 or loss), e.g. val_l1", metavar="METRIC", resume_may_change=True)
    jit_compile: bool = option(False, "compile the train step with XLA", flag="--jit", resume_may_change=True)
    precision: str = option("auto", "numeric precision: auto = mixed_bfloat16 for pix2pix on CPUs with native "
                            "bfloat16 (measured 1.3-1.5x faster, same quality), float32 otherwise "
                            "(kerasi2i.training.precision)", choices=PRECISIONS, resume_may_change=True)
    mixed_precision: bool = option(False, "train in mixed_float16 (GPUs); the same as --precision mixed_float16",
                                   resume_may_change=True)
    strategy: str = option("default", "tf.distribute strategy: mirrored = all local GPUs (kerasi2i.training."
                           "distribute)", choices=STRATEGIES, resume_may_change=True)
    tensorboard: bool = option(False, "write TensorBoard logs to OUTPUT/logs", resume_may_change=True)
    on_bad: str = option("raise", "an unreadable image: stop with its name (raise) or leave it out with a warning "
                         "(skip)", choices=ON_BAD, resume_may_change=True)
    resume: bool = option(False, "continue from the newest checkpoint in --output (the other settings must match "
                          "its config.json)", resume_may_change=True)

    # ----- what a method defines -------------------------------------------------------
    def build(self):
        """The untrained ``TranslationModel`` these options describe."""
        raise NotImplementedError(f"{type(self).__name__} must define build()")

    def compile_options(self):
        """The loss options passed to the model's ``compile`` (loss type and weights)."""
        return {}

    def optimizer(self, learning_rate):
        """One optimizer (called once per name in the model's OPTIMIZERS); `learning_rate`
        is the schedule. Default: the papers' Adam(beta_1=0.5)."""
        from kerasi2i.models.base import default_optimizer

        return default_optimizer(learning_rate)

    # ----- checks, dicts and files -----------------------------------------------------
    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            choices = f.metadata.get("choices")
            if choices is not None and isinstance(value, (str, int, float)) and value not in choices:
                raise ValueError(f"{f.name} ({flag_of(f)}) must be one of {tuple(choices)}; got {value!r}.")
        for name in ("image_size", "epochs", "epochs_decay", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name in (
                    "image_size", "batch_size") else 0):
                raise ValueError(f"{name} must be a whole number >= {1 if name in ('image_size', 'batch_size') else 0};"
                                 f" got {value!r}.")

    def to_dict(self):
        """The run's settings as ``config.json`` stores them (``method`` names the model)."""
        record = {"method": self.MODEL}
        record.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        record["data"] = None if self.data is None else str(self.data)
        record["output"] = None if self.output is None else str(self.output)
        return record

    @classmethod
    def from_dict(cls, record, **overrides):
        """A config from a ``config.json`` dict; keys this config does not know are an error
        (they would be silently dropped otherwise)."""
        record = {k: v for k, v in dict(record).items() if k != "method"}
        record.update(overrides)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(record) - known)
        if unknown:
            raise ValueError(f"{cls.MODEL} has no option(s) {', '.join(unknown)}; its options are: "
                             f"{', '.join(sorted(known))}.")
        return cls(**record)

    @classmethod
    def resume_may_change(cls):
        """The options that may differ between a run and its resumption."""
        return frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get("resume_may_change"))

    @classmethod
    def flags(cls):
        """``{option: CLI flag}`` for every option."""
        return {f.name: flag_of(f) for f in dataclasses.fields(cls)}


def flag_of(field):
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def _value_type(field):
    """The scalar type of a field (int, float, str, bool), Optional unwrapped."""
    kind = field.type
    if typing.get_origin(kind) is typing.Union:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


def add_arguments(parser, config_class, suppress_defaults=False):
    """Add one argparse option per field of `config_class`, with its help text, choices and
    default; `suppress_defaults=True` leaves options that were not given out of the result
    (used to find which options a user passed on top of a ``--config`` file)."""
    import argparse

    for f in dataclasses.fields(config_class):
        kind = _value_type(f)
        meta = f.metadata
        kwargs = {"help": meta.get("help", ""), "dest": f.name}
        if suppress_defaults:
            kwargs["default"] = argparse.SUPPRESS
        else:
            kwargs["default"] = f.default
            if meta.get("required"):
                kwargs["help"] += " (required unless --config is given)"
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction if f.default else "store_true"
        else:
            kwargs["type"] = kind
            if meta.get("choices") is not None:
                kwargs["choices"] = list(meta["choices"])
            if meta.get("metavar"):
                kwargs["metavar"] = meta["metavar"]
        parser.add_argument(flag_of(f), **kwargs)


def read_run_config(folder):
    """The ``config.json`` of a training output folder as a dict, or None if it has none
    (or it is not valid JSON)."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


@dataclasses.dataclass
class PairedConfig(TrainConfig):
    """Options of methods trained on aligned (input, target) pairs."""

    direction: str = option("AtoB", "which side of a pair is the input: AtoB (left -> right) or BtoA",
                            choices=("AtoB", "BtoA"))
    input_channels: int = option(3, "channels of the input images", choices=(1, 3))
    output_channels: int = option(3, "channels of the output images", choices=(1, 3))
