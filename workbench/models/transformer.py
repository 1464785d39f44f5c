"""A small decoder-only transformer: a language model with a key/value-cached
:meth:`~TransformerLM.generate`, and the same network as a sentence classifier.

:class:`TransformerLM` is GPT-2-shaped (Radford et al. 2019, "Language Models are
Unsupervised Multitask Learners", section 2.3): learned token and position embeddings,
``n_layers`` pre-norm blocks ``x + Attn(LN(x))``, ``x + FFN(LN(x))`` with causal
multi-head self-attention (Vaswani et al. 2017, section 3.2,
:func:`torch.nn.functional.scaled_dot_product_attention`) and a GELU feed-forward layer
(Hendrycks & Gimpel 2016), a final LayerNorm, and an output projection tied to the token
embedding (Press & Wolf 2017). With ``num_classes`` it also has a classification head
(``classifier``), so the pretrained network fine-tunes as a classifier (ULMFiT, Howard &
Ruder 2018, section 3.3) and plugs into :class:`~workbench.train.Trainer` and the recipes
like :class:`~workbench.models.KimCNN`: ``forward(x) -> [B, num_classes]``,
``encode(x) -> [B, d_model]``, ``feature_dim``, ``classifier``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from workbench.models.text import _check_pad_id, _check_tokens
from workbench.models.vision import _check_dropout, _check_positive_int

__all__ = ["KVCache", "TransformerLM", "POOLINGS"]

#: Sentence pooling of :meth:`TransformerLM.encode`.
POOLINGS = ("mean", "last")


@dataclass
class KVCache:
    """Keys and values of the tokens seen so far, one pair of buffers per layer.

    ``keys[i]`` / ``values[i]``: float ``[B, n_heads, capacity, head_dim]``, preallocated;
    positions ``[0, length)`` hold the cached tokens. Built by
    :meth:`TransformerLM.new_cache` and filled by :meth:`TransformerLM.forward_lm`.
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    length: int = 0

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]


