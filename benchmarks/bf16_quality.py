"""Does mixed bfloat16 train as well as float32? The demo's pix2pix (labels -> facade on the
bundled facades, 128 px, 300 steps of 4) trained in both precisions, with several seeds.

    python benchmarks/bf16_quality.py [--seeds 0 1] [--image-size 128] [--task facades]

Each run is `kerasi2i.experiments.demo.run_demo` in a fresh process, trained with
`precision="mixed_bfloat16"` or `"float32"` (the layers compute in bfloat16 and keep
float32 weights; the trainers compute their losses in float32). The trained generator is
scored in the precision it was trained in; the FCN segmenter that scores it stays float32. It prints the held-out scores of
the trained generator (L1, PSNR, SSIM and the FCN-score's class IoU) and the training
time of every run, then, per metric, the difference between the precisions' means against
the spread between seeds within each precision. bfloat16 is "the same quality within
run-to-run noise" when every difference is smaller than the larger spread. The script
says whether this CPU has native bfloat16 (AVX512_BF16 or AMX): without it, bfloat16 is
emulated and slower, though the quality comparison still holds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

METRICS = ("l1", "psnr", "ssim", "fcn_class_iou")


def worker(spec):
    import time

    from kerasi2i.experiments import demo

    # `train`'s precision option: only the training in bfloat16 (the FCN segmenter that
    # scores it stays in float32); float32 given explicitly, since `auto` is bfloat16 here
    precision = "mixed_bfloat16" if spec["precision"] == "bfloat16" else "float32"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = demo.run_demo(task=spec["task"], image_size=spec["size"], output=tmp, seed=spec["seed"], verbose=0,
                             precision=precision)
    print("RESULT " + json.dumps({"scores": rows["trained generator"], "seconds": time.perf_counter() - started}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--image-size", type=int, default=128, choices=(64, 128))
    parser.add_argument("--task", default="facades",
                        help="a bundled paired task the demo trains on (the FCN-score is the facades' only)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    from kerasi2i.training.precision import cpu_flags, native_bfloat16

    flags = cpu_flags()
    print("bfloat16 is " + ("native on this CPU (" + ", ".join(sorted({"avx512_bf16", "amx_bf16"} & flags)) + ")"
                            if native_bfloat16(flags) else "emulated on this CPU (no AVX512_BF16 or AMX)"))
    print(f"the demo's pix2pix on '{args.task}' at {args.image_size} px; seeds {args.seeds}; scores of the "
          "trained generator on the held-out test set")
    metrics = METRICS if args.task == "facades" else METRICS[:3]
    print(f"{'precision':10s} {'seed':>4s} {'L1':>7s} {'PSNR':>6s} {'SSIM':>6s} {'FCN IoU':>8s} {'run s':>6s}")
    from kerasi2i import data as kdata

    kdata.sample_path(args.task, args.image_size, verbose=True)  # built once, before any run is timed
    results = {"float32": [], "bfloat16": []}
    for seed in args.seeds:
        for precision in results:
            spec = {"precision": precision, "seed": seed, "size": args.image_size, "task": args.task}
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
                                  capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                raise RuntimeError(f"{precision} seed {seed} failed:\n{proc.stderr[-3000:]}")
            result = json.loads(lines[-1][len("RESULT "):])
            results[precision].append(result)
            s = result["scores"]
            print(f"{precision:10s} {seed:4d} {s['l1']:7.4f} {s['psnr']:6.2f} {s['ssim']:6.3f} "
                  f"{s.get('fcn_class_iou', float('nan')):8.3f} {result['seconds']:6.0f}", flush=True)
    if len(args.seeds) < 2:
        print("one seed: no spread to compare with; pass --seeds 0 1 (or more)")
        return 0
    same = True
    print(f"\n{'metric':14s} {'float32 mean':>12s} {'bfloat16 mean':>13s} {'difference':>10s} {'seed spread':>11s}")
    for metric in metrics:
        values = {p: [r["scores"][metric] for r in rs] for p, rs in results.items()}
        diff = statistics.mean(values["bfloat16"]) - statistics.mean(values["float32"])
        spread = max(max(v) - min(v) for v in values.values())
        same &= abs(diff) <= spread
        print(f"{metric:14s} {statistics.mean(values['float32']):12.4f} {statistics.mean(values['bfloat16']):13.4f} "
              f"{diff:+10.4f} {spread:11.4f}{'' if abs(diff) <= spread else '  <- larger than the spread'}")
    speed = statistics.mean(r["seconds"] for r in results["float32"]) / statistics.mean(
        r["seconds"] for r in results["bfloat16"])
    print(f"\nverdict: bfloat16 {'trains to the same quality within run-to-run noise' if same else 'differs from float32 by more than the seed spread'}; "
          f"whole demo runs {speed:.2f}x float32's speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
