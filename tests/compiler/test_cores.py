"""Branch cores: which branches share one core program without a canonical form of their own.

:func:`~archsearch.compiler.cores._first_in_orbit` finds, by a backtracking search over vertex maps, the
orbits of the opened ends (edge, end) under the diagram's automorphisms; here the same orbits come from every
vertex permutation tried by brute force, and :func:`group_networks` is checked to build one form per orbit.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from compiler_helpers import perm_diagrams

from archsearch.calculus import derive
from archsearch.calculus.evaluate import TOKEN_LETTERS
from archsearch.compiler import cores as cores_module
from archsearch.compiler.cores import (
    _as_is,
    _first_in_orbit,
    branch_core,
    canonical,
    field_cores,
    group_networks,
    groups,
)
from archsearch.compiler.plan import MAX_DEGREE, RANK_LETTERS
from archsearch.terms import Diagram

CASES = [(t, f, tied) for f, order in (("real", 6), ("complex", 6)) for t in perm_diagrams(f, order)
         for tied in (True, False)]


def automorphisms(rep) -> list[tuple[int, ...]]:
    """Every vertex permutation that keeps each (source, target) multiplicity (brute force)."""
    n = 1 + max(max(e.src, e.dst) for e in rep)
    mult = Counter((e.src, e.dst) for e in rep)
    return [p for p in itertools.permutations(range(n))
            if all(mult[(p[s], p[t])] == m for (s, t), m in mult.items())]


def first_in_orbit_reference(cores) -> list[int]:
    """For each core, the first core whose opened end is an image of its own: (edge i, end) maps to every
    edge whose (source, target) is the image of edge i's under an automorphism (parallel edges interchange)."""
    rep = cores[0].branch.term.rep
    autos = automorphisms(rep)
    out = []
    for c in cores:
        e = rep[c.branch.edge]
        images = {(p[e.src], p[e.dst]) for p in autos}
        out.append(next(k for k, other in enumerate(cores) if other.branch.end == c.branch.end
                        and (rep[other.branch.edge].src, rep[other.branch.edge].dst) in images))
    return out


@pytest.mark.parametrize("term, field, tied", CASES, ids=[f"{t.key}-{f}-{'tied' if tied else 'untied'}"
                                                          for t, f, tied in CASES])
def test_first_in_orbit_is_the_orbits_of_the_opened_ends(term, field, tied):
    cores = field_cores(derive(term, field, tied))
    first = _first_in_orbit(cores)
    assert first == first_in_orbit_reference(cores)
    for k, j in enumerate(first):  # one orbit: the same network up to renaming
        assert canonical(cores[k]).text == canonical(cores[j]).text


def test_first_in_orbit_merges_what_symmetry_relates():
    """The star 0-1.0-2.0-3: the three leaves are interchangeable, so each end's orbit holds all three edges;
    a path 0-1.1-2 relates no two edges."""
    star = field_cores(derive(Diagram.from_key("0-1.0-2.0-3"), "real", True))
    ends = [(c.branch.edge, c.branch.end) for c in star]
    first = _first_in_orbit(star)
    assert first == [next(i for i, x in enumerate(ends) if x[1] == end) for _, end in ends]
    assert len(set(first)) == 2  # one orbit per end
    path = field_cores(derive(Diagram.from_key("0-1.1-2"), "real", True))
    assert len(set(_first_in_orbit(path))) == len({(c.branch.edge, c.branch.end) for c in path})


def test_first_in_orbit_keeps_each_core_where_it_cannot_use_the_symmetry(monkeypatch):
    """Causal cores (their masks follow a spanning tree, not the symmetry), cores of two terms, no cores, and
    a diagram with more automorphisms than MAX_AUTOMORPHISMS: every core its own first."""
    term = Diagram.from_key("0-1.0-2.0-3")
    causal = field_cores(derive(term, "real", True), causal=True)
    assert any(o.kind == "tril" for c in causal for o in c.operands)
    assert _first_in_orbit(causal) == list(range(len(causal)))
    plain = field_cores(derive(term, "real", True))
    other = field_cores(derive(Diagram.from_key("0-1.1-2.2-0"), "real", True))
    mixed = plain[:2] + other[:2]
    assert _first_in_orbit(mixed) == [0, 1, 2, 3]
    assert _first_in_orbit(()) == []
    count = len(automorphisms(term.rep))
    assert count == 6  # the three leaves permuted
    merged = _first_in_orbit(plain)
    assert merged != list(range(len(plain)))
    monkeypatch.setattr(cores_module, "MAX_AUTOMORPHISMS", count)
    assert _first_in_orbit(plain) == merged  # exactly at the limit: still searched
    monkeypatch.setattr(cores_module, "MAX_AUTOMORPHISMS", count - 1)
    assert _first_in_orbit(plain) == list(range(len(plain)))  # past it: given up


