"""Give teaching notebooks their standard header: an "Open in Colab" badge, a setup cell and a MODE cell.

Usage:
    python tools/notebook_header.py notebooks/02_pix2pix.ipynb ...      # rewrite in place
    python tools/notebook_header.py --repo you/fork notebooks/*.ipynb   # badges and installs from your fork
    python tools/notebook_header.py --check notebooks/*.ipynb           # exit 1 if any notebook would change

Idempotent: running it twice changes nothing the second time. What it does to a notebook:

1. the title cell (the first markdown cell) gets a badge linking
   https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{file name},
   on the line after the title (an existing badge is replaced), and its description of
   the MODE cell is brought up to date;
2. the first code cell becomes the setup cell (inserted, or rewritten if it is there): it
   installs kerasi2i when it is missing (on Colab: `git clone` REPO and `pip install -e`
   it; elsewhere it says how to install and stops), then prints the versions and whether
   a GPU is there (`kerasi2i.notebook.report_environment`). The old version/GPU prints of
   the imports cell are removed, as the setup cell makes them;
3. the MODE cell (the code cell that assigns `MODE = ...`) is rewritten to call
   `kerasi2i.notebook.select_mode()`: KERASI2I_MODE decides, else KERASI2I_QUICK=1 means
   quick (CI sets it), else full only with a GPU; it prints which mode and why.
"""
import argparse
import json
import re
import sys
from pathlib import Path

REPO = "kerasi2i/kerasi2i"   # owner/name on GitHub: instructors rerun the tool with --repo you/fork

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\(" + re.escape(BADGE_IMAGE) + r"\)\]\((?P<url>[^)\s]*)\)")
SETUP_ID = "kerasi2i-setup"
SETUP_FIRST_LINE = "# Setup - installs kerasi2i if it is missing, then reports the versions and the GPU."
MODE_LINE_RE = re.compile(r"^MODE\s*=", re.MULTILINE)

# The version and GPU prints that the setup cell now makes (removed from the imports cell).
OLD_PRINTS = (
    'print(f"kerasi2i {kerasi2i.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "\n'
    '      f"backend {keras.backend.backend()}")\n',
    'print("GPU:", tf.config.list_physical_devices("GPU") or "none (CPU)")\n',
)

# The title cells' old description of the MODE rule, and the new one.
OLD_MODE_SENTENCE = "The MODE cell below picks quick mode unless you choose full."
MODE_SENTENCE = ("The MODE cell below picks full mode when a GPU is present and quick mode otherwise, "
                 "and says which (set `KERASI2I_MODE=quick` or `full` to choose).")

MODE_SOURCE = '''\
# MODE: "quick" (offline, on a CPU, minutes, the bundled data) or "full" (the paper's setup:
# a download and a GPU). KERASI2I_MODE=quick|full decides; else KERASI2I_QUICK=1 (as in CI)
# means quick; else full only when a GPU is present. To choose here: MODE = "full".
MODE = select_mode()
QUICK = MODE == "quick"'''


def colab_url(filename, repo=REPO):
    """The Colab address that opens notebooks/<filename> of `repo`'s main branch."""
    return f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{filename}"


def badge(filename, repo=REPO):
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(filename, repo)})"


def setup_source(repo=REPO):
    """The setup cell: install if missing (Colab: clone + editable install), then report."""
    return f'''\
{SETUP_FIRST_LINE}
# (Written by tools/notebook_header.py: change the tool, not this cell.)
import importlib.util, os, subprocess, sys
REPO = "{repo}"
if importlib.util.find_spec("kerasi2i") is None:
    if "google.colab" not in sys.modules:
        raise ModuleNotFoundError(f"kerasi2i is not installed. In a clone of https://github.com/{{REPO}} run "
                                  "`pip install -e .`, then restart this kernel.")
    print(f"kerasi2i is missing: installing it from https://github.com/{{REPO}} (a minute or two) ...")
    if not os.path.isdir("kerasi2i_repo"):
        subprocess.run(["git", "clone", "--depth", "1", f"https://github.com/{{REPO}}", "kerasi2i_repo"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "kerasi2i_repo"], check=True)
    sys.path.insert(0, os.path.abspath("kerasi2i_repo"))  # this kernel started before the install
    print("kerasi2i installed.")
from kerasi2i.notebook import report_environment, select_mode
report_environment();'''


