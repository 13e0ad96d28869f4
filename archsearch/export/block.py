"""Export one Euler step of a trial as a drop-in ``nn.Module``: X (B, N, C) → X + h Σ F_i(norm(X)).

    from archsearch.export import export_block
    export_block("paper-icl-regression", "best", "block.py", "block.safetensors")   # + config.json beside

    # elsewhere, with only torch (and safetensors for .safetensors weights):
    from block import ArchsearchBlock, load_block
    layer = load_block()                 # the trained step, weights from block.safetensors
    layer = ArchsearchBlock(features=128) # fresh parameters at another width, to train in your own model

The file holds the compiled term blocks verbatim, archsearch's norms and Euler step (verbatim) and a generated
``ArchsearchBlock`` subclass of the step that takes its sizes as arguments, checks its input's shape and
accepts unbatched (N, C) input. The step's weights are the trial's ``steps.<step>.*`` tensors with that
prefix removed; ``config.json`` (beside the weights, or beside the file without weights) and the
safetensors metadata (key ``archsearch_config``) hold the configuration as JSON. The file is checked before
anything is written: statically (only torch is imported) and numerically (with the trial's weights it
reproduces archsearch's own step on random input).
"""

from __future__ import annotations

import io
import json
import os
import textwrap
from pathlib import Path
from typing import Any

from archsearch.export.source import (
    HEADER_IMPORTS,
    ExportError,
    _literal,
    _rule,
    check_sections,
    check_standalone,
    class_source,
)
from archsearch.report.studies import WEIGHTS_NAME, ResultsError, open_study, select_trial, trial_config, trial_tensors

__all__ = ["BLOCK_CLASS", "CONFIG_NAME", "block_source", "export_block"]

BLOCK_CLASS = "ArchsearchBlock"
CONFIG_NAME = "config.json"
METADATA_KEY = "archsearch_config"
STEP_OBJECTS = ("ComplexNorm", "make_norm", "EulerStep")  # from archsearch.train.model
ATOL = 1e-5  # exported vs archsearch step (same code; summation order only)

BLOCK_CLASS_SOURCE = '''class ArchsearchBlock(EulerStep):
    """One residual Euler step of the exported trial: X -> X + h * sum_i F_i(norm(X)) (parallel scheme) or
    the terms applied in turn (split); complex field: X -> X - i h F. Shape (B, N, C) -> (B, N, C), or
    unbatched (N, C) -> (N, C); dtype float32 (real field) or complex64 (complex field).

    The defaults are the trial's sizes; another ``features`` (C) gives fresh parameters at that width.
    """

    def __init__(self, features: int = CONFIG["features"], *, rank: int | None = CONFIG["rank"],
                 heads: int = CONFIG["heads"], step: float = CONFIG["step_size"], norm: str = CONFIG["norm"],
                 device: torch.device | str | None = None) -> None:
        complex_state = CONFIG["field"] == "complex"
        dtype = torch.complex64 if complex_state else torch.float32
        blocks = [cls(features, rank=rank, heads=heads, dtype=dtype) for cls in TERM_CLASSES]
        n_norms = 1 if CONFIG["scheme"] == "parallel" else len(blocks)
        norms = [make_norm(norm, features, complex_state) for _ in range(n_norms)]
        super().__init__(blocks, norms, step, CONFIG["scheme"], rotate=complex_state)
        self.features = features
        self.rank = rank
        self.heads = heads
        self.norm_kind = norm
        self.dtype = dtype
        if device is not None:
            self.to(device)

    def extra_repr(self) -> str:
        return (f"features={self.features}, rank={self.rank}, heads={self.heads}, step={self.step}, "
                f"scheme={self.scheme!r}, norm={self.norm_kind!r}, field={CONFIG['field']!r}, "
                f"causal={CONFIG['causal']}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (2, 3) or x.shape[-1] != self.features:
            raise ValueError(f"{type(self).__name__} takes X of shape (batch, tokens, {self.features}) or "
                             f"(tokens, {self.features}); got {tuple(x.shape)}")
        if x.dtype != self.dtype:
            raise ValueError(f"{type(self).__name__} takes {self.dtype} input; got {x.dtype}")
        if x.dim() == 2:
            return super().forward(x.unsqueeze(0)).squeeze(0)
        return super().forward(x)
'''