@pytest.mark.parametrize("key", ["0-1.0-2.0-3", "0-1.0-1.0-2", "0-1.1-2.2-0", "0-0.0-1"])
def test_group_networks_builds_one_form_per_orbit(key, monkeypatch):
    """A core in an earlier core's orbit takes that core's text: the forms are built (``_parts``) once per
    orbit among the cores that share their invariant with another, and the groups are those of groups()."""
    cores = field_cores(derive(Diagram.from_key(key), "real", True))
    calls: list[int] = []
    parts = cores_module._parts
    monkeypatch.setattr(cores_module, "_parts", lambda core: calls.append(1) or parts(core))
    inv = Counter(cores_module._invariant(c) for c in cores)
    first = _first_in_orbit(cores)
    shared = {first[k] for k, c in enumerate(cores) if inv[cores_module._invariant(c)] > 1}
    result = group_networks(cores)
    assert len(calls) == len(shared)
    monkeypatch.setattr(cores_module, "_parts", parts)
    assert result == tuple((g.members, g.network) for g in groups(cores))


def _all_cores():
    """Every branch core of the diagrams of CASES, plain and causal (with masks)."""
    for term, field, tied in CASES:
        f = derive(term, field, tied)
        for causal in (False, True):
            yield from field_cores(f, causal)


def _renaming(core, form) -> dict[str, str]:
    """The letter map taking the core's operand ``form.order[i]`` to the form's operand i (asserting that one
    consistent bijection does, keeping each operand's kind, leaf and factor, and the output)."""
    rename: dict[str, str] = {}
    pairs = [(core.operands[k], o) for k, o in zip(form.order, form.operands, strict=True)]
    assert sorted(form.order) == list(range(len(core.operands)))
    for old, new in pairs:
        assert (old.kind, old.leaf, old.factor) == (new.kind, new.leaf, new.factor)
        for a, b in zip(old.idx, new.idx, strict=True):
            assert rename.setdefault(a, b) == b
    for a, b in zip(core.output, form.output, strict=True):
        assert rename.setdefault(a, b) == b
    assert len(set(rename.values())) == len(rename)
    return rename


def test_canonical_forms_rename_the_core_with_the_first_letters():
    """canonical(core) is the core with operands reordered and letters renamed one to one: tokens to i, j, …
    and ranks to R, S, … in order of first use, each letter keeping its kind."""
    count = 0
    for core in _all_cores():
        kinds = dict(core.kinds)
        for form in (canonical(core), _as_is(core, 0)):
            rename = _renaming(core, form)
            tokens = sorted(b for a, b in rename.items() if kinds[a] == "token")
            ranks = sorted(b for a, b in rename.items() if kinds[a] == "rank")
            if form.text.startswith("as-is"):
                assert form.order == tuple(range(len(core.operands))) and rename == {c: c for c in rename}
                continue
            assert tokens == sorted(cores_module._TOKENS[:len(tokens)])
            assert ranks == sorted(cores_module._RANKS[:len(ranks)])
            assert dict(form.kinds) == {rename[a]: k for a, k in kinds.items()}
            count += 1
    assert count > 500


def test_canonical_forms_do_not_depend_on_letters_or_operand_order():
    """The same network written with other letters (tokens among tokens, ranks among ranks) and its operands
    in another order has the same canonical form: the text, the renamed operands and the output. (Which slot
    fills an operand's place — its factor — may differ between operands of equal type and letters.)"""
    import dataclasses
    import random

    def network(form):
        return tuple((o.kind, o.idx, o.leaf) for o in form.operands)

    rng = random.Random(7)
    for core in _all_cores():
        kinds = dict(core.kinds)
        form = canonical(core)
        assert "#" not in form.text  # no fallback at these orders
        for _ in range(3):
            tokens = [c for c in kinds if kinds[c] == "token"]
            ranks = [c for c in kinds if kinds[c] == "rank"]
            new_tokens = rng.sample([c for c in TOKEN_LETTERS if c not in RANK_LETTERS], len(tokens))
            new_ranks = rng.sample(list(RANK_LETTERS), len(ranks))
            table = str.maketrans(dict(zip(tokens + ranks, new_tokens + new_ranks, strict=True)))
            operands = [dataclasses.replace(o, idx=o.idx.translate(table)) for o in core.operands]
            rng.shuffle(operands)
            other = dataclasses.replace(core, operands=tuple(operands), output=core.output.translate(table),
                                        kinds=tuple(sorted((c.translate(table), k) for c, k in core.kinds)))
            again = canonical(other)
            assert (again.text, network(again), again.output, again.kinds) == \
                (form.text, network(form), form.output, form.kinds), core


