"""Complete training runs with checkpoints, previews and resume; used by the CLI and demo.

An output folder holds:

    checkpoints/epoch_NNNN/   resumable state (weights, both optimizers, epoch)
    previews/epoch_NNNN.png   input | output | target grids of fixed validation images
    history.csv               one row of losses and validation metrics per epoch
    generator.keras           the final generator (what `kerasi2i translate` loads)
    config.json               the arguments of the run
"""
import json
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


def prepare_output(output, resume, config):
    """Create the output folder; refuse to overwrite an earlier run unless resuming."""
    output = Path(output)
    ckpt_dir = output / "checkpoints"
    if latest_checkpoint(ckpt_dir) is not None and not resume:
        raise FileExistsError(
            f"'{output}' already holds checkpoints of an earlier run. Pass --resume (resume=True) "
            f"to continue it, or choose another output folder; nothing was overwritten."
        )
    output.mkdir(parents=True, exist_ok=True)
    (output / "config.json").write_text(json.dumps(config, indent=1, default=str))
    return output, ckpt_dir


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
    extra_callbacks=None,
    seed=None,
    verbose=1,
):
    """Train pix2pix on a paired dataset folder and return `(model, history)`.

    `epochs` at the constant learning rate, then `epochs_decay` decaying linearly to zero
    (the paper: 100 + 100 on facades). With `resume=True` the newest checkpoint in
    `<output>/checkpoints` is loaded and training continues from the epoch after it.
    `steps_per_epoch` caps an epoch (for short runs); by default an epoch is one pass.
    """
    config = {k: v for k, v in locals().items() if k not in ("verbose", "extra_callbacks")}
    config["method"] = "pix2pix"
    path = resolve_data(data, image_size)
    output, ckpt_dir = prepare_output(output, resume, config)
    opts = dict(direction=direction, image_size=image_size, input_channels=input_channels,
                output_channels=output_channels, preprocess=preprocess)
    train = kdata.load_paired(path, "train", load_size=load_size, batch_size=batch_size, seed=seed, **opts)
    val_split = _eval_split(path)
    val = kdata.load_paired(path, val_split, batch_size=max(batch_size, 4), **opts)
    n_batches = int(train.cardinality())
    steps = min(steps_per_epoch or n_batches, n_batches)
    if steps < n_batches:
        train = train.repeat()

    if seed is not None:
        keras.utils.set_random_seed(seed)
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
    callbacks = [
        TrainingCheckpoint(ckpt_dir),
        PreviewGrid((np.asarray(preview_x), np.asarray(preview_y)), output / "previews"),
        keras.callbacks.CSVLogger(str(output / "history.csv"), append=initial_epoch > 0),
    ]
    callbacks += list(extra_callbacks or [])
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(output / "logs")))
    history = model.fit(
        train, validation_data=val, epochs=total, initial_epoch=initial_epoch,
        steps_per_epoch=steps, callbacks=callbacks, verbose=verbose,
    )
    save_model_atomic(model.generator, output / "generator.keras")
    if verbose:
        print(f"Saved the generator to {output / 'generator.keras'}")
    return model, history
