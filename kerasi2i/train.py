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
import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from kerasi2i import data as kdata
from kerasi2i.callbacks import (
    LinearDecaySchedule,
    PreviewGrid,
    TrainingCheckpoint,
    latest_checkpoint,
    restore_checkpoint,
)
from kerasi2i.distribute import get_strategy
from kerasi2i.models.cyclegan import build_cyclegan
from kerasi2i.models.pix2pix import build_pix2pix, default_optimizer


def resolve_data(spec, size=None):
    """A dataset argument: a folder, or `sample:NAME` for a bundled sample task."""
    spec = str(spec)
    if spec.startswith("sample:"):
        return kdata.sample_path(spec.split(":", 1)[1], size or 64)
    return Path(spec).expanduser()


def _eval_split(path):
    """The held-out split to validate on: val if present, else test."""
    for split in ("val", "test"):
        try:
            kdata.paired_files(path, split, check=False)
            return split
        except kdata.DatasetError:
            continue
    raise kdata.DatasetError(f"'{path}' has no 'val' or 'test' split to validate on.")


def save_model_atomic(model, path):
    """`model.save(path)` through a temporary file, so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    tmp.replace(path)
    return path


# What a training run writes into its output folder (see the module docstring).
RUN_FILES = ("config.json", "history.csv", "generator.keras", "generator_AtoB.keras", "generator_BtoA.keras",
             "previews", "checkpoints", "logs")
# Settings that may change when a run is resumed; every other one must match config.json.
RESUME_MAY_CHANGE = frozenset({"output", "resume", "epochs", "epochs_decay", "jit_compile", "tensorboard",
                               "keep_best", "strategy", "on_bad", "seed"})
_FLAGS = {"learning_rate": "--lr", "jit_compile": "--jit"}


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


def config_differences(saved, now):
    """The settings that differ between a saved `config.json` and this call, as
    `["base_filters (--base-filters): 8 in the saved run, 16 now", ...]`. Options in
    `RESUME_MAY_CHANGE` and options that only one side has are not compared."""
    saved, now = _normalised(saved), _normalised(now)
    diffs = []
    for key in sorted(set(saved) & set(now) - RESUME_MAY_CHANGE):
        if saved[key] != now[key]:
            flag = _FLAGS.get(key, "--" + key.replace("_", "-"))
            diffs.append(f"{key} ({flag}): {saved[key]!r} in the saved run, {now[key]!r} now")
    return diffs


def check_output(output, resume, config):
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
        diffs = config_differences(saved, config)
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

    def __init__(self, output, ckpt_dir, config, initial_epoch):
        self.output, self.ckpt_dir, self.config = output, ckpt_dir, config
        self.epoch = initial_epoch
        self.fresh = initial_epoch == 0

    def __enter__(self):
        self.created = not self.output.exists()
        self.output.mkdir(parents=True, exist_ok=True)
        saved = self.output / "config.json"
        if self.fresh or not saved.exists():
            _write_config(self.output, self.config)
        else:  # resuming with only RESUME_MAY_CHANGE options changed: record them
            previous = json.loads(saved.read_text())
            changed = {k: v for k, v in self.config.items() if k in RESUME_MAY_CHANGE - {"output", "resume"}}
            if _normalised(previous) != _normalised({**previous, **changed}):
                _write_config(self.output, {**previous, **changed})
            self._trim_history()
        return self

    def _trim_history(self):
        """Drop history.csv rows of epochs after the checkpoint resumed from (there are
        some when a damaged newer checkpoint was passed over), so no epoch appears twice."""
        import csv

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


def train_pix2pix(
    data,
    output,
    *,
    direction="AtoB",
    image_size=256,
    load_size=None,
    preprocess="resize_and_crop",
    input_channels=3,
    output_channels=3,
    epochs=100,
    epochs_decay=100,
    batch_size=1,
    learning_rate=2e-4,
    base_filters=64,
    norm="batch",
    receptive_field=70,
    upsampling="transpose",
    gan_loss="vanilla",
    lambda_l1=100.0,
    steps_per_epoch=None,
    resume=False,
    jit_compile=False,
    tensorboard=False,
    keep_best=None,
    extra_callbacks=None,
    seed=None,
    verbose=1,
    strategy=None,
    on_bad="raise",
):
    """Train pix2pix on a paired dataset folder and return `(model, history)`.

    `epochs` at the constant learning rate, then `epochs_decay` decaying linearly to zero
    (the paper: 100 + 100 on facades). With `resume=True` the newest checkpoint in
    `<output>/checkpoints` is loaded and training continues from the epoch after it.
    `steps_per_epoch` caps an epoch (for short runs); by default an epoch is one pass.
    `keep_best="val_l1"` (or another validation metric; lower is better for l1, higher
    for psnr/ssim) ends the run with the weights of the best epoch on the validation
    split instead of the last: model selection on held-out data for small datasets.
    `strategy` ("mirrored", "multi-worker", "tpu" or a `tf.distribute.Strategy`; see
    `kerasi2i.distribute`) trains on several devices; `batch_size` is then the global
    batch, a multiple of the number of replicas, and the last partial batch is dropped.
    `on_bad="skip"` leaves unreadable images out with a warning instead of stopping.
    An output folder that holds an earlier run is refused unless `resume=True`, which
    requires the same settings (see `check_output`).
    """
    config = {k: v for k, v in locals().items() if k not in ("verbose", "extra_callbacks")}
    config["method"] = "pix2pix"
    strategy = get_strategy(strategy)
    replicas = strategy.num_replicas_in_sync
    if replicas > 1 and batch_size % replicas:
        raise ValueError(f"batch_size is the global batch and must be a multiple of the {replicas} replicas; "
                         f"got batch_size={batch_size}.")
    path = resolve_data(data, image_size)
    output, ckpt_dir = check_output(output, resume, config)
    opts = dict(direction=direction, image_size=image_size, input_channels=input_channels,
                output_channels=output_channels, preprocess=preprocess, on_bad=on_bad)
    train = kdata.load_paired(path, "train", load_size=load_size, batch_size=batch_size, seed=seed,
                              drop_remainder=replicas > 1, **opts)
    val_split = _eval_split(path)
    val = kdata.load_paired(path, val_split, batch_size=max(batch_size, 4), **opts)
    n_batches = int(train.cardinality())
    steps = min(steps_per_epoch or n_batches, n_batches)
    if steps < n_batches:
        train = train.repeat()

    if seed is not None:
        keras.utils.set_random_seed(seed)
    with strategy.scope():  # variables and optimizer state on every replica
        model = build_pix2pix(
            image_size, input_channels, output_channels, base_filters=base_filters, norm=norm,
            receptive_field=receptive_field, upsampling=upsampling,
        )
        schedule = LinearDecaySchedule(learning_rate, steps, epochs, epochs_decay)
        model.compile(
            g_optimizer=default_optimizer(schedule), d_optimizer=default_optimizer(schedule),
            gan_loss=gan_loss, lambda_l1=lambda_l1, jit_compile=jit_compile,
        )
        initial_epoch = restore_checkpoint(model, ckpt_dir) if resume else 0
    total = epochs + epochs_decay
    if verbose and resume:
        print(f"Resuming from epoch {initial_epoch} of {total} ({ckpt_dir}).")

    preview_x, preview_y = next(iter(val))
    run_folder = _RunFolder(output, ckpt_dir, config, initial_epoch)
    callbacks = [
        TrainingCheckpoint(ckpt_dir),
        PreviewGrid((np.asarray(preview_x), np.asarray(preview_y)), output / "previews"),
        keras.callbacks.CSVLogger(str(output / "history.csv"), append=initial_epoch > 0),
    ]
    if keep_best:
        mode = "min" if keep_best.endswith("l1") or keep_best.endswith("loss") else "max"
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=keep_best, mode=mode, patience=total, restore_best_weights=True, verbose=min(verbose, 1)))
    callbacks += list(extra_callbacks or [])
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(output / "logs")))
    with run_folder:
        history = model.fit(
            train, validation_data=val, epochs=total, initial_epoch=initial_epoch,
            steps_per_epoch=steps, callbacks=callbacks, verbose=verbose, shuffle=False,
        )
    save_model_atomic(model.generator, output / "generator.keras")
    if verbose:
        print(f"Saved the generator to {output / 'generator.keras'}")
    return model, history


def _cyclegan_data(data, image_size, load_size, preprocess, batch_size, seed, on_bad="raise"):
    """Train and validation datasets for CycleGAN and whether validation is paired.

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
    path = resolve_data(spec, image_size)
    opts["on_bad"] = on_bad
    train = kdata.load_unpaired(path, "train", load_size=load_size, batch_size=batch_size, seed=seed, **opts)
    if (Path(path) / "test_pairs").is_dir():
        pairs = kdata.load_paired(Path(path) / "test_pairs", training=False, batch_size=val_batch, **opts)
        return train, pairs, True
    return train, kdata.load_unpaired(path, "test", batch_size=val_batch, **opts), False


