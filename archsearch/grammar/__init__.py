"""Grammar files → validated :class:`Grammar` objects (TOML read by tomllib; no eval of user text)."""

from archsearch.grammar.model import (
    ACTIVATION_FUNCTIONS,
    CONIC_PROJECTIONS,
    ENTRYWISE_FUNCTIONS,
    Families,
    Grammar,
    Sizes,
)
from archsearch.grammar.parser import GrammarError, load_grammar, parse_grammar

__all__ = [
    "ACTIVATION_FUNCTIONS",
    "CONIC_PROJECTIONS",
    "ENTRYWISE_FUNCTIONS",
    "Families",
    "Grammar",
    "GrammarError",
    "Sizes",
    "load_grammar",
    "parse_grammar",
]