class _Block(nn.Module):
    """Pre-norm transformer block: ``x + Attn(LN(x))`` then ``x + FFN(LN(x))``."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, activation: str) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU() if activation == "gelu" else nn.ReLU(),
                                nn.Linear(d_ff, d_model))
        self.attn_dropout = dropout
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None, is_causal: bool,
                cache: KVCache | None, layer: int) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.n_heads, self.head_dim).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            start = cache.length
            cache.keys[layer][:, :, start:start + t] = k
            cache.values[layer][:, :, start:start + t] = v
            k = cache.keys[layer][:, :, :start + t]
            v = cache.values[layer][:, :, :start + t]
        p = self.attn_dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p, is_causal=is_causal)
        x = x + self.dropout(self.proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.dropout(self.ff(self.norm2(x)))


class TransformerLM(nn.Module):
    """Decoder-only transformer language model, optionally with a classification head.

    ``h = E_tok[x] + E_pos[0..L-1] -> dropout -> n_layers x pre-norm block -> LayerNorm``;
    language-model logits ``h @ E_tok^T + b`` (tied output projection, ``lm_head``);
    sentence features ``encode(x)`` pool ``h`` (``pooling``), and
    ``forward(x) = classifier(dropout(encode(x)))``.

    Attention is causal (a token sees itself and the tokens before it) and masks padding
    keys (token id ``pad_id``), so a right-padded sentence (what
    :class:`~workbench.data.collate.TextCollator` builds) gives the same features whatever
    padding the batch adds; a query always sees itself, so a padding query never attends
    to nothing.

    Pooling (``encode``): ``"mean"`` (default), the mean of the final hidden states of
    the non-padding tokens (a sequence made only of padding pools to zeros); ``"last"``,
    the hidden state of the last non-padding token (the only one that has seen the whole
    sentence under causal attention). ULMFiT (section 3.3) concatenates the last state
    with mean and max pools; mean pooling is the one that kept the gradient flowing to
    every position in our runs at small label budgets.

    Args:
        vocab_size: number of token ids (including padding and OOV).
        num_classes: classification logits, or None for a language model only (then
            :meth:`forward` returns language-model logits ``[B, L, vocab_size]``).
        d_model: width of the residual stream. Default 128.
        n_heads: attention heads; must divide ``d_model``. Default 4.
        n_layers: transformer blocks. Default 2.
        d_ff: hidden width of the feed-forward layer (default ``4 * d_model``).
        max_len: longest sequence (learned positions). Default 256.
        dropout: dropout on embeddings, attention weights, residual branches and the
            pooled features, in ``[0, 1)``. Default 0.1.
        activation: ``"gelu"`` (default) or ``"relu"`` in the feed-forward layer.
        pad_id: padding token id, in ``[0, vocab_size)``. Default 0.
        pooling: one of :data:`POOLINGS`. Default ``"mean"``.
        tie_weights: share the output projection with the token embedding. Default True.

    Input: long ``[B, L]`` token ids with ``L <= max_len``. Output: float32 logits
    ``[B, num_classes]`` (or ``[B, L, vocab_size]`` without a head).

    Parameters (tied, default sizes): ``V*d + max_len*d + n_layers*(12 d^2 + 13 d) + 2d
    + V`` (+ ``d*C + C`` for the head); ``vocab_size=10_000``: 1,280,000 + 32,768 +
    396,544 + 256 + 10,000 = 1,719,568 (+ 258 with two classes).

    Raises:
        ValueError: on invalid sizes (``n_heads`` not dividing ``d_model``, ...), an unknown
            ``activation`` or ``pooling``; at forward time, on input that is not ``[B, L]``
            integer ids or is longer than ``max_len``.
    """

    def __init__(self, vocab_size: int, num_classes: int | None = None, d_model: int = 128,
                 n_heads: int = 4, n_layers: int = 2, d_ff: int | None = None, max_len: int = 256,
                 dropout: float = 0.1, activation: str = "gelu", pad_id: int = 0,
                 pooling: str = "mean", tie_weights: bool = True) -> None:
        super().__init__()
        self.vocab_size = _check_positive_int("vocab_size", vocab_size)
        if num_classes is not None:
            _check_positive_int("num_classes", num_classes)
        self.num_classes = num_classes
        self.d_model = _check_positive_int("d_model", d_model)
        self.n_heads = _check_positive_int("n_heads", n_heads)
        if d_model % n_heads:
            raise ValueError(f"n_heads must divide d_model; got d_model={d_model}, n_heads={n_heads}")
        self.n_layers = _check_positive_int("n_layers", n_layers)
        self.d_ff = _check_positive_int("d_ff", 4 * d_model if d_ff is None else d_ff)
        self.max_len = _check_positive_int("max_len", max_len)
        self.dropout_p = _check_dropout(dropout)
        if activation not in ("gelu", "relu"):
            raise ValueError(f"activation must be 'gelu' or 'relu'; got {activation!r}")
        self.activation = activation
        self.pad_id = _check_pad_id(pad_id, self.vocab_size)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}")
        self.pooling = pooling
        if not isinstance(tie_weights, bool):
            raise ValueError(f"tie_weights must be True or False; got {tie_weights!r}")

        self.embedding = nn.Embedding(self.vocab_size, self.d_model)
        self.position = nn.Embedding(self.max_len, self.d_model)
        self.drop = nn.Dropout(self.dropout_p)
        self.blocks = nn.ModuleList(_Block(self.d_model, self.n_heads, self.d_ff, self.dropout_p, activation)
                                    for _ in range(self.n_layers))
        self.norm = nn.LayerNorm(self.d_model)
        self.lm_head = nn.Linear(self.d_model, self.vocab_size)
        self.feature_dim = self.d_model
        self.classifier = nn.Linear(self.d_model, num_classes) if num_classes is not None else None
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
            if name.endswith("proj.weight") or name.endswith("ff.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * self.n_layers))
        if tie_weights:
            self.lm_head.weight = self.embedding.weight

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    # ------------------------------------------------------------------ core
    def _check_input(self, x: torch.Tensor, offset: int = 0) -> None:
        _check_tokens("TransformerLM", x)
        if offset + x.shape[1] > self.max_len:
            raise ValueError(f"TransformerLM has max_len={self.max_len} positions; got {offset} cached + "
                             f"{x.shape[1]} new tokens (input shape {tuple(x.shape)}). Truncate the input "
                             f"or build the model with a larger max_len.")

    def hidden_states(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Final hidden states (after the last LayerNorm): long ``[B, L]`` -> float32
        ``[B, L, d_model]``.

        Without ``cache``: causal attention with padding keys masked. With ``cache``: the
        ``L`` new tokens attend to the cached ones and causally to each other, no padding
        mask (generation prompts carry no padding); their keys and values are appended
        and ``cache.length`` grows by ``L``.
        """
        offset = cache.length if cache is not None else 0
        self._check_input(x, offset)
        b, t = x.shape
        pos = torch.arange(offset, offset + t, device=x.device)
        h = self.drop(self.embedding(x) + self.position(pos))
        attn_mask, is_causal = None, False
        if cache is None:
            pad = x == self.pad_id
            if bool(pad.any()):
                causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
                eye = torch.eye(t, dtype=torch.bool, device=x.device)
                attn_mask = ((causal & ~pad[:, None, :]) | eye)[:, None]  # [B, 1, L, L]
            else:
                is_causal = t > 1
        elif t > 1:  # several new tokens: causal among themselves, all cached ones visible
            if cache.length + t > cache.capacity:
                raise ValueError(f"KV cache holds {cache.capacity} positions; {cache.length} used, {t} more given")
            attn_mask = torch.ones(t, offset + t, dtype=torch.bool, device=x.device).tril(diagonal=offset)
        elif cache.length + t > cache.capacity:
            raise ValueError(f"KV cache holds {cache.capacity} positions; {cache.length} used, {t} more given")
        for i, block in enumerate(self.blocks):
            h = block(h, attn_mask, is_causal, cache, i)
        if cache is not None:
            cache.length += t
        return self.norm(h)

    def forward_lm(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Next-token logits: long ``[B, L]`` -> float32 ``[B, L, vocab_size]`` (position
        ``i`` predicts token ``i + 1``). ``cache``: see :meth:`hidden_states`."""
        return self.lm_head(self.hidden_states(x, cache))

    def lm_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats per predicted token) of ``x`` (long
        ``[B, L]``): positions ``0..L-2`` predict ``1..L-1``; padding targets are ignored.
        ``exp`` of it is the perplexity."""
        logits = self.forward_lm(x[:, :-1])
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), x[:, 1:].reshape(-1),
                               ignore_index=self.pad_id)

    # ------------------------------------------------------------------ classifier
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Sentence features: long ``[B, L]`` -> float32 ``[B, d_model]`` (``pooling``:
        mean over the non-padding tokens, or the last non-padding token)."""
        h = self.hidden_states(x)
        mask = x != self.pad_id
        if self.pooling == "last":
            last = (mask.long().cumsum(dim=1).argmax(dim=1))  # index of the last real token
            out = h[torch.arange(h.shape[0], device=h.device), last]
            return torch.where(mask.any(dim=1, keepdim=True), out, torch.zeros_like(out))
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """With a head: long ``[B, L]`` -> logits float32 ``[B, num_classes]``; without:
        language-model logits ``[B, L, vocab_size]`` (:meth:`forward_lm`)."""
        if self.classifier is None:
            return self.forward_lm(x)
        return self.classifier(self.drop(self.encode(x)))

    def add_classifier(self, num_classes: int) -> TransformerLM:
        """Attach a fresh classification head (``nn.Linear(d_model, num_classes)``, GPT-2
        init) in place, replacing any previous one; returns ``self``."""
        _check_positive_int("num_classes", num_classes)
        ref = self.embedding.weight
        self.classifier = nn.Linear(self.d_model, num_classes).to(device=ref.device, dtype=ref.dtype)
        self._init(self.classifier)
        self.num_classes = num_classes
        return self

    def layer_groups(self) -> dict[str, list[str]]:
        """ULMFiT's layer groups, bottom to top: ``{"embedding": token + position
        embeddings, "block0": ..., "block{n-1}": ..., "head": final norm + classifier (+
        lm_head's bias; its weight is the embedding's)}``, each a list of regular
        expressions over parameter names (the ``layers`` argument of
        :func:`workbench.train.param_groups.param_groups` and the transfer family's
        fine-tuning tools)."""
        groups = {"embedding": [r"^embedding\.", r"^position\."]}
        groups |= {f"block{i}": [rf"^blocks\.{i}\."] for i in range(self.n_layers)}
        groups["head"] = [r"^norm\.", r"^classifier\.", r"^lm_head\."]
        return groups

    # ------------------------------------------------------------------ generation
    def new_cache(self, batch_size: int, capacity: int | None = None) -> KVCache:
        """An empty :class:`KVCache` for ``batch_size`` sequences of up to ``capacity``
        tokens (default ``max_len``), on the model's device and dtype."""
        cap = self.max_len if capacity is None else min(int(capacity), self.max_len)
        ref = self.embedding.weight
        shape = (batch_size, self.n_heads, cap, self.d_model // self.n_heads)
        return KVCache([ref.new_zeros(shape) for _ in self.blocks], [ref.new_zeros(shape) for _ in self.blocks])

    @torch.inference_mode()
    def generate(self, prompt: torch.Tensor, max_new_tokens: int, *, temperature: float = 0.0,
                 top_k: int | None = None, seed: int | None = None, use_cache: bool = True,
                 banned: tuple[int, ...] | None = None, return_logits: bool = False
                 ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Continue ``prompt`` by ``max_new_tokens`` tokens, in eval mode (the model's
        mode is restored afterwards).

        Greedy (``temperature=0``): the most likely next token. Sampling
        (``temperature > 0``): from ``softmax(logits / temperature)``, restricted to the
        ``top_k`` most likely tokens if given (Fan et al. 2018), with a private
        ``torch.Generator`` seeded with ``seed`` (the global RNG is not consumed).

        With ``use_cache`` (default) the prompt is encoded once and each step feeds only
        the new token, attending to the cached keys and values (one ``[B, 1]`` forward per
        token); without it every step re-encodes the whole sequence. Both give the same
        tokens and (up to float rounding) the same logits.

        Args:
            prompt: long ``[B, T]``, ``T >= 1``, no padding.
            max_new_tokens: tokens to add, ``>= 1``; ``T + max_new_tokens <= max_len``.
            temperature: ``>= 0``.
            top_k: ``None`` or an integer in ``[1, vocab_size]``.
            seed: seed of the sampling generator (None: 0).
            use_cache: use the key/value cache.
            banned: token ids never generated (default: ``(pad_id,)``).
            return_logits: also return the logits each step sampled from.

        Returns:
            long ``[B, T + max_new_tokens]`` (prompt then new tokens), and with
            ``return_logits`` float32 ``[B, max_new_tokens, vocab_size]`` (before
            temperature and top-k).

        Raises:
            ValueError: invalid arguments, or a prompt too long for ``max_len``.
        """
        _check_tokens("generate", prompt)
        _check_positive_int("max_new_tokens", max_new_tokens)
        if prompt.shape[1] < 1:
            raise ValueError("generate needs a prompt of at least one token")
        if prompt.shape[1] + max_new_tokens > self.max_len:
            raise ValueError(f"prompt length {prompt.shape[1]} + max_new_tokens {max_new_tokens} exceeds "
                             f"max_len={self.max_len}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
            raise ValueError(f"temperature must be a number >= 0; got {temperature!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                                  or not 1 <= top_k <= self.vocab_size):
            raise ValueError(f"top_k must be None or an integer in [1, {self.vocab_size}]; got {top_k!r}")
        banned = (self.pad_id,) if banned is None else tuple(banned)
        gen = None
        if temperature > 0:
            gen = torch.Generator(device=prompt.device)
            gen.manual_seed(0 if seed is None else int(seed))
        was_training = self.training
        self.eval()
        try:
            seq = prompt.to(self.embedding.weight.device)
            steps: list[torch.Tensor] = []
            cache = self.new_cache(seq.shape[0], seq.shape[1] + max_new_tokens) if use_cache else None
            logits = self.forward_lm(seq, cache)[:, -1]
            for i in range(max_new_tokens):
                logits = logits.float()
                if return_logits:
                    steps.append(logits)
                scores = logits.clone()
                if banned:
                    scores[:, list(banned)] = float("-inf")
                if temperature == 0:
                    nxt = scores.argmax(dim=-1, keepdim=True)
                else:
                    scores = scores / temperature
                    if top_k is not None:
                        kth = scores.topk(top_k, dim=-1).values[:, -1:]
                        scores = scores.masked_fill(scores < kth, float("-inf"))
                    nxt = torch.multinomial(scores.softmax(dim=-1), 1, generator=gen)
                seq = torch.cat([seq, nxt], dim=1)
                if i + 1 < max_new_tokens:
                    logits = (self.forward_lm(nxt, cache) if cache is not None else self.forward_lm(seq))[:, -1]
        finally:
            self.train(was_training)
        if return_logits:
            return seq, torch.stack(steps, dim=1)
        return seq