LOAD_BLOCK = '''def load_block(weights_path: str | os.PathLike | None = None) -> ArchsearchBlock:
    """The trained step (on the CPU, in eval mode), strict state_dict keys.

    weights_path: a ``.safetensors`` file (read with ``safetensors.torch.load_file``) or a ``.pt``/``.pth``
    state_dict (read with ``torch.load(..., weights_only=True)``); default: WEIGHTS, beside this file.
    """
    if weights_path is None:
        if WEIGHTS is None:
            raise ValueError("this file was exported without weights: pass load_block(weights_path)")
        weights_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), WEIGHTS)
    path = os.fspath(weights_path)
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    block = ArchsearchBlock()
    block.load_state_dict(state, strict=True)
    return block.eval()
'''

MAIN = '''if __name__ == "__main__":
    block = ArchsearchBlock()
    n = sum(p.numel() * (2 if p.is_complex() else 1) for p in block.parameters())
    print(f"{block!r}\\n{n} parameters; load the trained weights with load_block(path)")
'''


def block_config(ref: Any, trial: Any, config: dict[str, Any], model_cfg: Any, step: int, causal: bool,
                 class_names: list[str]) -> dict[str, Any]:
    """The JSON configuration of an exported step (config.json, safetensors metadata, CONFIG in the file)."""
    from archsearch import __version__

    terms = list(model_cfg.step_terms(step))
    return {
        "format": "archsearch-block",
        "archsearch_version": __version__,
        "study": ref.name,
        "trial": trial.number,
        "step_index": step,
        "depth": model_cfg.depth,
        "class": BLOCK_CLASS,
        "terms": terms,
        "term_classes": class_names,
        "features": model_cfg.width,
        "rank": model_cfg.rank,
        "heads": model_cfg.heads,
        "step_size": model_cfg.step,
        "scheme": model_cfg.scheme,
        "norm": model_cfg.norm,
        "field": model_cfg.field,
        "tied": model_cfg.tied,
        "causal": causal,
        "input": f"(B, N, {model_cfg.width}) {'complex64' if model_cfg.field == 'complex' else 'float32'}",
        "task": {"name": config["task"]["name"], "options": dict(config["task"].get("options") or {})},
    }


def _step_index(step: int, depth: int, number: int) -> int:
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < depth:
        raise ResultsError(f"trial {number} has {depth} Euler step(s) (0..{depth - 1}); --step {step} is out of range")
    return step


def block_source(study: Any, trial: Any = "best", *, step: int = 0, weights_name: str | None = None,
                 storage: str | None = None, results_dir: str | os.PathLike[str] = "results",
                 check: bool = True) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """The block file's text, its configuration and the step's state_dict (keys ``blocks.i.*``/``norms.i.*``;
    None when the trial has no weights file). ``check``: verify the text statically and against archsearch's
    step with the trial's weights (or fresh parameters, copied in, when it has none)."""
    from archsearch.export import _make_task
    from archsearch.train import ModelConfig, compile_blocks

    ref = open_study(study, storage, results_dir)
    chosen = trial if hasattr(trial, "number") else select_trial(ref, trial)
    config = trial_config(ref, chosen)
    try:
        model_cfg = ModelConfig.from_dict(config["model"])
    except (TypeError, ValueError) as err:
        raise ResultsError(f"trial {chosen.number}: invalid model config ({err})") from None
    step = _step_index(step, model_cfg.depth, chosen.number)
    task = _make_task(config["task"], chosen.number)
    by_key = dict(zip(model_cfg.terms, compile_blocks(model_cfg, task), strict=True))
    compiled = [by_key[key] for key in model_cfg.step_terms(step)]
    blocks = list(dict.fromkeys((cb.class_name, cb.source) for cb in compiled))
    names = [cb.class_name for cb in compiled]
    cfg = block_config(ref, chosen, config, model_cfg, step, task.causal, names)
    constants = {"CONFIG": cfg, "WEIGHTS": weights_name}
    source = _assemble(_header(cfg, compiled, weights_name), constants, blocks, names)

    state = None
    full = trial_tensors(ref, chosen.number)
    if full is not None:
        prefix = f"steps.{step}."
        state = {k[len(prefix):]: v for k, v in full.items() if k.startswith(prefix)}
    if check:
        from archsearch.train import build_model

        check_sections([("the file header", HEADER_IMPORTS), *((f"block {n}", s) for n, s in blocks)])
        check_standalone(source, "exported block")
        reference = build_model(model_cfg, task, [by_key[k] for k in model_cfg.terms]).steps[step]
        import torch

        with torch.random.fork_rng(devices=[]):  # the check builds a block: the caller's random state stays
            _verify(source, reference, state, cfg, task.sequence_length(), chosen.number)
    return source, cfg, state


