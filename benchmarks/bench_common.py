"""Helpers shared by the benchmark scripts: naming the device, fitting the N-scaling exponent and timing
variants side by side."""

from __future__ import annotations

import math
import re
import statistics
import time

import torch

from archsearch.experiments.machine import cpu_model


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU model from /proc/cpuinfo (else what platform reports)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def device_tag(device: torch.device) -> str:
    """A file-name tag for the device: ``cpu`` or the GPU's name in snake case."""
    if device.type != "cuda":
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "_", torch.cuda.get_device_name(device).lower()).strip("_")


def slope(sizes: list[int], secs: list[float | None]) -> float | None:
    """Least-squares slope of log(time) against log(size), skipping missing times; None if < 2 points."""
    pts = [(math.log(n), math.log(s)) for n, s in zip(sizes, secs, strict=True) if s]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def interleaved_medians(fns: dict, repeats: int, target_s: float = 0.05) -> dict[str, float]:
    """Median seconds per call of each fn: samples of about ``target_s`` seconds (at least 3 calls),
    interleaved, the order reversed every other repeat (no fn always runs right after another's
    backward)."""
    calls = {}
    for key, fn in fns.items():
        fn()
        t0 = time.perf_counter()
        fn()
        calls[key] = max(3, int(target_s / max(time.perf_counter() - t0, 1e-6)))
    times: dict[str, list[float]] = {k: [] for k in fns}
    keys = list(fns)
    for rep in range(repeats):
        for key in keys if rep % 2 == 0 else keys[::-1]:
            fn = fns[key]
            t0 = time.perf_counter()
            for _ in range(calls[key]):
                fn()
            times[key].append((time.perf_counter() - t0) / calls[key])
    return {k: statistics.median(v) for k, v in times.items()}
