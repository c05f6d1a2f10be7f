"""kerasi2i.notebook: the notebooks' mode rule and environment report."""
import pytest

from kerasi2i import notebook


@pytest.mark.parametrize(
    "environ, gpus, mode",
    [
        ({}, [], "quick"),                                              # a laptop: quick
        ({}, ["/physical_device:GPU:0"], "full"),                      # a GPU: full
        ({}, 2, "full"),
        ({"KERASI2I_QUICK": "1"}, ["/physical_device:GPU:0"], "quick"),  # CI forces quick, GPU or not
        ({"KERASI2I_QUICK": "0"}, [], "full"),                         # the old opt-in still works
        ({"KERASI2I_MODE": "full"}, [], "full"),                       # KERASI2I_MODE wins ...
        ({"KERASI2I_MODE": "quick"}, ["/physical_device:GPU:0"], "quick"),
        ({"KERASI2I_MODE": "full", "KERASI2I_QUICK": "1"}, [], "full"),  # ... over KERASI2I_QUICK
        ({"KERASI2I_MODE": " Quick "}, [], "quick"),
        ({"KERASI2I_MODE": ""}, [], "quick"),                          # empty means unset
    ],
)
def test_choose_mode(environ, gpus, mode):
    chosen, reason = notebook.choose_mode(environ, gpus)
    assert chosen == mode
    assert reason


def test_reason_names_what_decided():
    assert "KERASI2I_MODE" in notebook.choose_mode({"KERASI2I_MODE": "full"}, [])[1]
    assert "KERASI2I_QUICK" in notebook.choose_mode({"KERASI2I_QUICK": "1"}, 1)[1]
    assert "no GPU" in notebook.choose_mode({}, [])[1]
    assert "1 GPU" in notebook.choose_mode({}, ["gpu0"])[1]


def test_gpus_not_asked_when_the_environment_decides(monkeypatch):
    def fail():
        raise AssertionError("gpu_devices() called")

    monkeypatch.setattr(notebook, "gpu_devices", fail)
    assert notebook.choose_mode({"KERASI2I_QUICK": "1"}) == ("quick", "KERASI2I_QUICK=1 is set, as in CI")
    with pytest.raises(AssertionError):
        notebook.choose_mode({})


@pytest.mark.parametrize("environ", [{"KERASI2I_MODE": "fast"}, {"KERASI2I_QUICK": "maybe"}])
def test_bad_values_are_errors(environ):
    with pytest.raises(ValueError, match="KERASI2I_"):
        notebook.choose_mode(environ, [])


def test_select_mode_prints_mode_and_reason(capsys):
    assert notebook.select_mode({}, []) == "quick"
    assert capsys.readouterr().out == "mode: quick (no GPU found; set KERASI2I_MODE=full to run the full setup anyway)\n"
    assert notebook.select_mode({"KERASI2I_QUICK": "1"}, [], verbose=False) == "quick"
    assert capsys.readouterr().out == ""


def test_select_mode_reads_os_environ(monkeypatch, capsys):
    monkeypatch.setenv("KERASI2I_MODE", "full")
    assert notebook.select_mode() == "full"
    assert "KERASI2I_MODE=full" in capsys.readouterr().out


def test_report_environment(capsys):
    import tensorflow as tf

    import kerasi2i

    report = notebook.report_environment()
    out = capsys.readouterr().out
    assert report["kerasi2i"] == kerasi2i.__version__ and report["tensorflow"] == tf.__version__
    assert report["backend"] == "tensorflow"
    assert report["gpus"] == notebook.gpu_devices()
    assert report["colab"] is False
    assert f"TensorFlow {tf.__version__}" in out and out.count("\n") == 2
    assert ("GPU: none" in out) == (not report["gpus"])
