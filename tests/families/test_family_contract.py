"""The families' own checks and edges: what each refuses and says, the limits it accepts exactly, the
projections on inputs today's callers do not produce (batched), and the compiled parts of per-token families."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.calculus import derive
from archsearch.compiler import PlanSizes
from archsearch.compiler.families import family_source
from archsearch.enumeration.axioms import Axioms
from archsearch.families import (
    ACTIVATIONS,
    Activation,
    Conic,
    Entrywise,
    Family,
    Gated,
    Glu,
    Softmax,
    term_from_key,
)
from archsearch.families.base import Symmetry
from archsearch.families.conic import MAX_CONE_SIZE
from archsearch.families.gated import MAX_GATED_ORDER
from archsearch.families.registry import MAX_DIAGRAM_EDGES, MAX_KEY_LENGTH
from archsearch.families.softmax import MAX_TEMPERATURE
from archsearch.terms import Diagram


def test_conic_refuses_unknown_projections_and_cone_sizes_outside_its_range():
    with pytest.raises(ValueError, match=r"^unknown conic projection 'lorentz' \(known: relu, soc, colu\)$"):
        Conic("lorentz")
    assert Conic("soc", 2).cone_size == 2 and Conic("soc", MAX_CONE_SIZE).cone_size == MAX_CONE_SIZE
    for size in (1, MAX_CONE_SIZE + 1):
        with pytest.raises(ValueError, match=rf"^cone size must be between 2 and {MAX_CONE_SIZE}, not {size}$"):
            Conic("soc", size)
    # a key's size has at most five digits: a five-digit one reaches the range check, a six-digit one is refused
    with pytest.raises(ValueError, match=rf"^cone size must be between 2 and {MAX_CONE_SIZE}, not 99999$"):
        Conic.parse("soc99999")
    with pytest.raises(ValueError, match=rf"^cone size in 'colu100000' is too large \(at most {MAX_CONE_SIZE}\)$"):
        Conic.parse("colu100000")


@pytest.mark.parametrize("key", ["relu", "soc4", "colu4"])
def test_a_projection_acts_on_the_last_axis_of_any_batch_shape(key):
    """π of a (2, 3, C) batch is π of each row (today's callers pass (N, C) matrices)."""
    term = Conic.parse(key)
    y = np.random.default_rng(0).standard_normal((2, 3, 8))
    rows = np.stack([term.project(y[i]) for i in range(2)])
    assert np.allclose(term.project(y), rows) and term.project(y).shape == y.shape


def test_fields_without_a_potential_say_why():
    X, A = np.ones((3, 4)), np.eye(4)
    with pytest.raises(ValueError, match=r"^colu4: CoLU is a skew projection and has no potential \(only its field "
                                         r"is defined\)$"):
        Conic("colu", 4).potential(X, {"A": A})
    with pytest.raises(ValueError, match=r"^glu-silu: the activated GLU has no potential \(only its field is "
                                         r"defined\)$"):
        Glu("silu").potential(X, {"W1": A, "W2": A})


@pytest.mark.parametrize("parts", [(), (0,), (2, 0), (1.5,), (-1, 3)], ids=str)
def test_gated_refuses_parts_that_are_not_positive_integers(parts):
    with pytest.raises(ValueError, match=r"^gated parts must be positive integers, not "):
        Gated(parts)


def test_gated_orders_run_from_one_to_the_limit_except_two():
    assert Gated(1).k == 1 and Gated(MAX_GATED_ORDER).k == MAX_GATED_ORDER
    with pytest.raises(ValueError, match=rf"^gated products go up to order {MAX_GATED_ORDER}, not 17$"):
        Gated((16, 1))
    for parts in ((2,), (1, 1)):
        with pytest.raises(ValueError, match=r"^order-2 gated products are the diagrams 0-0 \(λ = 2\) and 0-1 "
                                             r"\(λ = 1\.1\): use those keys$"):
            Gated(parts)


def test_gated_keys_are_glu_and_dotted_part_sizes():
    assert Gated.parse("glu16") == Gated(16) and Gated.parse("glu2.1") == Gated((2, 1))
    for other in ("glu", "gluX", "glu1.a", "glu1.²", "abc12", "lse"):  # not gated keys: another family's turn
        assert Gated.parse(other) is None, other
    with pytest.raises(ValueError, match=rf"^gated key 'glu123': parts go up to {MAX_GATED_ORDER}$"):
        Gated.parse("glu123")


@pytest.mark.parametrize("term", [Activation("gelu"), Glu("silu"), Conic("soc", 4), Gated(3)], ids=lambda t: t.key)
def test_per_token_families_compile_to_their_source_and_cost(term):
    """Per-token families cost O(N C²) whatever the options, and their compiled parts carry that cost."""
    for causal in (False, True):
        parts = term.compile("real", True, causal, "Block", None, True, False)
        assert parts.cost == term.cost("real", True, causal, None, True) == "O(N C²)"
        assert "class Block(torch.nn.Module)" in parts.source


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_potentials_keep_the_dtype_of_their_input(name):
    f = ACTIVATIONS[name]
    for dtype in (torch.float32, torch.float64):
        y = torch.linspace(-3, 3, 7, dtype=dtype)
        assert f.potential_torch(y).dtype == dtype
    assert np.allclose(f.potential([0, 1, 2]), f.potential(np.array([0.0, 1.0, 2.0])))


def test_symmetry_violations_name_the_axiom_and_what_to_use_instead():
    """Token families depend on X W, not only on the edges: under the right centralizer axiom they are refused
    with the axiom to use instead (and the field they need, under another field)."""
    assert Gated(3).symmetry.violations(Axioms(right="centralizer")) == [
        ("right", "does not respect the right centralizer action (V depends on X W, not only on the edges X W X*); "
                  'use right = "none" (with left = "perm")')]
    assert Gated(3).symmetry.violations(Axioms(right="none")) == []
    assert Gated(3).symmetry.violations(Axioms(field="complex")) == [
        ("field", 'field = "real"'), ("right", Gated(3).symmetry.violations(Axioms())[0][1])]


def test_term_ids_are_refused_past_their_length_and_edge_limits_only():
    with pytest.raises(ValueError, match=rf"^term id of {MAX_KEY_LENGTH + 1} characters is too long \(at most "
                                         rf"{MAX_KEY_LENGTH}\)$"):
        term_from_key("0" * (MAX_KEY_LENGTH + 1))
    with pytest.raises(ValueError) as at_limit:  # not a valid key, but not refused for its length
        term_from_key("0" * MAX_KEY_LENGTH)
    assert "too long" not in str(at_limit.value)
    key = ".".join(["0-1"] * (MAX_DIAGRAM_EDGES + 1))
    with pytest.raises(ValueError, match=rf"^diagram '{key}' has more than {MAX_DIAGRAM_EDGES} edges$"):
        term_from_key(key)
    assert term_from_key(".".join(["0-1"] * MAX_DIAGRAM_EDGES)).degree == MAX_DIAGRAM_EDGES


@pytest.mark.parametrize("key, name", [
    ("0-0", "linear MLP"), ("0-0.0-0", "per-token polynomial"), ("0-1", "global-pooling (mean) mixer"),
    ("0-1.0-1", "linear attention"), ("0-1.1-0", "linear attention"), ("0~1.1~0", "linear attention"),
    ("0~1.0~1", "linear attention (transposed)"), ("0-1.0-1.0-1", "polynomial-kernel attention"),
    ("0-1.1-2.2-0", "stacked linear attention (trace word)"),
    ("0-1.1-2.2-3.3-0", "stacked linear attention (trace word)"),
    ("0-1.1-2", "global-pooling mixer"), ("0-0.0-1", "gated global-pooling mixer"),
    ("0~0.0~1", "gated global-pooling mixer"),
    ("0-1.1-2.2-0.0-1", None), ("0-1.0-1.1-2", None), ("0-0.1-1", None), ("0-0.1-1.1-2", None),
])
def test_diagrams_are_recognised_by_their_shape(key, name):
    """One vertex: an MLP; two: pooling or (linear, transposed when the edge is oriented and not a trace,
    polynomial-kernel) attention; a trace word of three or more edges; a tree of simple edges (pooling, gated with
    loops); anything else, and disconnected diagrams, unnamed."""
    assert Diagram.from_key(key).recognise() == name


@pytest.mark.parametrize("key, message", [
    ("", "empty diagram key"),
    ("01", "edge '01' must read [Letter]a~b (oriented) or [Letter]a-b (unoriented)"),
    ("0-1-2", "edge '0-1-2' must read [Letter]a~b (oriented) or [Letter]a-b (unoriented)"),
    ("0~1~2", "edge '0~1~2' must read [Letter]a~b (oriented) or [Letter]a-b (unoriented)"),
    ("-1", "edge '-1': vertices are single characters 0-9a-z"),
    ("0-12", "edge '0-12': vertices are single characters 0-9a-z"),
    ("0-#", "edge '0-#': vertices are single characters 0-9a-z"),
    ("#-0", "edge '#-0': vertices are single characters 0-9a-z"),
    ("ab0-1", "edge 'ab0-1': letter 'ab' must be an uppercase letter + lowercase letters"),
    ("AB0-1", "edge 'AB0-1': letter 'AB' must be an uppercase letter + lowercase letters"),
    ("0-1.A0-1", "a key mixes free edges (no letter) with lettered edges"),
])
def test_bad_diagram_keys_say_what_is_wrong(key, message):
    with pytest.raises(ValueError) as bad:
        Diagram.from_key(key)
    assert str(bad.value) == message
    assert Diagram.from_key("Ab0-z.Ab0-z").key == "Ab0-1.Ab0-1"  # letters and the last vertex character


def test_function_families_name_the_functions_they_know():
    for make, name, message in ((Activation, "tanh", "unknown activation 'tanh' (known: relu2, gelu, silu)"),
                                (Entrywise, "sin", "unknown entrywise function 'sin' (known: exp, cosh, logcosh, "
                                                   "softplus)"),
                                (Glu, "x", "unknown GLU activation 'x' (known: relu2, gelu, silu)")):
        with pytest.raises(ValueError) as bad:
            make(name)
        assert str(bad.value) == message


def test_the_rest_of_the_refusals_word_for_word():
    for bad in ("abc", None):
        with pytest.raises(ValueError) as e:
            Softmax(bad)
        assert str(e.value) == f"softmax temperature must be a number in [0.001, 1000], not {bad!r}"
    with pytest.raises(ValueError) as e:
        Symmetry("bad", True, frozenset({"real"}), True)
    assert str(e.value) == "left group must be one of perm, orthogonal, unitary, not 'bad'"


def test_what_a_family_inherits_and_an_untied_glus_output_copies():
    """A family of one's own is unnamed and has nothing more to describe; a diagram prints as its unicode form;
    the untied activated GLU's output weight O copies W₂ transposed."""
    class Mine(Family):
        kind = "mine"

    assert Mine().recognise() is None and Mine().describe() == {}
    assert str(Diagram.from_key("0-1.0-1")) == Diagram.from_key("0-1.0-1").unicode()
    sources = derive(Glu("silu"), "real", False).branches[0].parameter_sources()
    assert sources == {"W1_b0": ("W1", False), "W2_b0": ("W2", False), "O_b0": ("W2", True)}


def test_softmax_temperatures_are_floats_in_their_closed_range():
    assert Softmax(1 / MAX_TEMPERATURE).temperature == 1 / MAX_TEMPERATURE
    assert Softmax(MAX_TEMPERATURE).temperature == MAX_TEMPERATURE
    assert Softmax("0.5").temperature == 0.5 and Softmax(2).key == "lse@2.0"
    for bad in (0.999 / MAX_TEMPERATURE, MAX_TEMPERATURE * 1.001):
        with pytest.raises(ValueError, match=r"must be a number in \[0\.001, 1000\]"):
            Softmax(bad)


def test_the_softmax_matrix_is_row_wise_and_does_not_overflow():
    """P = row-softmax(S/τ) for scores far apart in size (a row of ±1000 next to a row near 0: neither overflows nor
    underflows to 0/0), and along the last axis of a batch of score matrices."""
    s = np.array([[1000.0, 999.0], [0.0, -1.0]])
    p = Softmax().matrix(s)
    row = np.array([1.0, np.exp(-1.0)]) / (1.0 + np.exp(-1.0))
    assert np.allclose(p, [row, row])
    batch = np.random.default_rng(1).standard_normal((2, 3, 4))
    assert np.allclose(Softmax(0.5).matrix(batch), np.stack([Softmax(0.5).matrix(m) for m in batch]))


@pytest.mark.parametrize("key", ["lse", "f-exp"])
def test_edge_families_compile_the_block_they_are_asked_for(key):
    """compile passes causal and the weights' rank through to the block source, and reports the O(N² C) cost."""
    term = term_from_key(key)
    for causal in (False, True):
        for lowrank in (False, True):
            parts = term.compile("real", True, causal, "Block", None, lowrank, False)
            assert parts.source == family_source(term, "real", True, causal, "Block", lowrank=lowrank)
            assert parts.cost == "O(N² C)"
    sources = {term.compile("real", True, c, "Block", None, r, False).source for c in (0, 1) for r in (0, 1)}
    assert len(sources) == 4


def test_a_diagram_compiles_the_plan_asked_for_and_reports_its_cost():
    d = Diagram.from_key("0-1.0-1")
    for lowrank in (False, True):
        for naive in (False, True):
            parts = d.compile("real", True, False, "Block", PlanSizes(N=64, C=16, C_A=4, H=1), lowrank, naive)
            assert (parts.plan.lowrank, parts.plan.naive) == (lowrank, naive)
            assert parts.cost == parts.plan.big_o() and parts.plans[int(lowrank)] is parts.plan
