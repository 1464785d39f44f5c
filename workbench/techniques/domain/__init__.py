"""Domain adaptation: domain-adversarial training (gradient reversal, a domain
discriminator) and adaptive layer norm (per-domain scale and shift).

See ``README.md`` in this folder (the method card). Modules, imported one way (each uses
only those above it):

- :mod:`~workbench.techniques.domain.reversal` (pure): :class:`GradientReversalFunction`,
  :func:`grad_reverse`, :class:`GradientReversal`, :func:`ganin_lambda`, :func:`ganin_lr`.
- :mod:`~workbench.techniques.domain.data` (pure data): :func:`domain_splits` (a shared
  vocabulary over a source and a target corpus), :class:`DomainSplits`,
  :class:`DomainDataset` (items carry ``"domain"``), :func:`vocabulary_overlap`.
- :mod:`~workbench.techniques.domain.models`: :class:`DomainDiscriminator`,
  :class:`AdaptiveLayerNorm`, :class:`DomainNormClassifier`, :func:`domain_model`.
- :mod:`~workbench.techniques.domain.technique` (loop technique): :class:`DomainAdversarial`.
- :mod:`~workbench.techniques.domain.compare` (comparison): the variants of
  ``benchmarks/domain_adaptation.py``.

References: Ganin et al. 2016 (DANN, JMLR 17(59)); de Vries et al. 2017 and Dumoulin et al.
2017 (conditional normalisation); Li et al. 2017 (AdaBN).
"""

from workbench.techniques.domain.compare import (
    VARIANTS,
    beats_beyond_spread,
    gap_closed,
    run_variant,
    summarize,
)
from workbench.techniques.domain.data import (
    DomainDataset,
    DomainSplits,
    cap_splits,
    domain_splits,
    vocabulary_overlap,
)
from workbench.techniques.domain.models import (
    NORMS,
    AdaptiveLayerNorm,
    DomainDiscriminator,
    DomainNormClassifier,
    domain_model,
)
from workbench.techniques.domain.reversal import (
    GradientReversal,
    GradientReversalFunction,
    ganin_lambda,
    ganin_lr,
    grad_reverse,
)
from workbench.techniques.domain.technique import DomainAdversarial

__all__ = [
    "NORMS",
    "TECHNIQUES",
    "VARIANTS",
    "AdaptiveLayerNorm",
    "DomainAdversarial",
    "DomainDataset",
    "DomainDiscriminator",
    "DomainNormClassifier",
    "DomainSplits",
    "GradientReversal",
    "GradientReversalFunction",
    "beats_beyond_spread",
    "cap_splits",
    "domain_model",
    "domain_splits",
    "ganin_lambda",
    "gap_closed",
    "ganin_lr",
    "grad_reverse",
    "run_variant",
    "summarize",
    "vocabulary_overlap",
]

#: loop techniques of this family (Technique subclasses), each with ``default(splits)``;
#: see tests/techniques/test_contract.py
TECHNIQUES: list = [DomainAdversarial]
