"""colu-minimal: the slides' minimal example at C = 3 — ReLU, CoLU and the orthogonal SOC projection as the
activation of one tied layer x ↦ w A(wᵀx), fitted to a teacher of the same form.

Reading of the slides (001_059340edfc13bdf4.txt, "Minimal Example (C=3)"): columns "Input x", "Activation
A(wᵀx)", "Output wA(wᵀx)", "Label y"; train and test loss of ReLU and CoLU over 1 500 iterations. The model
is archsearch's tied conic field at C = 3 with one head, F(x) = π(x A) Aᵀ with A = w ∈ ℝ^{3×3} (CoLU and
SOC on one cone of size 3, the axis the first coordinate). The slides do not say what makes y, so every
activation is tried as the teacher: y = π*(x A*) A*ᵀ + ε for a random A* (Gaussian, then rescaled so the
labels have unit mean square per coordinate), x ~ N(0, I₃), ε ~ N(0, σ²) — a ReLU teacher (the orthant),
a CoLU teacher and an SOC teacher (Lorentz cones: rotation symmetry about the axis). Per seed the teacher,
the data and the student's initial A are drawn once and shared by the three students (a paired design).
Training: full-batch Adam on the mean squared error over a small training set; test loss on fresh draws of
the same distribution (noise included, so both losses bottom out near σ²).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archsearch.experiments.base import Context, Experiment, Findings, check_arms, positive
from archsearch.experiments.stats import CONFIRMED, NOT_CONFIRMED, Comparison, Verdict, band, fmt, mean_std

PROJECTIONS = ("relu", "colu", "soc")
LABELS = {"relu": "ReLU", "colu": "CoLU", "soc": "SOC"}


@dataclass(frozen=True)
class MinimalConfig:
    """features C (one cone of size C), training/test set sizes, label noise σ, full-batch Adam iterations and
    learning rate, how often the curves are sampled, seeds, the teachers and the students."""

    features: int = 3
    train_size: int = 16
    test_size: int = 1024
    noise: float = 0.1
    iterations: int = 1500
    lr: float = 0.01
    eval_every: int = 10
    seeds: int = 20
    teachers: tuple[str, ...] = PROJECTIONS
    students: tuple[str, ...] = PROJECTIONS

    def __post_init__(self) -> None:
        positive(features=self.features, train_size=self.train_size, test_size=self.test_size, lr=self.lr,
                 iterations=self.iterations, eval_every=self.eval_every, seeds=self.seeds)
        if self.features < 2:
            raise ValueError(f"features must be at least 2 (a cone needs an axis and a rest), not {self.features}")
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, not {self.noise}")
        check_arms(self.teachers, PROJECTIONS, "teacher")
        check_arms(self.students, PROJECTIONS, "student")


def term_key(projection: str, features: int) -> str:
    """The conic term of ``projection`` with one cone over all ``features``."""
    return "relu" if projection == "relu" else f"{projection}{features}"


def tied_layer(projection: str, features: int) -> Any:
    """archsearch's compiled tied conic field F(x) = π(x A) Aᵀ, one head, (B, N, C) → (B, N, C)."""
    from archsearch.compiler import compile_term
    from archsearch.terms import term_from_key

    return compile_term(term_from_key(term_key(projection, features)), tied=True).build(features, heads=1)


def draw(config: MinimalConfig, seed: int) -> dict[str, Any]:
    """One seed's inputs and noise, per teacher its weight A* (rescaled) and labels, and the students' shared
    initial weight."""
    import torch

    from archsearch.tasks.base import split_seed

    c = config.features
    g = torch.Generator().manual_seed(split_seed(seed, "data", "colu-minimal"))
    data: dict[str, Any] = {"x_train": torch.randn(1, config.train_size, c, generator=g),
            "x_test": torch.randn(1, config.test_size, c, generator=g),
            "noise_train": config.noise * torch.randn(1, config.train_size, c, generator=g),
            "noise_test": config.noise * torch.randn(1, config.test_size, c, generator=g),
            "teacher": {}}
    for teacher in config.teachers:
        tg = torch.Generator().manual_seed(split_seed(seed, f"teacher-{teacher}", "colu-minimal"))
        layer = tied_layer(teacher, c)
        with torch.no_grad():
            layer.A.copy_(torch.randn(1, c, c, generator=tg) / math.sqrt(c))
            rms = float(layer(data["x_test"]).pow(2).mean().sqrt())
            layer.A.div_(math.sqrt(rms) if rms > 0 else 1.0)  # F is 2-homogeneous in A: labels of unit mean square
            data["teacher"][teacher] = {"A": layer.A.detach().clone(),
                                        "y_train": layer(data["x_train"]) + data["noise_train"],
                                        "y_test": layer(data["x_test"]) + data["noise_test"]}
    sg = torch.Generator().manual_seed(split_seed(seed, "student", "colu-minimal"))
    data["student_init"] = torch.randn(1, c, c, generator=sg) / math.sqrt(c)
    return data


