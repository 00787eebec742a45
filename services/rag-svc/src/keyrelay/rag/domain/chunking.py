"""Split text into overlapping windows of the embedding model's tokens. Pure.

Windows are counted in the model's own tokens, so a chunk never overflows the model's input,
and each chunk is a slice of the original text, so it reads exactly as the source does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Each token's (start, end) character offsets in the text, in order.
Tokenize = Callable[[str], list[tuple[int, int]]]

_SENTENCE_ENDS = (".", "!", "?")


def _in_word(char: str) -> bool:
    return char.isalnum() or char in "'’"


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    start: int
    end: int
    tokens: int


def chunk_text(text: str, tokenize: Tokenize, size: int = 200, overlap: int = 40) -> list[Chunk]:
    """Cut `text` into windows of at most `size` tokens, each starting `overlap` tokens
    before the previous one ended (a few more, or else fewer, to start on a whole word).

    A window ends, in order of preference, at the last sentence or paragraph end in its last
    quarter, at the last word boundary, or after exactly `size` tokens. Words are split only
    when one is longer than a window.
    """
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got size={size}, overlap={overlap}")
    spans = tokenize(text) if text.strip() else []
    n = len(spans)
    if n == 0:
        return []

    def sentence_end(i: int) -> bool:
        """True when token i ends a line, or ends with . ! or ? and whitespace follows."""
        if i + 1 >= n:
            return True
        # The characters between the two tokens and the next token's first one: some
        # tokenizers put the whitespace inside the next token.
        after = text[spans[i][1] : spans[i + 1][0] + 1]
        token = text[spans[i][0] : spans[i][1]]
        return "\n" in after or (token.endswith(_SENTENCE_ENDS) and after[:1].isspace())

    def word_start(i: int) -> bool:
        """True when a cut just before token i does not split a word."""
        if i == 0 or i == n or spans[i - 1][1] < spans[i][0]:
            return True
        here = spans[i][0]
        return not (0 < here < len(text) and _in_word(text[here - 1]) and _in_word(text[here]))

    def cut_after(start: int) -> int:
        """Where the window starting at token `start` ends (exclusive token index)."""
        end = start + size
        if end >= n:
            return n
        floor = start + overlap + 1  # so that the next window starts after this one
        lowest = max(end - size // 4, floor - 1)  # the last quarter of the window
        for i in range(end - 1, lowest - 1, -1):
            if sentence_end(i):
                return i + 1
        for cut in range(end, floor - 1, -1):
            if word_start(cut):
                return cut
        return end

    def next_start(start: int, end: int) -> int:
        """`overlap` tokens before `end`, moved back (or else forward) to the start of a word."""
        wanted = end - overlap
        back = (i for i in range(wanted, start, -1) if word_start(i))
        forward = (i for i in range(wanted, end + 1) if word_start(i))
        return next(back, None) or next(forward, wanted)

    chunks: list[Chunk] = []
    start = 0
    while True:
        end = cut_after(start)
        first, last = spans[start][0], spans[end - 1][1]
        chunks.append(Chunk(len(chunks), text[first:last], first, last, end - start))
        if end == n:
            return chunks
        start = next_start(start, end)
