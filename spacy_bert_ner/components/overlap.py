"""Resolve overlapping entity candidates into a non-overlapping `doc.ents`.

Several components may propose entities for the same text: an NER writing `doc.ents`, a
span ruler writing `doc.spans["ruler"]`, a span categorizer writing `doc.spans["sc"]`.
`doc.ents` cannot hold overlapping spans, so this component gathers every candidate, orders
them with a policy named in the config and keeps, greedily, each candidate that overlaps none
kept before it. Every candidate, kept or not, stays in `doc.spans[output_key]`.

Scores: a span group's `attrs["scores"]` (spaCy's convention), and for `doc.ents` the group
`doc.spans[scores_key]` that the NER heads write (components/confidence.py). A `filter`
(`spacy_bert_ner.min_score.v1`) drops scored candidates below a threshold before resolving;
`doc.spans[scores_key]` is rewritten to hold the final `doc.ents` and their scores.

A policy maps a `Candidate` to a sort key; smaller keys win. Tie rule, shared by all
policies: among candidates the policy ranks equally, the one that starts first wins, then
the longer one (in tokens), then the one gathered first: `doc.ents` before the span keys,
the span keys in config order, spans within a source in their stored order.
"""
import math
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from spacy.util import registry

from .confidence import DEFAULT_SPANS_KEY, entity_scores

ENTS_SOURCE = "ents"


class Candidate(NamedTuple):
    """A proposed entity, where it came from and its score if the source has scores."""

    span: Span
    source: str
    score: Optional[float]


Policy = Callable[[Candidate], Any]


@registry.misc("spacy_bert_ner.longest_span.v1")
def longest_span() -> Policy:
    """Prefer the span with more tokens, as `spacy.util.filter_spans` does."""
    return lambda cand: -len(cand.span)


@registry.misc("spacy_bert_ner.first_span.v1")
def first_span() -> Policy:
    """Prefer the span that starts first (leftmost-longest, with the tie rule)."""
    return lambda cand: cand.span.start


@registry.misc("spacy_bert_ner.label_priority.v1")
def label_priority(labels: List[str]) -> Policy:
    """Prefer labels earlier in `labels`; labels not listed rank after all listed ones."""
    rank = {label: i for i, label in enumerate(labels)}
    return lambda cand: rank.get(cand.span.label_, len(rank))


@registry.misc("spacy_bert_ner.highest_score.v1")
def highest_score() -> Policy:
    """Prefer the higher score; candidates without a score rank after all scored ones."""
    return lambda cand: -cand.score if cand.score is not None else math.inf


Filter = Callable[[Candidate], bool]


@registry.misc("spacy_bert_ner.min_score.v1")
def min_score(threshold: float) -> Filter:
    """Keep candidates scored at least `threshold`; unscored ones (rules, gazetteers) are kept."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"spacy_bert_ner.min_score.v1: threshold must be in 0..1, got {threshold}.")
    return lambda cand: cand.score is None or cand.score >= threshold


def _scores(group: SpanGroup) -> List[Optional[float]]:
    """Per-span scores where the group carries them, as spancat's `attrs["scores"]`."""
    scores = group.attrs.get("scores")
    if scores is None or len(scores) != len(group):
        return [None] * len(group)
    return [None if s is None else float(s) for s in scores]


class OverlapResolver:
    """Write the best non-overlapping candidates to `doc.ents`, keep all in `doc.spans`."""

    def __init__(self, name: str, *, span_keys: List[str], include_ents: bool,
                 output_key: str, policy: Policy, scores_key: str = DEFAULT_SPANS_KEY,
                 filter: Optional[Filter] = None):
        if output_key in span_keys:
            raise ValueError(
                f"[{name}] output_key '{output_key}' is also in span_keys: the component "
                "would read its own output. Choose another output_key."
            )
        # Settings come from the config, so they can be changed at load time
        # (`spacy.load(name, config=...)`); the component has no data to save.
        self.name = name
        self.policy = policy
        self.filter = filter
        self.cfg: Dict[str, Any] = {
            "span_keys": list(span_keys), "include_ents": include_ents, "output_key": output_key,
            "scores_key": scores_key,
        }

    def candidates(self, doc: Doc) -> List[Candidate]:
        """Gather candidates in source order, which is the last step of the tie rule."""
        cands: List[Candidate] = []
        if self.cfg["include_ents"]:
            scores = entity_scores(doc, self.cfg["scores_key"])
            cands.extend(Candidate(ent, ENTS_SOURCE, score) for ent, score in zip(doc.ents, scores))
        for key in self.cfg["span_keys"]:
            if key in doc.spans:  # doc.spans[key] would create an empty group
                group = doc.spans[key]
                cands.extend(Candidate(s, key, sc) for s, sc in zip(group, _scores(group)))
        return cands

    def resolve(self, doc: Doc, cands: Iterable[Candidate]) -> List[Span]:
        """Keep, in policy order with the tie rule, each span overlapping none kept so far."""
        ranked = sorted(cands, key=lambda c: (self.policy(c), c.span.start, c.span.start - c.span.end))
        taken = bytearray(len(doc))
        kept = []
        for cand in ranked:
            start, end = cand.span.start, cand.span.end
            if start < end and not any(taken[start:end]):
                taken[start:end] = b"\x01" * (end - start)
                kept.append(cand.span)
        return sorted(kept, key=lambda span: span.start)

    def __call__(self, doc: Doc) -> Doc:
        cands = self.candidates(doc)
        kept = [c for c in cands if self.filter is None or self.filter(c)]
        doc.ents = self.resolve(doc, kept)
        score_of = {(c.span.start, c.span.end, c.span.label): c.score for c in reversed(kept)}
        doc.spans[self.cfg["scores_key"]] = SpanGroup(
            doc, name=self.cfg["scores_key"], spans=list(doc.ents),
            attrs={"scores": [score_of.get((e.start, e.end, e.label)) for e in doc.ents]})
        doc.spans[self.cfg["output_key"]] = SpanGroup(
            doc,
            name=self.cfg["output_key"],
            spans=[c.span for c in cands],
            attrs={"sources": [c.source for c in cands], "scores": [c.score for c in cands]},
        )
        return doc



@Language.factory(
    "bert_ner_overlap",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_config={
        "span_keys": ["ruler"],
        "include_ents": True,
        "output_key": "ent_candidates",
        "policy": {"@misc": "spacy_bert_ner.longest_span.v1"},
        "scores_key": DEFAULT_SPANS_KEY,
        "filter": None,
    },
)
def make_overlap_resolver(nlp: Language, name: str, span_keys: List[str], include_ents: bool,
                          output_key: str, policy: Policy, scores_key: str,
                          filter: Optional[Filter]) -> OverlapResolver:
    """Gather `doc.ents` (if `include_ents`) and `doc.spans[k]` for k in `span_keys`,
    write the non-overlapping choice of `policy` to `doc.ents` and all candidates to
    `doc.spans[output_key]` with `attrs["sources"]` and `attrs["scores"]` (None if unscored)."""
    return OverlapResolver(name, span_keys=span_keys, include_ents=include_ents,
                           output_key=output_key, policy=policy, scores_key=scores_key, filter=filter)
