"""A confidence in 0..1 for every predicted entity, in `doc.spans[spans_key].attrs["scores"]`.

spaCy's convention for span scores (as the span categorizer writes them): a SpanGroup whose
`attrs["scores"]` holds one score per span. Here the group holds the spans of `doc.ents`, in
order, so `zip(doc.spans["ents"], doc.spans["ents"].attrs["scores"])` pairs each entity with
its score.

Where the scores come from:
- the transition-based `ner` head: `bert_ner_confidence`, placed after it, runs that head's own
  model again as a beam search over the transformer output the doc already holds, and scores an
  entity by the probability mass of the beam's parses that contain it (spaCy's
  `EntityRecognizer.scored_ents`). The greedy entities are kept as predicted; only the scores
  are added. The cost is the head's, not the encoder's (bench_predict.py measures it).
  The beam searches a document a window at a time: windows of at most `window_tokens` tokens,
  cut where `cuts.py` ranks best (sentence boundaries, then after a sentence-final mark or a line
  break) and never inside a greedy entity. Each window is a Doc of its own whose tokens carry
  the document's own transformer output (the same rows of `doc._.trf_data` and `doc.tensor`), so
  every token has the features it has in the whole document; only the head's look at the tokens
  just past a window's edge is lost, and a window ends where an entity cannot continue. Why
  windows: spaCy's beam copies each state's whole history at every step, so a search over the
  whole document costs the square of its length (spaCy #4928), while the sum over windows of
  bounded length grows with the length.
- the token-classification head (`bert_token_ner`) scores its own entities from its softmax:
  the probability, under its per-token tag distributions, that exactly this span carries the
  label (B-X at its start, I-X inside, and no I-X right after it).

Both go through `calibrated`: a temperature T on the score's log-odds, fitted on dev by
`spacy-bert-ner calibrate` and kept in the component's config (T = 1 leaves scores as they are).
"""
import dataclasses
import math
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, SpanGroup
from spacy.util import minibatch

from .cuts import cut_points, piece_bounds

DEFAULT_SPANS_KEY = "ents"
EPSILON = 1e-6


# The components that score entities; `temperature` and `spans_key` are settings of each.
SCORING_FACTORIES = ("bert_ner_confidence", "bert_token_ner")


def scoring_pipe(nlp: Language) -> Optional[str]:
    """The name of the last component that scores the entities, or None if none does."""
    names = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in SCORING_FACTORIES]
    return names[-1] if names else None


def calibrated(score: float, temperature: float) -> float:
    """Temperature scaling of a probability: sigmoid(logit(score) / T)."""
    if temperature == 1.0:
        return score
    p = min(max(score, EPSILON), 1.0 - EPSILON)
    return 1.0 / (1.0 + math.exp(-math.log(p / (1.0 - p)) / temperature))


def set_entity_scores(doc: Doc, scores: Sequence[float], spans_key: str, temperature: float) -> None:
    """doc.spans[spans_key]: the entities of doc.ents with their (calibrated) scores."""
    doc.spans[spans_key] = SpanGroup(doc, name=spans_key, spans=list(doc.ents),
                                     attrs={"scores": [calibrated(float(s), temperature) for s in scores]})


def entity_scores(doc: Doc, spans_key: str = DEFAULT_SPANS_KEY) -> List[Optional[float]]:
    """The score of each entity in doc.ents (None where the pipeline gave it none)."""
    group = doc.spans.get(spans_key) if spans_key in doc.spans else None
    if group is None or len(group.attrs.get("scores", [])) != len(group):
        return [None] * len(doc.ents)
    by_span = {(s.start, s.end, s.label): score for s, score in zip(group, group.attrs["scores"])}
    return [by_span.get((e.start, e.end, e.label)) for e in doc.ents]


def windows(doc: Doc, max_tokens: int) -> List[Tuple[int, int]]:
    """The (start, end) token ranges the beam searches: the whole doc if it fits, else pieces of
    at most `max_tokens` cut where `cuts.py` ranks best and never inside one of `doc.ents` (a
    stretch with no such cut stays whole)."""
    if len(doc) <= max_tokens:  # most documents: no cut points to rank
        return [(0, len(doc))]
    ends = piece_bounds(cut_points(doc, None), list(range(len(doc) + 1)), max_tokens)
    return list(zip([0] + ends[:-1], ends))


