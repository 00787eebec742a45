"""Token estimate for when a provider reports no usage (SPEC §5: the record says "estimated").

The rule, deliberately simple so anyone can recompute a ledger entry by hand:

    count_tokens(text) = ceil(len(text) / 4)      (len in Unicode code points)

so "" is 0 tokens and any non-empty text is at least 1. Four characters per token is the
usual rule of thumb for English with the GPT/Claude/Llama tokenizers. It overestimates code
and whitespace-heavy text a little and underestimates scripts without spaces (Chinese,
Japanese: about one token per character). No tokenizer is loaded: the estimate must not depend
on which provider answered or on a download.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def count_tokens(text: str) -> int:
    """Estimated tokens in `text`: ceil(len(text) / 4); 0 only for the empty string."""
    return -(-len(text) // CHARS_PER_TOKEN)