def train_cyclegan(
    data,
    output,
    *,
    image_size=256,
    load_size=None,
    preprocess="resize_and_crop",
    epochs=100,
    epochs_decay=100,
    batch_size=1,
    learning_rate=2e-4,
    generator="resnet",
    n_blocks=None,
    base_filters=64,
    norm="instance",
    receptive_field=70,
    gan_loss="lsgan",
    lambda_cycle=10.0,
    lambda_identity=0.5,
    pool_size=50,
    steps_per_epoch=None,
    resume=False,
    jit_compile=False,
    tensorboard=False,
    keep_best=None,
    extra_callbacks=None,
    seed=None,
    verbose=1,
    on_bad="raise",
):
    """Train CycleGAN on unpaired data and return `(model, history)`.

    `data` is a folder in the CycleGAN layout (`trainA/ trainB/ testA/ testB/`),
    `sample:day2night` (the bundled task) or `tfds:NAME` (`load_cycle_gan_tfds`, e.g.
    `tfds:horse2zebra`). Defaults are the reference's: resnet generators (9 blocks at
    256, 6 below), 70x70 PatchGANs, instance norm, LSGAN, lambda_A = lambda_B =
    `lambda_cycle` = 10, identity 0.5, pools of 50, batch 1, 100 + 100 epochs. If the
    folder has `test_pairs/` (aligned A | B test pairs, as the bundled day2night), the
    history also holds `val_l1_AtoB`, `val_ssim_AtoB`, `val_l1_BtoA`, `val_ssim_BtoA`
    against them; otherwise validation reports the cycle losses on `testA/`, `testB/`.

    Writes `generator_AtoB.keras` and `generator_BtoA.keras`, previews (a | G(a) |
    ground truth when paired), `history.csv` and resumable checkpoints; `resume=True`
    continues from the newest checkpoint in `<output>/checkpoints` (same settings required,
    see `check_output`). `on_bad="skip"` leaves unreadable images out with a warning.
    """
    config = {k: v for k, v in locals().items() if k not in ("verbose", "extra_callbacks")}
    config["method"] = "cyclegan"
    output, ckpt_dir = check_output(output, resume, config)
    train, val, paired = _cyclegan_data(data, image_size, load_size, preprocess, batch_size, seed, on_bad)
    n_batches = int(train.cardinality())
    steps = min(steps_per_epoch or n_batches, n_batches)
    if steps < n_batches:
        train = train.repeat()

    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = build_cyclegan(
        image_size, generator=generator, n_blocks=n_blocks, base_filters=base_filters, norm=norm,
        receptive_field=receptive_field, pool_size=pool_size, seed=seed,
    )
    schedule = LinearDecaySchedule(learning_rate, steps, epochs, epochs_decay)
    model.compile(
        g_optimizer=default_optimizer(schedule), d_optimizer=default_optimizer(schedule), gan_loss=gan_loss,
        lambda_a=lambda_cycle, lambda_b=lambda_cycle, lambda_identity=lambda_identity,
        paired_validation=paired, jit_compile=jit_compile,
    )
    initial_epoch = restore_checkpoint(model, ckpt_dir) if resume else 0
    total = epochs + epochs_decay
    if verbose and resume:
        print(f"Resuming from epoch {initial_epoch} of {total} ({ckpt_dir}).")

    preview_a, preview_b = (np.asarray(t) for t in next(iter(val)))
    run_folder = _RunFolder(output, ckpt_dir, config, initial_epoch)
    callbacks = [
        TrainingCheckpoint(ckpt_dir),
        PreviewGrid((preview_a, preview_b if paired else None), output / "previews"),
        keras.callbacks.CSVLogger(str(output / "history.csv"), append=initial_epoch > 0),
    ]
    if keep_best:
        mode = "min" if keep_best.endswith("l1") or keep_best.endswith("loss") else "max"
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=keep_best, mode=mode, patience=total, restore_best_weights=True, verbose=min(verbose, 1)))
    callbacks += list(extra_callbacks or [])
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(output / "logs")))
    with run_folder:
        history = model.fit(
            train, validation_data=val, epochs=total, initial_epoch=initial_epoch,
            steps_per_epoch=steps, callbacks=callbacks, verbose=verbose, shuffle=False,
        )
    for direction in ("AtoB", "BtoA"):
        path = save_model_atomic(getattr(model, f"generator_{direction}"), output / f"generator_{direction}.keras")
        if verbose:
            print(f"Saved the {direction} generator to {path}")
    return model, history
