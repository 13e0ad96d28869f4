"""What an experiment ran on: CPU model and cores, GPU, Python and torch versions."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo, else what ``platform`` reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(device: str = "cpu", threads: int | None = None) -> dict[str, Any]:
    """A JSON-able description of the machine and of the device the experiment trained on."""
    import torch

    gpu = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": threads if threads else torch.get_num_threads(),
            "gpu": gpu, "device": device, "python": platform.python_version(), "torch": torch.__version__}


def machine_line(machine: dict[str, Any]) -> str:
    """One line: ``<gpu or cpu> (<n> cores, <t> torch thread(s)), Python x, torch y``."""
    where = machine["gpu"] or f"{machine['cpu']} ({machine['cores']} cores, {machine['threads']} torch thread(s))"
    return f"{where}, Python {machine['python']}, torch {machine['torch']}"
