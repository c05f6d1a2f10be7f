"""Wall time of `kerasi2i demo`, the README's first command after the install, against its
3-minute target.

    python benchmarks/demo_time.py [--runs 1] [--warm-only]

Each run is a fresh process in a fresh output folder. The first ("cold") run also uses
a fresh, empty data folder (`KERASI2I_DATA_DIR`), so it builds the 128 px facades as a
new user's first run does; later ("warm") runs reuse that build. The script prints each
phase as the demo reports it (data build, training, scoring) and the total, with the
machine's load average before and after, since other processes on the same cores slow
every figure down.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 180.0


def run_demo(data_dir, output, extra_args=()):
    env = dict(os.environ, KERASI2I_DATA_DIR=str(data_dir))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user runs it
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kerasi2i", "demo", "--output", str(output), *extra_args],
                          capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"kerasi2i demo failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout, proc.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="warm runs after the cold one")
    parser.add_argument("--warm-only", action="store_true", help="skip the cold run (build the data first)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data_dir = tmp / "data"
        rows = []
        if args.warm_only:
            subprocess.run([sys.executable, "-m", "kerasi2i", "data", "build", "--tasks", "facades", "--sizes", "128"],
                           env=dict(os.environ, KERASI2I_DATA_DIR=str(data_dir)), check=True, capture_output=True)
        kinds = ([] if args.warm_only else ["cold"]) + ["warm"] * args.runs
        for i, kind in enumerate(kinds):
            load_before = os.getloadavg()[0]
            elapsed, out, err = run_demo(data_dir, tmp / f"out{i}")
            load_after = os.getloadavg()[0]
            tf_lines = len(re.findall(r"^[IWE]0000 ", err, re.M))
            rows.append((kind, elapsed, load_before, load_after, tf_lines))
            print(f"{kind} run: {elapsed:.0f} s (load average {load_before:.1f} -> {load_after:.1f}); "
                  f"TensorFlow C++ log lines on stderr: {tf_lines}")
            for line in out.splitlines():
                if re.match(r"\s*(untrained|mean train|trained|real photos)", line) or "Total time" in line:
                    print("   ", line.strip())
        print(f"\n{'run':6s} {'seconds':>8s} {'vs 180 s target':>16s}")
        for kind, elapsed, *_ in rows:
            print(f"{kind:6s} {elapsed:8.0f} {elapsed / TARGET_S:15.2f}x")


if __name__ == "__main__":
    main()
