"""The pipeline behind the service: loaded as `predict` loads it, run as `predict` runs it.

`EntityModel.entities` takes the texts of one batch and gives each one's entities through
`long_texts.pipe_entities` with the pipeline's scores (`engine.scores_key`), the local engine's
own call: texts longer than `split_chars` are cut and merged back exactly as `predict` does, and
`--cpu-inference` and `--gpu-id` load the pipeline through `loading.load_pipeline`. `response`
turns a text's entities into the answer's JSON with `predict`'s own `record_json` and
`above_min_score`, so the service answers what `predict` writes.

A service runs batches of every shape for as long as it lives, and glibc's heap fragments under
them as under training's steps: resident memory grows with the requests served while the bytes
in use do not (benchmarks/bench_serve.py measures it). The training hooks that fix it there
fix it here: a fixed mmap threshold (the encoder's activations are mapped and returned) and
`malloc_trim` every `TRIM_EVERY_BATCHES` batches (training/hooks.py says how each works).
"""
from typing import Any, Dict, List, Optional

from ..components.confidence import scoring_pipe
from ..errors import UserError
from ..inference.engine import scores_key
from ..inference.loading import load_pipeline
from ..inference.long_texts import Entity, pipe_entities
from ..inference.output import above_min_score, record_json
from ..training.hooks import malloc_mmap_threshold, malloc_trim
from .settings import ServeSettings

WARM_UP = "Warm-up text, run once before the service says it is ready."
MMAP_THRESHOLD_MB = 1.0  # blocks from this size up are mapped and unmapped, never kept in the heap
TRIM_EVERY_BATCHES = 50  # glibc's free heap pages go back to the OS this often


class EntityModel:
    def __init__(self, settings: ServeSettings):
        if settings.code:
            from spacy.util import import_file

            import_file("serve_code", settings.code)
        self.nlp = load_pipeline(settings.model, settings.gpu_id, settings.cpu_inference)
        self.split_chars = self.nlp.max_length if settings.split_chars is None else settings.split_chars
        if not 1 <= self.split_chars <= self.nlp.max_length:
            raise UserError(f"--split-chars must be between 1 and the pipeline's max_length "
                            f"({self.nlp.max_length:,}), not {self.split_chars:,}.")
        self.scored = scoring_pipe(self.nlp) is not None
        self.scores_key = scores_key(self.nlp)
        self.batch_size = settings.max_batch_texts
        malloc_mmap_threshold(MMAP_THRESHOLD_MB)(self.nlp)
        self._trim = malloc_trim(TRIM_EVERY_BATCHES)
        self._batches = 0

    def entities(self, texts: List[str]) -> List[List[Entity]]:
        """Each text's (start, end, label, score) entities, in the order of `texts`."""
        results = pipe_entities(self.nlp, ((text, None) for text in texts), self.split_chars,
                                batch_size=self.batch_size, scores_key=self.scores_key)
        found = [entities for entities, _ in results]
        self._batches += 1
        self._trim(self.nlp, {"step": self._batches})
        return found

    def warm_up(self) -> None:
        self.entities([WARM_UP])


def response(text: str, entities: List[Entity], min_score: Optional[float]) -> Dict[str, Any]:
    """One text's answer: `entities` as predict writes them, after min_score."""
    return {"entities": record_json({"text": text}, above_min_score(entities, min_score))["entities"]}
