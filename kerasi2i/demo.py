"""`kerasi2i demo`: train a small pix2pix on a bundled sample task and show what it learned.

Runs offline on a laptop CPU in a few minutes: scores the untrained generator and the
identity baseline (output = input) on the held-out test photos, trains, scores again,
and writes input | untrained | trained | target grids.
"""
import sys
import time
from pathlib import Path

import keras
import numpy as np

from kerasi2i import data as kdata
from kerasi2i import metrics
from kerasi2i.train import train_pix2pix
from kerasi2i.viz import save_grid

DEMO_TASK = "labels2photo"


class TimeBudget(keras.callbacks.Callback):
    """Stop training at the end of the epoch once `seconds` have passed."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            print(f"Time budget of {self.seconds:.0f} s reached after epoch {epoch + 1}; stopping.")
            self.model.stop_training = True


def run_demo(task=DEMO_TASK, image_size=64, epochs=3, epochs_decay=1, base_filters=32, output="kerasi2i_demo",
             max_minutes=None, seed=0, verbose=None):
    """Train, score and draw; returns a dict of the three score rows.

    verbose=None shows a progress bar on a terminal and one line per epoch otherwise (logs).
    """
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    path = kdata.sample_path(task, image_size)
    output = Path(output)
    test = kdata.load_paired(path, "test", image_size=image_size, batch_size=8)
    x_show, y_show = next(iter(test))
    started = time.perf_counter()

    keras.utils.set_random_seed(seed)
    from kerasi2i.models.pix2pix import build_pix2pix

    untrained = build_pix2pix(image_size, base_filters=base_filters).generator
    before = metrics.score_translation(untrained, test)
    before_images = np.asarray(untrained(x_show, training=False))
    identity = metrics.score_translation(None, test)

    print(f"Training pix2pix on the bundled '{task}' sample ({image_size}x{image_size}) for "
          f"{epochs}+{epochs_decay} epochs; outputs in {output}/")
    run = output / "run"
    for n in range(2, 1000):  # a new folder per demo run: earlier runs are never overwritten
        if not run.exists():
            break
        run = output / f"run_{n}"
    model, history = train_pix2pix(
        path, run, image_size=image_size, epochs=epochs, epochs_decay=epochs_decay,
        base_filters=base_filters, batch_size=4, seed=seed,
        keep_best="val_l1", verbose=verbose, extra_callbacks=[TimeBudget(max_minutes * 60)] if max_minutes else None,
    )
    after = metrics.score_translation(model.generator, test)
    after_images = np.asarray(model.generator(x_show, training=False))
    grid = save_grid(output / "before_after.png", [x_show, before_images, after_images, y_show], max_rows=8)

    rows = {"identity (input as output)": identity, "untrained generator": before, "trained generator": after}
    print(f"\nHeld-out test photos of '{task}' ({sum(int(x.shape[0]) for x, _ in test)} images):")
    print(f"{'':28s} {'L1 (lower)':>11s} {'PSNR dB':>9s} {'SSIM':>7s}")
    for name, r in rows.items():
        print(f"{name:28s} {r['l1']:11.4f} {r['psnr']:9.2f} {r['ssim']:7.4f}")
    print(f"\nColumns of {grid}: input | untrained | trained | target. "
          f"Total time {time.perf_counter() - started:.0f} s.")
    return rows
