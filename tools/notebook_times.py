"""How long each notebook's stored run took, from the timestamps Jupyter keeps in the notebook.

    python tools/notebook_times.py                   # every notebooks/*.ipynb, a Markdown table
    python tools/notebook_times.py notebooks/02_pix2pix.ipynb assignments/source/*.ipynb

A notebook executed by Jupyter, nbconvert or nbval with timing on stores each code
cell's `metadata.execution` timestamps (`iopub.execute_input` when the cell started,
`shell.execute_reply` when it finished). A notebook's wall time is the last finish minus
the first start. That includes the pauses between cells, so the run must have been one
uninterrupted "Run All"; a notebook run cell by cell over a day reports a day. A notebook
whose cells carry no timestamps (stored without being executed, or with the outputs
cleared) shows "not recorded". Only the standard library is used.
"""
import argparse
import glob
import json
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _time(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def notebook_time(path):
    """``(seconds, timed_cells, code_cells, finished)`` of a notebook's stored run;
    ``seconds`` and ``finished`` (the datetime of the last reply) are None without
    timestamps."""
    with open(path, encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    code = [c for c in cells if c.get("cell_type") == "code"]
    starts, ends = [], []
    for cell in code:
        execution = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in execution and "shell.execute_reply" in execution:
            starts.append(_time(execution["iopub.execute_input"]))
            ends.append(_time(execution["shell.execute_reply"]))
    if not starts:
        return None, 0, len(code), None
    return (max(ends) - min(starts)).total_seconds(), len(starts), len(code), max(ends)


def _minutes(seconds):
    return "not recorded" if seconds is None else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Wall time of each notebook's stored run (from cell metadata).")
    parser.add_argument("notebooks", nargs="*", help="notebooks to read (default: notebooks/*.ipynb)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(glob.glob(str(ROOT / "notebooks" / "*.ipynb")))
    if not paths:
        print("error: no notebooks given or found in notebooks/", file=sys.stderr)
        return 1
    print("| notebook | wall time of the stored run | cells timed | run finished (UTC) |")
    print("|---|---|---|---|")
    total = 0.0
    for path in paths:
        try:
            seconds, timed, cells, finished = notebook_time(path)
        except (OSError, ValueError, KeyError) as error:
            print(f"error: {path}: not a readable notebook ({error})", file=sys.stderr)
            return 1
        total += seconds or 0.0
        when = finished.strftime("%Y-%m-%d %H:%M") if finished else "-"
        print(f"| {Path(path).name} | {_minutes(seconds)} | {timed} of {cells} | {when} |")
    print(f"| all | {_minutes(total)} | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
