"""`predict --engine ray`: the documents run on Ray Data actors, the output is written here.

Ray Data reads INPUT (a text or JSONL file, or a folder of .txt files; a local path or any URI
Ray Data reads, such as s3://...); a task per file cuts it into records with `predict`'s own
readers (`inputs`), so the same records are malformed, with the same line numbers, and the same
ones are too long. A pool of `workers` actors, each with the pipeline loaded once, runs batches
of records through the local engine (`engine.local_written`), which turns each document into its
output line as a local run does. This process receives the lines in input order (Ray Data's
`preserve_order`) and `predict` writes them to its part file, renamed to OUTPUT when all are
done: one file, with the same records in the same order as a run without Ray, never shards. A
local folder's files are read in name order, as locally; a folder URI's in the order Ray lists
them.

Each file is read whole by one task, so give an input of many GB as several files: they are then
read in parallel. Reading and cutting take no CPU of their own in Ray's accounting (they are
light, and a worker per CPU would otherwise leave none for them and wait forever).
"""
import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from ..errors import UserError
from ..ray_cluster import check_resources, ray_session
from .batching import SORT_BATCHES
from .engine import local_written
from .inputs import admitted, file_records, folder_record, is_uri, txt_files
from .output import Written

BLOCK_BYTES = 1 << 18  # a block of records: some seconds of an actor's work, not minutes
Problem = Tuple[str, bool]  # a skipped record's "path:line: reason", whether it is too long


@dataclass(frozen=True)
class RayEngine:
    """predict --engine ray: where and with what the documents are run (this module)."""

    address: Optional[str] = None  # a Ray cluster; None starts a local Ray on this machine
    workers: int = 1  # actors, each with the model loaded once
    cpus_per_worker: int = 1  # also each actor's torch threads
    gpus_per_worker: float = 0.0


def _sources(input_path: Union[str, Path]) -> Tuple[List[str], bool, Dict[str, str]]:
    """The files Ray reads, whether they are a folder's documents, and the name each local file
    has in messages (as a local run names it: the path as given)."""
    if is_uri(str(input_path)):
        import pyarrow.fs

        try:
            filesystem, path = pyarrow.fs.FileSystem.from_uri(str(input_path))
            info = filesystem.get_file_info(path)
        except (OSError, ValueError) as err:
            raise UserError(f"Cannot read {input_path}: {err}") from err
        if info.type == pyarrow.fs.FileType.NotFound:
            raise UserError(f"Input not found: {input_path}")
        return [str(input_path)], info.type == pyarrow.fs.FileType.Directory, {}
    path = Path(input_path)
    files = txt_files(path) if path.is_dir() else [path]
    if not files:
        raise UserError(f"No document to predict in {path}: the folder has no .txt files.")
    return [str(file.resolve()) for file in files], path.is_dir(), {str(f.resolve()): str(f) for f in files}


def _records(row: Dict[str, Any], folder: bool, names: Dict[str, str], max_chars: Optional[int]
             ) -> Iterator[Dict[str, Any]]:
    """The rows of one input file: a document, or a skipped record with its reason, in file order."""
    name = names.get(row["path"], row["path"])
    problems: List[Problem] = []

    def pending() -> Iterator[Dict[str, Any]]:
        for problem, too_long in problems:
            yield {"text": "", "fields": "", "problem": problem, "too_long": too_long}
        problems.clear()

    skip: Callable[[str], None] = lambda message: problems.append((message, False))  # noqa: E731
    records = (folder_record(name, row["bytes"], skip) if folder else
               file_records(name, io.BytesIO(row["bytes"]), skip))
    for text, fields, where in records:
        yield from pending()
        if admitted(text, where, max_chars, lambda message: problems.append((message, True))):
            yield {"text": text, "fields": json.dumps(fields, ensure_ascii=False), "problem": "",
                   "too_long": False}
    yield from pending()


