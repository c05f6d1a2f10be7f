"""`kerasi2i demo`: train pix2pix to turn facade label maps into facades, in minutes on a CPU.

The demo trains on the bundled procedural facades (`kerasi2i.data.facades`, the offline
twin of the pix2pix paper's CMP Facades task) in the paper's direction, labels -> photo,
at 128 px. Before training it scores the untrained generator and a trivial baseline
(the mean training photo, the best single image under L1) on the held-out test
buildings; after training it scores the trained generator, and it scores all of them,
plus the real renders, with the FCN-score (a segmenter trained on real facade photos
must find the input's windows and doors in the output: `kerasi2i.evaluation.fcn`). It writes

    <output>/before_after.png    labels | untrained | trained | real photo, 8 test buildings
    <output>/run/                the training run (generator.keras, history.csv, previews,
                                 checkpoints), which `kerasi2i serve --model
                                 <output>/run/generator.keras` opens with a paint canvas

The learning rate is constant for the first half of the steps and decays linearly to zero
over the second half (the pix2pix schedule, compressed), and the final weights are kept:
on this data validation keeps improving to the end.
"""
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

from kerasi2i import data as kdata
from kerasi2i.evaluation import metrics
from kerasi2i.evaluation.baselines import ConstantImage, mean_photo
from kerasi2i.imaging import save_grid
from kerasi2i.training import train
from kerasi2i.training.callbacks import TimeBudget

DEMO_TASK = "facades"
STEPS_PER_EPOCH = 50


def run_demo(task=DEMO_TASK, image_size=128, epochs=3, epochs_decay=3, base_filters=32, batch_size=4,
             output="kerasi2i_demo", max_minutes=None, seed=0, fcn_score=None, verbose=None, precision="auto"):
    """Train, score and draw; returns a dict of score rows (name -> metric -> value).

    `epochs` + `epochs_decay` epochs of `STEPS_PER_EPOCH` steps (constant, then linearly
    decaying learning rate). `fcn_score` (default: on for the facades task) adds the
    FCN-scores. `verbose=None` shows progress bars on a terminal and one line per epoch
    otherwise (logs). `precision` as `train`'s (`kerasi2i.training.precision`).
    """
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    if task not in kdata.samples.PAIRED_TASKS:
        raise ValueError(f"Unknown demo task {task!r}; the demo trains on a paired sample task: "
                         f"{list(kdata.samples.PAIRED_TASKS)}.")
    facades = task == "facades"
    direction = "BtoA" if facades else "AtoB"
    fcn_score = facades if fcn_score is None else fcn_score
    started = time.perf_counter()
    output = Path(output)
    print(f"kerasi2i demo: pix2pix on the bundled '{task}' task at {image_size} px "
          f"({'labels -> photo' if facades else direction}); outputs in {output}/")
    path = kdata.sample_path(task, image_size, verbose=True)   # built on the first run only
    test = kdata.load_paired(path, "test", direction=direction, image_size=image_size, batch_size=25)
    x_show, y_show = next(iter(test))
    x_show, y_show = x_show[:8], y_show[:8]

    segmenter = None
    if fcn_score:
        from kerasi2i.evaluation import fcn

        segmenter = fcn.facade_segmenter(path, verbose=verbose)

    keras.utils.set_random_seed(seed)
    from kerasi2i.models.pix2pix import build_pix2pix

    untrained = build_pix2pix(image_size, base_filters=base_filters).generator
    baseline = ConstantImage(mean_photo(path, image_size, direction))
    candidates = {"untrained generator": untrained, "mean train photo": baseline}
    if not facades:  # the identity is a baseline only where input and output are alike
        candidates["identity (input as output)"] = None
    rows = {name: metrics.score_translation(g, test) for name, g in candidates.items()}
    before_images = np.asarray(untrained(x_show, training=False))

    run = output / "run"
    for n in range(2, 1000):  # a new folder per demo run: earlier runs are never overwritten
        if not run.exists():
            break
        run = output / f"run_{n}"
    total = epochs + epochs_decay
    print(f"Training for {total} x {STEPS_PER_EPOCH} steps of {batch_size} images "
          f"(learning rate constant for {epochs} epochs, then decaying to 0); run folder {run}/")
    model, history = train(
        "pix2pix", path, run, direction=direction, image_size=image_size, epochs=epochs, epochs_decay=epochs_decay,
        base_filters=base_filters, batch_size=batch_size, seed=seed, steps_per_epoch=STEPS_PER_EPOCH,
        verbose=verbose, extra_callbacks=[TimeBudget(max_minutes * 60)] if max_minutes else None,
        precision=precision,
    )
    trained = model.generator
    rows["trained generator"] = metrics.score_translation(trained, test)
    after_images = np.asarray(trained(x_show, training=False))
    if facades:
        rows["real photos (target)"] = {}   # L1 etc. are 0 / inf / 1 by definition; FCN below
    if segmenter is not None:
        from kerasi2i.evaluation import fcn

        generators = {"untrained generator": untrained, "mean train photo": baseline,
                      "trained generator": trained, "real photos (target)": None}
        for name, g in generators.items():
            scores = fcn.score_labels2photo(segmenter, test, generator=g)
            rows[name].update({f"fcn_{k}": v for k, v in scores.items() if k != "per_class_iou"})
    grid = save_grid(output / "before_after.png", [x_show, before_images, after_images, y_show], max_rows=8)

    n_test = sum(int(x.shape[0]) for x, _ in test)
    print(f"\nHeld-out test set of '{task}' ({n_test} images, buildings never seen in training):")
    header = f"{'':24s} {'L1 (lower)':>10s} {'PSNR dB':>8s} {'SSIM':>6s}"
    if segmenter is not None:
        header += f" | FCN: {'pixel acc':>9s} {'class acc':>9s} {'class IoU':>9s}"
    print(header)
    for name, r in rows.items():
        line = (f"{name:24s} {r['l1']:10.4f} {r['psnr']:8.2f} {r['ssim']:6.3f}" if "l1" in r
                else f"{name:24s} {'-':>10s} {'-':>8s} {'-':>6s}")
        if segmenter is not None:
            line += f" |      {r['fcn_pixel_accuracy']:9.3f} {r['fcn_class_accuracy']:9.3f} {r['fcn_class_iou']:9.3f}"
        print(line)
    (output / "scores.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"\nColumns of {grid}: {'labels' if facades else 'input'} | untrained | trained | "
          f"{'real photo' if facades else 'target'}. Total time {time.perf_counter() - started:.0f} s.")
    if facades:
        print(f"Draw your own facade: kerasi2i serve --model {run / 'generator.keras'}")
    return rows
