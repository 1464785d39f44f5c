"""Word-level tokenization (:func:`tokenize`) and a vocabulary built from training data
(:class:`Vocabulary`).

The tokenizer is a single regular expression (:data:`TOKEN_PATTERN`), fast and
deterministic; the NLTK corpora used here (SUBJ, MR) are already tokenized with spaces, so
it mostly splits on whitespace and separates punctuation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import torch

__all__ = ["TOKEN_PATTERN", "Vocabulary", "tokenize"]

#: Token pattern, tried left to right at each position:
#: 1. decimal numbers with inner ``.`` or ``,`` (``3.5``, ``1,000``);
#: 2. words: runs of letters/digits/underscore, joined by single inner apostrophes or
#:    hyphens (``it's``, ``don't``, ``well-made``, ``21st``);
#: 3. punctuation: a run of one repeated non-space, non-word character (``.``, ``...``,
#:    ``--``, ``!``); different punctuation characters are separate tokens (``?!`` -> ``?``, ``!``).
TOKEN_PATTERN = r"\d+(?:[.,]\d+)+(?![\w'’-])|\w+(?:['’-]\w+)*|([^\w\s])\1*"
_TOKEN_RE = re.compile(TOKEN_PATTERN)


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Split ``text`` into word, number and punctuation tokens (see :data:`TOKEN_PATTERN`).

    Whitespace only separates tokens; it never appears in one. A string that contains any
    non-space character yields at least one token, so only blank text yields ``[]``.

    Args:
        text: the string to split.
        lowercase: lower-case the text first (``str.lower``).

    Returns:
        ``list[str]`` of tokens, in order.

    Raises:
        TypeError: if ``text`` is not a ``str``.

    Example:
        >>> tokenize("It's a well-made film... 3.5 stars?!")
        ["it's", 'a', 'well-made', 'film', '...', '3.5', 'stars', '?', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize() expects a str; got {type(text).__name__}")
    if lowercase:
        text = text.lower()
    return [m.group(0) for m in _TOKEN_RE.finditer(text)]


class Vocabulary:
    """A token <-> id mapping built from training-split token lists only.

    Ids: the special tokens come first in the order given (``specials[0]`` is padding with
    id 0, ``specials[1]`` is the unknown token with id 1, any further specials follow), then
    the training tokens with frequency >= ``min_freq``, ordered by frequency (descending)
    and then by the token string (ascending), so the same training data always gives the
    same ids.

    Attributes:
        itos: ``list[str]``, id -> token.
        stoi: ``dict[str, int]``, token -> id.
        freq: ``collections.Counter`` of token counts in the training token lists (all
            tokens, including those below ``min_freq`` or beyond ``max_size``); useful for
            rarity-based difficulty scores.
        specials: the special tokens (a tuple).
        min_freq, max_size: the build settings.

    Build with :meth:`build`; do not build on validation or test data (a token that appears
    only there must map to the unknown id).
    """

    def __init__(self, itos: Sequence[str], freq: Counter | dict[str, int] | None = None,
                 specials: Sequence[str] = ("<pad>", "<unk>"), min_freq: int = 1,
                 max_size: int | None = None):
        specials = tuple(specials)
        if len(specials) < 2:
            raise ValueError(f"specials must hold at least a padding and an unknown token; got {specials!r}")
        itos = list(itos)
        if tuple(itos[: len(specials)]) != specials:
            raise ValueError(f"itos must start with the specials {specials!r}; got {itos[:len(specials)]!r}")
        stoi = {tok: i for i, tok in enumerate(itos)}
        if len(stoi) != len(itos):
            dupes = sorted(t for t, c in Counter(itos).items() if c > 1)
            raise ValueError(f"itos has duplicate tokens: {dupes[:10]!r}")
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = stoi
        self.freq: Counter = Counter(freq or {})
        self.specials: tuple[str, ...] = specials
        self.min_freq = int(min_freq)
        self.max_size = max_size

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1,
              max_size: int | None = None,
              specials: Sequence[str] = ("<pad>", "<unk>")) -> Vocabulary:
        """Count tokens in ``token_lists`` (training split only) and assign ids.

        Args:
            token_lists: iterable of token sequences (e.g. ``[tokenize(t) for t in train_texts]``).
            min_freq: keep tokens seen at least this many times (>= 1).
            max_size: largest vocabulary size, specials included (``None``: no limit); the
                most frequent tokens are kept.
            specials: special tokens; ``specials[0]`` is padding (id 0), ``specials[1]`` the
                unknown token (id 1).

        Returns:
            The :class:`Vocabulary`.

        Raises:
            ValueError: if ``min_freq < 1``, ``max_size < len(specials)`` or fewer than two
                specials are given.
        """
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an integer >= 1; got {min_freq!r}")
        specials = tuple(specials)
        if max_size is not None and (not isinstance(max_size, int) or max_size < len(specials)):
            raise ValueError(
                f"max_size must be None or an integer >= len(specials) = {len(specials)}; got {max_size!r}")
        freq: Counter = Counter()
        for tokens in token_lists:
            freq.update(tokens)
        special_set = set(specials)
        kept = sorted((t for t, c in freq.items() if c >= min_freq and t not in special_set),
                      key=lambda t: (-freq[t], t))
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        return cls(list(specials) + kept, freq=freq, specials=specials, min_freq=min_freq,
                   max_size=max_size)

    # ------------------------------------------------------------------ lookups
    @property
    def pad_id(self) -> int:
        """Id of the padding token (always 0)."""
        return 0

    @property
    def unk_id(self) -> int:
        """Id of the unknown token (always 1)."""
        return 1

    @property
    def pad_token(self) -> str:
        return self.specials[0]

    @property
    def unk_token(self) -> str:
        return self.specials[1]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return (f"Vocabulary(size={len(self)}, specials={self.specials}, "
                f"min_freq={self.min_freq}, max_size={self.max_size})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.state_dict() == other.state_dict()

    __hash__ = None  # mutable container semantics

    def encode(self, tokens: Sequence[str], max_length: int | None = None) -> list[int]:
        """Map tokens to ids (unknown tokens -> :attr:`unk_id`).

        Args:
            tokens: a token sequence (use :func:`tokenize` on raw text first).
            max_length: keep only the first ``max_length`` tokens (``None``: all).

        Returns:
            ``list[int]`` of length ``min(len(tokens), max_length)``.

        Raises:
            TypeError: if ``tokens`` is a plain ``str`` (tokenize it first).
            ValueError: if ``max_length`` is given and < 1.
        """
        if isinstance(tokens, str):
            raise TypeError("encode() takes a sequence of tokens, not a str; call tokenize() first")
        if max_length is not None:
            if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
                raise ValueError(f"max_length must be None or an integer >= 1; got {max_length!r}")
            tokens = tokens[:max_length]
        get, unk = self.stoi.get, self.unk_id
        return [get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int] | torch.Tensor, skip_pad: bool = True) -> list[str]:
        """Map ids back to tokens.

        Args:
            ids: a sequence of ints or a 1-D integer tensor.
            skip_pad: drop padding ids (:attr:`pad_id`).

        Returns:
            ``list[str]``; unknown tokens come back as the unknown token (``"<unk>"``).

        Raises:
            IndexError: for an id outside ``[0, len(self))``.
        """
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        out = []
        n = len(self.itos)
        for i in ids:
            i = int(i)
            if skip_pad and i == self.pad_id:
                continue
            if not 0 <= i < n:
                raise IndexError(f"token id {i} is outside the vocabulary [0, {n})")
            out.append(self.itos[i])
        return out

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Plain-Python state (lists, dicts, ints, strs; safe for JSON and ``weights_only`` loads)."""
        return {
            "itos": list(self.itos),
            "freq": dict(self.freq),
            "specials": list(self.specials),
            "min_freq": self.min_freq,
            "max_size": self.max_size,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Vocabulary:
        """Inverse of :meth:`state_dict`.

        Raises:
            ValueError: if a key is missing or the ids are inconsistent.
        """
        missing = [k for k in ("itos", "freq", "specials") if k not in state]
        if missing:
            raise ValueError(f"Vocabulary state is missing keys {missing}; got keys {sorted(state)}")
        return cls(state["itos"], freq=state["freq"], specials=state["specials"],
                   min_freq=state.get("min_freq", 1), max_size=state.get("max_size"))
