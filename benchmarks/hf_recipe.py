"""The Hugging Face token-classification recipe (transformers' examples/pytorch/token-classification/run_ner.py).

What a user would write instead of this project, kept faithful to run_ner.py's defaults:
AutoModelForTokenClassification over the encoder, one example per sentence, labels on the first
subword of each word (-100 on the other pieces, `label_all_tokens=False`), truncation at the
model's maximum length, DataCollatorForTokenClassification, Trainer with AdamW at 5e-5, batch
16, linear schedule over 3 epochs with 10% warmup, no weight decay; dev scored with seqeval's
default mode as run_ner's `evaluate.load("seqeval")` does, the best-on-dev checkpoint kept.
Test scores use seqeval strict IOB2 (`mode="strict", scheme=IOB2`), as the project's scorer.

The harness stops training at its last wall-clock mark (time_marks.marks_callback); the data
are the harness's DocBins, so every system sees the same sentences and tags.
"""
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from spacy_bert_ner.readers.schemes import encode_iob2

LEARN_RATE = 5e-5
BATCH_SIZE = 16
EPOCHS = 3
WARMUP_RATIO = 0.1

Tagged = Tuple[List[str], List[str]]


def read_sentences(path: Path, lang: str) -> List[Tagged]:
    """(words, IOB2 tags) per gold sentence of a DocBin."""
    import spacy

    from spacy_bert_ner.readers.docbin import read_docbin

    sentences = []
    for doc in read_docbin(path, spacy.blank(lang).vocab):
        for sent in doc.sents:
            tags = encode_iob2(len(sent), ((e.start - sent.start, e.end - sent.start, e.label_) for e in sent.ents))
            sentences.append(([t.text for t in sent], tags))
    return sentences


def label_list(sentences: Sequence[Tagged]) -> List[str]:
    """run_ner's get_label_list: sorted set of tags seen in train."""
    return sorted({tag for _, tags in sentences for tag in tags})


def encode(tokenizer, sentences: Sequence[Tagged], label2id: Dict[str, int]) -> List[Dict[str, Any]]:
    """run_ner's tokenize_and_align_labels: first-subword labels, -100 elsewhere."""
    enc = tokenizer([w for w, _ in sentences], truncation=True, is_split_into_words=True)
    features = []
    for i, (_, tags) in enumerate(sentences):
        word_ids, previous, labels = enc.word_ids(i), None, []
        for word_id in word_ids:
            labels.append(-100 if word_id is None or word_id == previous else label2id.get(tags[word_id], 0))
            previous = word_id
        features.append({key: enc[key][i] for key in enc.keys()} | {"labels": labels})
    return features


def word_predictions(features, logits, id2label: Dict[int, str], sentences: Sequence[Tagged]) -> List[List[str]]:
    """Tags per word from the first-subword predictions; words cut off by truncation get O."""
    out = []
    for feature, row, (words, _) in zip(features, logits, sentences):
        tags = [id2label[int(p)] for p, label in zip(row.argmax(-1), feature["labels"]) if label != -100]
        out.append(tags + ["O"] * (len(words) - len(tags)))
    return out


def load_tokenizer(encoder: str):
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(encoder)
    # run_ner.py: byte-level BPE models need add_prefix_space for pre-split words.
    prefix = {"add_prefix_space": True} if config.model_type in {"bloom", "gpt2", "roberta", "deberta"} else {}
    return AutoTokenizer.from_pretrained(encoder, use_fast=True, **prefix)


def train(encoder: str, corpus: Path, lang: str, output: Path, marks_s: Sequence[float], eval_steps: int,
          seed: int = 0) -> Dict[str, Any]:
    """Train until the last mark; time_marks writes marks.json and snapshots/ under `output`."""
    from seqeval.metrics import f1_score
    from transformers import (AutoModelForTokenClassification, DataCollatorForTokenClassification, Trainer,
                              TrainingArguments)

    from .time_marks import marks_callback

    train_s, dev_s = read_sentences(corpus / "train.spacy", lang), read_sentences(corpus / "dev.spacy", lang)
    labels = label_list(train_s)
    label2id = {label: i for i, label in enumerate(labels)}
    id2label = dict(enumerate(labels))
    tokenizer = load_tokenizer(encoder)
    model = AutoModelForTokenClassification.from_pretrained(encoder, num_labels=len(labels), id2label=id2label,
                                                            label2id=label2id)
    train_f, dev_f = encode(tokenizer, train_s, label2id), encode(tokenizer, dev_s, label2id)

    def compute_metrics(prediction) -> Dict[str, float]:
        predicted = word_predictions(dev_f, prediction.predictions, id2label, dev_s)
        return {"f1": f1_score([tags for _, tags in dev_s], predicted)}

    args = TrainingArguments(
        output_dir=str(output / "trainer"), learning_rate=LEARN_RATE, per_device_train_batch_size=BATCH_SIZE,
        per_device_eval_batch_size=BATCH_SIZE, num_train_epochs=EPOCHS, warmup_ratio=WARMUP_RATIO,
        lr_scheduler_type="linear", eval_strategy="steps", eval_steps=eval_steps, logging_steps=eval_steps,
        save_strategy="best", metric_for_best_model="f1", greater_is_better=True, save_only_model=True,
        report_to=[], seed=seed, disable_tqdm=True)
    words = sum(len(w) for w, _ in train_s)
    trainer = Trainer(model=model, args=args, train_dataset=train_f, eval_dataset=dev_f,
                      data_collator=DataCollatorForTokenClassification(tokenizer), processing_class=tokenizer,
                      compute_metrics=compute_metrics, callbacks=[marks_callback(marks_s, output, words)])
    trainer.train()
    return {"labels": labels, "train_sentences": len(train_s), "eval_steps": eval_steps}


def score(snapshot: Path, test_path: Path, lang: str) -> Dict[str, Any]:
    """Test P/R/F (micro and per type, seqeval strict IOB2) and inference words/s of one snapshot."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2
    from transformers import (AutoModelForTokenClassification, DataCollatorForTokenClassification, Trainer,
                              TrainingArguments)

    sentences = read_sentences(test_path, lang)
    tokenizer = load_tokenizer(str(snapshot))
    model = AutoModelForTokenClassification.from_pretrained(snapshot)
    trainer = Trainer(model=model, args=TrainingArguments(output_dir=str(snapshot / "predict"), report_to=[],
                                                          per_device_eval_batch_size=BATCH_SIZE, disable_tqdm=True),
                      data_collator=DataCollatorForTokenClassification(tokenizer))
    start = time.perf_counter()
    features = encode(tokenizer, sentences, model.config.label2id)
    logits = trainer.predict(features).predictions
    predicted = word_predictions(features, logits, model.config.id2label, sentences)
    seconds = time.perf_counter() - start
    gold = [tags for _, tags in sentences]
    report = classification_report(gold, predicted, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    micro = report["micro avg"]
    per_type = {k: {"p": v["precision"], "r": v["recall"], "f": v["f1-score"]} for k, v in report.items()
                if k not in ("micro avg", "macro avg", "weighted avg")}
    n_words = sum(len(w) for w, _ in sentences)
    return {"ents_p": micro["precision"], "ents_r": micro["recall"], "ents_f": micro["f1-score"],
            "ents_per_type": per_type, "test_words": n_words, "predict_s": round(seconds, 3),
            "words_per_s": round(n_words / seconds, 1)}
