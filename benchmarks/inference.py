"""Inference speed and size of a pix2pix generator: Keras vs SavedModel vs TFLite.

    python benchmarks/inference.py [--model generator.keras] [--size 256] [--batch 8]
                                   [--repeats 5] [--threads N] [--output DIR]

For the Keras model (eager `generator(x)`, float32 in [-1, 1], what `kerasi2i translate`
runs), the exported SavedModel (its uint8 `serving_default` signature) and each TFLite
variant (`none`, `float16`, `dynamic`, run by the LiteRT interpreter with `--threads`
threads, default all cores): the median single-image latency over `--repeats` calls, the
throughput on batches of `--batch` images, the file size, and how far the outputs are
from the Keras model's (mean absolute difference in uint8 levels and PSNR in dB, on the
same images). First calls (tracing, allocation) are excluded.

Without `--model`, a randomly initialised `unet_256` (54.4M parameters, 218 MB float32)
is used with weights redrawn at He scale, so that its outputs span the whole range and
the quantization errors are not trivially small; a trained model's errors are of the
same order. Latency does not depend on the weights.
"""
import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import forward_flops  # first: it quiets TensorFlow's start-up logs
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasi2i.deploy import export as kexport  # noqa: E402
from kerasi2i.deploy.inference import load_generator  # noqa: E402
from kerasi2i.models import unet_generator  # noqa: E402


def he_redraw(generator, seed=0):
    """Redraw conv kernels at He scale (outputs then use the whole [-1, 1] range)."""
    rng = np.random.default_rng(seed)
    for layer in generator.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            fan_in = np.prod(layer.kernel.shape[:2]) * layer.kernel.shape[3] / 4
        elif isinstance(layer, keras.layers.Conv2D):
            fan_in = np.prod(layer.kernel.shape[:3])
        else:
            continue
        layer.kernel.assign(rng.normal(0, np.sqrt(2 / fan_in), layer.kernel.shape).astype("float32"))
    return generator


def timed(fn, repeats):
    fn()  # warm-up: tracing, allocation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a generator .keras file (default: random unet_256)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--output", default=None, help="folder for the exported files (default: a temporary one)")
    args = parser.parse_args()

    if args.model:
        generator = load_generator(args.model)
    else:
        keras.utils.set_random_seed(0)
        generator = he_redraw(unet_generator((args.size, args.size, 3)))
    _, h, w, c = generator.input_shape
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPU cores, "
          f"GPU: {bool(tf.config.list_physical_devices('GPU'))}")
    print(f"{generator.name}: {generator.count_params():,} parameters, {h}x{w}x{c}, "
          f"{forward_flops(generator) / 1e9:.1f} GFLOPs per image (convolutions)")

    tmp = tempfile.TemporaryDirectory()
    out = Path(args.output or tmp.name)
    out.mkdir(parents=True, exist_ok=True)
    keras_file = out / "generator.keras"
    generator.save(keras_file)
    paths, export_s = {}, {}
    start = time.perf_counter()
    paths["savedmodel"] = kexport.export_savedmodel(generator, out / "savedmodel")
    export_s["savedmodel"] = time.perf_counter() - start
    for q in kexport.QUANTIZATIONS:
        start = time.perf_counter()
        paths[q] = kexport.export_tflite(paths["savedmodel"], out / f"generator_{q}.tflite", quantize=q)
        export_s[q] = time.perf_counter() - start

    rng = np.random.default_rng(1)
    batch = rng.integers(0, 256, (args.batch, h, w, c), dtype=np.uint8)
    one = batch[:1]
    reference = kexport.run_keras(generator, batch)

    rows = []
    x1, xb = kexport.to_model_input(one), kexport.to_model_input(batch)
    rows.append(("Keras (eager, float32)", keras_file,
                 timed(lambda: np.asarray(generator(x1, training=False)), args.repeats),
                 timed(lambda: np.asarray(generator(xb, training=False)), max(1, args.repeats // 2)),
                 reference, None))
    labels = {"savedmodel": "SavedModel (uint8 signature)", "none": "TFLite float32",
              "float16": "TFLite float16 weights", "dynamic": "TFLite dynamic range int8"}
    for key, path in paths.items():
        translate = kexport.load_exported(path, num_threads=args.threads) if key != "savedmodel" \
            else kexport.load_exported(path)
        rows.append((labels[key], path, timed(lambda: translate(one), args.repeats),
                     timed(lambda: translate(batch), max(1, args.repeats // 2)), translate(batch), export_s[key]))

    print(f"\nsingle image: median of {args.repeats} calls; batch of {args.batch}: images/s; "
          f"TFLite with {args.threads} threads; error vs Keras on {args.batch} random images\n")
    header = (f"| {'model':30s} | {'size MB':>8s} | {'export s':>8s} | {'1 image ms':>10s} | "
              f"{'batch img/s':>11s} | {'mean abs diff':>13s} | {'PSNR dB':>7s} |")
    print(header)
    print("|" + "|".join("-" * (len(col) + 0) for col in header.split("|")[1:-1]) + "|")
    for label, path, t1, tb, outputs, secs in rows:
        diff = np.abs(outputs.astype(int) - reference).mean()
        p = psnr(outputs, reference)
        print(f"| {label:30s} | {kexport.folder_size(path) / 1e6:8.1f} | "
              f"{'' if secs is None else f'{secs:8.1f}':>8s} | {t1 * 1e3:10.1f} | {args.batch / tb:11.2f} | "
              f"{diff:13.3f} | {'inf' if p == float('inf') else f'{p:7.1f}':>7s} |")


if __name__ == "__main__":
    main()
