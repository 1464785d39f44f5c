"""EDA operations (Wei & Zou 2019) on real SUBJ sentences: counts and invariants, WordNet
synonyms, NLTK stop words, configuration, seeding."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from workbench.data.text import tokenize
from workbench.techniques.augment import (
    EDA,
    OPERATIONS,
    EDAConfig,
    WordNetSynonyms,
    english_stop_words,
    num_changes,
    random_deletion,
    random_insertion,
    random_swap,
    recommended_config,
    synonym_replacement,
)


@pytest.fixture(scope="module")
def sentences() -> list[list[str]]:
    """40 real SUBJ training sentences (tokenized as the data set is)."""
    from workbench.recipes import load_splits

    train = load_splits("subj", smoke=True).train
    return [tokenize(t) for t in train.texts[:40]]


@pytest.fixture(scope="module")
def syn() -> WordNetSynonyms:
    return WordNetSynonyms()


@pytest.fixture(scope="module")
def stops() -> frozenset[str]:
    return english_stop_words()


def _is_candidate(w: str, stops: frozenset[str]) -> bool:
    return w not in stops and any(c.isalpha() for c in w)


def _replacement_parses(src: list[str], out: list[str], syn, stops, limit: int = 10_000):
    """Every way to read ``out`` as ``src`` with some distinct non-stop words replaced, each
    (at every occurrence) by one of its synonyms; yields the dict word -> synonym."""
    found = []

    def rec(i: int, p: int, assign: dict[str, tuple[str, ...]]) -> None:
        if len(found) >= limit:
            return
        if i == len(src):
            if p == len(out):
                found.append({w: s for w, s in assign.items() if s != (w,)})
            return
        t = src[i]
        if t in assign:
            s = assign[t]
            if tuple(out[p:p + len(s)]) == s:
                rec(i + 1, p + len(s), assign)
            return
        options = [(t,)] + (list(syn(t)) if _is_candidate(t, stops) else [])
        for s in options:
            if tuple(out[p:p + len(s)]) == tuple(s):
                assign[t] = tuple(s)
                rec(i + 1, p + len(s), assign)
                del assign[t]

    rec(0, 0, {})
    return found


def _is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


# ----------------------------------------------------------------------- lexical resources
def test_stop_words_are_nltk_english(stops):
    from nltk.corpus import stopwords

    assert stops == frozenset(w.lower() for w in stopwords.words("english"))
    assert {"the", "a", "not", "is"} <= stops and "film" not in stops


def test_wordnet_synonyms_normalised(syn):
    good = syn("good")
    assert ("in", "effect") in good  # lemma "in_effect": underscore -> space, then tokenized
    assert ("good",) not in good  # the word itself is excluded
    film = syn("film")
    assert ("movie",) in film and ("film",) not in film
    for word in ("good", "film", "well-made", "long-winded", "quiet"):
        for s in syn(word):
            assert s and all("_" not in t and "-" not in t and t == t.lower() for t in s)
            assert " ".join(s) != word
    assert syn("2") == () and syn(",") == ()  # no letter: no synonyms
    assert syn("zzzqqq") == ()


def test_wordnet_synonyms_match_nltk(syn):
    from nltk.corpus import wordnet

    names = {lem.name().replace("_", " ").replace("-", " ").lower()
             for s in wordnet.synsets("happy") for lem in s.lemmas()} - {"happy"}
    assert {" ".join(s) for s in syn("happy")} == names


# ----------------------------------------------------------------------- n
def test_num_changes_counts_words_not_punctuation():
    toks = tokenize("a quiet , lovely film ; warm and wise .")  # 7 words, 3 punctuation tokens
    assert num_changes(0.0, toks) == 0
    assert num_changes(0.01, toks) == 1  # max(1, int(alpha * l))
    assert num_changes(0.3, toks) == 2  # int(0.3 * 7)
    assert num_changes(1.0, toks) == 7
    with pytest.raises(ValueError, match="alpha"):
        num_changes(1.5, toks)


# ----------------------------------------------------------------------- the operations
@pytest.mark.parametrize("alpha", [0.1, 0.3])
def test_synonym_replacement_counts(sentences, syn, stops, alpha):
    changed_any = False
    for i, src in enumerate(sentences):
        n = num_changes(alpha, src)
        out = synonym_replacement(src, n, random.Random(i), syn, stops)
        replaceable = {w for w in src if _is_candidate(w, stops) and syn(w)}
        expected = min(n, len(replaceable))
        parses = _replacement_parses(src, out, syn, stops)
        # out is src with exactly `expected` distinct non-stop words replaced by synonyms
        assert any(len(p) == expected for p in parses), (src, out, n)
        assert all(not set(p) & stops for p in parses)
        changed_any |= out != src
    assert changed_any


def test_synonym_replacement_replaces_every_occurrence(syn, stops):
    src = tokenize("the film is a film about a film .")
    out = synonym_replacement(src, 1, random.Random(0), lambda w: (("movie",),) if w == "film" else (), stops)
    assert out == tokenize("the movie is a movie about a movie .")


def test_random_insertion_counts(sentences, syn, stops):
    for i, src in enumerate(sentences):
        out = random_insertion(src, 1, random.Random(i), syn, stops)
        has = [w for w in src if _is_candidate(w, stops) and syn(w)]
        if not has:
            assert out == src
            continue
        k = len(out) - len(src)
        assert k >= 1
        # exactly one synonym of one non-stop word of the sentence, inserted in one place
        ok = any(out[:p] + out[p + k:] == src and tuple(out[p:p + k]) in set().union(*(syn(w) for w in has))
                 for p in range(len(src) + 1))
        assert ok, (src, out)
        out3 = random_insertion(src, 3, random.Random(i), syn, stops)
        assert _is_subsequence(src, out3) and len(out3) - len(src) >= 3


def test_random_insertion_without_synonyms_changes_nothing(stops):
    src = tokenize("the , and of it .")
    assert random_insertion(src, 5, random.Random(0), lambda w: (), stops) == src


def test_random_swap_counts(sentences):
    for i, src in enumerate(sentences):
        for n in (1, 3):
            out = random_swap(src, n, random.Random(i))
            assert Counter(out) == Counter(src) and len(out) == len(src)
            assert sum(a != b for a, b in zip(src, out)) <= 2 * n
        if len(set(src)) == len(src):  # distinct tokens: one swap moves exactly two
            assert sum(a != b for a, b in zip(src, random_swap(src, 1, random.Random(i)))) == 2
    assert random_swap(["only"], 3, random.Random(0)) == ["only"]


def test_random_deletion_invariants(sentences):
    total = kept = 0
    for i, src in enumerate(sentences):
        out = random_deletion(src, 0.3, random.Random(i))
        assert out and _is_subsequence(out, src)
        total += len(src)
        kept += len(out)
        assert random_deletion(src, 0.0, random.Random(i)) == src
        one = random_deletion(src, 1.0, random.Random(i))
        assert len(one) == 1 and one[0] in src  # never empty
    assert 0.6 < kept / total < 0.8  # each token survives with probability 0.7
    assert random_deletion(["alone"], 1.0, random.Random(0)) == ["alone"]


def test_operations_do_not_modify_input_and_reject_bad_input(syn, stops):
    src = tokenize("a quiet , lovely film")
    copy = list(src)
    rng = random.Random(0)
    synonym_replacement(src, 2, rng, syn, stops)
    random_insertion(src, 2, rng, syn, stops)
    random_swap(src, 2, rng)
    random_deletion(src, 0.5, rng)
    assert src == copy
    with pytest.raises(ValueError, match="non-empty"):
        random_swap([], 1, rng)
    with pytest.raises(TypeError, match="tokens"):
        random_deletion("a string", 0.1, rng)
    with pytest.raises(ValueError, match="n must be"):
        random_swap(src, -1, rng)
    with pytest.raises(ValueError, match="p must be"):
        random_deletion(src, 1.2, rng)


# ----------------------------------------------------------------------- EDA
def test_eda_copies_counts_and_operations(sentences, syn, stops):
    eda = EDA(EDAConfig(alpha_sr=0.1, alpha_ri=0.0, alpha_rs=0.2, p_rd=0.1, n_aug=7), syn, stops)
    for i, src in enumerate(sentences[:10]):
        pairs = eda.augment_with_ops(src, i)
        assert len(pairs) == 7
        ops = Counter(op for op, _ in pairs)
        assert set(ops) <= {"sr", "rs", "rd"}  # ri has rate 0
        assert all(c <= 7 // 3 + 1 for c in ops.values())
        assert all(toks for _, toks in pairs)
    assert EDA(EDAConfig(n_aug=0), syn, stops).augment(sentences[0], 0) == []


def test_eda_seeded_and_leaves_global_rng_alone(sentences, syn, stops):
    eda = EDA(EDAConfig.from_alpha(0.2, 6), syn, stops)
    random.seed(123)
    state = random.getstate()
    a = [eda.augment(s, 5) for s in sentences[:10]]
    assert random.getstate() == state  # the global RNG is never used
    b = [eda.augment(s, random.Random(5)) for s in sentences[:10]]
    c = [eda.augment(s, 6) for s in sentences[:10]]
    assert a == b and a != c


def test_eda_never_empty(syn, stops):
    eda = EDA(EDAConfig(alpha_sr=1.0, alpha_ri=1.0, alpha_rs=1.0, p_rd=1.0, n_aug=16), syn, stops)
    for text in ("good", "the", "a b", "it is .", "bad , bad film"):
        for copy in eda.augment(tokenize(text), 0):
            assert copy
    with pytest.raises(ValueError, match="non-empty"):
        eda.augment([], 0)


def test_eda_text_and_defaults():
    eda = EDA(n_aug=3)  # default WordNet synonyms and NLTK stop words
    out = eda.augment_text("A charming and funny film about a family in crisis.", 0)
    assert len(out) == 3 and all(isinstance(s, str) and s for s in out)
    assert eda.config.alpha_sr == 0.1 and eda.config.n_aug == 3


def test_eda_config_validation():
    assert EDAConfig().operations == OPERATIONS
    with pytest.raises(ValueError, match="alpha_sr"):
        EDAConfig(alpha_sr=1.5)
    with pytest.raises(ValueError, match="p_rd"):
        EDAConfig(p_rd=-0.1)
    with pytest.raises(ValueError, match="n_aug"):
        EDAConfig(n_aug=-1)
    with pytest.raises(ValueError, match="n_aug"):
        EDAConfig(n_aug=2.5)
    with pytest.raises(ValueError, match="at least one"):
        EDAConfig(0, 0, 0, 0, n_aug=4)
    assert EDAConfig(0, 0, 0, 0, n_aug=0).operations == ()
    with pytest.raises(ValueError, match="unknown EDA operation"):
        EDA(EDAConfig(), synonyms=lambda w: (), stop_words=()).apply("xx", ["a"], random.Random(0))


def test_recommended_config_follows_the_paper():
    assert recommended_config(500) == EDAConfig.from_alpha(0.05, 16)
    assert recommended_config(100) == EDAConfig.from_alpha(0.05, 16)
    assert recommended_config(1999).n_aug == 16
    assert recommended_config(2000) == EDAConfig.from_alpha(0.05, 8)
    assert recommended_config(4999).n_aug == 8
    assert recommended_config(5000) == EDAConfig.from_alpha(0.1, 4)
    assert recommended_config(9000) == EDAConfig.from_alpha(0.1, 4)
    with pytest.raises(ValueError, match="n_train"):
        recommended_config(0)