def _text(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _set_text(cell, text):
    """Store `text` as a list of lines, as Jupyter writes it; True if it changed."""
    lines = text.splitlines(keepends=True)
    if cell.get("source") == lines or _text(cell) == text:
        if cell.get("source") != lines:
            cell["source"] = lines
        return False
    cell["source"] = lines
    return True


def _code_cell(text, cell_id):
    return {"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": {}, "outputs": [],
            "source": text.splitlines(keepends=True)}


def _add_badge(title, filename, repo):
    line = badge(filename, repo)
    if BADGE_RE.search(title):
        return BADGE_RE.sub(lambda m: line, title, count=1)
    first, _, rest = title.partition("\n")
    return f"{first}\n\n{line}\n" + (f"\n{rest.lstrip(chr(10))}" if rest.strip() else "")


def apply(nb, filename, repo=REPO):
    """Give notebook `nb` (a dict, changed in place) the header for notebooks/<filename>.
    Returns True if anything changed."""
    cells = nb["cells"]
    changed = False
    markdown = [c for c in cells if c["cell_type"] == "markdown"]
    if not markdown:
        raise ValueError(f"{filename}: no markdown title cell")
    title = markdown[0]
    changed |= _set_text(title, _add_badge(_text(title), filename, repo).replace(OLD_MODE_SENTENCE, MODE_SENTENCE))

    # The setup cell: the first code cell.
    setup = next((c for c in cells if c["cell_type"] == "code" and _text(c).startswith(SETUP_FIRST_LINE)), None)
    if setup is None:
        first_code = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
        cells.insert(first_code, _code_cell(setup_source(repo), SETUP_ID))
        changed = True
    else:
        code_cells = [c for c in cells if c["cell_type"] == "code"]
        if code_cells[0] is not setup:
            raise ValueError(f"{filename}: the setup cell must be the first code cell")
        changed |= _set_text(setup, setup_source(repo))

    for cell in cells:
        if cell["cell_type"] != "code" or cell is setup:
            continue
        text = _text(cell) + "\n"  # so that a print on the cell's last line ends with a newline too
        for old in OLD_PRINTS:
            text = text.replace(old, "")
        if text[:-1] != _text(cell):
            changed |= _set_text(cell, text[:-1].rstrip("\n"))

    mode_cells = [c for c in cells if c["cell_type"] == "code" and MODE_LINE_RE.search(_text(c))]
    if len(mode_cells) != 1:
        raise ValueError(f"{filename}: expected one MODE cell (a code cell with `MODE = ...`), "
                         f"found {len(mode_cells)}")
    changed |= _set_text(mode_cells[0], MODE_SOURCE)
    return changed


def process(path, repo=REPO, check=False):
    """Apply the header to the notebook at `path`; write it unless `check`. True if it changed."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    changed = apply(nb, path.name, repo)
    if changed and not check:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(nb, f, indent=1, ensure_ascii=False)
            f.write("\n")
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="notebooks/NN_name.ipynb files")
    parser.add_argument("--repo", default=REPO, help="GitHub owner/name the badge and the install use")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", args.repo):
        parser.error(f"--repo must be owner/name, not {args.repo!r}")
    stale = []
    for path in args.notebooks:
        changed = process(path, args.repo, args.check)
        print(f"{path}: {'would change' if args.check and changed else 'updated' if changed else 'up to date'}")
        if changed:
            stale.append(path)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
