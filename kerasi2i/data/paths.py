"""Where kerasi2i keeps the generated sample datasets and downloaded datasets."""
import os
from pathlib import Path

_REPO_DATA = Path(__file__).resolve().parents[2] / "data"


def data_root():
    """The folder that holds `samples/` and `downloads/`.

    Order: the `KERASI2I_DATA_DIR` environment variable; the repository's `data/` folder
    when kerasi2i runs from a checkout (an editable install); else `~/.kerasi2i/data`.
    """
    env = os.environ.get("KERASI2I_DATA_DIR")
    if env:
        return Path(env).expanduser()
    if (_REPO_DATA / "README.md").exists():
        return _REPO_DATA
    return Path.home() / ".kerasi2i" / "data"


def samples_root():
    """Folder of the generated sample datasets (git-ignored in a checkout)."""
    return data_root() / "samples"


def downloads_root():
    """Folder where downloaded datasets are cached and extracted."""
    return data_root() / "downloads"
