"""Diagrams drawn (``archsearch show ID --draw FILE``) and networkx as an oracle for the canonical keys.

The oracle: every set partition of the 2d endpoints of d ≤ 4 edges is a diagram (vertices = blocks); two of them
get the same canonical key iff networkx finds their labelled, oriented multigraphs isomorphic.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import matplotlib.image
import networkx as nx
import pytest

from archsearch.draw import DrawError, diagram_graph, draw_diagram, same_family
from archsearch.enumeration.bruteforce import set_partitions
from archsearch.families.canonical import make_edge
from archsearch.terms import Diagram, term_from_key

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, data[:16]
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100, pixels.shape
    assert pixels.min() < 0.5 < pixels.max(), "a blank picture"  # something dark drawn on white


def _assert_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 3


def test_show_draw_writes_a_png(run, tmp_path):
    out = tmp_path / "linear_attention.png"
    res = run("show", "0-1.0-1", "--draw", str(out))
    assert res.code == 0, res.err
    assert "linear attention" in res.out  # the usual description is still printed
    _assert_png(out)
    assert out.stat().st_mode & 0o777 == 0o644 & ~_umask()


def test_show_draw_writes_an_svg_with_labels(run, tmp_path):
    out = tmp_path / "mixer.svg"
    res = run("show", "0~0.0~1.1-1", "--draw", str(out))
    assert res.code == 0, res.err
    _assert_svg(out)
    # the same diagram draws to the same bytes (the pictures under docs/ are committed)
    again = tmp_path / "again.svg"
    assert run("show", "0~0.0~1.1-1", "--draw", str(again)).code == 0
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize(("args", "message"), [
    (("show", "lse", "--draw", "x.png"), "is a softmax family, not a contraction diagram"),
    (("show", "0-1.0-1", "--draw", "x.jpg"), "must end in .png, .svg, .pdf"),
])
def test_show_draw_refuses_with_one_line(run, tmp_path, args, message):
    args = tuple(str(tmp_path / a) if a.startswith("x.") else a for a in args)
    res = run(*args)
    assert res.code == 2 and message in res.err, res.err
    assert not list(tmp_path.iterdir())


def test_draw_every_shape(tmp_path):
    """Loops, parallel edges, lettered, oriented and mixed edges, a disconnected diagram, one vertex."""
    for key in ("0-0", "0~0", "0-1.0-1", "0~1.0~1.0~1", "A0-1.B1-0", "0~0.0~1.1-1", "0-1.1-2.2-0", "0-0.1-1",
                "0-1.1-2.2-3.3-0"):
        out = draw_diagram(term_from_key(key), tmp_path / f"{key}.png")
        _assert_png(out)
    with pytest.raises(DrawError):
        draw_diagram(term_from_key("relu"), tmp_path / "relu.png")


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_concepts_embeds_diagram_pictures():
    text = (ROOT / "docs" / "concepts.md").read_text()
    pictures = re.findall(r"!\[[^\]]*\]\((img/[^)]+\.(?:svg|png))\)", text)
    assert len(pictures) >= 3, pictures
    for rel in pictures:
        path = ROOT / "docs" / rel
        assert path.is_file(), f"docs/concepts.md embeds {rel}, which is missing"
        assert path.stat().st_size < 60_000, f"{rel} is {path.stat().st_size} bytes"
        _assert_svg(path) if path.suffix == ".svg" else _assert_png(path)
        key = path.stem
        assert isinstance(term_from_key(key), Diagram), f"{rel} is named after a diagram id"


# ---- networkx as the canonical keys' oracle -------------------------------------------------------------
MODES = {
    # real field, free weights: every edge equals its reversal
    "real-free": lambda d: [("", False)] * d,
    # complex field: every edge oriented
    "complex-free": lambda d: [("", True)] * d,
    # two letters, A oriented, B symmetric (unoriented): equal letters may be permuted, only B reversed
    "lettered": lambda d: [("A", True) if e % 2 == 0 else ("B", False) for e in range(d)],
}


def _raw_diagrams(d: int, mode: str) -> list[Diagram]:
    """Every diagram of d edges, uncanonicalised: endpoint 2e is edge e's X end, 2e + 1 its X* end; the
    vertices are the blocks of a set partition of the 2d endpoints."""
    letters = MODES[mode](d)
    return [Diagram(tuple(make_edge(letter, part[2 * e], part[2 * e + 1], oriented)
                          for e, (letter, oriented) in enumerate(letters)))
            for part in set_partitions(2 * d)]


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_same_key_iff_networkx_isomorphic(d, mode):
    classes: dict[str, list[Diagram]] = defaultdict(list)
    for raw in _raw_diagrams(d, mode):
        classes[Diagram.make(raw.edges).key].append(raw)
    # same key ⇒ isomorphic: every raw diagram against its class's canonical form
    for key, members in classes.items():
        canonical = Diagram.from_key(key)
        for member in members:
            assert same_family(member, canonical), (member.edges, key)
    # different keys ⇒ not isomorphic: every pair of canonical forms
    reps = [Diagram.from_key(key) for key in classes]
    graphs = [diagram_graph(g) for g in reps]
    for (i, a), (j, b) in combinations(enumerate(graphs), 2):
        if sorted(d for _, d in a.degree()) != sorted(d for _, d in b.degree()):
            continue  # (a quick negative; is_isomorphic starts with the same check)
        assert not same_family(reps[i], reps[j]), (reps[i].key, reps[j].key)
    assert len(classes) > (1 if d > 1 else 0)


def test_isomorphism_sees_orientation_and_letters():
    assert same_family(Diagram.from_key("0~1.1~0"), Diagram.from_key("1~0.0~1"))
    assert not same_family(Diagram.from_key("0~1.1~0"), Diagram.from_key("0~1.0~1"))
    assert not same_family(Diagram.from_key("A0-1.B1-0"), Diagram.from_key("A0-1.A1-0"))
    assert not same_family(Diagram.from_key("0-1.1-1"), Diagram.from_key("0~1.1-1"))
    assert isinstance(diagram_graph(Diagram.from_key("0-1")), nx.MultiDiGraph)
