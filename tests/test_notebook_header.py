"""tools/notebook_header.py: the Colab badge, setup cell and MODE cell of the teaching notebooks."""
import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

_spec = importlib.util.spec_from_file_location("notebook_header", ROOT / "tools" / "notebook_header.py")
header = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(header)


def _notebook():
    md = lambda text: {"cell_type": "markdown", "id": "t", "metadata": {}, "source": text.splitlines(True)}
    code = lambda text, i: {"cell_type": "code", "id": i, "execution_count": None, "metadata": {}, "outputs": [],
                            "source": text.splitlines(True)}
    return {"cells": [
        md("# 09 · A lesson\n\nIntro. The MODE cell below picks quick mode unless you choose full.\n"),
        code('import os\nimport keras\nimport tensorflow as tf\nimport kerasi2i\n'
             'print(f"kerasi2i {kerasi2i.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "\n'
             '      f"backend {keras.backend.backend()}")\n'
             'print("GPU:", tf.config.list_physical_devices("GPU") or "none (CPU)")', "a"),
        code('# MODE: ...\nMODE = os.environ.get("KERASI2I_MODE", "quick")\nQUICK = MODE == "quick"', "b"),
        md("## Hyperparameters"),
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _text(cell):
    return "".join(cell["source"])


def test_apply_adds_badge_setup_and_mode_cells():
    nb = _notebook()
    assert header.apply(nb, "09_lesson.ipynb")
    title, setup, imports, mode = (_text(c) for c in nb["cells"][:4])
    assert title.splitlines()[0] == "# 09 · A lesson"
    assert ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            "(https://colab.research.google.com/github/kerasi2i/kerasi2i/blob/main/notebooks/09_lesson.ipynb)") in title
    assert header.MODE_SENTENCE in title and header.OLD_MODE_SENTENCE not in title
    assert setup.startswith(header.SETUP_FIRST_LINE) and 'REPO = "kerasi2i/kerasi2i"' in setup
    assert nb["cells"][1]["id"] == header.SETUP_ID
    assert "print(" not in imports and imports.endswith("import kerasi2i")  # the setup cell reports instead
    assert "MODE = select_mode()" in mode and 'QUICK = MODE == "quick"' in mode
    # every cell's source is stored as lines, as Jupyter writes it
    assert all(isinstance(c["source"], list) for c in nb["cells"])


def test_apply_is_idempotent():
    nb = _notebook()
    header.apply(nb, "09_lesson.ipynb")
    again = copy.deepcopy(nb)
    assert not header.apply(again, "09_lesson.ipynb")
    assert again == nb


def test_repo_option_rewrites_badge_and_install():
    nb = _notebook()
    header.apply(nb, "09_lesson.ipynb")
    assert header.apply(nb, "09_lesson.ipynb", repo="you/fork")
    title, setup = _text(nb["cells"][0]), _text(nb["cells"][1])
    assert title.count("Open In Colab") == 1
    assert "github/you/fork/blob/main/notebooks/09_lesson.ipynb" in title and "kerasi2i/kerasi2i" not in title
    assert 'REPO = "you/fork"' in setup
    assert sum(c["cell_type"] == "code" for c in nb["cells"]) == 3


def test_a_notebook_without_a_mode_cell_is_refused():
    nb = _notebook()
    del nb["cells"][2]
    with pytest.raises(ValueError, match="MODE cell"):
        header.apply(nb, "09_lesson.ipynb")


def test_command_line_check_and_write(tmp_path):
    path = tmp_path / "09_lesson.ipynb"
    path.write_text(json.dumps(_notebook()), encoding="utf-8")
    run = lambda *args: subprocess.run([sys.executable, str(ROOT / "tools" / "notebook_header.py"), *args, str(path)],
                                       capture_output=True, text=True)
    assert run("--check").returncode == 1
    assert run().returncode == 0
    assert run("--check").returncode == 0
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and "09_lesson.ipynb" in text
    assert run("--repo", "not a repo").returncode == 2


def _run_setup(monkeypatch, tmp_path, source, colab=False, installed=True):
    """Execute the setup cell's code with the install situation faked; returns the commands it ran."""
    commands = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    real_run = subprocess.run

    def fake_run(cmd, *args, **kwargs):  # record the install commands; anything else (TensorFlow's) runs
        if isinstance(cmd, list) and (cmd[0] == "git" or cmd[1:4] == ["-m", "pip", "install"]):
            return commands.append(cmd)
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", fake_run)
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    if not installed:
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "kerasi2i" else real(name, *a))
    exec(compile(source, "setup_cell", "exec"), {})
    return commands


def test_setup_cell_when_installed_only_reports(monkeypatch, tmp_path, capsys):
    assert _run_setup(monkeypatch, tmp_path, header.setup_source()) == []
    out = capsys.readouterr().out
    assert "TensorFlow" in out and "GPU:" in out


def test_setup_cell_outside_colab_says_how_to_install(monkeypatch, tmp_path):
    with pytest.raises(ModuleNotFoundError, match="pip install -e"):
        _run_setup(monkeypatch, tmp_path, header.setup_source(), installed=False)


def test_setup_cell_on_colab_clones_and_installs(monkeypatch, tmp_path, capsys):
    commands = _run_setup(monkeypatch, tmp_path, header.setup_source("you/fork"), colab=True, installed=False)
    assert commands[0][:2] == ["git", "clone"] and "https://github.com/you/fork" in commands[0]
    assert commands[1][1:] == ["-m", "pip", "install", "-q", "-e", "kerasi2i_repo"]
    assert str(tmp_path / "kerasi2i_repo") in sys.path
    assert "installing it from https://github.com/you/fork" in capsys.readouterr().out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_notebook_has_the_header_for_its_own_name(path):
    """Each teaching notebook links Colab to its own file, and is up to date with the tool
    (run `python tools/notebook_header.py notebooks/*.ipynb` after adding a notebook)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    title = _text(next(c for c in nb["cells"] if c["cell_type"] == "markdown"))
    urls = [m.group("url") for m in header.BADGE_RE.finditer(title)]
    assert urls == [header.colab_url(path.name)], urls
    assert not header.apply(copy.deepcopy(nb), path.name), "out of date: rerun tools/notebook_header.py"
