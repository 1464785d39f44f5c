"""Sentence classifiers over token ids: :class:`BagOfEmbeddings` and :class:`KimCNN`.

Both take a padded ``torch.long`` batch ``[B, L]`` (what
:class:`workbench.data.collate.TextCollator` returns as ``batch["inputs"]``) and return
float32 logits ``[B, num_classes]``. Token id ``pad_id`` (0 by default, the same as
``TaskSpec.pad_id``) marks padding wherever it occurs; the padding mask is computed
from the ids themselves, so both models give the same logits however much padding a
sequence carries (in eval mode).

Like the vision models they expose ``embedding`` (the token embedding),
``encode(x) -> [B, feature_dim]`` (the sentence representation the final layer sees,
before dropout), ``feature_dim`` and ``classifier`` (the final :class:`torch.nn.Linear`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from workbench.models.vision import _check_dropout, _check_positive_int, _check_widths


def _check_pad_id(pad_id: object, vocab_size: int) -> int:
    if isinstance(pad_id, bool) or not isinstance(pad_id, int) or not 0 <= pad_id < vocab_size:
        raise ValueError(f"pad_id must be an integer in [0, {vocab_size}); got {pad_id!r}")
    return pad_id


def _check_tokens(name: str, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} expects token ids of shape [B, L]; got {shape}")
    if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
        raise ValueError(f"{name} expects integer token ids (torch.long); got dtype {x.dtype}")


def _check_matrix(name: str, t: object, vocab_size: int, embed_dim: int) -> torch.Tensor:
    if not isinstance(t, torch.Tensor) or t.dim() != 2 or not t.dtype.is_floating_point:
        raise ValueError(f"{name} must be a float tensor [vocab_size, embed_dim]; got {t!r:.80}")
    if tuple(t.shape) != (vocab_size, embed_dim):
        raise ValueError(
            f"{name} has shape {tuple(t.shape)} but the model has vocab_size={vocab_size}, "
            f"embed_dim={embed_dim}; pass embed_dim={t.shape[1]} (and the matching vocab_size)"
        )
    return t.detach().to(torch.float32).clone()


class BagOfEmbeddings(nn.Module):
    """Bag of embeddings: mean of the token embeddings of the non-pad tokens -> logits.

    ``pooled = sum_i m_i * E[x_i] / max(1, sum_i m_i)`` with ``m_i = [x_i != pad_id]``;
    then ``dropout -> [Linear(embed_dim, hidden) -> ReLU -> dropout] -> Linear`` (the
    bracket only when ``hidden`` is set). A sequence made only of padding pools to zeros.

    Args:
        vocab_size: number of token ids (including padding and OOV).
        num_classes: number of output logits.
        embed_dim: embedding width. Default 128.
        pad_id: padding token id, in ``[0, vocab_size)``. Its embedding row is kept at zero
            (``padding_idx``). Default 0.
        dropout: dropout probability, in ``[0, 1)``. Default 0.0.
        hidden: width of an optional hidden layer (None: linear head).

    Input: long ``[B, L]`` token ids. Output: float32 logits ``[B, num_classes]``.

    Parameters: ``vocab_size*embed_dim [+ embed_dim*hidden + hidden] + d*num_classes +
    num_classes`` with ``d = hidden or embed_dim`` (the pad row counts, although it never
    trains). Default configuration with ``vocab_size=10_000, num_classes=2``:
    ``1,280,000 + 258 = 1,280,258``.

    Raises:
        ValueError: on invalid sizes; at forward time, on input that is not ``[B, L]``
            integer ids.
    """

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 128, pad_id: int = 0,
                 dropout: float = 0.0, hidden: int | None = None) -> None:
        super().__init__()
        self.vocab_size = _check_positive_int("vocab_size", vocab_size)
        self.num_classes = _check_positive_int("num_classes", num_classes)
        self.embed_dim = _check_positive_int("embed_dim", embed_dim)
        self.pad_id = _check_pad_id(pad_id, self.vocab_size)
        self.dropout_p = _check_dropout(dropout)
        if hidden is not None:
            _check_positive_int("hidden", hidden)
        self.hidden_dim = hidden
        self.embedding = nn.Embedding(self.vocab_size, self.embed_dim, padding_idx=self.pad_id)
        self.dropout = nn.Dropout(self.dropout_p)
        if hidden is None:
            self.hidden = None
            self.feature_dim = self.embed_dim
        else:
            self.hidden = nn.Sequential(nn.Dropout(self.dropout_p),
                                        nn.Linear(self.embed_dim, hidden), nn.ReLU())
            self.feature_dim = hidden
        self.classifier = nn.Linear(self.feature_dim, self.num_classes)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Masked mean of token embeddings: long ``[B, L]`` -> float32 ``[B, embed_dim]``."""
        _check_tokens("BagOfEmbeddings", x)
        mask = (x != self.pad_id).unsqueeze(-1)  # [B, L, 1]
        summed = (self.embedding(x) * mask).sum(dim=1)
        count = mask.sum(dim=1).clamp(min=1).to(summed.dtype)
        return summed / count

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Sentence features: float32 ``[B, feature_dim]`` (before the final dropout)."""
        h = self.pool(x)
        return h if self.hidden is None else self.hidden(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """long ``[B, L]`` -> logits float32 ``[B, num_classes]``."""
        return self.classifier(self.dropout(self.encode(x)))


#: Kim (2014)'s variants, the values of ``KimCNN(mode=...)``.
KIM_MODES = ("rand", "static", "non-static", "multichannel")


class KimCNN(nn.Module):
    """Kim (2014), "Convolutional Neural Networks for Sentence Classification" (EMNLP).

    ``embedding -> parallel Conv1d of widths filter_sizes (num_filters maps each) -> ReLU
    -> max-over-time pooling -> concatenate -> dropout -> Linear``.

    Kim's variants:

    - **CNN-rand** (default): randomly initialised embeddings (``U[-init_range,
      init_range]``, Kim's 0.25 by default), trained.
    - **CNN-static**: ``pretrained_embeddings=w, freeze_embeddings=True``.
    - **CNN-non-static**: ``pretrained_embeddings=w`` (fine-tuned).
    - **CNN-multichannel**: ``static_embeddings=w``: a second, frozen embedding channel;
      the trainable channel starts from ``pretrained_embeddings`` if given, else from
      ``w`` too. Each filter spans both channels (``Conv1d`` over ``2 * embed_dim`` input
      channels), which equals Kim's per-channel filters summed.

    ``mode`` names the variant (:data:`KIM_MODES`) and checks the other arguments against
    it: ``mode="static", pretrained_embeddings=w`` freezes the embedding,
    ``mode="multichannel", pretrained_embeddings=w`` adds ``w`` as the static channel, and
    ``mode="rand"`` refuses a table. ``model.mode`` holds the variant either way (inferred
    from the arguments when ``mode`` is None). Word vectors for the vocabulary of a data
    set: :mod:`workbench.techniques.transfer` (``kim_cnn(..., mode=...)``).

    Kim used ``embed_dim=300`` (word2vec), filter widths 3, 4, 5 with 100 maps each,
    dropout 0.5, an l2 max-norm constraint ``s=3`` on the final layer's weight vectors,
    batch 50 and Adadelta; CNN-rand's random vectors are drawn from ``U[-0.25, 0.25]``
    (about the variance of the word2vec vectors), which is the default ``init_range``
    here. The default ``embed_dim`` here is 128 for CPU speed; pass ``embed_dim=300`` for
    Kim's setting. Published accuracies (CNN-rand / best variant): MR 76.1 / 81.5,
    SUBJ 89.6 / 93.4.

    Initialisation matters for CNN-rand: with PyTorch's ``nn.Embedding`` default
    ``N(0, 1)`` (``init_range=None``) and Adam at 1e-3, validation accuracy on the default
    split peaked only at epoch 9 on SUBJ (0.889) and 6 on MR (0.740); with
    ``U[-0.25, 0.25]`` SUBJ was at 0.909 after 2 epochs (best 0.918) and MR peaked at
    epoch 2 (0.768) (seed 0; ``docs/baselines.md``): an Adam step of size ``lr`` moves a
    small vector relatively further.

    Padding: the convolutions are "wide" (``padding=k-1`` zero vectors on both sides, as
    in Kim's implementation, which pads every sentence with ``max(filter_sizes) - 1``
    zero vectors), token id ``pad_id`` gets a zero embedding (also in pretrained or
    static tables, whatever their pad row holds), and a window that contains no real token
    is set to ``-inf`` before the max over time. So every sentence, however short, has the
    same windows (each overlapping it by 1..k tokens) whatever padding the batch adds:
    extra padding never changes the output. A sequence made only of padding pools to zeros.

    Max-norm: with ``max_norm=s``, :meth:`apply_max_norm` rescales every row of
    ``classifier.weight`` (one weight vector per class) whose l2 norm exceeds ``s`` to
    norm ``s``. It is off by default (``max_norm=None``) and is not called automatically:
    call it after each ``optimizer.step()`` (for example from a technique's
    ``on_step_end``) to reproduce Kim's constraint.

    Args:
        vocab_size: number of token ids (including padding and OOV).
        num_classes: number of output logits.
        embed_dim: embedding width (Kim: 300). Default 128.
        filter_sizes: convolution widths, in tokens. Default ``(3, 4, 5)``.
        num_filters: feature maps per width. Default 100.
        dropout: dropout probability on the pooled features, in ``[0, 1)``. Default 0.5.
        pad_id: padding token id, in ``[0, vocab_size)``. Default 0.
        static_embeddings: optional float tensor ``[vocab_size, embed_dim]``; enables the
            multichannel variant (a frozen copy).
        pretrained_embeddings: optional float tensor ``[vocab_size, embed_dim]`` that
            initialises the trainable embedding (copied).
        freeze_embeddings: if True, the embedding gets ``requires_grad=False``.
        max_norm: l2 bound for the final layer's weight vectors (Kim: 3.0), or None.
        mode: ``"rand"``, ``"static"``, ``"non-static"``, ``"multichannel"`` or None (the
            variant follows from the other arguments).
        init_range: a trainable embedding that is not given ``pretrained_embeddings`` (nor
            ``static_embeddings``) is drawn from ``U[-init_range, init_range]`` (Kim:
            0.25, the default); None keeps PyTorch's ``N(0, 1)``. The padding row is zero
            either way.

    Input: long ``[B, L]`` token ids with ``L >= max(filter_sizes)`` (set
    ``TaskSpec.min_length`` so the collator pads short batches). Output: float32 logits
    ``[B, num_classes]``.

    Parameters: ``vocab_size*embed_dim + sum_k (c*embed_dim*num_filters*k + num_filters)
    + F*num_classes + num_classes`` with ``F = num_filters * len(filter_sizes)`` and
    ``c = 1`` (``c = 2`` for multichannel, whose static table adds ``vocab_size*embed_dim``
    frozen parameters, not counted by ``count_parameters(model)``'s default). Default configuration with
    ``vocab_size=10_000, num_classes=2``: embedding 1,280,000 + convolutions 153,900 +
    linear 602 = ``1,434,502`` (convolutions 360,300 with ``embed_dim=300``).

    Raises:
        ValueError: on invalid sizes or embedding tables of the wrong shape; at forward
            time, on input that is not ``[B, L]`` integer ids or has
            ``L < max(filter_sizes)``.
    """

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 128,
                 filter_sizes: Sequence[int] = (3, 4, 5), num_filters: int = 100,
                 dropout: float = 0.5, pad_id: int = 0,
                 static_embeddings: torch.Tensor | None = None, *,
                 pretrained_embeddings: torch.Tensor | None = None,
                 freeze_embeddings: bool = False, max_norm: float | None = None,
                 init_range: float | None = 0.25, mode: str | None = None) -> None:
        super().__init__()
        if mode is not None and mode not in KIM_MODES:
            raise ValueError(f"mode must be one of {list(KIM_MODES)} or None; got {mode!r}")
        if mode in ("static", "non-static", "multichannel") and pretrained_embeddings is None \
                and static_embeddings is None:
            raise ValueError(f"mode={mode!r} needs pretrained_embeddings (word vectors for the "
                             "vocabulary); mode='rand' trains from a random initialisation")
        if mode == "rand" and (pretrained_embeddings is not None or static_embeddings is not None):
            raise ValueError("mode='rand' takes no pretrained_embeddings or static_embeddings")
        if mode == "non-static" and (freeze_embeddings or static_embeddings is not None):
            raise ValueError("mode='non-static' fine-tunes a single embedding: freeze_embeddings must "
                             "be False and static_embeddings None")
        if mode == "static":
            if static_embeddings is not None:
                raise ValueError("mode='static' takes pretrained_embeddings, not static_embeddings")
            freeze_embeddings = True
        if mode == "multichannel" and static_embeddings is None:
            static_embeddings = pretrained_embeddings
        self.vocab_size = _check_positive_int("vocab_size", vocab_size)
        self.num_classes = _check_positive_int("num_classes", num_classes)
        self.embed_dim = _check_positive_int("embed_dim", embed_dim)
        if init_range is not None and (isinstance(init_range, bool) or not isinstance(init_range, (int, float))
                                       or not 0 < init_range < float("inf")):
            raise ValueError(f"init_range must be a positive number or None; got {init_range!r}")
        self.init_range = None if init_range is None else float(init_range)
        self.filter_sizes = _check_widths("filter_sizes", filter_sizes, allow_empty=False)
        self.num_filters = _check_positive_int("num_filters", num_filters)
        self.dropout_p = _check_dropout(dropout)
        self.pad_id = _check_pad_id(pad_id, self.vocab_size)
        if not isinstance(freeze_embeddings, bool):
            raise ValueError(f"freeze_embeddings must be True or False; got {freeze_embeddings!r}")
        if max_norm is not None and (isinstance(max_norm, bool)
                                     or not isinstance(max_norm, (int, float)) or not max_norm > 0):
            raise ValueError(f"max_norm must be a positive number or None; got {max_norm!r}")
        self.max_norm = None if max_norm is None else float(max_norm)
        self.min_length = max(self.filter_sizes)

        static = pretrained = None
        if static_embeddings is not None:
            static = _check_matrix("static_embeddings", static_embeddings,
                                   self.vocab_size, self.embed_dim)
        if pretrained_embeddings is not None:
            pretrained = _check_matrix("pretrained_embeddings", pretrained_embeddings,
                                       self.vocab_size, self.embed_dim)
        elif static is not None:
            pretrained = static.clone()

        self.embedding = nn.Embedding(self.vocab_size, self.embed_dim, padding_idx=self.pad_id)
        if pretrained is not None:
            with torch.no_grad():
                self.embedding.weight.copy_(pretrained)
        elif self.init_range is not None:
            with torch.no_grad():
                self.embedding.weight.uniform_(-self.init_range, self.init_range)
                self.embedding.weight[self.pad_id].zero_()
        self.embedding.weight.requires_grad_(not freeze_embeddings)
        if mode is None:
            mode = ("multichannel" if static is not None else "rand" if pretrained is None
                    else "static" if freeze_embeddings else "non-static")
        self.mode = mode
        self.static_embedding: nn.Embedding | None = None
        if static is not None:
            self.static_embedding = nn.Embedding.from_pretrained(static, freeze=True,
                                                                 padding_idx=self.pad_id)
        channels = 2 if static is not None else 1
        self.convs = nn.ModuleList(
            nn.Conv1d(channels * self.embed_dim, self.num_filters, kernel_size=k, padding=k - 1)
            for k in self.filter_sizes
        )
        self.dropout = nn.Dropout(self.dropout_p)
        self.feature_dim = self.num_filters * len(self.filter_sizes)
        self.classifier = nn.Linear(self.feature_dim, self.num_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Max-over-time pooled features: long ``[B, L]`` -> float32 ``[B, feature_dim]``."""
        _check_tokens("KimCNN", x)
        if x.shape[1] < self.min_length:
            raise ValueError(
                f"KimCNN needs sequences of at least {self.min_length} tokens (its widest "
                f"filter); got input of shape {tuple(x.shape)}. Pad batches to "
                f"{self.min_length} tokens (TaskSpec.min_length={self.min_length})."
            )
        mask = x != self.pad_id  # [B, L]
        emb = self.embedding(x)
        if self.static_embedding is not None:
            emb = torch.cat([emb, self.static_embedding(x)], dim=-1)
        emb = (emb * mask.unsqueeze(-1).to(emb.dtype)).transpose(1, 2)  # [B, C*E, L]
        maskf = mask.unsqueeze(1).to(emb.dtype)  # [B, 1, L]
        has_tokens = mask.any(dim=1, keepdim=True)  # [B, 1]
        pooled = []
        for k, conv in zip(self.filter_sizes, self.convs):
            h = F.relu(conv(emb))  # [B, num_filters, L + k - 1] (wide convolution)
            # A window is valid when it holds at least one real token (a count of the real
            # tokens in each window: a convolution with ones, which torch.export keeps
            # dynamic in L, where max_pool1d would specialise L to the traced length).
            valid = F.conv1d(F.pad(maskf, (k - 1, k - 1)), maskf.new_ones(1, 1, k)) > 0
            h = h.masked_fill(~valid, float("-inf"))
            pooled.append(h.amax(dim=2))
        out = torch.cat(pooled, dim=1)
        return torch.where(has_tokens, out, torch.zeros_like(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """long ``[B, L]`` -> logits float32 ``[B, num_classes]``."""
        return self.classifier(self.dropout(self.encode(x)))

    @torch.no_grad()
    def apply_max_norm(self) -> int:
        """Rescale each class weight vector (row of ``classifier.weight``) to l2 norm
        ``<= max_norm``, in place (Kim 2014's constraint; a no-op when ``max_norm`` is None).

        Returns:
            the number of rows that were rescaled.
        """
        if self.max_norm is None:
            return 0
        w = self.classifier.weight
        norms = w.norm(dim=1, keepdim=True)
        over = norms > self.max_norm * (1 + 1e-6)  # rows rescaled before stay put despite rounding
        if over.any():
            w.mul_(torch.where(over, self.max_norm / norms.clamp(min=1e-12), torch.ones_like(norms)))
        return int(over.sum())
