"""Token-classification NER head: a softmax over BIO tags per token, decoded with constrained Viterbi.

The alternative to spaCy's transition-based `ner`: one linear layer on top of the transformer
listener, trained with cross-entropy against the gold BIO tags. Argmax decoding per token can
produce sequences no annotator would write (an I-PER after O, an I-LOC after B-PER); Viterbi
over the per-token log probabilities with those transitions forbidden returns the most probable
*valid* sequence instead, so every predicted entity is well formed.
"""
from itertools import islice
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, biluo_to_iob, validate_examples, validate_get_examples
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import (
    Config,
    Model,
    SequenceCategoricalCrossentropy,
    Softmax_v2,
    chain,
    set_dropout_rate,
    with_array,
    zero_init,
)
from thinc.types import Floats2d, Ints1d

from .confidence import DEFAULT_SPANS_KEY, set_entity_scores

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "spacy_bert_ner.TokenClassifier.v1"
nO = null

[model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[model.tok2vec.pooling]
@layers = "reduce_mean.v1"
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG)["model"]


@registry.architectures("spacy_bert_ner.TokenClassifier.v1")
def build_token_classifier(
    tok2vec: Model[List[Doc], List[Floats2d]], nO: Optional[int] = None
) -> Model[List[Doc], List[Floats2d]]:
    """Token vectors -> probabilities over the BIO tags, one row per token.

    The output layer starts at zero (uniform over tags), as spaCy's tagger does; its width is
    inferred from the label set at initialization.
    """
    output_layer = Softmax_v2(nO, init_W=zero_init)
    model = chain(tok2vec, with_array(output_layer))
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    return model


def bio_tags(labels: Sequence[str]) -> List[str]:
    """The tag inventory for entity labels: O, then B-X and I-X for each label X."""
    return ["O"] + [f"{prefix}-{label}" for label in labels for prefix in ("B", "I")]