def test_a_core_whose_output_is_in_no_operand_is_refused():
    import dataclasses

    core = field_cores(derive(Diagram.from_key("0-1.1-2"), "real", True))[0]
    broken = dataclasses.replace(core, output="yz", kinds=core.kinds + (("y", "token"), ("z", "rank")))
    with pytest.raises(ValueError) as err:
        canonical(broken)
    assert str(err.value) == f"core of {core.branch}: output yz in no operand"


def test_equal_texts_are_equal_networks():
    """Two cores whose canonical forms have one text are one network: the same operands (kind, letters, leaf)
    and the same output — so a group may run them as one program."""
    by_text: dict[str, tuple] = {}
    for core in _all_cores():
        form = canonical(core)
        network = (tuple((o.kind, o.idx, o.leaf) for o in form.operands), form.output, form.kinds)
        assert by_text.setdefault(form.text, network) == network, form.text
    assert len(by_text) > 100


def _isomorphic(a, b) -> bool:
    """Brute force: a letter bijection (tokens to tokens, ranks to ranks) taking a's operands (as a multiset of
    kind, letters, leaf) and output to b's."""
    kinds_a, kinds_b = dict(a.kinds), dict(b.kinds)
    letters_a, letters_b = sorted(kinds_a), sorted(kinds_b)
    if sorted(kinds_a.values()) != sorted(kinds_b.values()):
        return False
    target = (Counter((o.kind, o.idx, o.leaf) for o in b.operands), b.output)
    for image in itertools.permutations(letters_b):
        rename = dict(zip(letters_a, image, strict=True))
        if any(kinds_a[c] != kinds_b[rename[c]] for c in letters_a):
            continue
        table = str.maketrans(rename)
        mapped = (Counter((o.kind, o.idx.translate(table), o.leaf) for o in a.operands), a.output.translate(table))
        if mapped == target:
            return True
    return False


def test_canonical_texts_separate_exactly_the_non_isomorphic_networks():
    """For the cores of the diagrams to order 4 and the same operands with every other output (a token and a
    rank letter they carry): two networks share a text exactly when a letter bijection maps one onto the other."""
    import dataclasses

    variants = []
    for term, field, tied in CASES:
        if term.degree > 2:
            continue
        for core in field_cores(derive(term, field, tied)):
            kinds = dict(core.kinds)
            for t in (c for c in kinds if kinds[c] == "token"):
                for r in (c for c in kinds if kinds[c] == "rank"):
                    if any(t in o.idx for o in core.operands) and any(r in o.idx for o in core.operands):
                        variants.append(dataclasses.replace(core, output=t + r))
    assert len(variants) > 50
    texts = [canonical(v).text for v in variants]
    rng = np.random.default_rng(3)
    pairs = [(i, j) for i in range(len(variants)) for j in range(i + 1, len(variants))
             if texts[i] == texts[j] or rng.random() < 0.02]
    separated = 0
    for i, j in pairs:
        iso = _isomorphic(variants[i], variants[j])
        assert (texts[i] == texts[j]) == iso, (variants[i], variants[j])
        separated += not iso
    assert separated > 20


def _component_count(core) -> int:
    """Connected components of the network: operands joined by a shared letter, or by both carrying output
    letters (a flood fill written out here)."""
    ops = [set(o.idx) for o in core.operands]
    out = set(core.output)
    todo, seen, count = list(range(len(ops))), set(), 0
    while todo:
        start = todo.pop()
        if start in seen:
            continue
        count += 1
        stack = [start]
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            stack += [j for j in range(len(ops))
                      if j not in seen and (ops[i] & ops[j] or (ops[i] & out and ops[j] & out))]
    return count


def test_the_text_has_one_part_per_component():
    """canonical() puts each connected component in canonical form and joins their texts with '|': a
    disconnected diagram's closed components are parts of their own."""
    parts_seen = set()
    for core in _all_cores():
        parts = canonical(core).text.split("|")
        assert len(parts) == _component_count(core), core
        assert parts == sorted(parts)
        parts_seen.add(len(parts))
    assert max(parts_seen) >= 3


def test_a_core_past_the_compilers_degree_is_refused():
    """Diagrams of more than MAX_DEGREE edges go to the planned einsum, which refuses them by name."""
    term = Diagram.from_key(".".join(f"{k}-{k + 1}" for k in range(MAX_DEGREE + 1)))
    f = derive(term, "real", True)
    with pytest.raises(ValueError) as err:
        branch_core(f.branches[0], f, (), f.parameter_sources())
    assert str(err.value) == f"diagram {term.key} has 9 edges; the compiler supports at most {MAX_DEGREE}"
