"""Time-to-accuracy bookkeeping: which best-on-dev checkpoint is current at each wall-clock mark.

One `MarkClock` serves both training loops: spaCy's (through the `[training.logger]`
`spacy_bert_ner_bench.time_marks.v1`, which wraps the project's JSONL logger) and the Hugging Face
Trainer's (through `marks_callback`). Every new best checkpoint is moved into `snapshots/`; a
checkpoint counts for a mark only if its dev evaluation had finished before the mark, so the time
a system spends evaluating on dev is part of its training time. Test scoring happens after
training, in another process, and is not. Training stops once the last mark has passed. At each
dev evaluation the clock also samples the process's memory, so a peak can be placed in time.
"""
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from spacy_bert_ner.jsonfiles import write_json

SNAPSHOTS = "snapshots"
MARKS_FILE = "marks.json"


def process_memory_mb() -> Dict[str, float]:
    """This process's resident memory now (VmRSS) and its peak since exec (VmHWM, threads included), MB.

    Empty where there is no /proc (not Linux).
    """
    status = Path("/proc/self/status")
    if not status.is_file():
        return {}
    fields = {}
    for line in status.read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


class BudgetReached(Exception):
    """Raised from the spaCy logger when the last mark has passed: ends `spacy train` early."""


class MarkClock:
    """Marks in seconds since training began; records the current best snapshot at each one."""

    def __init__(self, marks_s: Sequence[float]) -> None:
        if not marks_s or min(marks_s) <= 0:
            raise ValueError(f"marks must be positive seconds, got {list(marks_s)}")
        self.marks = sorted(float(m) for m in marks_s)
        self.start: Optional[float] = None
        self.best: Optional[Dict[str, Any]] = None
        # mark -> (best at that time or None, whether training was still running at the mark)
        self.at_mark: Dict[float, Tuple[Optional[Dict[str, Any]], bool]] = {}
        self.ended_s: Optional[float] = None
        self.train_seconds = 0.0  # time in update steps only (evaluation and saving excluded)
        self.words = 0
        self.memory: List[Dict[str, Any]] = []  # one sample per dev evaluation

    def begin(self, now: float) -> None:
        self.start = now

    def elapsed(self, now: float) -> float:
        assert self.start is not None, "begin() first"
        return now - self.start

    def tick(self, now: float) -> bool:
        """Record the current best at every mark passed by `now`; True once the last has passed."""
        elapsed = self.elapsed(now)
        for mark in self.marks:
            if mark <= elapsed and mark not in self.at_mark:
                self.at_mark[mark] = (self.best, True)
        return len(self.at_mark) == len(self.marks)

    def new_best(self, snapshot: str, dev_score: float, now: float, step: int, words: int) -> List[str]:
        """Make `snapshot` current (call tick(now) first); return the snapshots no longer needed."""
        old = self.best
        self.best = {"snapshot": snapshot, "dev_score": float(dev_score), "step": int(step), "words": int(words),
                     "seconds": round(self.elapsed(now), 2)}
        referenced = {best["snapshot"] for best, _ in self.at_mark.values() if best}
        return [old["snapshot"]] if old and old["snapshot"] not in referenced else []

    def sample_memory(self, now: float, step: int) -> None:
        memory = process_memory_mb()
        self.memory.append({"seconds": round(self.elapsed(now), 2), "step": int(step),
                            "rss_mb": memory.get("VmRSS"), "peak_mb": memory.get("VmHWM")})

    def finish(self, now: float) -> None:
        """Marks not reached (training converged or stopped early) get the final best."""
        self.ended_s = round(self.elapsed(now), 2)
        for mark in self.marks:
            self.at_mark.setdefault(mark, (self.best, False))

    def snapshots(self) -> List[str]:
        """Every snapshot some mark refers to."""
        return sorted({best["snapshot"] for best, _ in self.at_mark.values() if best})

    def to_dict(self) -> Dict[str, Any]:
        return {
            "marks": {f"{m:g}": {**(best or {"snapshot": None}), "reached": reached}
                      for m, (best, reached) in sorted(self.at_mark.items())},
            "ended_s": self.ended_s,
            "train_seconds": round(self.train_seconds, 2),
            "words": self.words,
            "train_words_per_s": round(self.words / self.train_seconds, 1) if self.train_seconds else None,
            "final_best": self.best,
            "memory": self.memory,
        }


