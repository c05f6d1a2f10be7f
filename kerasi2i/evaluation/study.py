"""A real-vs-fake perceptual study in a notebook, as the pix2pix and CycleGAN papers ran on
Amazon Mechanical Turk: two-alternative forced choice (2AFC).

Each trial shows a real and a generated image side by side, in random order, for a fixed
exposure (the papers: 1 second), then hides them; the participant clicks the side they
think is real. Optional practice trials come first and give feedback ("correct" /
"wrong"); they are saved but left out of the score. The score is the *fooling rate*, the
fraction of trials where the generated image was chosen as real (50% = indistinguishable
from real, under a truly forced choice), with a 95% Wilson score interval.

`ForcedChoiceStudy` holds the logic (trial order, answers, CSV, rate) and needs no
browser; `StudyWidget` is a thin ipywidgets layer over it:

    study = ForcedChoiceStudy(real_images, fake_images, participant="p01", n_practice=5, seed=0)
    StudyWidget(study, csv_path="study_p01.csv")      # display in a notebook, click Start
"""
import csv
import io
import math
import threading
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np

from kerasi2i.imaging import as_uint8, png_bytes, to_pil

SIDES = ("left", "right")
CSV_FIELDS = ("participant", "trial", "practice", "real_side", "choice", "correct", "fooled",
              "response_time_s", "real_index", "fake_index")


def wilson_interval(successes, n, confidence=0.95):
    """Wilson score interval for a binomial proportion successes / n.

    (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z the normal quantile
    (1.96 for 95%). Unlike the textbook p +- z sqrt(p(1-p)/n) it stays inside [0, 1] and
    keeps its coverage for the small n and the rates near 0 or 1 that perceptual studies
    have. n = 0 gives (0, 1).
    """
    if n == 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}; got {successes}.")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return max(0.0, (centre - half) / denominator), min(1.0, (centre + half) / denominator)


