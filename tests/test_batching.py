"""Length-sorted inference batches: sorted within each window, results back in input order."""
from hypothesis import given, strategies as st

from spacy_bert_ner.inference.batching import by_length, in_input_order


@given(st.lists(st.text(max_size=30)), st.integers(min_value=1, max_value=12))
def test_sorted_within_windows_and_restored(texts, window):
    pairs = [(text, i) for i, text in enumerate(texts)]
    sorted_stream = list(by_length(iter(pairs), window))
    for start in range(0, len(texts), window):
        lengths = [len(text) for text, _ in sorted_stream[start:start + window]]
        assert lengths == sorted(lengths)
        assert {text for text, _ in sorted_stream[start:start + window]} == set(texts[start:start + window])
    assert list(in_input_order(sorted_stream)) == pairs
