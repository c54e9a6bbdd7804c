"""Batch prediction: documents in, one JSON line per document out (`spacy-bert-ner predict`).

The command's flow; each step has its module: reading INPUT (`inputs`), the output lines and the
summary (`output`), the part file and `--resume` (`resume`), stopping on a signal (`signals`), and
the engine that runs the pipeline, in this process (`engine`) or on Ray Data actors (`ray_engine`).
Documents are batched with others of similar length (less padding for the encoder); the output
keeps the input order.

Long documents: one longer than `split_chars` (default and at most the pipeline's
`max_length`, 1,000,000 characters) is run as overlapping pieces and its entities are merged
back at offsets of the whole text (see `long_texts`); with `max_chars`, documents longer than
that are skipped instead. Both are counted and reported.

Interruptions: OUTPUT appears only when every document is done. On SIGINT (Ctrl-C) or SIGTERM the
run stops, says how many documents were done, keeps the part file for `resume` (removes it when it
holds none) and raises `Interrupted`, which the CLI turns into exit status 130 / 143. On resuming,
malformed and too-long records are counted again as the input is read again. Any other failure
removes the part file, unless it holds an earlier run's documents.

With `ray` (`--engine ray`) the documents run on Ray Data actors and come back here in input
order, to the same part file and OUTPUT; such a run is not resumable, so a stop removes its part
file.
"""
import os
import sys
from contextlib import closing
from pathlib import Path
from typing import List, Optional, Union

from spacy.language import Language

from ..components.confidence import SCORING_FACTORIES, scoring_pipe
from ..errors import UserError
from ..jsonfiles import write_json
from .engine import local_written
from .inputs import admit, is_uri, read_records
from .loading import load_pipeline
from .output import FORMATS, MAX_REPORTED, PredictSummary, print_summary, write_tool_file
from .ray_engine import RayEngine, ray_written
from .resume import check_resumable, complete_lines, part_paths, read_back, started_from
from .signals import Interrupted, interrupt_on_signals


def _check_paths(input_path: Union[str, Path], output_path: Path) -> None:
    """INPUT exists (a URI is checked by Ray Data as it lists it) and OUTPUT can be a file."""
    local = isinstance(input_path, Path)
    if local and not input_path.exists():
        raise UserError(f"Input not found: {input_path}")
    if str(input_path).lower().endswith(".json") and not (local and input_path.is_dir()):
        raise UserError(f"{input_path}: predict reads JSONL (one JSON object per line), plain "
                        "text or a folder of .txt files. If the file has one object per line, "
                        "rename it to .jsonl.")
    if output_path.is_dir():
        raise UserError(f"Output {output_path} is a folder; give a file name such as "
                        f"{output_path / 'predictions.jsonl'}")


