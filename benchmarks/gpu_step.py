"""GPU readiness: steps/s and peak GPU memory of the pix2pix and CycleGAN training steps,
with mixed precision and XLA each on and off.

    python benchmarks/gpu_step.py [--models pix2pix cyclegan] [--configs 256x1 256x16]
                                  [--steps 20] [--precisions float32 mixed_float16]

Each combination (model, size x batch, precision, XLA off/on) runs in a fresh process,
so that the peak memory of one is not inherited by the next: `model.fit` on a repeated
random batch, steps/s over `--steps` steps after 3 warm-up steps (tracing and XLA
compilation excluded), and the peak of `tf.config.experimental.get_memory_info("GPU:0")`.
A configuration that runs out of memory is reported as such, and the others go on.

Where TensorFlow sees no GPU, the script says so and measures nothing: it never reports
a CPU figure as a GPU one. If `nvidia-smi` finds a GPU that TensorFlow cannot use, it
says that too (usually a CPU-only TensorFlow wheel or missing CUDA libraries:
`pip install "tensorflow[and-cuda]"` on Linux). No figure from this script is quoted in
the README unless it was measured on the GPU named in its output.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys


def visible_gpus():
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def nvidia_smi_gpus():
    """GPU names from nvidia-smi, or [] where it is missing or fails."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def worker(spec):
    """One configuration, in this process: prints a JSON line with the result."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import build_model, fit_seconds_per_step  # imports TensorFlow

    import keras
    import tensorflow as tf

    if spec["precision"] != "float32":
        keras.mixed_precision.set_global_policy(spec["precision"])
    model = build_model(spec["model"], spec["size"])
    model.compile(jit_compile=spec["jit"])
    tf.config.experimental.reset_memory_stats("GPU:0")
    try:
        seconds = fit_seconds_per_step(model, spec["size"], spec["batch"], spec["steps"], warmup=3)
    except tf.errors.ResourceExhaustedError:
        print(json.dumps({"error": "out of GPU memory"}))
        return
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
    print(json.dumps({"steps_per_s": 1 / seconds, "peak_bytes": peak,
                      "device": tf.config.experimental.get_device_details(visible_gpus()[0]).get("device_name", "?")}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["pix2pix", "cyclegan"], choices=["pix2pix", "cyclegan"])
    parser.add_argument("--configs", nargs="+", default=["256x1", "256x16"], help="SIZExBATCH")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_float16"],
                        choices=["float32", "mixed_float16", "mixed_bfloat16"])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.worker:
        return worker(json.loads(args.worker))

    import tensorflow as tf

    gpus = visible_gpus()
    if not gpus:
        smi = nvidia_smi_gpus()
        if smi:
            print(f"nvidia-smi sees {len(smi)} GPU(s) ({'; '.join(smi)}), but TensorFlow {tf.__version__} sees none: "
                  "a CPU-only TensorFlow or missing CUDA libraries (on Linux: pip install \"tensorflow[and-cuda]\"). "
                  "Nothing measured.")
        else:
            print(f"TensorFlow {tf.__version__} sees no GPU on this machine. Nothing measured "
                  "(this script never reports a CPU figure as a GPU one).")
        return 1
    print(f"TensorFlow {tf.__version__}; GPUs: "
          + ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus))
    print(f"{'model':9s} {'config':>8s} {'precision':>15s} {'XLA':>5s} {'steps/s':>9s} {'peak GiB':>9s}")
    for model in args.models:
        for config in args.configs:
            size, batch = (int(v) for v in config.lower().split("x"))
            for precision in args.precisions:
                for jit in (False, True):
                    spec = {"model": model, "size": size, "batch": batch, "precision": precision, "jit": jit,
                            "steps": args.steps}
                    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
                                          capture_output=True, text=True)
                    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
                    result = json.loads(lines[-1]) if lines else {"error": (proc.stderr.strip().splitlines()
                                                                            or ["failed"])[-1][:80]}
                    if "error" in result:
                        figures = f"{result['error']}"
                    else:
                        figures = f"{result['steps_per_s']:9.2f} {result['peak_bytes'] / 2**30:9.2f}"
                    print(f"{model:9s} {config:>8s} {precision:>15s} {'on' if jit else 'off':>5s} {figures}",
                          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
