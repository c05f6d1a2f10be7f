"""Training helpers shared by every model: the reference LR schedule, preview grids,
checkpoints that a killed run resumes from, and a step timer."""
import json
import logging
import os
import shutil
import time
import warnings
from pathlib import Path

import keras
import numpy as np
from keras import ops

from kerasi2i.imaging import save_grid

logger = logging.getLogger(__name__)


@keras.saving.register_keras_serializable(package="kerasi2i")
class LinearDecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Constant for `n_epochs`, then linear decay towards zero over `n_epochs_decay`.

    The reference implementation's ``--lr_policy linear`` (pix2pix and CycleGAN):
    ``LambdaLR`` with ``1 - max(0, epoch + epoch_count - n_epochs) / (n_epochs_decay + 1)``
    (``epoch_count`` = 1), stepped once per epoch. Where in the epoch it is stepped
    decides the rates, and the reference changed it (upstream issue #1100):

    - ``update_at="epoch_end"`` (the default; the reference's ``train.py`` until 2020, and
      PyTorch's documented order): in epoch e (0-based) the rate is
      ``initial * (1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1))``: exactly
      `n_epochs` epochs at the initial rate, then `n_epochs_decay` epochs falling to
      ``initial / (n_epochs_decay + 1)`` in the last one (never 0).
    - ``update_at="epoch_start"`` (current upstream ``train.py``, which calls
      ``model.update_learning_rate()`` at the start of every epoch, so the scheduler has
      stepped e + 1 times in epoch e): ``initial * (1 - max(0, e + 2 - n_epochs) /
      (n_epochs_decay + 1))``: the decay starts one epoch earlier, in the last of the
      `n_epochs` epochs, and the last epoch trains at 0.

    The papers say "keep the same learning rate for the first 100 epochs and linearly
    decay the rate to zero over the next 100 epochs", which neither order meets exactly.
    The epoch is read from the optimizer's step counter, so the position in the schedule
    is saved and restored with the optimizer.
    """

    UPDATE_AT = ("epoch_end", "epoch_start")

    def __init__(self, initial_learning_rate=2e-4, steps_per_epoch=1, n_epochs=100, n_epochs_decay=100,
                 update_at="epoch_end"):
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}.")
        if n_epochs < 0 or n_epochs_decay < 0:
            raise ValueError(f"n_epochs and n_epochs_decay must be >= 0, got {n_epochs} and {n_epochs_decay}.")
        if update_at not in self.UPDATE_AT:
            raise ValueError(f"update_at must be one of {self.UPDATE_AT}; received update_at={update_at!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.steps_per_epoch = int(steps_per_epoch)
        self.n_epochs = int(n_epochs)
        self.n_epochs_decay = int(n_epochs_decay)
        self.update_at = update_at

    def __call__(self, step):
        epoch = ops.floor(ops.cast(step, "float32") / self.steps_per_epoch)
        # The reference's `epoch + epoch_count` (epoch_count = 1) as LambdaLR sees it in this epoch.
        position = epoch + (2.0 if self.update_at == "epoch_start" else 1.0)
        past = ops.maximum(0.0, position - self.n_epochs)
        factor = ops.maximum(0.0, 1.0 - past / (self.n_epochs_decay + 1.0))
        return self.initial_learning_rate * factor

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "n_epochs": self.n_epochs,
            "n_epochs_decay": self.n_epochs_decay,
            "update_at": self.update_at,
        }


class StepTimer(keras.callbacks.Callback):
    """Wall-clock seconds per training step, leaving out the first `warmup` steps (graph
    tracing, XLA compilation and first-call costs).

    After `fit`, `seconds_per_step` is the mean over the steps after the warm-up (NaN if
    there were none) and `steps` how many steps it averages.
    """

    def __init__(self, warmup=2):
        super().__init__()
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
            raise ValueError(f"`warmup` must be an int >= 1; received warmup={warmup!r}")
        self.warmup = warmup

    def on_train_begin(self, logs=None):
        self._seen, self._start, self._end, self.steps = 0, None, None, 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen += 1
        if self._seen == self.warmup:
            self._start = time.perf_counter()
        elif self._seen > self.warmup:
            self._end, self.steps = time.perf_counter(), self._seen - self.warmup

    @property
    def seconds_per_step(self):
        if not getattr(self, "steps", 0):
            return float("nan")
        return (self._end - self._start) / self.steps


class PreviewGrid(keras.callbacks.Callback):
    """Save an input | output | target PNG of fixed validation images after every epoch.

    `images` is a tuple `(inputs, targets)` of arrays in [-1, 1] (take them once from the
    validation set so every grid shows the same images). Files: `<directory>/epoch_0001.png`.
    """

    def __init__(self, images, directory, every=1, max_rows=4):
        super().__init__()
        self.inputs = np.asarray(images[0])[:max_rows]
        self.targets = None if images[1] is None else np.asarray(images[1])[:max_rows]
        self.directory = Path(directory)
        self.every = every
        self.last_path = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        outputs = keras.ops.convert_to_numpy(self.model(self.inputs, training=False))
        self.last_path = save_grid(self.directory / f"epoch_{epoch + 1:04d}.png", [self.inputs, outputs, self.targets])


class TrainingCheckpoint(keras.callbacks.Callback):
    """Save everything needed to resume after each epoch, never damaging the last good save.

    Each save goes to `<directory>/epoch_NNNN.tmp/` (all weights, both optimizers' state
    and step counters, hence the LR schedule position, plus `state.json` with the epoch
    and logs), is renamed to `epoch_NNNN/` only when complete, and then `latest` is
    updated by an atomic rename. A process killed at any moment leaves the previous
    checkpoint intact. `keep` newest checkpoints are kept (None keeps all).
    """

    def __init__(self, directory, keep=2, every=1):
        super().__init__()
        self.directory = Path(directory)
        self.keep = keep
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        save_checkpoint(self.model, self.directory, epoch + 1, logs=logs, keep=self.keep)


def _jsonable(logs):
    return {k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0}


def save_checkpoint(model, directory, epoch, logs=None, keep=2):
    """Write a resumable checkpoint for `epoch` (the number of epochs completed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"epoch_{epoch:04d}"
    tmp = directory / f"epoch_{epoch:04d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save_weights(tmp / "model.weights.h5")
    (tmp / "state.json").write_text(json.dumps({"epoch": epoch, "logs": _jsonable(logs)}, indent=1))
    if final.exists():
        shutil.rmtree(final)
    tmp.replace(final)
    pointer = directory / "latest.tmp"
    pointer.write_text(final.name + "\n")
    os.replace(pointer, directory / "latest")
    if keep:
        done = sorted(p for p in directory.glob("epoch_????") if p.is_dir())
        for old in done[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


class CheckpointError(ValueError):
    """No checkpoint in a folder could be loaded; the message names each one and why."""


def _checkpoint_folders(directory):
    """Checkpoint folders that have a `state.json`, newest first: the one `latest` points
    at, then the others by epoch."""
    directory = Path(directory)
    done = sorted((p for p in directory.glob("epoch_????") if (p / "state.json").exists()), reverse=True)
    try:
        pointed = directory / (directory / "latest").read_text().strip()
    except (OSError, UnicodeDecodeError):
        pointed = None
    if pointed is not None and pointed in done:
        done.remove(pointed)
        done.insert(0, pointed)
    return done


def latest_checkpoint(directory):
    """The newest complete checkpoint folder in `directory`, or None."""
    found = _checkpoint_folders(directory)
    return found[0] if found else None


def _first_line(err, limit=200):
    text = str(err).strip()
    return (text.splitlines()[0][:limit] if text else "") or type(err).__name__


def _read_state(ckpt):
    """The epoch recorded in `<ckpt>/state.json`; ValueError saying what is wrong with it."""
    text = (ckpt / "state.json").read_text()
    if not text.strip():
        raise ValueError("state.json is empty")
    try:
        return int(json.loads(text)["epoch"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"state.json is not a checkpoint state ({type(err).__name__}: {_first_line(err)})") from None


def restore_checkpoint(model, directory):
    """Load the newest intact checkpoint into a built and compiled `model`.

    Returns the number of completed epochs (pass it to `fit(initial_epoch=...)`), or 0
    when there is nothing to resume from. A checkpoint that cannot be loaded (an empty or
    damaged `state.json`, a truncated `model.weights.h5`) is passed over for the next
    older one, with a warning that names the damaged checkpoint, the reason and the one
    used instead. If none can be loaded, `CheckpointError` lists each with its reason.
    """
    problems = []
    for ckpt in _checkpoint_folders(directory):
        try:
            epoch = _read_state(ckpt)
            weights = ckpt / "model.weights.h5"
            if not weights.is_file():
                raise ValueError("model.weights.h5 is missing")
            try:
                model.load_weights(weights)
            except Exception as err:  # h5py and Keras raise many types for damaged or mismatched weights
                raise ValueError(f"model.weights.h5 cannot be loaded ({type(err).__name__}: {_first_line(err)})")
        except (OSError, ValueError) as err:
            problems.append(f"'{ckpt}': {_first_line(err, 300)}")
            continue
        if problems:
            warnings.warn(
                f"Resuming from '{ckpt}' (epoch {epoch}), the newest intact checkpoint, because "
                f"{'; '.join(problems)}.",
                stacklevel=2,
            )
        return epoch
    if problems:
        raise CheckpointError(
            f"No checkpoint in '{directory}' could be loaded: {'; '.join(problems)}. Nothing was changed; "
            f"start a new run in another output folder."
        )
    return 0


class TimeBudget(keras.callbacks.Callback):
    """Stop training at the end of the epoch once `seconds` have passed."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            logger.info("Time budget of %.0f s reached after epoch %d; stopping.", self.seconds, epoch + 1)
            self.model.stop_training = True