def _finish(clock: MarkClock, now: float, out: Path) -> None:
    clock.finish(now)
    write_json(out / MARKS_FILE, clock.to_dict())


def _drop(snapshots: Path, names: List[str]) -> None:
    for name in names:
        shutil.rmtree(snapshots / name, ignore_errors=True)


def _register_spacy_logger() -> None:
    from spacy.util import registry

    from spacy_bert_ner.training.hooks import jsonl_logger

    @registry.loggers("spacy_bert_ner_bench.time_marks.v1")
    def time_marks_logger(marks: List[float], output_dir: str, dev_words: int = 0, path: Optional[str] = None,
                          progress_bar: bool = False) -> Callable:
        """jsonl_logger.v1, plus: move each new model-best to snapshots/, stop after the last mark.

        spaCy writes model-best just before it calls the logger with the evaluation, so a
        model-best directory present at that moment is the new best checkpoint. Update time is
        the time between logger calls less the dev evaluation (dev_words / the dev words/s spaCy
        reports); checkpoint saving stays in it, as spaCy does not time it apart.
        """
        base = jsonl_logger(path, progress_bar)
        out = Path(output_dir)
        best_dir, snapshots = out / "model-best", out / SNAPSHOTS

        def setup(nlp, stdout, stderr):
            log_base, finalize_base = base(nlp, stdout, stderr)
            snapshots.mkdir(parents=True, exist_ok=True)
            clock = MarkClock(marks)
            last = time.perf_counter()
            clock.begin(last)
            train_s = 0.0

            def log_step(info: Optional[Dict[str, Any]]) -> None:
                nonlocal last, train_s
                now = time.perf_counter()
                done = clock.tick(now)
                if info is None:
                    train_s += now - last
                else:
                    speed = info["other_scores"].get("speed")
                    train_s += max(0.0, now - last - (dev_words / speed if dev_words and speed else 0.0))
                    clock.words, clock.train_seconds = int(info["words"]), train_s
                    clock.sample_memory(now, info["step"])
                    if best_dir.exists():
                        name = f"step{int(info['step']):07d}"
                        best_dir.rename(snapshots / name)
                        _drop(snapshots, clock.new_best(name, info["score"], now, info["step"], info["words"]))
                log_base(info)
                if done:
                    raise BudgetReached(f"last mark ({clock.marks[-1]:g} s) passed")
                last = time.perf_counter()

            def finalize() -> None:
                finalize_base()
                _finish(clock, time.perf_counter(), out)

            return log_step, finalize

        return setup


_register_spacy_logger()


def marks_callback(marks: Sequence[float], output_dir: Path, words_per_epoch: int):
    """A transformers TrainerCallback doing for the Trainer what the spaCy logger does.

    Used with save_strategy="best": the Trainer saves a checkpoint only on a new best dev
    score, and `on_save` moves it into snapshots/.
    """
    from transformers import TrainerCallback

    out = Path(output_dir)
    snapshots = out / SNAPSHOTS

    class MarksCallback(TrainerCallback):
        def __init__(self) -> None:
            self.clock = MarkClock(marks)
            self.step_start = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            snapshots.mkdir(parents=True, exist_ok=True)
            self.clock.begin(time.perf_counter())

        def on_step_begin(self, args, state, control, **kwargs):
            self.step_start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            self.clock.train_seconds += now - self.step_start
            self.clock.words = int(round(state.epoch * words_per_epoch))
            if self.clock.tick(now):
                control.should_training_stop = True

        def on_evaluate(self, args, state, control, **kwargs):
            self.clock.sample_memory(time.perf_counter(), state.global_step)

        def on_save(self, args, state, control, **kwargs):
            now = time.perf_counter()
            self.clock.tick(now)
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            name = f"step{state.global_step:07d}"
            checkpoint.rename(snapshots / name)
            score = state.best_metric if state.best_metric is not None else float("nan")
            _drop(snapshots, self.clock.new_best(name, score, now, state.global_step, self.clock.words))

        def on_train_end(self, args, state, control, **kwargs):
            _finish(self.clock, time.perf_counter(), out)

    return MarksCallback()
