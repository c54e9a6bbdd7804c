"""Every real corpus in ../shared/data converts with the counts in its ATTRIBUTION.md."""
import pytest

from spacy_bert_ner.readers import read_corpus

# file: (sentences, tokens, entities per label, orphan I- repaired), from ATTRIBUTION.md
EXPECTED = {
    "uner_danish_ddt/da_ddt-ud-train.iob2": (4383, 80378, {"PER": 1237, "ORG": 909, "LOC": 882}, 6),
    "uner_danish_ddt/da_ddt-ud-dev.iob2": (564, 10332, {"PER": 166, "LOC": 107, "ORG": 106}, 0),
    "uner_danish_ddt/da_ddt-ud-test.iob2": (565, 10023, {"PER": 185, "ORG": 172, "LOC": 90}, 1),
    "uner_portuguese_bosque/pt_bosque-ud-train.iob2": (7018, 171776, {"PER": 2914, "ORG": 2762, "LOC": 2425}, 0),
    "uner_portuguese_bosque/pt_bosque-ud-dev.iob2": (1172, 28447, {"PER": 570, "ORG": 417, "LOC": 414}, 0),
    "uner_portuguese_bosque/pt_bosque-ud-test.iob2": (1167, 27604, {"ORG": 456, "PER": 442, "LOC": 317}, 0),
    "uner_serbian_set/sr_set-ud-train.iob2": (3328, 74259, {"LOC": 2059, "ORG": 1527, "PER": 1436, "OTH": 355}, 2),
    "uner_serbian_set/sr_set-ud-dev.iob2": (536, 11993, {"LOC": 293, "PER": 236, "ORG": 215, "OTH": 100}, 2),
    "uner_serbian_set/sr_set-ud-test.iob2": (520, 11421, {"LOC": 387, "ORG": 251, "PER": 209, "OTH": 54}, 0),
    "norne_nb/no_bokmaal-train-reconstructed-from-ndt.conll": (
        15696, 244776,
        {"PER": 4070, "ORG": 2849, "GPE_LOC": 2136, "PROD": 676, "LOC": 618, "DRV": 524, "GPE_ORG": 389,
         "EVT": 133, "MISC": 8},
        0,
    ),
    "norne_nb/no_bokmaal-ud-dev.conllu": (
        2410, 36369,
        {"PER": 611, "ORG": 404, "GPE_LOC": 259, "PROD": 162, "LOC": 109, "DRV": 79, "GPE_ORG": 55, "EVT": 9},
        0,
    ),
    "uner_chinese_gsd/zh_gsd-ud-train.iob2": (3997, 98616, {"PER": 2155, "LOC": 2871, "ORG": 1110}, 0),
    "uner_chinese_gsd/zh_gsd-ud-dev.iob2": (500, 12663, {"PER": 238, "LOC": 437, "ORG": 135}, 0),
    "uner_chinese_gsd/zh_gsd-ud-test.iob2": (500, 12012, {"PER": 206, "LOC": 434, "ORG": 127}, 0),
    "norne_nb/no_bokmaal-ud-test.conllu": (
        1939, 29966,
        {"PER": 564, "ORG": 285, "GPE_LOC": 257, "LOC": 103, "PROD": 71, "GPE_ORG": 50, "DRV": 48, "EVT": 5},
        0,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_counts_match_attribution(shared_data, name):
    sentences, tokens, entities, repaired = EXPECTED[name]
    docs, report = read_corpus(shared_data / name)
    assert (report.sentences, report.tokens, dict(report.entities), sum(report.repaired.values())) == (
        sentences, tokens, entities, repaired
    )
    assert sum(len(doc.ents) for doc in docs) == sum(entities.values())
    assert sum(len(doc) for doc in docs) == tokens


def test_serbian_oth_mapped_to_o_drops_exactly_oth(shared_data):
    docs, report = read_corpus(shared_data / "uner_serbian_set/sr_set-ud-train.iob2", label_map={"OTH": "O"})
    assert report.to_dict()["dropped"] == 355 and "OTH" not in report.entities
    assert sum(len(doc.ents) for doc in docs) == 5377 - 355


# Portuguese contractions of UD Bosque: the UNER files write their syntactic words ("em a"),
# UD's CoNLL-U writes the surface token once ("na") over those words.
CONTRACTIONS = {("em", "a"): "na", ("em", "os"): "nos", ("a", "a"): "à", ("a", "as"): "às", ("de", "o"): "do",
                ("por", "os"): "pelos"}


def as_ud_conllu(words, tags, merge_at):
    """One sentence as UD CoNLL-U, the words at `merge_at` (first of a pair) under a multiword token."""
    lines, surface, i = [], [], 0
    while i < len(words):
        if i in merge_at:
            form = CONTRACTIONS[(words[i], words[i + 1])]
            lines.append(f"{i + 1}-{i + 2}\t{form}\t_\t_\t_\t_\t_\t_\t_\t_")
            surface.append(form)
            for j in (i, i + 1):
                lines.append(f"{j + 1}\t{words[j]}\t_\t_\t_\t_\t_\t_\t_\tname={tags[j]}")
            i += 2
            continue
        no_space = i + 1 < len(words) and words[i + 1] in ",."
        lines.append(f"{i + 1}\t{words[i]}\t_\t_\t_\t_\t_\t_\t_\t{'SpaceAfter=No|' if no_space else ''}name={tags[i]}")
        surface.append(words[i] + ("" if no_space else " "))
        i += 1
    text = "".join(w if w.endswith(" ") or w in ",." else w + " " for w in surface).strip()
    return "\n".join([f"# text = {text}", *lines, "", ""]), text


def test_a_real_ud_portuguese_sentence_keeps_its_contractions(shared_data, tmp_path):
    """UD Bosque's sentence batch-0025-0029, rebuilt as CoNLL-U with its multiword tokens na, à,
    do, às, pelos, nos: the Doc's text is the surface text, the entities are unchanged."""
    lines = (shared_data / "uner_portuguese_bosque/pt_bosque-ud-dev.iob2").read_text(encoding="utf8").splitlines()
    start = lines.index("# sent_id = batch-0025-0029") + 2
    rows = [line.split("\t") for line in lines[start:start + 61]]
    words, tags = [r[1] for r in rows], [r[2] for r in rows]
    merge_at = {8, 15, 24, 36, 40, 53}  # em a, a a, de o, a as, por os, em os
    assert all((words[i], words[i + 1]) in CONTRACTIONS for i in merge_at)
    conllu, text = as_ud_conllu(words, tags, merge_at)
    assert {"na", "do", "pelos"} <= set(text.split())
    (tmp_path / "bosque.conllu").write_text(conllu, encoding="utf8")
    docs, report = read_corpus(tmp_path / "bosque.conllu", "pt")
    (doc,) = docs
    assert doc.text.strip() == text
    assert "na Transilvânia" in doc.text and "pelos magiares" in doc.text and "em a" not in doc.text
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Bucareste", "LOC"), ("Hungria", "LOC"), ("Transilvânia", "LOC"), ("Roménia", "LOC"),
        ("Império Austro-Hungaro", "LOC")]
    assert report.multiword_tokens == len(merge_at) == 6 and not report.problems


def test_chinese_text_keeps_no_spaces_and_every_entity_aligns_to_the_chinese_tokenizer(shared_data):
    """With spaCy's Chinese tokenizer (a token per character) no gold entity is lost; spaCy's
    rule-based tokenizer, which the configs once named for every language, loses nearly all."""
    import spacy

    docs, report = read_corpus(shared_data / "uner_chinese_gsd/zh_gsd-ud-dev.iob2", "zh")
    assert report.to_dict()["misaligned"] == 0
    assert docs[0].text.startswith(docs[0][0].text + docs[0][1].text)  # no space between words
    rule_based = spacy.blank("zh", config={"nlp": {"tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}}})
    lost = sum(rule_based.make_doc(d.text).char_span(e.start_char, e.end_char) is None for d in docs for e in d.ents)
    assert lost > 0.9 * sum(len(d.ents) for d in docs)