class PipelineActor:
    """A Ray Data actor: the pipeline loaded once, a batch of rows in, their output lines out."""

    def __init__(self, model: str, cpu_inference: Optional[str], gpu: bool, threads: int,
                 batch_size: int, split_chars: int, min_score: Optional[float]):
        import torch

        from .loading import load_pipeline

        torch.set_num_threads(threads)
        self.nlp = load_pipeline(model, 0 if gpu else -1, cpu_inference)  # Ray shows the actor its GPUs only
        self.batch_size, self.split_chars, self.min_score = batch_size, split_chars, min_score

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, List[Any]]:
        size = len(batch["problem"])
        out: Dict[str, List[Any]] = {"problem": list(batch["problem"]), "too_long": list(batch["too_long"])}
        out.update({key: [default] * size for key, default in zip(Written._fields, ("", 0, 0, False, False))})
        docs = [i for i in range(size) if not batch["problem"][i]]
        records = ((batch["text"][i], json.loads(batch["fields"][i]), "") for i in docs)
        for i, line in zip(docs, local_written(self.nlp, records, self.split_chars, self.batch_size, 1,
                                                 self.min_score)):
            for key, value in zip(Written._fields, line):
                out[key][i] = value
        return out


def ray_written(model: str, input_path: Union[str, Path], engine: RayEngine, *, batch_size: int,
                split_chars: int, max_chars: Optional[int], min_score: Optional[float],
                cpu_inference: Optional[str], skip: Callable[[str], None],
                too_long: Callable[[str], None]) -> Iterator[Written]:
    """Each document's output line in input order; skipped records go to `skip` / `too_long`."""
    if engine.workers < 1 or engine.cpus_per_worker < 1 or engine.gpus_per_worker < 0:
        raise UserError("--workers and --cpus-per-worker must be at least 1, --gpus-per-worker at least 0.")
    paths, folder, names = _sources(input_path)
    with ray_session(engine.address) as ray:
        check_resources(ray, {"CPU": engine.workers * engine.cpus_per_worker,
                              "GPU": engine.workers * engine.gpus_per_worker},
                        "--workers with --cpus-per-worker and --gpus-per-worker")
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False  # predict shows its own
        # A file's records leave its task in blocks of this size, so that one file keeps all the
        # actors busy (repartition would need a CPU of its own, which the actors hold).
        context.target_max_block_size = BLOCK_BYTES
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # not a line per dataset executed
        dataset = ray.data.read_binary_files(paths, include_paths=True, num_cpus=0,
                                             file_extensions=["txt"] if folder else None)
        dataset = dataset.flat_map(_records, fn_kwargs={"folder": folder, "names": names,
                                                        "max_chars": max_chars}, num_cpus=0)
        dataset = dataset.map_batches(
            PipelineActor, batch_size=batch_size * SORT_BATCHES,  # the windows pipe_entities sorts by length
            compute=ray.data.ActorPoolStrategy(size=engine.workers), num_cpus=engine.cpus_per_worker,
            num_gpus=engine.gpus_per_worker,
            fn_constructor_kwargs={"model": model, "cpu_inference": cpu_inference,
                                   "gpu": engine.gpus_per_worker > 0, "threads": engine.cpus_per_worker,
                                   "batch_size": batch_size, "split_chars": split_chars,
                                   "min_score": min_score})
        try:
            with warnings.catch_warnings():
                # An input of fewer blocks than workers (a small file) leaves some actors idle; Ray
                # warns of it, and there is nothing for the user to change.
                warnings.filterwarnings("ignore", message="The minimum number of concurrent actors", module="ray")
                for row in dataset.iter_rows():
                    if row["problem"]:
                        (too_long if row["too_long"] else skip)(row["problem"])
                    else:
                        yield Written(*(row[key] for key in Written._fields))
        except ray.exceptions.RayError as err:
            raise _user_error(err) or err


def _user_error(err: BaseException) -> Optional[UserError]:
    """A UserError raised on a worker (e.g. the model is not installed there), as the user's error."""
    seen = err
    while seen is not None:
        if isinstance(seen, UserError):
            return UserError(f"On a Ray worker: {seen}")
        seen = seen.__cause__ or getattr(seen, "cause", None)
    return None
