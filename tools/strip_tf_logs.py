"""Remove TensorFlow/absl start-up log lines from stored notebook outputs (stderr streams).

Usage: python tools/strip_tf_logs.py notebooks/*.ipynb
They vary between runs (timestamps, process ids) and only add noise to diffs.
"""
import json
import re
import sys

PATTERNS = [
    re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ .*\n?"),
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR\n?"),
    re.compile(r"^To enable the following instructions:.*\n?"),
]


def strip(path):
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    removed = 0
    for cell in nb["cells"]:
        outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = [line for line in out["text"] if not any(p.match(line) for p in PATTERNS)]
                removed += len(out["text"]) - len(lines)
                if not lines:
                    continue
                out["text"] = lines
            outputs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outputs
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{path}: {removed} log lines removed")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        strip(p)
