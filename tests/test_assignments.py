"""The assignments' autograder works both ways (issue 12): the instructor versions score
full marks, the generated student versions score zero without crashing the grader, and a
planted bug loses exactly the points of the tests about it.

One grading run (the `graded` fixture: every notebook of every kind, in one nbgrader
course) serves the slow tests; the command-line checks before it run no notebook.
"""
import csv
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "assignments" / "source"

_spec = importlib.util.spec_from_file_location("assignments_grade", ROOT / "assignments" / "grade.py")
grade = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(grade)

NAMES = ["01_gan_losses", "02_cyclegan", "03_vae", "04_evaluation"]

# The planted bugs: (notebook, the solution's line, the wrong line, the tests that must fail).
BUGS = {
    "sign_error": ("01_gan_losses", "    return bce_with_logits(fake_logits, 1.0)\n",
                   "    return -bce_with_logits(fake_logits, 1.0)\n", {"test_generator_vanilla"}),
    "kl_without_half": ("03_vae", "    return 0.5 * ops.sum(ops.exp(logvar) + ops.square(mean) - 1.0 - logvar, axis=-1)\n",
                        "    return ops.sum(ops.exp(logvar) + ops.square(mean) - 1.0 - logvar, axis=-1)\n",
                        {"test_kl_divergence"}),
    "pool_never_swaps": ("02_cyclegan", "            elif self.rng.random() < 0.5:",
                         "            elif False:", {"test_pool_swaps"}),
}


def points(name):
    return grade.graded_cells(SOURCE / f"{name}.ipynb")


def planted(name, old, new, target):
    """Write the instructor version of `name` with `old` replaced by `new` (exactly once)."""
    notebook = json.loads((SOURCE / f"{name}.ipynb").read_text())
    hits = 0
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if old in source:
            hits += source.count(old)
            cell["source"] = source.replace(old, new)
    assert hits == 1, f"the planted bug's line must occur once in {name}; found {hits}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(notebook))


# ----- fast checks: the assignments themselves and the command line ----------------------
def test_four_assignments_with_graded_cells():
    assert list(grade.assignments()) == NAMES
    for name in NAMES:
        cells = points(name)
        assert sum(cells.values()) == 10, (name, cells)
        notebook = json.loads((SOURCE / f"{name}.ipynb").read_text())
        sources = ["".join(c["source"]) for c in notebook["cells"]]
        assert any("### BEGIN SOLUTION" in s for s in sources)
        assert any("### BEGIN HIDDEN TESTS" in s for s in sources)
        assert all(not c.get("outputs") for c in notebook["cells"] if c["cell_type"] == "code"), \
            f"{name}: store the instructor version without outputs"


def test_bugs_are_planted_in_graded_cells():
    for name, old, new, failing in BUGS.values():
        assert failing <= set(points(name)), (name, failing)


