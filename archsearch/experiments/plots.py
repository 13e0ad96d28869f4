"""Plot helpers shared by the experiments (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def figure(panels: int, width: float = 5.0, height: float = 3.8) -> tuple[Any, list[Any]]:
    """A figure with ``panels`` axes side by side (always a list)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=(width * panels, height), squeeze=False)
    return fig, list(axes[0])


def band_plot(ax: Any, xs: Sequence[float], stats: Mapping[str, Sequence[float]], colour: str, style: str,
              label: str) -> None:
    """The mean as a line and mean ± std as a shaded band."""
    mean, std = stats["mean"], stats["std"]
    ax.plot(xs, mean, style, color=colour, lw=1.4, label=label)
    ax.fill_between(xs, [m - s for m, s in zip(mean, std, strict=True)],
                    [m + s for m, s in zip(mean, std, strict=True)], color=colour, alpha=0.15, lw=0)


def save(fig: Any, path: Any, dpi: int = 110) -> None:
    """Lay out, write the PNG and free the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
