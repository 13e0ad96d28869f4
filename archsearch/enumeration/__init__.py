"""Enumeration of admissible terms: diagrams by canonical augmentation, an independent brute force,
published reference counts, and recognition of known architectures. No torch."""

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.catalogue import CountRow, count_summary, enumerate_terms
from archsearch.enumeration.diagrams import all_diagrams, connected_diagrams, diagrams
from archsearch.enumeration.limits import MAX_ALPHABET, MAX_TERMS, TooManyTerms
from archsearch.enumeration.recognise import recognise

__all__ = [
    "MAX_ALPHABET",
    "MAX_TERMS",
    "Axioms",
    "CountRow",
    "TooManyTerms",
    "all_diagrams",
    "connected_diagrams",
    "count_summary",
    "diagrams",
    "enumerate_terms",
    "recognise",
]