def _assemble(header: str, constants: dict[str, Any], blocks: list[tuple[str, str]], names: list[str]) -> str:
    from archsearch.train import model as model_module

    parts = [header, HEADER_IMPORTS, "\n"]
    parts.append(_rule("Configuration of the exported step (also in config.json and the safetensors metadata)"))
    parts += [_literal(name, value) for name, value in constants.items()]
    parts.append("\n\n")
    for name, src in blocks:
        parts.append(_rule(f"Term block {name}: generated by archsearch.compiler, verbatim (the code the search ran)"))
        parts += [src.rstrip() + "\n", "\n\n"]
    parts.append(_rule("Norms and the Euler step (archsearch.train.model, verbatim)"))
    for name in STEP_OBJECTS:
        parts += [class_source(getattr(model_module, name)), "\n\n"]
    parts.append(_rule("The drop-in block"))
    parts += [f"TERM_CLASSES = ({', '.join(names)},)\n\n\n", BLOCK_CLASS_SOURCE, "\n\n", LOAD_BLOCK, "\n\n", MAIN]
    return "".join(parts)


def _header(cfg: dict[str, Any], compiled: list[Any], weights_name: str | None) -> str:
    from archsearch.describe import describe_term

    field = cfg["field"]
    c = cfg["features"]
    dtype = "complex64" if field == "complex" else "float32"
    update = "X - i h F" if field == "complex" else "X + h F"
    lines = [f"One Euler step (step {cfg['step_index']} of {cfg['depth']}) of trial {cfg['trial']} of the archsearch "
             f"study {cfg['study']!r}, as a drop-in torch.nn.Module.",
             "",
             f"    {BLOCK_CLASS}: X (B, N, C) -> (B, N, C), or unbatched (N, C) -> (N, C); C = {c} by default, "
             f"{dtype}.",
             f"    The residual step {update}, F = the sum of the terms' fields at norm(X) ({cfg['scheme']} scheme, "
             f"h = {cfg['step_size']}, {cfg['norm']} norm)" + ("; causal: token j sees tokens <= j." if cfg["causal"]
                                                              else "."),
             "",
             "Loading needs torch (>= 2.4 for the rms norm) and, for .safetensors weights only, the safetensors "
             "package; nothing else is imported. The term blocks are the code that ran in the search, verbatim.",
             "",
             "Terms:"]
    for cb in compiled:
        desc = describe_term(cb.term, field=field, untied=not cfg["tied"], cost=False)
        name = desc["name"] or "no established name"
        lines += [f"    {cb.term.key}: {name}  (block {cb.class_name}, cost {cb.cost})",
                  f"        F(X) = {desc['field']}"]
    lines += ["", "Usage:"]
    if weights_name is not None:
        lines += [f"    layer = load_block()                  # the trained step: weights in {weights_name}, beside "
                  "this file"]
    lines += ["    layer = load_block(\"path/to/weights.safetensors\")   # or a .pt state_dict",
              f"    layer = {BLOCK_CLASS}()             # fresh parameters ({BLOCK_CLASS}(features=256): another "
              "width)",
              "    y = layer(x)                          # x (B, N, C); y has x's shape"]
    wrapped = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()))
        wrapped += textwrap.wrap(line, 110, subsequent_indent=indent + "    ") if len(line) > 110 else [line]
    body = "\n".join(wrapped).replace('"""', "'''").replace("\\", "\\\\")
    return f'"""{body}\n"""\n\n'


def _verify(source: str, reference: Any, state: dict[str, Any] | None, cfg: dict[str, Any], n_tokens: int,
            number: int) -> None:
    """Exec the text; its ArchsearchBlock with the step's weights (strict) reproduces archsearch's step on
    random input, batched and unbatched."""
    import torch

    namespace: dict[str, Any] = {"__name__": "archsearch_block_check", "__file__": "<block>"}
    exec(compile(source, "<exported block>", "exec"), namespace)  # noqa: S102 - the text we just generated
    block = namespace[BLOCK_CLASS]()
    if state is None:
        state = reference.state_dict()
    load_weights((block, reference), state, number, "block")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, n_tokens, cfg["features"], generator=gen)
    if cfg["field"] == "complex":
        x = torch.complex(x, torch.randn(x.shape, generator=gen))
    block.eval()
    reference.eval()
    with torch.no_grad():
        got, want = block(x), reference(x)
        single = block(x[1])
    ok = got.shape == want.shape and torch.allclose(got, want, rtol=ATOL, atol=ATOL)
    if not ok or not torch.allclose(single, want[1], rtol=ATOL, atol=ATOL):
        raise ExportError(f"trial {number}: the exported block does not reproduce archsearch's Euler step")


