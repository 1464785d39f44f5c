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
  ``benchmarks/domain_adaptation.py``; :func:`train_dann`, :func:`features` (the notebook's runs).
- :mod:`~workbench.techniques.domain.display` (notebook helpers): :func:`lambda_schedule_figure`,
  :func:`domain_curves_figure`, :func:`projection_figure`.

References: Ganin et al. 2016 (DANN, JMLR 17(59)); de Vries et al. 2017 and Dumoulin et al.
2017 (conditional normalisation); Li et al. 2017 (AdaBN).
"""

from workbench.techniques.domain.compare import (
    VARIANTS,
    beats_beyond_spread,
    features,
    gap_closed,
    load_domain_splits,
    run_variant,
    summarize,
    train_dann,
)
from workbench.techniques.domain.data import (
    DomainDataset,
    DomainSplits,
    cap_splits,
    domain_splits,
    vocabulary_overlap,
)
from workbench.techniques.domain.display import (
    domain_curves_figure,
    lambda_schedule_figure,
    projection_figure,
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
    "domain_curves_figure",
    "domain_model",
    "domain_splits",
    "ganin_lambda",
    "features",
    "gap_closed",
    "ganin_lr",
    "grad_reverse",
    "lambda_schedule_figure",
    "load_domain_splits",
    "projection_figure",
    "run_variant",
    "summarize",
    "train_dann",
    "vocabulary_overlap",
]

#: loop techniques of this family (Technique subclasses), each with ``default(splits)``;
#: see tests/techniques/test_contract.py
TECHNIQUES: list = [DomainAdversarial]
