"""A component for tests/test_serve.py, imported by the server with `--code`: it makes the
pipeline fail on a text that holds RAISE and take a while on one that holds SLOW, so the tests can
see what the service does with a failing or slow batch."""
import time

from spacy.language import Language

RAISE = "RAISE-IN-PIPELINE"
SLOW = "SLOW-IN-PIPELINE"
SLOW_SECONDS = 3.0


@Language.component("serve_test_trap")
def serve_test_trap(doc):
    if RAISE in doc.text:
        raise ValueError("the test component refuses this text")
    if SLOW in doc.text:
        time.sleep(SLOW_SECONDS)
    return doc