def bio_constraints(tags: Sequence[str]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """(allowed[i, j]: tag j may follow tag i, allowed_first[j]: tag j may start a doc).

    I-X may only follow B-X or I-X; everything else may follow anything.
    """
    n = len(tags)
    allowed = numpy.ones((n, n), dtype=bool)
    allowed_first = numpy.ones(n, dtype=bool)
    for j, tag in enumerate(tags):
        if tag.startswith("I-"):
            label = tag[2:]
            allowed_first[j] = False
            allowed[:, j] = [prev in (f"B-{label}", f"I-{label}") for prev in tags]
    return allowed, allowed_first


def viterbi_decode(
    log_probs: Sequence[numpy.ndarray], allowed: numpy.ndarray, allowed_first: numpy.ndarray
) -> List[Ints1d]:
    """The highest-scoring tag sequence of each doc that uses only allowed transitions.

    Docs are padded to one array and decoded together, so the Python loop runs once per
    position of the longest doc rather than once per token of the batch.
    """
    lengths = numpy.array([len(lp) for lp in log_probs], dtype="int64")
    n_docs, n_tags = len(log_probs), allowed.shape[0]
    longest = int(lengths.max()) if n_docs else 0
    if longest == 0:
        return [numpy.zeros((0,), dtype="int32") for _ in log_probs]
    padded = numpy.zeros((n_docs, longest, n_tags))
    for i, lp in enumerate(log_probs):
        padded[i, : len(lp)] = lp
    transitions = numpy.where(allowed, 0.0, -numpy.inf)
    score = padded[:, 0] + numpy.where(allowed_first, 0.0, -numpy.inf)
    backpointers = numpy.zeros((n_docs, longest, n_tags), dtype="int32")
    for t in range(1, longest):
        candidates = score[:, :, None] + transitions  # [doc, previous tag, tag]
        backpointers[:, t] = candidates.argmax(axis=1)
        extended = candidates.max(axis=1) + padded[:, t]
        score = numpy.where((t < lengths)[:, None], extended, score)  # finished docs keep their score
    best_last = score.argmax(axis=1)
    paths = numpy.zeros((n_docs, longest), dtype="int32")
    current = numpy.zeros((n_docs,), dtype="int32")
    for t in range(longest - 1, -1, -1):
        current = numpy.where(lengths - 1 == t, best_last, current)  # each doc's backtrace starts at its end
        paths[:, t] = current
        if t > 0:
            current = backpointers[numpy.arange(n_docs), t, current]
    return [paths[i, :length] for i, length in enumerate(lengths)]


def bio_spans(doc: Doc, tags: Sequence[str]) -> List[Span]:
    """The entities of a doc's BIO tags, read as spaCy's `iob_to_biluo` + `biluo_tags_to_spans` read
    them (an I- that continues no entity of its label starts one), in one pass: `iob_to_biluo` pops
    each tag off the front of a list, which costs the square of a long document's length."""
    spans: List[Span] = []
    start, label = None, ""
    for i, tag in enumerate(tags):
        prefix, _, tag_label = tag.partition("-")
        continues = prefix == "I" and start is not None and tag_label == label
        if start is not None and not continues:
            spans.append(Span(doc, start, i, label))
            start = None
        if prefix in ("B", "I") and not continues:
            start, label = i, tag_label
    if start is not None:
        spans.append(Span(doc, start, len(tags), label))
    return spans


def span_probability(probs: numpy.ndarray, tags: Sequence[str], start: int, end: int, label: str) -> float:
    """The probability, under independent per-token tag distributions, that exactly tokens
    start..end-1 form one entity of `label`: B- at its start, I- inside, no I- right after."""
    begin, inside = tags.index(f"B-{label}"), tags.index(f"I-{label}")
    p = float(probs[start, begin]) * float(numpy.prod(probs[start + 1:end, inside]))
    if end < len(probs):
        p *= 1.0 - float(probs[end, inside])
    return p


def gold_bio(example: Example) -> List[Optional[str]]:
    """The example's gold tags aligned to its predicted tokens, in BIO (spaCy's `biluo_to_iob`);
    unannotated and misaligned tokens ('-', '' or None) are missing (None)."""
    return [None if tag in ("-", "") else tag for tag in biluo_to_iob(example.get_aligned_ner())]


class TokenClassifierNER(TrainablePipe):
    """Named entities from a per-token BIO softmax, decoded into valid spans."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "bert_token_ner",
        *,
        scorer: Optional[Callable] = None,
        spans_key: str = DEFAULT_SPANS_KEY,
        temperature: float = 1.0,
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"[{name}] temperature must be above 0, got {temperature}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.spans_key = spans_key
        self.temperature = temperature
        self.cfg: Dict[str, List[str]] = {"labels": []}
        self._constraints: Dict[Tuple[str, ...], Tuple[numpy.ndarray, numpy.ndarray]] = {}

    @property
    def labels(self) -> Tuple[str, ...]:
        """The entity labels (PER, LOC, ...), not the BIO tags."""
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> Tuple[str, ...]:
        return self.labels

    @property
    def tags(self) -> List[str]:
        return bio_tags(self.labels)

    def add_label(self, label: str) -> int:
        if not isinstance(label, str):
            raise ValueError(f"Entity labels must be strings, got {label!r}.")
        if label in self.labels:
            return 0
        self._allow_extra_label()
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    def predict(self, docs: Iterable[Doc]) -> List[Tuple[Ints1d, numpy.ndarray]]:
        """Per doc: tag ids of the best valid BIO sequence under the model's probabilities, and
        those probabilities (tokens x tags), which give the entities' scores."""
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return [(numpy.zeros((len(doc),), dtype="int32"), numpy.zeros((len(doc), len(self.tags))))
                    for doc in docs]
        if self.labels not in self._constraints:
            self._constraints = {self.labels: bio_constraints(self.tags)}
        allowed, allowed_first = self._constraints[self.labels]
        probs = [self.model.ops.to_numpy(p) for p in self.model.predict(docs)]
        paths = viterbi_decode([numpy.log(p + 1e-12) for p in probs], allowed, allowed_first)
        return list(zip(paths, probs))

    def set_annotations(self, docs: Iterable[Doc], predictions: List[Tuple[Ints1d, numpy.ndarray]]) -> None:
        """Set doc.ents from the decoded tags (every other token is outside an entity) and their
        scores in doc.spans[spans_key] (see `span_probability`)."""
        tags = self.tags
        for doc, (doc_tag_ids, probs) in zip(docs, predictions):
            doc.set_ents(bio_spans(doc, [tags[t] for t in doc_tag_ids]), default="outside")
            scores = [span_probability(probs, tags, span.start, span.end, span.label_) for span in doc.ents]
            set_entity_scores(doc, scores, self.spans_key, self.temperature)

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd=None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "TokenClassifierNER.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_scores = self.get_loss(examples, scores)
        backprop(d_scores)
        if sgd not in (None, False):
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], scores: List[Floats2d]) -> Tuple[float, List[Floats2d]]:
        """Cross-entropy against gold BIO tags; unannotated and misaligned tokens are masked out."""
        validate_examples(examples, "TokenClassifierNER.get_loss")
        truths = [gold_bio(eg) for eg in examples]
        loss_func = SequenceCategoricalCrossentropy(names=self.tags, normalize=False, missing_value=None)
        d_scores, loss = loss_func(scores, truths)
        if self.model.ops.xp.isnan(loss):
            raise ValueError(f"NaN loss in component '{self.name}': lower the learning rate or check the encoder.")
        return float(loss), d_scores

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Collect the entity labels from the training data (or take `labels`) and size the output layer."""
        validate_get_examples(get_examples, "TokenClassifierNER.initialize")
        if labels is None:
            labels = sorted({ent.label_ for eg in get_examples() for ent in eg.reference.ents})
        for label in labels:
            self.add_label(label)
        self._require_labels()
        tags = self.tags
        doc_sample, label_sample = [], []
        for eg in islice(get_examples(), 10):
            doc_sample.append(eg.predicted)
            gold = numpy.zeros((len(eg.predicted), len(tags)), dtype="float32")
            for i, tag in enumerate(gold_bio(eg)):
                if tag is not None:
                    gold[i, tags.index(tag)] = 1.0
            label_sample.append(self.model.ops.asarray2f(gold))
        self.model.initialize(X=doc_sample, Y=label_sample)


@Language.factory(
    "bert_token_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_config={"model": DEFAULT_MODEL, "scorer": {"@scorers": "spacy.ner_scorer.v1"},
                    "spans_key": DEFAULT_SPANS_KEY, "temperature": 1.0},
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_token_classifier(nlp: Language, name: str, model: Model, scorer: Optional[Callable], spans_key: str,
                          temperature: float) -> TokenClassifierNER:
    """A BIO token-classification NER head, usually on a transformer listener; its entities' scores
    go to doc.spans[spans_key] (components/confidence.py), temperature-scaled by `temperature`."""
    return TokenClassifierNER(nlp.vocab, model, name, scorer=scorer, spans_key=spans_key, temperature=temperature)
