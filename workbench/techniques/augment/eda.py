"""EDA: Easy Data Augmentation (Wei & Zou 2019, EMNLP-IJCNLP, section 2).

Four operations on a token list (pure functions, seeded through a ``random.Random``):

- :func:`synonym_replacement` (SR): pick ``n`` distinct non-stop words that have WordNet
  synonyms, in random order, and replace every occurrence of each with one of its
  synonyms, chosen at random;
- :func:`random_insertion` (RI): ``n`` times, pick a random non-stop word of the sentence
  that has a synonym and insert one of its synonyms at a random position;
- :func:`random_swap` (RS): ``n`` times, swap two tokens at distinct random positions;
- :func:`random_deletion` (RD): delete each token with probability ``p``; if every token
  would go, keep one at random (a sentence never becomes empty).

For SR, RI and RS, ``n = max(1, int(alpha * l))`` where ``l`` is the number of words in
the sentence (tokens holding a letter or a digit; punctuation tokens are not counted, as
the paper's code strips them), as in the paper's reference implementation
(``jasonwei20/eda_nlp``, ``code/eda.py``). :class:`EDA` makes ``n_aug`` augmented copies of
a sentence, each produced by one operation: the operations with a rate above zero are
dealt out evenly (``n_aug // k + 1`` of each of the ``k`` enabled operations, shuffled,
the first ``n_aug`` kept), which is the reference implementation's scheme except that it
divides by the number of enabled operations rather than always by 4, so ``n_aug`` copies
are made even when some rates are zero.

Synonyms (:class:`WordNetSynonyms`) come from WordNet 3.0 through ``nltk.corpus.wordnet``:
the lemma names of every synset of the word (``wordnet.synsets(word)``, which also looks
up the word's base form), underscores and hyphens turned into spaces, lower-cased, then
split with :func:`workbench.data.text.tokenize` so that a multi-word synonym
(``"in_effect"``) becomes several tokens of the data set's own tokenization; the word
itself is excluded. Only words holding a letter are looked up (numbers such as ``"2"``
would otherwise become ``"ii"``). Stop words (:func:`english_stop_words`) are NLTK's
English list (``nltk.corpus.stopwords.words("english")``, 179 words in the shipped
corpus). Both corpora are located through :func:`workbench.data.nltk_data.ensure_corpus`
(``NLTK_DATA``, the project's shared copy, then ``nltk.download``).

Randomness: every function takes a ``random.Random`` instance (never the global RNG), so
the same seed gives the same augmentations whatever else runs in the process.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from workbench.data.text import tokenize
from workbench.validation import check_int, check_number

__all__ = [
    "EDA",
    "EDAConfig",
    "OPERATIONS",
    "PAPER_RECOMMENDED",
    "SynonymSource",
    "WordNetSynonyms",
    "english_stop_words",
    "num_changes",
    "random_deletion",
    "random_insertion",
    "random_swap",
    "recommended_config",
    "synonym_replacement",
]

#: Operation short names, in the paper's order.
OPERATIONS = ("sr", "ri", "rs", "rd")

#: Wei & Zou (2019), table 3: recommended (alpha, n_aug) by training-set size.
PAPER_RECOMMENDED: dict[int, tuple[float, int]] = {500: (0.05, 16), 2000: (0.05, 8), 5000: (0.1, 4)}

#: ``synonyms(word) -> tuple of synonyms``, each synonym a tuple of tokens.
SynonymSource = Callable[[str], Sequence[Sequence[str]]]

_WORD_RE = re.compile(r"\w", re.UNICODE)
_HAS_LETTER_RE = re.compile(r"[^\W\d_]", re.UNICODE)


def _is_word(token: str) -> bool:
    """A token holding a letter or a digit (counted in ``l``)."""
    return bool(_WORD_RE.search(token))


def _has_letter(token: str) -> bool:
    return bool(_HAS_LETTER_RE.search(token))


# ------------------------------------------------------------------------- lexical resources
@functools.lru_cache(maxsize=1)
def english_stop_words() -> frozenset[str]:
    """NLTK's English stop-word list (``nltk.corpus.stopwords.words("english")``), lower-cased.

    Raises:
        CorpusNotFoundError: (a ``LookupError``) when the ``stopwords`` corpus is missing
            and cannot be downloaded; the message names ``python -m nltk.downloader stopwords``.
    """
    from workbench.data.nltk_data import ensure_corpus

    ensure_corpus("stopwords")
    from nltk.corpus import stopwords

    return frozenset(w.lower() for w in stopwords.words("english"))


class WordNetSynonyms:
    """WordNet synonyms of a word, as token tuples (cached per word).

    ``synonyms("film")`` returns e.g. ``(("movie",), ("picture",), ("moving", "picture"), ...)``:
    lemma names of ``nltk.corpus.wordnet.synsets(word)`` in WordNet's order, with ``_``
    and ``-`` turned into spaces, lower-cased (``lowercase=True``) and split by
    :func:`workbench.data.text.tokenize`; duplicates and the word itself are left out.
    Words without a letter get no synonyms.

    Args:
        lowercase: lower-case synonyms (match a lower-cased data set; the built-in loaders
            lower-case by default).
        cache_size: words kept in the cache (None: unbounded).

    Raises:
        CorpusNotFoundError: (a ``LookupError``) on first use, when the ``wordnet`` corpus
            cannot be found or downloaded.
    """

    def __init__(self, lowercase: bool = True, cache_size: int | None = None) -> None:
        self.lowercase = bool(lowercase)
        self._wordnet: Any = None
        self._lookup = functools.lru_cache(maxsize=cache_size)(self._synonyms)

    def _wn(self) -> Any:
        if self._wordnet is None:
            from workbench.data.nltk_data import ensure_corpus

            ensure_corpus("wordnet")
            from nltk.corpus import wordnet

            wordnet.ensure_loaded()
            self._wordnet = wordnet
        return self._wordnet

    def _synonyms(self, word: str) -> tuple[tuple[str, ...], ...]:
        if not _has_letter(word):
            return ()
        own = " ".join(tokenize(word.replace("_", " ").replace("-", " "), lowercase=self.lowercase))
        out: dict[tuple[str, ...], None] = {}
        for synset in self._wn().synsets(word):
            for lemma in synset.lemmas():
                text = lemma.name().replace("_", " ").replace("-", " ")
                toks = tuple(tokenize(text, lowercase=self.lowercase))
                if toks and " ".join(toks).lower() != own.lower():
                    out[toks] = None
        return tuple(out)

    def __call__(self, word: str) -> tuple[tuple[str, ...], ...]:
        return self._lookup(word)

    def cache_info(self) -> Any:
        """``functools.lru_cache`` statistics of the per-word cache."""
        return self._lookup.cache_info()


@functools.lru_cache(maxsize=4)
def _default_synonyms(lowercase: bool = True) -> WordNetSynonyms:
    return WordNetSynonyms(lowercase=lowercase)


# ------------------------------------------------------------------------- the operations
def num_changes(alpha: float, tokens: Sequence[str]) -> int:
    """``n = max(1, int(alpha * l))`` for ``alpha > 0`` (0 for ``alpha == 0``), ``l`` the
    number of words (tokens with a letter or a digit; at least 1 for a non-empty list).

    Raises:
        ValueError: ``alpha`` outside ``[0, 1]``.
    """
    check_number("alpha", alpha, 0.0, 1.0)
    if alpha == 0 or not tokens:
        return 0
    words = sum(1 for t in tokens if _is_word(t)) or len(tokens)
    return max(1, int(alpha * words))


def _check_tokens(tokens: Any) -> list[str]:
    if isinstance(tokens, str):
        raise TypeError("EDA operations take a list of tokens, not a str; call tokenize() first")
    tokens = list(tokens)
    if not tokens:
        raise ValueError("EDA operations need a non-empty token list (an empty sentence cannot be augmented)")
    return tokens


def _candidates(tokens: Iterable[str], stop_words: frozenset[str] | set[str]) -> list[str]:
    """Distinct replaceable words in order of first appearance: not stop words, with a letter."""
    return list(dict.fromkeys(t for t in tokens if t not in stop_words and _has_letter(t)))


def synonym_replacement(tokens: Sequence[str], n: int, rng: random.Random,
                        synonyms: SynonymSource | None = None,
                        stop_words: frozenset[str] | set[str] | None = None) -> list[str]:
    """SR (Wei & Zou 2019, section 2, operation 1).

    Takes the distinct non-stop words of ``tokens`` (those holding a letter), in random
    order, and replaces every occurrence of each word that has a synonym with one synonym
    chosen at random, until ``n`` words have been replaced or none is left. A multi-word
    synonym adds tokens, so the result may be longer than ``tokens``.

    Args:
        tokens: the sentence's tokens (non-empty).
        n: number of distinct words to replace (>= 0).
        rng: a ``random.Random`` instance.
        synonyms: ``word -> tuple of token tuples`` (default: :class:`WordNetSynonyms`).
        stop_words: words never replaced (default: :func:`english_stop_words`).

    Returns:
        A new ``list[str]`` (``tokens`` is not modified).

    Raises:
        ValueError: empty ``tokens`` or ``n < 0``. TypeError: ``tokens`` is a ``str``.
    """
    tokens = _check_tokens(tokens)
    n = check_int("n", n, 0)
    synonyms = synonyms or _default_synonyms()
    stop_words = english_stop_words() if stop_words is None else stop_words
    words = _candidates(tokens, stop_words)
    rng.shuffle(words)
    chosen: dict[str, tuple[str, ...]] = {}
    for word in words:
        if len(chosen) >= n:
            break
        options = synonyms(word)
        if options:
            chosen[word] = tuple(options[rng.randrange(len(options))])
    out: list[str] = []
    for t in tokens:
        out.extend(chosen.get(t, (t,)))
    return out


def random_insertion(tokens: Sequence[str], n: int, rng: random.Random,
                     synonyms: SynonymSource | None = None,
                     stop_words: frozenset[str] | set[str] | None = None) -> list[str]:
    """RI (Wei & Zou 2019, section 2, operation 2).

    ``n`` times: choose a random word of the current sentence among the non-stop words
    that have a synonym, choose one of its synonyms, and insert it (all its tokens) at a
    random position ``0..len``. If no word of the sentence has a synonym nothing is
    inserted. The original tokens stay, in order (they are a subsequence of the result).

    Args, Returns, Raises: as :func:`synonym_replacement`.
    """
    tokens = _check_tokens(tokens)
    n = check_int("n", n, 0)
    synonyms = synonyms or _default_synonyms()
    stop_words = english_stop_words() if stop_words is None else stop_words
    out = list(tokens)
    for _ in range(n):
        words = [w for w in _candidates(out, stop_words) if synonyms(w)]
        if not words:
            break
        options = synonyms(words[rng.randrange(len(words))])
        syn = options[rng.randrange(len(options))]
        pos = rng.randint(0, len(out))
        out[pos:pos] = list(syn)
    return out


def random_swap(tokens: Sequence[str], n: int, rng: random.Random) -> list[str]:
    """RS (Wei & Zou 2019, section 2, operation 3): ``n`` times, swap the tokens at two
    distinct random positions. A one-token sentence is returned unchanged. The result is a
    permutation of ``tokens``.

    Raises:
        ValueError: empty ``tokens`` or ``n < 0``. TypeError: ``tokens`` is a ``str``.
    """
    tokens = _check_tokens(tokens)
    n = check_int("n", n, 0)
    out = list(tokens)
    if len(out) < 2:
        return out
    for _ in range(n):
        i = rng.randrange(len(out))
        j = rng.randrange(len(out) - 1)
        j += j >= i
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(tokens: Sequence[str], p: float, rng: random.Random) -> list[str]:
    """RD (Wei & Zou 2019, section 2, operation 4): delete each token independently with
    probability ``p``. If every token is deleted, one token chosen at random is kept, so
    the result is never empty; a one-token sentence is returned unchanged. The result is a
    subsequence of ``tokens``.

    Raises:
        ValueError: empty ``tokens`` or ``p`` outside ``[0, 1]``. TypeError: ``tokens`` is a ``str``.
    """
    tokens = _check_tokens(tokens)
    p = check_number("p", p, 0.0, 1.0)
    if len(tokens) == 1:
        return list(tokens)
    out = [t for t in tokens if rng.random() >= p]
    if not out:
        out = [tokens[rng.randrange(len(tokens))]]
    return out


# ------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class EDAConfig:
    """EDA's rates and number of copies (Wei & Zou 2019; reference defaults 0.1 and 9).

    Args:
        alpha_sr: synonym replacement rate (``n = max(1, int(alpha_sr * l))`` words), in [0, 1].
        alpha_ri: random insertion rate, in [0, 1].
        alpha_rs: random swap rate, in [0, 1].
        p_rd: random deletion probability per token, in [0, 1].
        n_aug: augmented copies per sentence (>= 0).

    Raises:
        ValueError: a rate outside [0, 1], ``n_aug`` not an integer >= 0, or ``n_aug > 0``
            with every rate zero (no operation could make a copy).
    """

    alpha_sr: float = 0.1
    alpha_ri: float = 0.1
    alpha_rs: float = 0.1
    p_rd: float = 0.1
    n_aug: int = 9

    def __post_init__(self) -> None:
        for name in ("alpha_sr", "alpha_ri", "alpha_rs", "p_rd"):
            object.__setattr__(self, name, check_number(name, getattr(self, name), 0.0, 1.0))
        check_int("n_aug", self.n_aug, 0)
        if self.n_aug > 0 and not self.operations:
            raise ValueError("EDAConfig: with n_aug > 0 at least one of alpha_sr, alpha_ri, alpha_rs, p_rd "
                             "must be > 0")

    @classmethod
    def from_alpha(cls, alpha: float, n_aug: int) -> EDAConfig:
        """All four rates equal to ``alpha`` (the paper's single-alpha setting)."""
        return cls(alpha, alpha, alpha, alpha, n_aug)

    @property
    def rates(self) -> dict[str, float]:
        """``{"sr": alpha_sr, "ri": alpha_ri, "rs": alpha_rs, "rd": p_rd}``."""
        return {"sr": self.alpha_sr, "ri": self.alpha_ri, "rs": self.alpha_rs, "rd": self.p_rd}

    @property
    def operations(self) -> tuple[str, ...]:
        """The enabled operations (rate > 0), in the paper's order."""
        return tuple(op for op, r in self.rates.items() if r > 0)

    def replace(self, **changes: Any) -> EDAConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {"alpha_sr": self.alpha_sr, "alpha_ri": self.alpha_ri, "alpha_rs": self.alpha_rs,
                "p_rd": self.p_rd, "n_aug": self.n_aug}


def recommended_config(n_train: int) -> EDAConfig:
    """The paper's recommended setting for ``n_train`` training sentences (Wei & Zou 2019,
    table 3): the row of the largest listed size ``<= n_train`` (500 for smaller sets):
    fewer than 2,000 -> alpha 0.05, n_aug 16; 2,000-4,999 -> 0.05, 8; 5,000 or more -> 0.1, 4.
    All four rates equal alpha.

    Raises:
        ValueError: ``n_train < 1``.
    """
    check_int("n_train", n_train, 1)
    size = max([s for s in PAPER_RECOMMENDED if s <= n_train], default=min(PAPER_RECOMMENDED))
    alpha, n_aug = PAPER_RECOMMENDED[size]
    return EDAConfig.from_alpha(alpha, n_aug)


# ------------------------------------------------------------------------- the augmenter
def _as_rng(rng: random.Random | int | None) -> random.Random:
    if isinstance(rng, random.Random):
        return rng
    if rng is None:
        return random.Random(0)
    if isinstance(rng, bool) or not isinstance(rng, int):
        raise TypeError(f"rng must be a random.Random or an integer seed; got {type(rng).__name__}")
    return random.Random(rng)


class EDA:
    """Makes ``n_aug`` EDA copies of a sentence (Wei & Zou 2019, section 2).

    Args:
        config: an :class:`EDAConfig` (default: the reference implementation's defaults,
            all rates 0.1, 9 copies); keyword arguments (``alpha_sr=...``, ``n_aug=...``)
            override its fields.
        synonyms: ``word -> tuple of token tuples`` (default :class:`WordNetSynonyms`,
            lower-cased).
        stop_words: words SR and RI never touch (default :func:`english_stop_words`).

    Example:
        >>> eda = EDA(EDAConfig.from_alpha(0.1, 4))
        >>> eda.augment("the film is a quiet , lovely surprise".split(), rng=0)  # 4 token lists
    """

    def __init__(self, config: EDAConfig | None = None, synonyms: SynonymSource | None = None,
                 stop_words: Iterable[str] | None = None, **changes: Any) -> None:
        config = config if config is not None else EDAConfig()
        if not isinstance(config, EDAConfig):
            raise TypeError(f"config must be an EDAConfig; got {type(config).__name__}")
        self.config = config.replace(**changes) if changes else config
        self.synonyms: SynonymSource = synonyms if synonyms is not None else _default_synonyms()
        self.stop_words = frozenset(stop_words) if stop_words is not None else english_stop_words()

    def __repr__(self) -> str:
        return f"EDA({self.config})"

    def apply(self, op: str, tokens: Sequence[str], rng: random.Random) -> list[str]:
        """One operation (``"sr"``, ``"ri"``, ``"rs"`` or ``"rd"``) at this config's rate.

        Raises:
            ValueError: an unknown operation name.
        """
        c = self.config
        if op == "sr":
            return synonym_replacement(tokens, num_changes(c.alpha_sr, tokens), rng, self.synonyms, self.stop_words)
        if op == "ri":
            return random_insertion(tokens, num_changes(c.alpha_ri, tokens), rng, self.synonyms, self.stop_words)
        if op == "rs":
            return random_swap(tokens, num_changes(c.alpha_rs, tokens), rng)
        if op == "rd":
            return random_deletion(tokens, c.p_rd, rng)
        raise ValueError(f"unknown EDA operation {op!r}; valid: {list(OPERATIONS)}")

    def plan(self, rng: random.Random) -> list[str]:
        """The operation of each of the ``n_aug`` copies: ``n_aug // k + 1`` of each of the
        ``k`` enabled operations, shuffled, the first ``n_aug`` kept."""
        ops = list(self.config.operations)
        n = self.config.n_aug
        if n == 0:
            return []
        deck = ops * (n // len(ops) + 1)
        rng.shuffle(deck)
        return deck[:n]

    def augment_with_ops(self, tokens: Sequence[str],
                         rng: random.Random | int | None = None) -> list[tuple[str, list[str]]]:
        """``n_aug`` pairs ``(operation, augmented tokens)``; see :meth:`augment`."""
        tokens = _check_tokens(tokens)
        rng = _as_rng(rng)
        return [(op, self.apply(op, tokens, rng)) for op in self.plan(rng)]

    def augment(self, tokens: Sequence[str], rng: random.Random | int | None = None) -> list[list[str]]:
        """``n_aug`` augmented copies of ``tokens`` (the original not included).

        Args:
            tokens: a non-empty token list (``tokenize(text)``).
            rng: a ``random.Random`` or an integer seed (None: seed 0).

        Returns:
            ``list`` of ``n_aug`` non-empty ``list[str]``. A copy may equal the original
            (for example SR on a sentence whose words have no synonyms).

        Raises:
            ValueError: empty ``tokens``. TypeError: ``tokens`` is a ``str``.
        """
        return [toks for _, toks in self.augment_with_ops(tokens, rng)]

    def augment_text(self, text: str, rng: random.Random | int | None = None,
                     lowercase: bool = True) -> list[str]:
        """``n_aug`` augmented copies of ``text`` (tokenized with
        :func:`workbench.data.text.tokenize`, joined with spaces)."""
        return [" ".join(t) for t in self.augment(tokenize(text, lowercase=lowercase), rng)]