def export_block(study: Any, trial: str | int = "best", out_py: str | os.PathLike[str] = "block.py",
                 weights: str | os.PathLike[str] | None = None, *, step: int = 0, storage: str | None = None,
                 results_dir: str | os.PathLike[str] = "results") -> list[Path]:
    """Write Euler step ``step`` (0-based) of trial ``trial`` of ``study`` as the standalone file ``out_py``
    (class ``ArchsearchBlock``, ``load_block()``), ``config.json`` beside the weights (beside ``out_py``
    without weights) and, when ``weights`` is given, the step's weights there (``.safetensors`` with the
    config as JSON under the metadata key ``archsearch_config``; ``.pt``/``.pth``: a plain state_dict).
    Returns the paths written. Files are written all-or-nothing; ResultsError (one line) for an unknown
    study or trial, a step out of range, missing weights or an unwritable output."""
    from archsearch.export import output_paths
    from archsearch.report.output import check_writable_dir, write_files

    out_py, weights_path = output_paths(out_py, weights)
    config_path = (weights_path if weights_path is not None else out_py).parent / CONFIG_NAME
    if config_path.resolve() in {out_py.resolve(), *([weights_path.resolve()] if weights_path else [])}:
        raise ResultsError(f"{CONFIG_NAME} is written beside the weights; name the files differently")
    check_writable_dir(out_py.parent)
    check_writable_dir(config_path.parent)

    ref = open_study(study, storage, results_dir)
    chosen = select_trial(ref, trial)
    rel = os.path.relpath(weights_path.resolve(), out_py.resolve().parent) if weights_path is not None else None
    source, cfg, state = block_source(ref, chosen, step=step, weights_name=rel)
    files: dict[Path, bytes] = {out_py: source.encode()}
    if weights_path is not None:
        if state is None:
            raise ResultsError(f"trial {chosen.number} has no weights file ({WEIGHTS_NAME}); export without --weights")
        files[weights_path] = weights_bytes(state, weights_path.suffix, cfg)
    files[config_path] = (json.dumps(cfg, indent=2, sort_keys=False) + "\n").encode()
    return write_files(files)


def load_weights(models: tuple[Any, ...], state: dict[str, Any], number: int, what: str) -> None:
    """Load ``state`` strictly into each of ``models`` (the exported ``what`` and archsearch's own). Refused with
    an ExportError: a tensor that is not finite (a diverged trial: its outputs cannot be compared), and a state
    that does not fit (torch's first two reasons, on one line)."""
    import torch

    for key, tensor in state.items():
        if (tensor.is_floating_point() or tensor.is_complex()) and not bool(torch.isfinite(tensor).all()):
            raise ExportError(f"trial {number}: weight {key!r} is not finite (NaN or inf): the trial diverged; "
                              "export another trial")
    try:
        for model in models:
            model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).strip().splitlines()]
        raise ExportError(f"trial {number}: the weights do not fit the exported {what} "
                          f"({' '.join(lines[1:3]) if len(lines) > 1 else lines[0]})") from None


def weights_bytes(state: dict[str, Any], suffix: str, cfg: dict[str, Any]) -> bytes:
    """The tensors as .safetensors (the config as sorted JSON under the metadata key ``archsearch_config``,
    the header's keys sorted: the same export gives the same bytes) or saved by torch.save (.pt/.pth)."""
    tensors = {k: v.contiguous() for k, v in state.items()}
    if suffix == ".safetensors":
        from safetensors.torch import save

        return _sorted_header(save(tensors, metadata={"format": "pt", METADATA_KEY: json.dumps(cfg, sort_keys=True)}))
    import torch

    buf = io.BytesIO()
    torch.save(tensors, buf)
    return buf.getvalue()


def _sorted_header(data: bytes) -> bytes:
    """A safetensors file with its JSON header's keys sorted (safetensors writes the metadata in a random
    order): the header's length (8 bytes, little-endian), the header padded with spaces to a multiple of 8,
    then the tensor data unchanged (its offsets count from the data's start)."""
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8:8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + data[8 + n:]
