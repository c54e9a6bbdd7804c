"""The one shape every format reader produces: tokens and tags of one sentence."""
from typing import List, Optional, Tuple


class TaggedSentence:
    """A sentence as read from a file, before tags are decoded into spans.

    `lines` holds each token's line number, so any later problem can name its line;
    `spaces` is known from CoNLL-U `SpaceAfter`, otherwise rebuilt from `text`. `merges` are
    CoNLL-U multiword tokens: (first word, end word, surface form, line), the words `em` `a`
    written `na`.
    """

    __slots__ = ("words", "tags", "lines", "spaces", "text", "text_line", "new_doc", "merges")

    def __init__(
        self,
        words: List[str],
        tags: List[str],
        lines: List[int],
        spaces: Optional[List[bool]] = None,
        text: Optional[str] = None,
        text_line: Optional[int] = None,
        new_doc: bool = False,
        merges: Optional[List[Tuple[int, int, str, int]]] = None,
    ):
        self.words = words
        self.tags = tags
        self.lines = lines
        self.spaces = spaces
        self.text = text
        self.text_line = text_line
        self.new_doc = new_doc
        self.merges = merges or []