def predict(model: Union[str, Language], input_path: Union[str, Path], output_path: Path, *,
            batch_size: Optional[int] = None, n_process: int = 1, gpu_id: int = -1,
            split_chars: Optional[int] = None, max_chars: Optional[int] = None,
            resume: bool = False, min_score: Optional[float] = None,
            cpu_inference: Optional[str] = None, ray: Optional[RayEngine] = None,
            format: str = "jsonl") -> PredictSummary:
    """Write one JSON line with entities per input document; see the module docstring.

    model: a pipeline folder, package name, or a loaded pipeline (used as it is). split_chars:
    documents longer than this are run as pieces (default: `nlp.max_length`). max_chars:
    documents longer than this are skipped and counted. resume: continue the part file of an
    interrupted run into the same OUTPUT. min_score: leave out entities scored below it (counted).
    cpu_inference: the encoder's arithmetic on the CPU, "fp32", "bf16" or "int8" (None: the
    pipeline's own setting; components/encoder.py). ray: run the documents on Ray Data actors
    (ray_engine.py) instead of this process; INPUT may then be any URI Ray reads. format: jsonl
    (predict's own lines), or label-studio, prodigy or doccano: what that tool imports (output.py).
    """
    from tqdm import tqdm
    from wasabi import msg

    output_path = Path(output_path)
    if is_uri(str(input_path)) and ray is None:
        raise UserError(f"{input_path}: a URI is read by Ray Data; add --engine ray, or copy the "
                        "input to this machine.")
    input_path = str(input_path) if is_uri(str(input_path)) else Path(input_path)
    _check_paths(input_path, output_path)
    if n_process > 1 and gpu_id >= 0:
        raise UserError("--n-process above 1 cannot share a GPU; use --n-process 1 with --gpu-id.")
    if ray is not None and (n_process > 1 or gpu_id >= 0 or resume):
        option = "--n-process" if n_process > 1 else "--gpu-id" if gpu_id >= 0 else "--resume"
        raise UserError(f"{option} is for the local engine; with --engine ray use --workers, "
                        "--cpus-per-worker and --gpus-per-worker (an interrupted Ray run starts over).")
    if format not in FORMATS:
        raise UserError(f"--format {format!r} is not one of {', '.join(FORMATS)}.")
    if max_chars is not None and max_chars < 1:
        raise UserError(f"--max-chars must be at least 1, not {max_chars}.")
    if min_score is not None and not 0.0 <= min_score <= 1.0:
        raise UserError(f"--min-score is a score from 0 to 1, not {min_score}.")
    part, sidecar = part_paths(output_path)
    resuming = resume and part.exists()
    if part.exists() and not resume:
        raise UserError(f"{part} is the part file of an interrupted (or still running) run into "
                        f"{output_path}: pass --resume to continue it, or delete it to start over.")
    summary = PredictSummary()

    def report(kind: List[str], message: str) -> None:
        kind.append(message)
        if len(kind) <= MAX_REPORTED:
            tqdm.write(f"Skipped {message}", file=sys.stderr)

    def skip(message: str) -> None:
        report(summary.skipped, message)

    def too_long(message: str) -> None:
        report(summary.too_long, message)

    appended_from: Optional[int] = None  # byte offset from which this run appends to the part file
    with interrupt_on_signals():
        try:
            # With Ray the actors load their own copies; this one gives the same checks and
            # messages (model, limits, scores) before a cluster is asked for anything.
            nlp = model if isinstance(model, Language) else load_pipeline(model, gpu_id, cpu_inference)
            split_chars = nlp.max_length if split_chars is None else split_chars
            if not 1 <= split_chars <= nlp.max_length:
                raise UserError(f"--split-chars must be between 1 and the pipeline's max_length "
                                f"({nlp.max_length:,}), not {split_chars:,}.")
            if min_score is not None and scoring_pipe(nlp) is None:
                raise UserError(f"--min-score needs entity scores, and {model} gives none: its pipeline "
                                f"{nlp.pipe_names} has no {' or '.join(SCORING_FACTORIES)}. Package the "
                                "model with the current configs, or leave out --min-score.")
            if n_process > 1 and "torch" in sys.modules:
                import torch  # the workers inherit this: share the cores instead of oversubscribing

                torch.set_num_threads(max(1, torch.get_num_threads() // n_process))
            if ray is None:
                records = admit(read_records(input_path, skip), max_chars, too_long)
            if resuming:
                started = started_from(input_path, model, split_chars, max_chars, min_score, cpu_inference)
                check_resumable(part, sidecar, started)
                appended_from = read_back(part, input_path, records, summary, split_chars)
                msg.info(f"Resuming {part}: {summary.resumed} documents done, continuing after them")
            else:
                if resume:
                    msg.info(f"No part file {part} to resume; starting from the first document")
                started = (None if ray is not None else
                           started_from(input_path, model, split_chars, max_chars, min_score, cpu_inference))
                output_path.parent.mkdir(parents=True, exist_ok=True)
                appended_from = 0
                part.write_bytes(b"")
                if started is not None:
                    write_json(sidecar, started, indent=None)
            if ray is None:
                lines = local_written(nlp, records, split_chars, batch_size, n_process, min_score)
            else:
                lines = ray_written(model, input_path, ray, batch_size=batch_size or nlp.batch_size,
                                    split_chars=split_chars,
                                    max_chars=max_chars, min_score=min_score, cpu_inference=cpu_inference,
                                    skip=skip, too_long=too_long)
            with part.open("a", encoding="utf8", newline="\n", buffering=1) as out, closing(lines):
                progress = tqdm(lines, desc="Predicting", unit=" docs", disable=None, initial=summary.docs)
                for line in progress:
                    out.write(line.line)
                    summary.docs += 1
                    summary.entities += line.entities
                    summary.below_min_score += line.below_min_score
                    summary.split += line.split
                    summary.replaced_entities += line.replaced_entities
                out.flush()
                os.fsync(out.fileno())
            if summary.docs == 0 and (summary.skipped or summary.too_long):
                first = (summary.skipped or summary.too_long)[0]
                raise UserError(f"No document to predict in {input_path}: all "
                                f"{len(summary.skipped) + len(summary.too_long)} records were skipped, "
                                f"the first as {first}")
            if format == "jsonl":
                os.replace(part, output_path)
            else:
                write_tool_file(part, output_path, format, nlp)
                part.unlink()
            sidecar.unlink(missing_ok=True)
        except Interrupted as stop:
            if appended_from is None:
                msg.fail(f"Interrupted by {stop} before any document was done; {output_path} was not "
                         "written" + (f"; {part} is kept as it was, for --resume" if resuming else ""))
            else:
                done = summary.resumed + (complete_lines(part, appended_from) if part.exists() else 0)
                if done and ray is None:
                    msg.fail(f"Interrupted by {stop} after {done} documents; {output_path} was not "
                             f"written. The {done} documents are kept in {part}: rerun the same "
                             "command with --resume to continue.")
                else:
                    part.unlink(missing_ok=True)
                    sidecar.unlink(missing_ok=True)
                    msg.fail(f"Interrupted by {stop} " + (f"after {done} documents; {output_path} was not "
                             f"written, and {part} was removed (a Ray run starts over)" if done else
                             f"before any document was done; {output_path} was not written"))
            raise
        except BaseException:
            if appended_from is not None and summary.resumed == 0:
                part.unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)
            raise
    print_summary(summary, output_path, part, split_chars, max_chars)
    return summary