def test_grade_refuses_bad_input(tmp_path, capsys):
    assert grade.main(["grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s.csv")]) == 1
    assert "nowhere does not exist" in capsys.readouterr().err

    subs = tmp_path / "subs"
    (subs / "ann").mkdir(parents=True)
    shutil.copy(SOURCE / "01_gan_losses.ipynb", subs / "ann" / "01_gan_losses.ipynb")
    (subs / "ann" / "homework.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                              "nbformat_minor": 5}))
    assert grade.main(["grade", str(subs), "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert "homework.ipynb: not an assignment notebook" in err and "01_gan_losses.ipynb" in err

    (subs / "ann" / "homework.ipynb").unlink()
    (subs / "ann" / "03_vae.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                           "nbformat_minor": 5}))
    assert grade.main(["grade", str(subs), "--out", str(tmp_path / "s.csv")]) == 1
    assert "03_vae.ipynb: not an assignment notebook" in capsys.readouterr().err

    (subs / "ann" / "03_vae.ipynb").write_text("{ not json")
    assert grade.main(["grade", str(subs), "--out", str(tmp_path / "s.csv")]) == 1
    assert "03_vae.ipynb: not a readable notebook" in capsys.readouterr().err

    (subs / "ann" / "03_vae.ipynb").unlink()
    notebook = json.loads((SOURCE / "02_cyclegan.ipynb").read_text())
    notebook["cells"] = [c for c in notebook["cells"]
                         if c["metadata"].get("nbgrader", {}).get("grade_id") != "test_pool_swaps"]
    (subs / "ann" / "02_cyclegan.ipynb").write_text(json.dumps(notebook))
    assert grade.main(["grade", str(subs), "--out", str(tmp_path / "s.csv")]) == 1
    assert "02_cyclegan.ipynb: the graded cell(s) test_pool_swaps" in capsys.readouterr().err

    (subs / "ann" / "02_cyclegan.ipynb").unlink()
    shutil.copy(SOURCE / "01_gan_losses.ipynb", subs / "01_gan_losses.ipynb")
    assert grade.main(["grade", str(subs), "--out", str(tmp_path / "s.csv")]) == 1
    assert "one folder per student" in capsys.readouterr().err

    (subs / "01_gan_losses.ipynb").unlink()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("not grading output")
    assert grade.main(["grade", str(subs), "--out", str(tmp_path / "s.csv"), "--workdir", str(precious),
                       "--force"]) == 1
    assert "not an earlier grading work folder" in capsys.readouterr().err
    assert (precious / "notes.txt").read_text() == "not grading output"

    existing = tmp_path / "scores.csv"
    existing.write_text("the instructor's own file\n")
    assert grade.main(["grade", str(subs), "--out", str(existing)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert existing.read_text() == "the instructor's own file\n"


def test_generate_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "release"
    out.mkdir()
    (out / "03_vae.ipynb").write_text("a student version someone edited")
    assert grade.main(["generate", "--out", str(out)]) == 1
    assert "03_vae.ipynb already exist(s); pass --force" in capsys.readouterr().err
    assert (out / "03_vae.ipynb").read_text() == "a student version someone edited"
    assert grade.main(["generate", "05_nothing", "--out", str(out)]) == 1
    assert "Unknown assignment(s) 05_nothing" in capsys.readouterr().err


# ----- one grading run of everything --------------------------------------------------
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Generate the student versions through the CLI, grade the instructor versions
    ("solution"), the student versions ("blank") and each planted bug through the CLI,
    and return (release folder, {(student, assignment, test): (score, max_score)},
    totals CSV rows)."""
    tmp = tmp_path_factory.mktemp("assignments")
    release = tmp / "release"
    assert grade.main(["generate", "--out", str(release)]) == 0
    subs = tmp / "submissions"
    for name in NAMES:
        (subs / "solution").mkdir(parents=True, exist_ok=True)
        shutil.copy(SOURCE / f"{name}.ipynb", subs / "solution" / f"{name}.ipynb")
        (subs / "blank").mkdir(parents=True, exist_ok=True)
        shutil.copy(release / f"{name}.ipynb", subs / "blank" / f"{name}.ipynb")
    for student, (name, old, new, _) in BUGS.items():
        planted(name, old, new, subs / student / f"{name}.ipynb")
    scores, details = tmp / "scores.csv", tmp / "details.csv"
    assert grade.main(["grade", str(subs), "--out", str(scores), "--details", str(details),
                       "--workdir", str(tmp / "work")]) == 0
    with open(details, newline="") as f:
        rows = {(r["student"], r["assignment"], r["test"]): (float(r["score"]), float(r["max_score"]))
                for r in csv.DictReader(f)}
    with open(scores, newline="") as f:
        totals = list(csv.DictReader(f))
    return release, rows, totals, tmp / "work"


def breakdown(rows, student, name):
    return {test: score for (s, a, test), (score, _) in rows.items() if s == student and a == name}


# A line of each solution that must not reach the students.
SOLUTION_LINES = {
    "01_gan_losses": "bce_with_logits(fake_logits, 1.0)",
    "02_cyclegan": "self.rng.random() < 0.5",
    "03_vae": "0.5 * ops.sum",
    "04_evaluation": "scipy.linalg.sqrtm(sigma1 @ sigma2)",
}


@pytest.mark.slow
def test_student_versions_have_blanks_and_no_hidden_tests(graded):
    release = graded[0]
    for name in NAMES:
        text = (release / f"{name}.ipynb").read_text()
        assert SOLUTION_LINES[name] in (SOURCE / f"{name}.ipynb").read_text()
        assert SOLUTION_LINES[name] not in text, name
        assert "raise NotImplementedError()" in text
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, name
        assert set(grade.graded_cells(release / f"{name}.ipynb")) == set(points(name))


@pytest.mark.slow
def test_solutions_score_full_marks(graded):
    rows, totals = graded[1], graded[2]
    for name in NAMES:
        assert breakdown(rows, "solution", name) == points(name), name
    solution = {r["assignment"]: (r["score"], r["max_score"]) for r in totals if r["student"] == "solution"}
    assert solution == {name: ("10", "10") for name in NAMES}


@pytest.mark.slow
def test_student_versions_score_zero(graded):
    rows, totals = graded[1], graded[2]
    for name in NAMES:
        got = breakdown(rows, "blank", name)
        assert set(got) == set(points(name)), name
        assert all(score == 0 for score in got.values()), (name, got)
    assert {r["assignment"]: r["score"] for r in totals if r["student"] == "blank"} == {n: "0" for n in NAMES}
    # The grader ran the blanks to the end: every test cell of the graded notebook has an output.
    graded_blank = graded[3] / "autograded" / "blank" / "03_vae" / "03_vae.ipynb"
    cells = json.loads(graded_blank.read_text())["cells"]
    tests = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade")]
    assert tests and all(any(o["output_type"] == "error" for o in c["outputs"]) for c in tests)


@pytest.mark.slow
@pytest.mark.parametrize("bug", sorted(BUGS))
def test_planted_bug_loses_exactly_its_tests(graded, bug):
    rows = graded[1]
    name, _, _, failing = BUGS[bug]
    expected = {test: (0.0 if test in failing else value) for test, value in points(name).items()}
    assert breakdown(rows, bug, name) == expected
    assert {a for (s, a, _) in rows if s == bug} == {name}
