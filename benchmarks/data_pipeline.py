"""Input-pipeline speed: can kerasi2i.data.load_paired keep up with a pix2pix training step?

    python benchmarks/data_pipeline.py [--size 256] [--epochs 2] [--tutorial-steps 3]

Batches/s that `load_paired` delivers from the bundled labels2photo sample
(`sample_path("labels2photo", size)`) as pix2pix trains on it: the train split, batch 1,
the papers' jitter (resize to 286 for 256, random crop, random mirror), shuffled,
prefetched; once without and once with `cache=True` (decoded images kept in memory, the
jitter still drawn every epoch). Each is timed over `--epochs` full epochs after a
warm-up epoch (which, with the cache, fills it). Then the steps/s of
../shared/bench/tutorial_pix2pix_step.py (the TensorFlow tutorial's pix2pix step, run in
its own process on the same machine) and the ratio of the two: above 1, the pipeline
delivers batches faster than the step consumes them, and with prefetching the step never
waits. On a CPU the two share the cores during real training, so the ratio is an upper
bound there; on a GPU the step runs on the device and the pipeline on the CPU.
"""
import argparse
import os
import time

from common import run_tutorial_step  # first: it quiets TensorFlow's start-up logs
import tensorflow as tf  # noqa: E402

from kerasi2i.data import load_paired, sample_path  # noqa: E402


def pipeline_rate(path, size, epochs, cache, seed=0):
    """Batches/s over `epochs` epochs of batch-1 jittered training batches, after one
    warm-up epoch. Returns (batches/s, batches timed)."""
    ds = load_paired(path, "train", image_size=size, batch_size=1, cache=cache, seed=seed)
    for _ in ds:  # warm-up: threads started, files in the page cache, the cache filled
        pass
    batches, start = 0, time.perf_counter()
    for _ in range(epochs):
        for x, y in ds:
            batches += 1
    elapsed = time.perf_counter() - start
    assert x.shape == (1, size, size, 3) and y.shape == (1, size, size, 3), (x.shape, y.shape)
    return batches / elapsed, batches


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, choices=[64, 128, 256])
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (after one warm-up epoch)")
    parser.add_argument("--tutorial-steps", type=int, default=3, help="timed steps of the tutorial baseline")
    args = parser.parse_args()

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"TensorFlow {tf.__version__}, devices {devices}, {cores} CPU cores available")
    path = sample_path("labels2photo", args.size)
    n_files = len(list((path / "train").glob("*.jpg")))
    print(f"data: bundled labels2photo sample, {args.size} px, {n_files} train pairs ({path})")
    load = round(args.size * 286 / 256)
    print(f"\n== load_paired: {args.size}x{args.size}, batch 1, jitter (resize {load}, random crop, "
          f"flip), shuffle, prefetch ==")
    rates = {}
    for cache in (False, True):
        rates[cache], batches = pipeline_rate(path, args.size, args.epochs, cache)
        print(f"cache={str(cache):5s}: {rates[cache]:8.1f} batches/s  "
              f"({batches} batches over {args.epochs} epochs, after a warm-up epoch)")

    steps_per_s, _ = run_tutorial_step(args.size, args.tutorial_steps)
    print(f"\n== training step: tutorial pix2pix ({args.size}x{args.size}, batch 1, tf.function, no XLA) ==")
    print(f"{steps_per_s:8.3f} steps/s ({1 / steps_per_s:.3f} s per step, {args.tutorial_steps} steps timed)")

    print("\n== ratio: pipeline batches/s over training steps/s (above 1: the step never waits) ==")
    for cache in (False, True):
        print(f"cache={str(cache):5s}: {rates[cache] / steps_per_s:8.1f}x")


if __name__ == "__main__":
    main()
