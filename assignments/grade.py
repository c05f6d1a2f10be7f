"""Make the student versions of the assignments and grade submitted notebooks, with nbgrader.

    python assignments/grade.py list                      # the assignments and their points
    python assignments/grade.py generate                  # student versions -> assignments/release/
    python assignments/grade.py grade SUBMISSIONS --out scores.csv [--details tests.csv]

The instructor versions are ``assignments/source/NN_name.ipynb``. ``generate`` writes
``assignments/release/NN_name.ipynb``: the solution blocks (``### BEGIN SOLUTION`` ...
``### END SOLUTION``) become ``raise NotImplementedError()`` and the hidden tests
(``### BEGIN HIDDEN TESTS`` ...) are left out. ``grade`` takes a folder with one folder
per student, each holding that student's notebooks under their released names::

    SUBMISSIONS/alice/01_gan_losses.ipynb
    SUBMISSIONS/alice/03_vae.ipynb
    SUBMISSIONS/bob/01_gan_losses.ipynb

and runs every notebook with the test cells of the instructor version put back (the
hidden tests included), so a student cannot edit the tests away. ``--out`` gets one row
per student and assignment (``student,assignment,score,max_score``), ``--details`` one
row per graded test cell (``student,assignment,test,score,max_score``).

nbgrader keeps its course folder and gradebook database in a temporary folder, removed
afterwards; ``--workdir DIR`` keeps them, with the graded notebooks and their outputs
under ``DIR/autograded/``. Nothing that exists is overwritten unless ``--force`` is given.
This script imports nbgrader (``pip install nbgrader``), not kerasi2i: the notebooks do.
"""
import argparse
import csv
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "source"
RELEASE = HERE / "release"
DEFAULT_TIMEOUT = 600  # seconds per cell while grading


class GradingError(Exception):
    """A problem with the input (a missing folder, a notebook that is not an assignment);
    the message names the file."""


# ----- the assignments --------------------------------------------------------------------
def assignments(source=SOURCE):
    """``{name: path}`` of the instructor notebooks, ``name`` the file's stem."""
    source = Path(source)
    if not source.is_dir():
        raise GradingError(f"No assignments folder at {source}.")
    found = {p.stem: p for p in sorted(source.glob("*.ipynb"))}
    if not found:
        raise GradingError(f"No assignment notebooks (*.ipynb) in {source}.")
    return found


def _read_notebook(path):
    try:
        with open(path, encoding="utf-8") as f:
            notebook = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GradingError(f"{path}: not a readable notebook ({error}).") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise GradingError(f"{path}: not a Jupyter notebook (no list of cells).")
    return notebook


