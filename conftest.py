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


_NOTEBOOK_SECONDS = {}


def pytest_runtest_logreport(report):
    """Add up the time of each notebook's cells (setup, call and teardown)."""
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _NOTEBOOK_SECONDS[path] = _NOTEBOOK_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    """A table of the wall time each notebook took in this run (quick mode), so every CI
    log shows which notebook is over the five-minute budget of a quick-mode notebook."""
    if not _NOTEBOOK_SECONDS:
        return
    terminalreporter.section("notebook times (quick mode, this run)")
    for path, seconds in sorted(_NOTEBOOK_SECONDS.items()):
        flag = "  over the 5-minute budget" if seconds > 300 else ""
        terminalreporter.write_line(f"{path:50s} {seconds:7.0f} s{flag}")
    terminalreporter.write_line(f"{'all notebooks':50s} {sum(_NOTEBOOK_SECONDS.values()):7.0f} s")