class ForcedChoiceStudy:
    """The trials and answers of one participant's real-vs-fake 2AFC session.

    Args:
        real_images, fake_images: sequences of images ([-1, 1] float or uint8, (H, W, C));
            trial t pairs real[i] and fake[i] of the same index i (the same input's target
            and output, as in the papers).
        participant: id written to every CSV row.
        n_trials: scored trials (default: every image once).
        n_practice: practice trials first, with feedback, not scored (images drawn from
            the same pool).
        seed: makes the image order and the sides reproducible.
        exposure: seconds the images are shown (the papers: 1).
    """

    def __init__(self, real_images, fake_images, participant="participant", n_trials=None, n_practice=0,
                 seed=None, exposure=1.0):
        if len(real_images) != len(fake_images):
            raise ValueError(f"real_images and fake_images must pair up; got {len(real_images)} and "
                             f"{len(fake_images)}.")
        if len(real_images) == 0:
            raise ValueError("The study needs at least one real/fake pair.")
        if exposure <= 0:
            raise ValueError(f"exposure must be positive (seconds); got {exposure}.")
        self.real_images, self.fake_images = real_images, fake_images
        self.participant = str(participant)
        self.exposure = float(exposure)
        n_trials = len(real_images) if n_trials is None else int(n_trials)
        rng = np.random.default_rng(seed)
        total = n_practice + n_trials
        order = np.concatenate([rng.permutation(len(real_images)) for _ in range(-(-total // len(real_images)))])
        self.trials = [
            {"index": int(order[t]), "real_side": SIDES[int(rng.integers(2))], "practice": t < n_practice}
            for t in range(total)
        ]
        self.records = []

    # -- the state of the session
    @property
    def position(self):
        return len(self.records)

    @property
    def done(self):
        return self.position >= len(self.trials)

    @property
    def current(self):
        """The trial to show next (dict with index, real_side, practice), None when done."""
        return None if self.done else self.trials[self.position]

    def images(self, trial=None):
        """(left, right) images of a trial (default: the current one)."""
        trial = trial or self.current
        real, fake = self.real_images[trial["index"]], self.fake_images[trial["index"]]
        return (real, fake) if trial["real_side"] == "left" else (fake, real)

    def answer(self, choice, response_time=None):
        """Record the participant's pick ("left" or "right") for the current trial and
        return the record."""
        if self.done:
            raise RuntimeError("The study is finished; no trial is waiting for an answer.")
        if choice not in SIDES:
            raise ValueError(f"choice must be one of {SIDES}; got {choice!r}.")
        trial = self.current
        correct = choice == trial["real_side"]
        record = {
            "participant": self.participant,
            "trial": self.position + 1,
            "practice": trial["practice"],
            "real_side": trial["real_side"],
            "choice": choice,
            "correct": correct,
            "fooled": not correct,
            "response_time_s": None if response_time is None else round(float(response_time), 4),
            "real_index": trial["index"],
            "fake_index": trial["index"],
        }
        self.records.append(record)
        return record

    # -- results
    def fooling_rate(self, confidence=0.95):
        """Fraction of scored trials where the generated image was picked as real, with
        its Wilson interval: dict(rate, low, high, fooled, n)."""
        scored = [r for r in self.records if not r["practice"]]
        fooled = sum(r["fooled"] for r in scored)
        low, high = wilson_interval(fooled, len(scored), confidence)
        return {"rate": fooled / len(scored) if scored else float("nan"), "low": low, "high": high,
                "fooled": fooled, "n": len(scored)}

    def to_csv(self, path=None):
        """Write the records as CSV (one row per answered trial, numbered from 1 in the
        order shown; practice trials have practice=True) and return the text."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records)
        text = buffer.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text


def _png(image, width):
    from PIL import Image

    im = to_pil(as_uint8(image))
    if width and im.width != width:
        im = im.resize((width, round(im.height * width / im.width)), Image.NEAREST)
    return png_bytes(im)


def _thread_timer(delay, callback):
    timer = threading.Timer(delay, callback)
    timer.daemon = True
    timer.start()
    return timer


class StudyWidget:
    """ipywidgets front end of a `ForcedChoiceStudy`; display it in a notebook.

    Start / Next shows the two images for `study.exposure` seconds, then hides them and
    enables "Left is real" / "Right is real". The response time runs from the moment the
    images appear. When the last trial is answered the CSV is written to `csv_path` (if
    given) and the fooling rate is shown.

    `schedule(delay, callback)` runs `callback` after `delay` seconds (default a
    background `threading.Timer`) and `clock()` gives the time in seconds (default
    `time.monotonic`): tests inject both, so no test sleeps.
    """

    def __init__(self, study, csv_path=None, image_width=256, schedule=_thread_timer, clock=time.monotonic):
        import ipywidgets as widgets

        self.study, self.csv_path, self.image_width = study, csv_path, image_width
        self.schedule, self.clock = schedule, clock
        self._shown_at = None
        self.left_image = widgets.Image(format="png", width=image_width)
        self.right_image = widgets.Image(format="png", width=image_width)
        self.next_button = widgets.Button(description="Start", button_style="primary")
        self.left_button = widgets.Button(description="Left is real", disabled=True)
        self.right_button = widgets.Button(description="Right is real", disabled=True)
        self.status = widgets.HTML(self._intro())
        self.next_button.on_click(lambda _: self.show_trial())
        self.left_button.on_click(lambda _: self.choose("left"))
        self.right_button.on_click(lambda _: self.choose("right"))
        self.widget = widgets.VBox([
            self.status,
            widgets.HBox([self.left_image, self.right_image]),
            widgets.HBox([self.left_button, self.right_button, self.next_button]),
        ])

    def _intro(self):
        n = len(self.study.trials)
        return (f"<b>Which image is real?</b> {n} trials. Each shows two images for "
                f"{self.study.exposure:g} s; then click the side you think is the real photo. Click Start.")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def show_trial(self):
        """Show the current trial's images and schedule hiding them."""
        if self.study.done:
            return
        left, right = self.study.images()
        self.left_image.value = _png(left, self.image_width)
        self.right_image.value = _png(right, self.image_width)
        self.next_button.disabled = True
        self.left_button.disabled = self.right_button.disabled = True
        trial = self.study.current
        kind = "Practice trial" if trial["practice"] else "Trial"
        self.status.value = f"{kind} {self.study.position + 1} of {len(self.study.trials)}: look..."
        self._shown_at = self.clock()
        self.schedule(self.study.exposure, self.hide)

    def hide(self):
        """Blank both images and wait for the choice."""
        self.left_image.value = self.right_image.value = b""
        self.left_button.disabled = self.right_button.disabled = False
        self.status.value = "Which one was real? Click left or right."

    def choose(self, side):
        """Record a choice (what the two buttons call)."""
        if self._shown_at is None or self.study.done:
            return None
        record = self.study.answer(side, response_time=self.clock() - self._shown_at)
        self._shown_at = None
        self.left_button.disabled = self.right_button.disabled = True
        feedback = ("Correct. " if record["correct"] else "Wrong. ") if record["practice"] else ""
        if self.study.done:
            self.next_button.disabled = True
            if self.csv_path is not None:
                self.study.to_csv(self.csv_path)
            r = self.study.fooling_rate()
            saved = f" Answers saved to {self.csv_path}." if self.csv_path else ""
            self.status.value = (f"{feedback}Done, thank you. Fooling rate {r['rate']:.1%} "
                                 f"(95% CI {r['low']:.1%}-{r['high']:.1%}, n={r['n']}).{saved}")
        else:
            self.next_button.description = "Next"
            self.next_button.disabled = False
            self.status.value = f"{feedback}Click Next for the next trial."
        return record
