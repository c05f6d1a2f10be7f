"""Complete training runs with checkpoints, previews and resume; used by the CLI and demo.

An output folder holds:

    checkpoints/epoch_NNNN/   resumable state (weights, both optimizers, epoch)
    previews/epoch_NNNN.png   input | output | target grids of fixed validation images
    history.csv               one row of losses and validation metrics per epoch
    generator.keras           the final generator (what `kerasi2i translate` loads);
                              CycleGAN writes generator_AtoB.keras and generator_BtoA.keras
    config.json               the arguments of the run

A folder that holds any of these belongs to a run: training into it again is refused
unless `resume=True` (`--resume`), and resuming first compares the settings with its
`config.json` and names the options that differ. A run that fails before its first
checkpoint removes what it wrote, so the folder does not look like a run.
"""
import csv
import dataclasses
import json
import logging
import math
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from kerasi2i import data as kdata
from kerasi2i.training import precision
from kerasi2i.training.callbacks import (
    LinearDecaySchedule,
    PreviewGrid,
    TrainingCheckpoint,
    latest_checkpoint,
    restore_checkpoint,
)
from kerasi2i.training.config import TrainConfig
from kerasi2i.training.distribute import get_strategy

logger = logging.getLogger(__name__)


def save_model_atomic(model, path):
    """`model.save(path)` through a temporary file, so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    tmp.replace(path)
    return path


# What a training run writes into its output folder (see the module docstring).
RUN_FILES = ("config.json", "history.csv", "generator.keras", "generator_AtoB.keras", "generator_BtoA.keras",
             "encoder.keras", "decoder.keras", "best.weights.h5", "previews", "checkpoints", "logs")


def _run_files(output):
    """The names in RUN_FILES present in `output` (empty folders do not count)."""
    found = []
    for name in RUN_FILES:
        path = output / name
        if path.is_dir():
            if any(path.iterdir()):
                found.append(name + "/")
        elif path.exists():
            found.append(name)
    return found


def _normalised(config):
    config = json.loads(json.dumps(config, default=str))
    data = config.get("data")
    if isinstance(data, str) and not data.startswith(("sample:", "tfds:")):
        config["data"] = str(Path(data).expanduser().resolve())
    return config


def config_differences(saved, now, config_class=TrainConfig):
    """The settings that differ between a saved `config.json` and this call, as
    `["base_filters (--base-filters): 8 in the saved run, 16 now", ...]`. Options that
    may change on resume and options that only one side has are not compared."""
    saved, now = _normalised(saved), _normalised(now)
    flags = config_class.flags()
    diffs = []
    for key in sorted(set(saved) & set(now) - config_class.resume_may_change()):
        if saved[key] != now[key]:
            flag = flags.get(key, "--" + key.replace("_", "-"))
            diffs.append(f"{key} ({flag}): {saved[key]!r} in the saved run, {now[key]!r} now")
    return diffs


def check_output(output, resume, config, config_class=TrainConfig):
    """Check the output folder before anything is written; returns (output, ckpt_dir).

    Refuses (FileExistsError) a folder that holds an earlier run unless `resume`, and a
    folder with run files but no checkpoint even then. When resuming, compares `config`
    with the saved `config.json` and raises ValueError naming every option that differs;
    nothing on disk is changed.
    """
    output = Path(output)
    ckpt_dir = output / "checkpoints"
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"The output path '{output}' is a file, not a folder.")
    found = _run_files(output) if output.is_dir() else []
    has_checkpoint = latest_checkpoint(ckpt_dir) is not None
    if found and not resume:
        raise FileExistsError(
            f"'{output}' already holds an earlier run ({', '.join(found)}). Pass --resume (resume=True) "
            f"to continue it, or choose another output folder; nothing was overwritten."
        )
    if found and not has_checkpoint:
        raise FileExistsError(
            f"'{output}' holds files of an earlier run ({', '.join(found)}) but no checkpoint in '{ckpt_dir}' "
            f"to resume from. Choose another output folder; nothing was overwritten."
        )
    saved_path = output / "config.json"
    if resume and has_checkpoint and saved_path.is_file():
        try:
            saved = json.loads(saved_path.read_text())
        except ValueError as err:
            raise ValueError(f"Cannot resume: '{saved_path}' is not valid JSON ({err}).") from None
        diffs = config_differences(saved, config, config_class)
        if diffs:
            raise ValueError(
                f"Cannot resume the run in '{output}' with different settings: " + "; ".join(diffs)
                + f". Pass the saved values (see '{saved_path}', which was not changed), or train into another "
                "output folder."
            )
    return output, ckpt_dir


def _write_config(output, config):
    tmp = output / "config.json.tmp"
    tmp.write_text(json.dumps(config, indent=1, default=str))
    os.replace(tmp, output / "config.json")


class _RunFolder:
    """Create the output folder and write config.json just before training; if training
    fails before the first checkpoint, remove what this run wrote so that the folder does
    not look like a run (an earlier run's files are never touched: `check_output` has
    refused to train over them)."""

    def __init__(self, output, ckpt_dir, config, initial_epoch, config_class=TrainConfig):
        self.output, self.ckpt_dir, self.config = output, ckpt_dir, config
        self.may_change = config_class.resume_may_change() - {"output", "resume"}
        self.epoch = initial_epoch
        self.fresh = initial_epoch == 0

    def __enter__(self):
        self.created = not self.output.exists()
        self.output.mkdir(parents=True, exist_ok=True)
        saved = self.output / "config.json"
        if self.fresh or not saved.exists():
            _write_config(self.output, self.config)
        else:  # resuming with only resume_may_change options changed: record them
            previous = json.loads(saved.read_text())
            changed = {k: v for k, v in self.config.items() if k in self.may_change}
            if _normalised(previous) != _normalised({**previous, **changed}):
                _write_config(self.output, {**previous, **changed})
            self._trim_history()
        return self

    def _trim_history(self):
        """Drop history.csv rows of epochs after the checkpoint resumed from (there are
        some when a damaged newer checkpoint was passed over), so no epoch appears twice."""
        history = self.output / "history.csv"
        if not history.is_file():
            return
        with open(history, newline="") as f:
            rows = list(csv.reader(f))
        if not rows or "epoch" not in rows[0]:
            return
        col = rows[0].index("epoch")
        keep = [rows[0]] + [r for r in rows[1:] if len(r) > col and r[col].isdigit() and int(r[col]) < self.epoch]
        if len(keep) < len(rows):
            with open(history, "w", newline="") as f:
                csv.writer(f).writerows(keep)

    def __exit__(self, kind, value, tb):
        if kind is None or not self.fresh or latest_checkpoint(self.ckpt_dir) is not None:
            return False
        for name in RUN_FILES:
            path = self.output / name
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        (self.output / "config.json.tmp").unlink(missing_ok=True)
        if self.created and not any(self.output.iterdir()):
            self.output.rmdir()
        return False




# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------
def _eval_split(path):
    """The held-out split to validate on: val if present, else test."""
    for split in ("val", "test"):
        try:
            kdata.paired_files(path, split, check=False)
            return split
        except kdata.DatasetError:
            continue
    raise kdata.DatasetError(f"'{path}' has no 'val' or 'test' split to validate on.")


def _cyclegan_data(data, image_size, load_size, preprocess, batch_size, seed, on_bad="raise"):
    """Train and validation datasets for unpaired training and whether validation is paired.

    `data`: a CycleGAN-layout folder, `sample:NAME` or `tfds:NAME`. Validation uses the
    folder's `test_pairs/` (aligned A | B pairs: paired scores) when it has one, else the
    unpaired test split (cycle losses only).
    """
    opts = dict(image_size=image_size, preprocess=preprocess)
    val_batch = max(batch_size, 4)
    spec = str(data)
    if spec.startswith("tfds:"):
        name = spec.split(":", 1)[1]
        train = kdata.load_cycle_gan_tfds(name, "train", load_size=load_size, batch_size=batch_size, seed=seed,
                                          **opts)
        val = kdata.load_cycle_gan_tfds(name, "test", batch_size=val_batch, **opts)
        return train, val, False
    path = kdata.resolve_data(spec, image_size)
    opts["on_bad"] = on_bad
    train = kdata.load_unpaired(path, "train", load_size=load_size, batch_size=batch_size, seed=seed, **opts)
    if (Path(path) / "test_pairs").is_dir():
        pairs = kdata.load_paired(Path(path) / "test_pairs", training=False, batch_size=val_batch, **opts)
        return train, pairs, True
    return train, kdata.load_unpaired(path, "test", batch_size=val_batch, **opts), False


def load_training_data(config, replicas=1):
    """``(train, val, paired_validation)`` datasets for a config, by its ``DATA`` kind:
    aligned pairs, unpaired domains (validated on ``test_pairs/`` when the folder has
    them), or the target images alone (``(y, y)`` batches)."""
    if config.DATA == "unpaired":
        return _cyclegan_data(config.data, config.image_size, config.load_size, config.preprocess,
                              config.batch_size, config.seed, config.on_bad)
    path = kdata.resolve_data(config.data, config.image_size)
    opts = dict(direction=config.direction, image_size=config.image_size, input_channels=config.input_channels,
                output_channels=config.output_channels, preprocess=config.preprocess, on_bad=config.on_bad)
    train = kdata.load_paired(path, "train", load_size=config.load_size, batch_size=config.batch_size,
                              seed=config.seed, drop_remainder=replicas > 1, **opts)
    val = kdata.load_paired(path, _eval_split(path), batch_size=max(config.batch_size, 4), **opts)
    if config.DATA == "images":
        train, val = (ds.map(lambda x, y: (y, y)) for ds in (train, val))
    return train, val, True


# --------------------------------------------------------------------------------------
# The training entry point
# --------------------------------------------------------------------------------------
def make_config(model, **options):
    """The config of registered method `model` (a name such as "pix2pix") with `options`
    (its fields: `kerasi2i.models.registry.get(model)` lists them); an unknown option is
    a ValueError that names the valid ones."""
    from kerasi2i.models import registry

    return registry.get(model).from_dict(options)


def _best_so_far(history_path, monitor, mode):
    """The best value of `monitor` in an earlier history.csv (for --keep-best on resume)."""
    if not history_path.is_file():
        return None
    with open(history_path, newline="") as f:
        values = [float(row[monitor]) for row in csv.DictReader(f) if row.get(monitor) not in (None, "")]
    values = [v for v in values if math.isfinite(v)]
    return (min(values) if mode == "min" else max(values)) if values else None


def _save_exports(model, output):
    paths = []
    for stem, network in model.exports().items():
        if network is not None:
            # float32 copies: a network trained in mixed precision saves as one that runs anywhere.
            paths.append(save_model_atomic(precision.as_float32(network), output / f"{stem}.keras"))
    return paths


def train(model, data=None, output=None, *, verbose=1, extra_callbacks=None, **options):
    """Train a registered method and return `(model, history)`. The one training entry
    point: the CLI, the demo, the comparison study and the notebooks all call it.

    Args:
        model: a registered name ("pix2pix", "cyclegan", "bicyclegan", "regression",
            "vae"; see `kerasi2i.models.registry`), or a config instance
            (`Pix2PixConfig(...)`, `TrainConfig.from_dict(...)`).
        data: a dataset folder in one of the real layouts, `sample:NAME` for a bundled
            task, or (unpaired) `tfds:NAME`.
        output: the run folder (see the module docstring).
        verbose: Keras' progress bar (1), one line per epoch (2) or nothing (0).
        extra_callbacks: more Keras callbacks.
        **options: the method's options (its config fields), e.g. `image_size=128,
            epochs=3, lambda_l1=100`.

    `epochs` run at the constant learning rate, then `epochs_decay` decaying linearly to
    zero. `resume=True` loads the newest checkpoint in `<output>/checkpoints` and goes on
    from the epoch after it (the settings must match the saved `config.json`).
    `keep_best="val_l1"` ends the run with the weights of the best validation epoch (a
    `ModelCheckpoint(save_best_only=True)` into `best.weights.h5`). `strategy` trains on
    several devices, `batch_size` then being the global batch. The networks in the model's
    `EXPORTS` are saved as `<name>.keras` at the end.
    """
    if isinstance(model, TrainConfig):
        overrides = {k: v for k, v in (("data", data), ("output", output)) if v is not None}
        overrides.update(options)
        config = dataclasses.replace(model, **overrides) if overrides else model
    else:
        config = make_config(model, data=data, output=output, **options)
    if config.data is None or config.output is None:
        raise ValueError("train() needs `data` (a dataset folder or sample:NAME) and `output` (the run folder).")
    policy, reason = precision.training_policy(config)
    logger.info("Precision: %s [%s].", precision.describe_policy(policy), reason)
    previous_policy = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        return _run(config, verbose, extra_callbacks)
    finally:
        keras.mixed_precision.set_dtype_policy(previous_policy)


def _run(config, verbose, extra_callbacks):
    record = config.to_dict()
    config_class = type(config)
    strategy = get_strategy(config.strategy)
    replicas = strategy.num_replicas_in_sync
    if replicas > 1 and config.batch_size % replicas:
        raise ValueError(f"batch_size is the global batch and must be a multiple of the {replicas} replicas; "
                         f"got batch_size={config.batch_size}.")
    output, ckpt_dir = check_output(config.output, config.resume, record, config_class)
    train_ds, val_ds, paired_val = load_training_data(config, replicas)
    n_batches = int(train_ds.cardinality())
    steps = min(config.steps_per_epoch or n_batches, n_batches)
    if steps < n_batches:
        train_ds = train_ds.repeat()

    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    with strategy.scope():  # variables and optimizer state on every replica
        model = config.build()
        schedule = LinearDecaySchedule(config.learning_rate, steps, config.epochs, config.epochs_decay)
        compile_options = config.compile_options()
        if config.DATA == "unpaired":
            compile_options["paired_validation"] = paired_val
        model.compile(**{name: config.optimizer(schedule) for name in model.OPTIMIZERS},
                      jit_compile=config.jit_compile, **compile_options)
        initial_epoch = restore_checkpoint(model, ckpt_dir) if config.resume else 0
    total = config.epochs + config.epochs_decay
    if config.resume:
        logger.info("Resuming from epoch %d of %d (%s).", initial_epoch, total, ckpt_dir)

    preview_x, preview_y = (np.asarray(t) for t in next(iter(val_ds)))
    run_folder = _RunFolder(output, ckpt_dir, record, initial_epoch, config_class)
    callbacks = [
        TrainingCheckpoint(ckpt_dir),
        PreviewGrid((preview_x, preview_y if paired_val else None), output / "previews"),
        keras.callbacks.CSVLogger(str(output / "history.csv"), append=initial_epoch > 0),
    ]
    best = None
    if config.keep_best:
        mode = "min" if config.keep_best.endswith(("l1", "loss")) else "max"
        best = output / "best.weights.h5"
        threshold = _best_so_far(output / "history.csv", config.keep_best, mode) if initial_epoch else None
        if not initial_epoch:
            best.unlink(missing_ok=True)
        callbacks.append(keras.callbacks.ModelCheckpoint(
            str(best), monitor=config.keep_best, mode=mode, save_best_only=True, save_weights_only=True,
            initial_value_threshold=threshold, verbose=min(verbose, 1)))
    callbacks += list(extra_callbacks or [])
    if config.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(output / "logs")))
    with run_folder:
        history = model.fit(
            train_ds, validation_data=val_ds, epochs=total, initial_epoch=initial_epoch,
            steps_per_epoch=steps, callbacks=callbacks, verbose=verbose, shuffle=False,
        )
    if best is not None and best.exists():
        model.load_weights(best)
        logger.info("Restored the weights of the best epoch by %s (%s).", config.keep_best, best)
    for path in _save_exports(model, output):
        logger.info("Saved %s", path)
    return model, history


def train_pix2pix(data, output, **options):
    """`train("pix2pix", data, output, **options)`: pix2pix on a paired dataset (options:
    `kerasi2i.models.pix2pix.Pix2PixConfig`). Returns `(model, history)`."""
    return train("pix2pix", data, output, **options)


def train_cyclegan(data, output, **options):
    """`train("cyclegan", data, output, **options)`: CycleGAN on unpaired data (options:
    `kerasi2i.models.cyclegan.CycleGANConfig`). Returns `(model, history)`."""
    return train("cyclegan", data, output, **options)