def fit(config: MinimalConfig, student: str, data: dict[str, Any], labels: dict[str, Any]) -> dict[str, list[float]]:
    """Full-batch Adam from the shared initial weight; train and test MSE every ``eval_every`` iterations."""
    import torch

    layer = tied_layer(student, config.features)
    with torch.no_grad():
        layer.A.copy_(data["student_init"])
    optimizer = torch.optim.Adam(layer.parameters(), lr=config.lr)
    curve: dict[str, list[float]] = {"iteration": [], "train": [], "test": []}

    def record(it: int, train_loss: float) -> None:
        with torch.no_grad():
            test_loss = float(torch.nn.functional.mse_loss(layer(data["x_test"]), labels["y_test"]))
        curve["iteration"].append(it)
        curve["train"].append(train_loss)
        curve["test"].append(test_loss)

    for it in range(config.iterations + 1):
        loss = torch.nn.functional.mse_loss(layer(data["x_train"]), labels["y_train"])
        if it % config.eval_every == 0 or it == config.iterations:
            record(it, float(loss.detach()))
        if it == config.iterations:
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return curve


class Minimal(Experiment):
    name = "colu-minimal"
    version = 1
    title = "Minimal example (C = 3): ReLU vs CoLU vs SOC, train and test loss to 1 500 iterations"
    seed_key = "minimal"
    claim = "CoLU generalises better than ReLU (lower test loss) in the minimal C = 3 example"
    reading = __doc__.split("\n\n", 1)[1].strip()
    Config = MinimalConfig
    quick = {"iterations": 30, "seeds": 2, "test_size": 64}

    def run(self, config: MinimalConfig, ctx: Context) -> dict[str, Any]:
        import torch

        runs: dict[str, dict[str, list[dict[str, list[float]]]]] = {
            t: {s: [] for s in config.students} for t in config.teachers}
        with torch.random.fork_rng(devices=[]):
            for seed in range(config.seeds):
                data = draw(config, seed)
                for teacher in config.teachers:
                    for student in config.students:
                        runs[teacher][student].append(fit(config, student, data, data["teacher"][teacher]))
                ctx.log(f"seed {seed + 1}/{config.seeds}: " + "; ".join(
                    f"{t} teacher: " + ", ".join(f"{s} {runs[t][s][-1]['test'][-1]:.3g}" for s in config.students)
                    for t in config.teachers))
        iterations = runs[config.teachers[0]][config.students[0]][0]["iteration"]
        out: dict[str, Any] = {"iterations": iterations, "arms": {}}
        for teacher, by_student in runs.items():
            for student, curves in by_student.items():
                out["arms"][f"{teacher}/{student}"] = {
                    "teacher": teacher, "student": student,
                    "train": band([c["train"] for c in curves]), "test": band([c["test"] for c in curves]),
                    "final_train": [c["train"][-1] for c in curves], "final_test": [c["test"][-1] for c in curves]}
        return out

    def findings(self, config: MinimalConfig, results: dict[str, Any]) -> Findings:
        arms = results["arms"]
        lines = ["| teacher | student | train loss at the end | test loss at the end | test − train |",
                 "| --- | --- | --- | --- | --- |"]
        for arm in arms.values():
            gap = [b - a for a, b in zip(arm["final_train"], arm["final_test"], strict=True)]
            lines.append(f"| {LABELS[arm['teacher']]} | {LABELS[arm['student']]} | {fmt(*mean_std(arm['final_train']))}"
                         f" | {fmt(*mean_std(arm['final_test']))} | {fmt(*mean_std(gap))} |")
        notes, per_teacher, headline = [], {}, {}
        if "colu" in config.students and "relu" in config.students:
            for teacher in config.teachers:
                colu, relu = arms[f"{teacher}/colu"]["final_test"], arms[f"{teacher}/relu"]["final_test"]
                cmp = Comparison.of("CoLU", colu, "ReLU", relu, "minimize")
                per_teacher[teacher] = cmp
                wins = sum(a < b for a, b in zip(colu, relu, strict=True))
                diff = mean_std([a - b for a, b in zip(colu, relu, strict=True)])
                notes.append(f"{LABELS[teacher]} teacher, final test loss: {cmp.sentence()}; paired difference "
                             f"CoLU − ReLU {fmt(*diff, digits=3)}, CoLU lower in {wins} of {len(colu)} seeds; "
                             f"medians CoLU {statistics.median(colu):.3g}, ReLU {statistics.median(relu):.3g}.")
                headline[teacher] = cmp.to_dict()
        if "soc" in config.students and "colu" in config.students:
            for teacher in config.teachers:
                cmp = Comparison.of("CoLU", arms[f"{teacher}/colu"]["final_test"], "SOC",
                                    arms[f"{teacher}/soc"]["final_test"], "minimize")
                notes.append(f"{LABELS[teacher]} teacher, CoLU against the orthogonal SOC projection: "
                             f"{cmp.sentence()}.")
        fits = {s: sum(v > 10 * max(config.noise, 1e-3) ** 2 for arm in arms.values() if arm["student"] == s
                       for v in arm["final_train"]) for s in config.students}
        notes.append("Runs whose final training loss stayed above 10σ² (the fit failed, not the generalisation): " +
                     ", ".join(f"{LABELS[s]} {n} of {config.seeds * len(config.teachers)}" for s, n in fits.items())
                     + ".")
        summary = "final test MSE — " + "<br>".join(
            f"{LABELS[t]} teacher: " + ", ".join(f"{LABELS[s]} {fmt(*mean_std(arms[f'{t}/{s}']['final_test']), 3)}"
                                                 for s in config.students) for t in config.teachers)
        return Findings(lines, self.verdicts(per_teacher), notes, {"colu_vs_relu_test": headline}, summary)

    def verdicts(self, per_teacher: dict[str, Comparison]) -> list[Verdict]:
        if not per_teacher:
            return []
        said = "; ".join(f"{LABELS[t]} teacher: {c.sentence()}" for t, c in per_teacher.items())
        out = []
        cones = {t: c for t, c in per_teacher.items() if t != "relu"}
        if cones:
            ok = all(c.real for c in cones.values())
            out.append(Verdict("on a cone-shaped target (a CoLU or SOC teacher), CoLU's test loss is lower than "
                               "ReLU's", CONFIRMED if ok else NOT_CONFIRMED,
                               "; ".join(f"{LABELS[t]} teacher: {c.sentence()}" for t, c in cones.items())))
        ok = all(c.real for c in per_teacher.values())
        out.append(Verdict(self.claim + ", whatever the teacher", CONFIRMED if ok else NOT_CONFIRMED, said))
        return out

    def plot(self, config: MinimalConfig, results: dict[str, Any], path: Path) -> None:
        from archsearch.experiments.plots import band_plot, figure, save

        colours = {"relu": "#1f77b4", "colu": "#d62728", "soc": "#2ca02c"}
        fig, axes = figure(len(config.teachers), width=5.2)
        for ax, teacher in zip(axes, config.teachers, strict=True):
            for student in config.students:
                arm = results["arms"][f"{teacher}/{student}"]
                for split, style in (("train", "--"), ("test", "-")):
                    band_plot(ax, results["iterations"], arm[split], colours[student], style,
                              f"{LABELS[student]} {split}")
            ax.set_title(f"{LABELS[teacher]} teacher")
            ax.set_xlabel("iteration")
            ax.set_ylim(bottom=0)
        axes[0].set_ylabel(f"MSE, mean ± std over {config.seeds} seeds")
        axes[0].legend(fontsize=8)
        fig.suptitle(f"Minimal example, C = {config.features}: y = π*(x A*) A*ᵀ + ε, model w π(wᵀx), "
                     f"{config.train_size} training points")
        save(fig, path)
