"""Enumeration of admissible terms: diagrams by canonical augmentation, an independent brute force,
published reference counts, and recognition of known architectures. No torch."""

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.catalogue import CountRow, count_summary, enumerate_terms
from archsearch.enumeration.diagrams import all_diagrams, connected_diagrams, diagrams
from archsearch.enumeration.recognise import recognise

__all__ = [
    "Axioms",
    "CountRow",
    "all_diagrams",
    "connected_diagrams",
    "count_summary",
    "diagrams",
    "enumerate_terms",
    "recognise",
]
