"""Root pytest configuration: notebooks run in quick mode, offline, on the CPU."""
import os

# Notebook kernels started by nbval inherit this environment.
os.environ.setdefault("KERASI2I_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_collection_modifyitems(config, items):
    """Every notebook item (nbval collects .ipynb files) carries the `notebook` marker,
    so `pytest -m "not slow and not notebook"` leaves them out."""
    import pytest

    for item in items:
        if str(getattr(item, "path", item.fspath)).endswith(".ipynb"):
            item.add_marker(pytest.mark.notebook)
