"""Tag schemes (IOB1, IOB2, BIOES, BILOU): parse tags, detect the scheme, decode spans.

All schemes decode the same way, so a file is read correctly whatever its scheme; the
scheme only decides which sequences count as *repaired*. An I- (or E-/L-) tag that
continues no span of its label starts a new span, as in IOB1; under IOB2 and BIOES this
is a repair, counted and reported, never a silent change.
"""
from typing import Dict, Iterable, List, Optional, Tuple

SCHEMES = ("iob1", "iob2", "bioes", "bilou")
_PREFIXES = {"iob1": "BI", "iob2": "BI", "bioes": "BIES", "bilou": "BILU"}
# BILOU letters mean the same as BIOES ones.
_CANONICAL = {"B": "B", "I": "I", "E": "E", "L": "E", "S": "S", "U": "S"}

Tag = Tuple[str, str]  # (prefix in B/I/E/S/O, label)
LabeledSpan = Tuple[int, int, str]  # (start, end, label): token or character offsets, end exclusive


class TagError(ValueError):
    """A tag that no scheme can read, or one the chosen scheme does not allow."""


_cache: Dict[str, Optional[Tag]] = {"O": ("O", "")}


def parse_tag(tag: str) -> Tag:
    """Split a tag such as `B-PER` into (`B`, `PER`); `O` is (`O`, "")."""
    parsed = _cache.get(tag)
    if parsed is None:
        prefix, sep, label = tag.partition("-")
        if not sep or not label or prefix not in _CANONICAL:
            raise TagError(
                f"cannot read tag {tag!r}: expected O or a prefix B-, I-, E-, S-, L- or U- "
                f"followed by a label (e.g. B-PER)"
            )
        parsed = (_CANONICAL[prefix], label)
        _cache[tag] = parsed
    return parsed


def is_tag(tag: str) -> bool:
    try:
        parse_tag(tag)
    except TagError:
        return False
    return True


def detect_scheme(sentences: Iterable[List[str]]) -> str:
    """Guess a file's scheme from its tags (already known to parse).

    E-/S- or L-/U- prefixes mean BIOES or BILOU. Otherwise the file is IOB1 when I- tags
    start spans and every B- sits right after a token of its own label (IOB1 uses B- only
    between two adjacent spans of one type), else IOB2.
    """
    letters = set()
    i_starts = 0
    b_after_other = 0
    for tags in sentences:
        previous = ""
        for tag in tags:
            if tag != "O":
                prefix, _, label = tag.partition("-")
                letters.add(prefix)
                if prefix == "I" and previous != label:
                    i_starts += 1
                elif prefix == "B" and previous != label:
                    b_after_other += 1
                previous = label
            else:
                previous = ""
    if letters & {"L", "U"}:
        return "bilou"
    if letters & {"E", "S"}:
        return "bioes"
    if i_starts and not b_after_other:
        return "iob1"
    return "iob2"


def check_scheme(tag: str, scheme: str) -> None:
    prefix = tag.partition("-")[0]
    if tag != "O" and prefix not in _PREFIXES[scheme]:
        raise TagError(
            f"tag {tag!r} is not valid in {scheme.upper()}; pass the file's scheme with "
            f"--scheme ({', '.join(SCHEMES)}) or leave it to auto-detection"
        )


def decode(tags: List[str], scheme: str) -> Tuple[List[LabeledSpan], List[int]]:
    """Decode one sentence's tags into spans, and the start tokens of repaired spans.

    A span is repaired where it starts on I-/E- without a B- of its label before it
    (IOB2, BIOES, BILOU), or where a BIOES/BILOU span ends without its E-/L- tag.
    """
    spans: List[LabeledSpan] = []
    repaired: List[int] = []
    strict_ends = scheme in ("bioes", "bilou")
    counts_orphans = scheme != "iob1"
    start, label, orphan = -1, "", False

    def close(end: int, proper: bool) -> None:
        spans.append((start, end, label))
        if orphan or (strict_ends and not proper):
            repaired.append(start)

    for i, tag in enumerate(tags):
        if tag == "O":
            if start >= 0:
                close(i, False)
                start = -1
            continue
        prefix, tag_label = parse_tag(tag)
        if start >= 0 and tag_label == label and (prefix == "I" or prefix == "E"):
            if prefix == "E":
                close(i + 1, True)
                start = -1
            continue
        if start >= 0:
            close(i, False)
        start, label = i, tag_label
        orphan = counts_orphans and (prefix == "I" or prefix == "E")
        if prefix == "E" or prefix == "S":
            close(i + 1, True)
            start = -1
    if start >= 0:
        close(len(tags), False)
    return spans, repaired


def encode_iob2(length: int, spans: Iterable[LabeledSpan]) -> List[str]:
    """IOB2 tags for non-overlapping spans over `length` tokens."""
    tags = ["O"] * length
    for start, end, label in spans:
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags
