"""Grammar files → validated :class:`Grammar` objects (a real parser; no eval of user text)."""

from archsearch.grammar.model import CONIC_PROJECTIONS, ENTRYWISE_FUNCTIONS, Families, Grammar, Sizes
from archsearch.grammar.parser import GrammarError, load_grammar, parse_grammar

__all__ = [
    "CONIC_PROJECTIONS",
    "ENTRYWISE_FUNCTIONS",
    "Families",
    "Grammar",
    "GrammarError",
    "Sizes",
    "load_grammar",
    "parse_grammar",
]
