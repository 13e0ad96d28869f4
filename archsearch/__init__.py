"""archsearch: axiom-driven neural-architecture search.

Axioms (symmetries of a layer's potential V(X)) → enumerated terms (contraction diagrams and named
non-polynomial families) → fields F(X) = ∂V/∂X* → compiled PyTorch blocks → Optuna search → export.
"""

__version__ = "0.1.0"
