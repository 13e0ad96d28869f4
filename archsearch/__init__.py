"""archsearch: axiom-driven neural-architecture search.

Axioms (symmetries of a layer's potential V(X)) → enumerated terms (contraction diagrams and named
non-polynomial families) → fields F(X) = ∂V/∂X* → compiled PyTorch blocks → Optuna search → export.

The public API (docs/api.md)::

    from archsearch import enumerate_terms, derive, compile_term, build_block
    terms = enumerate_terms("paper")                 # a shipped grammar's name, a path or a Grammar
    print(derive("0-1.0-1"))                         # a term or its id
    layer = compile_term("0-1.0-1").build(features=64)

Every name below is imported on first use (PEP 562), so ``import archsearch`` loads nothing else and the
CLI starts as fast as before.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2-3 ms); type checkers read it as True
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

#: public name → the module that defines it
_LAZY: dict[str, str] = {
    # terms, grammars, enumeration, fields, blocks (archsearch.api accepts ids and grammar names)
    "as_term": "archsearch.api",
    "as_grammar": "archsearch.api",
    "enumerate_terms": "archsearch.api",
    "derive": "archsearch.api",
    "compile_term": "archsearch.api",
    "build_block": "archsearch.api",
    "describe_term": "archsearch.api",
    "recognise": "archsearch.api",
    "term_from_key": "archsearch.families",
    "Family": "archsearch.families",
    "Diagram": "archsearch.families",
    "Field": "archsearch.calculus",
    "CompiledBlock": "archsearch.compiler.block",
    "Grammar": "archsearch.grammar",
    "GrammarError": "archsearch.grammar",
    "load_grammar": "archsearch.grammar",
    "parse_grammar": "archsearch.grammar",
    "TooManyTerms": "archsearch.enumeration",
    # search, results, export
    "run_search": "archsearch.search",
    "open_study": "archsearch.report",
    "write_report": "archsearch.report",
    "ResultsError": "archsearch.report",
    "export_trial": "archsearch.export",
    "export_block": "archsearch.export",
    "ExportError": "archsearch.export",
}

__all__ = [
    "__version__",
    "CompiledBlock",
    "Diagram",
    "ExportError",
    "Family",
    "Field",
    "Grammar",
    "GrammarError",
    "ResultsError",
    "TooManyTerms",
    "as_grammar",
    "as_term",
    "build_block",
    "compile_term",
    "derive",
    "describe_term",
    "enumerate_terms",
    "export_block",
    "export_trial",
    "load_grammar",
    "open_study",
    "parse_grammar",
    "recognise",
    "run_search",
    "term_from_key",
    "write_report",
]  # the same names as _LAZY (tests/test_api.py checks)

if TYPE_CHECKING:  # the real objects, for type checkers and IDEs
    from archsearch.api import (
        as_grammar,
        as_term,
        build_block,
        compile_term,
        derive,
        describe_term,
        enumerate_terms,
        recognise,
    )
    from archsearch.calculus import Field
    from archsearch.compiler.block import CompiledBlock
    from archsearch.enumeration import TooManyTerms
    from archsearch.export import ExportError, export_block, export_trial
    from archsearch.families import Diagram, Family, term_from_key
    from archsearch.grammar import Grammar, GrammarError, load_grammar, parse_grammar
    from archsearch.report import ResultsError, open_study, write_report
    from archsearch.search import run_search


def __getattr__(name: str) -> "Any":
    """Import a public name's module on first access and cache the object in the package namespace."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'archsearch' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