def graded_cells(path):
    """``{grade_id: points}`` of the autograded test cells of a notebook, in order."""
    cells = {}
    for cell in _read_notebook(path)["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.get("cell_type") == "code":
            cells[meta["grade_id"]] = float(meta.get("points", 0))
    return cells


# ----- nbgrader ---------------------------------------------------------------------------
def _api(root, timeout=DEFAULT_TIMEOUT):
    """An nbgrader API object for the course folder ``root`` (its gradebook is
    ``root/gradebook.db``)."""
    import warnings

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from sqlalchemy.exc import SAWarning
    from traitlets.config import Config

    # nbgrader 0.9 with SQLAlchemy 2 warns about its own session handling on every student.
    warnings.filterwarnings("ignore", category=SAWarning)
    config = Config()
    config.CourseDirectory.root = str(root)
    config.Execute.timeout = int(timeout)
    config.Execute.startup_timeout = 300   # a busy 2-core machine
    for name in ("NbGraderAPI", "GenerateAssignment", "Autograde"):
        config[name].log_level = logging.WARNING
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _check(result, what):
    if not result.get("success"):
        details = result.get("error") or result.get("log") or "(no message)"
        raise RuntimeError(f"nbgrader failed to {what}:\n{details}")


def _course(root, names, source=SOURCE, timeout=DEFAULT_TIMEOUT):
    """Lay out an nbgrader course folder at ``root`` with the assignments ``names`` and
    generate their student versions (which also records their cells and hidden tests in
    the gradebook). Returns the API object."""
    every = assignments(source)
    for name in names:
        folder = Path(root) / "source" / name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(every[name], folder / f"{name}.ipynb")
    api = _api(root, timeout)
    for name in names:
        _check(api.generate_assignment(name, force=True, create=True), f"generate the student version of {name}")
    return api


def _new_folder(path, force, what):
    """Make ``path`` an empty folder. A non-empty one is emptied only with ``force`` and
    only when it is an earlier work folder of this script (it holds ``gradebook.db``), so
    that --force never deletes anything else."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GradingError(f"{what} {path} is a file, not a folder.")
    if path.is_dir() and any(path.iterdir()):
        if not (path / "gradebook.db").is_file():
            raise GradingError(f"{what} {path} is not empty and is not an earlier grading work folder "
                               "(it has no gradebook.db); give a new or empty folder.")
        if not force:
            raise GradingError(f"{what} {path} holds an earlier grading run; pass --force to replace it.")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


# ----- generate ---------------------------------------------------------------------------
def generate(out=RELEASE, names=None, force=False, source=SOURCE):
    """Write the student version of each assignment (all of them by default) to
    ``out/NAME.ipynb``; returns the paths. Existing files are replaced only with
    ``force``."""
    every = assignments(source)
    names = list(every) if not names else list(names)
    unknown = [n for n in names if n not in every]
    if unknown:
        raise GradingError(f"Unknown assignment(s) {', '.join(unknown)}; the assignments are: {', '.join(every)}.")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GradingError(f"Output folder {out} is a file, not a folder.")
    targets = [out / f"{name}.ipynb" for name in names]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise GradingError(f"{', '.join(existing)} already exist(s); pass --force to replace.")
    with tempfile.TemporaryDirectory(prefix="kerasi2i-nbgrader-") as root:
        _course(root, names, source)
        out.mkdir(parents=True, exist_ok=True)
        for name, target in zip(names, targets):
            shutil.copy2(Path(root) / "release" / name / f"{name}.ipynb", target)
    return targets


# ----- grade ------------------------------------------------------------------------------
def find_submissions(folder, source=SOURCE):
    """``[(student, assignment, path)]`` in ``folder/STUDENT/ASSIGNMENT.ipynb``, checked
    before anything runs: every notebook must be one of the assignments and hold its test
    cells. Raises GradingError naming the first bad file."""
    folder = Path(folder)
    if not folder.exists():
        raise GradingError(f"Submissions folder {folder} does not exist.")
    if not folder.is_dir():
        raise GradingError(f"Submissions folder {folder} is a file; expected a folder of student folders.")
    every = assignments(source)
    stray = sorted(p.name for p in folder.glob("*.ipynb"))
    if stray:
        raise GradingError(
            f"{folder / stray[0]}: notebooks go in one folder per student "
            f"({folder}/STUDENT/NAME.ipynb), not directly in {folder}.")
    found = []
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(student_dir.glob("*.ipynb")):
            if path.stem not in every:
                raise GradingError(
                    f"{path}: not an assignment notebook; submitted notebooks keep their released names "
                    f"({', '.join(f'{n}.ipynb' for n in every)}).")
            expected = graded_cells(every[path.stem])
            present = graded_cells(path)
            if not present:
                raise GradingError(f"{path}: not an assignment notebook (it has none of the graded cells of "
                                   f"{path.stem}); was it saved from the released version?")
            missing = [g for g in expected if g not in present]
            if missing:
                raise GradingError(f"{path}: the graded cell(s) {', '.join(missing)} of {path.stem} are missing; "
                                   "students must not delete test cells (hand out a fresh copy).")
            found.append((student_dir.name, path.stem, path))
    if not found:
        raise GradingError(f"No submissions in {folder}: expected {folder}/STUDENT/NAME.ipynb, with NAME one of "
                           f"{', '.join(every)}.")
    return found


def grade(submissions, workdir=None, timeout=DEFAULT_TIMEOUT, force=False, source=SOURCE):
    """Grade every notebook in ``submissions`` (see ``find_submissions``). Returns one
    dict per graded test cell: student, assignment, test, score, max_score."""
    found = find_submissions(submissions, source)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="kerasi2i-nbgrader-") as root:
            return _grade(found, Path(root), timeout, source)
    return _grade(found, _new_folder(workdir, force, "Work folder"), timeout, source)


def _grade(found, root, timeout, source):
    from nbgrader.api import Gradebook

    names = sorted({assignment for _, assignment, _ in found})
    api = _course(root, names, source, timeout)
    for student, assignment, path in found:
        target = root / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    for student, assignment, path in found:
        print(f"grading {path} ...", file=sys.stderr, flush=True)
        _check(api.autograde(assignment, student, force=True, create=True), f"grade {path}")
    rows = []
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for student, assignment, path in found:
            notebook = gradebook.find_submission_notebook(assignment, assignment, student)
            scores = {g.name: (g.score, g.max_score) for g in notebook.grades}
            for test in graded_cells(Path(source) / f"{assignment}.ipynb"):
                score, max_score = scores[test]
                rows.append({"student": student, "assignment": assignment, "test": test,
                             "score": float(score), "max_score": float(max_score)})
    return rows


def totals(rows):
    """One row per student and assignment: student, assignment, score, max_score."""
    out = {}
    for row in rows:
        key = (row["student"], row["assignment"])
        total = out.setdefault(key, {"student": row["student"], "assignment": row["assignment"],
                                     "score": 0.0, "max_score": 0.0})
        total["score"] += row["score"]
        total["max_score"] += row["max_score"]
    return list(out.values())


def _write_csv(path, rows, fields):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in row.items()})


# ----- the command line -------------------------------------------------------------------
def _parser():
    parser = argparse.ArgumentParser(
        prog="python assignments/grade.py",
        description="Student versions and autograding of the kerasi2i assignments (nbgrader).")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the assignments and their points")
    gen = commands.add_parser("generate", help="write the student versions (blanks, no hidden tests)")
    gen.add_argument("names", nargs="*", help="assignments to generate (default: all)")
    gen.add_argument("--out", default=str(RELEASE), help="folder for the student versions")
    gen.add_argument("--force", action="store_true", help="replace student versions that exist")
    grd = commands.add_parser("grade", help="grade a folder of submitted notebooks into a CSV")
    grd.add_argument("submissions", help="folder with one folder per student: SUBMISSIONS/STUDENT/NAME.ipynb")
    grd.add_argument("--out", default="scores.csv", help="CSV of totals: student,assignment,score,max_score")
    grd.add_argument("--details", help="CSV of every test cell: student,assignment,test,score,max_score")
    grd.add_argument("--workdir", help="keep nbgrader's course folder, gradebook and graded notebooks here")
    grd.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds a cell may run")
    grd.add_argument("--force", action="store_true",
                     help="replace existing output files, and a --workdir of an earlier run")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            for name, path in assignments().items():
                cells = graded_cells(path)
                print(f"{name}: {sum(cells.values()):g} points in {len(cells)} graded cells")
            return 0
        if args.command == "generate":
            for path in generate(args.out, args.names, args.force):
                print(f"wrote {path}")
            return 0
        outputs = [Path(p) for p in (args.out, args.details) if p]
        for path in outputs:
            if path.is_dir():
                raise GradingError(f"Output {path} is a folder; give a file name such as scores.csv.")
            if path.exists() and not args.force:
                raise GradingError(f"{path} exists; pass --force to replace it.")
        rows = grade(args.submissions, args.workdir, args.timeout, args.force)
        summary = totals(rows)
        _write_csv(args.out, summary, ["student", "assignment", "score", "max_score"])
        if args.details:
            _write_csv(args.details, rows, ["student", "assignment", "test", "score", "max_score"])
        for row in summary:
            print(f"{row['student']:>16}  {row['assignment']:<20} {row['score']:g} / {row['max_score']:g}")
        print(f"wrote {args.out}" + (f" and {args.details}" if args.details else ""))
        return 0
    except (GradingError, RuntimeError) as error:   # bad input; nbgrader failing on a notebook
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