def window_doc(doc: Doc, start: int, end: int) -> Doc:
    """Tokens start..end-1 as a Doc of their own, without entities, holding the document's own
    features for them: the rows of `doc._.trf_data`'s alignment (the transformer output itself
    is shared, not copied) and of `doc.tensor`."""
    tokens = doc[start:end]
    window = Doc(doc.vocab, words=[t.text for t in tokens], spaces=[bool(t.whitespace_) for t in tokens])
    if Doc.has_extension("trf_data") and doc._.trf_data is not None:
        window._.trf_data = dataclasses.replace(doc._.trf_data, align=doc._.trf_data.align[start:end])
    if doc.tensor is not None and len(doc.tensor) == len(doc):
        window.tensor = doc.tensor[start:end]
    return window


class BeamConfidence:
    """Score the entities of a transition-based NER component by its beam search."""

    def __init__(self, nlp: Language, name: str, *, ner: str, beam_width: int, beam_density: float,
                 window_tokens: int, spans_key: str, temperature: float):
        if beam_width < 2:
            raise ValueError(f"[{name}] beam_width must be at least 2 to give scores, got {beam_width}.")
        if window_tokens < 1:
            raise ValueError(f"[{name}] window_tokens must be at least 1, got {window_tokens}.")
        if temperature <= 0:
            raise ValueError(f"[{name}] temperature must be above 0, got {temperature}.")
        self.nlp, self.name, self.ner = nlp, name, ner
        self.beam_width, self.beam_density, self.window_tokens = beam_width, beam_density, window_tokens
        self.spans_key, self.temperature = spans_key, temperature

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        if self.ner not in self.nlp.pipe_names:
            raise ValueError(f"[{self.name}] no component '{self.ner}' in the pipeline {self.nlp.pipe_names}; "
                             f"set {self.name}.ner to the NER component's name.")
        for batch in minibatch(docs, batch_size):
            for doc, by_span in zip(batch, self.span_probabilities(batch, batch_size)):
                # the beam's probabilities sum to 1 up to rounding, so a sum of them can pass 1
                scores = [min(1.0, by_span.get((e.start, e.end, e.label_), 0.0)) for e in doc.ents]
                set_entity_scores(doc, scores, self.spans_key, self.temperature)
                yield doc

    def span_probabilities(self, docs: Sequence[Doc], batch_size: int = 128, beam_density: Optional[float] = None
                           ) -> List[Dict[Tuple[int, int, str], float]]:
        """Per doc, every (start, end, label) the beam holds with the probability mass of the
        parses that contain it (uncalibrated): the greedy entities' scores, and also those of the
        spans the head ranked below them, which `audit` compares with the annotation.
        `beam_density` replaces the component's for this call (0: no parse is pruned)."""
        density = self.beam_density if beam_density is None else beam_density
        ner = self.nlp.get_pipe(self.ner)
        # a doc without tokens has no entities, and the transformer cannot pool an empty batch
        placed = [(i, start, end) for i, doc in enumerate(docs) if len(doc)
                  for start, end in windows(doc, self.window_tokens)]
        by_doc: List[Dict[Tuple[int, int, str], float]] = [{} for _ in docs]
        for chunk in minibatch(placed, batch_size):
            # windows hold no entities: spaCy's NER keeps those a doc has, and the beam would
            # then only ever contain the greedy ones
            searched = [window_doc(docs[i], start, end) for i, start, end in chunk]
            beams = ner.beam_parse(searched, beam_width=self.beam_width, beam_density=density)
            for (i, start, _), scored in zip(chunk, ner.scored_ents(beams)):
                by_doc[i].update(((s + start, e + start, label), p) for (s, e, label), p in scored.items())
        return by_doc


@Language.factory(
    "bert_ner_confidence",
    assigns=["doc.spans"],
    requires=["doc.ents"],
    default_config={"ner": "ner", "beam_width": 16, "beam_density": 0.0001, "window_tokens": 256,
                    "spans_key": DEFAULT_SPANS_KEY, "temperature": 1.0},
)
def make_beam_confidence(nlp: Language, name: str, ner: str, beam_width: int, beam_density: float,
                         window_tokens: int, spans_key: str, temperature: float) -> BeamConfidence:
    """Scores in 0..1 for the entities of the transition-based NER component `ner`; see the module."""
    return BeamConfidence(nlp, name, ner=ner, beam_width=beam_width, beam_density=beam_density,
                          window_tokens=window_tokens, spans_key=spans_key, temperature=temperature)
