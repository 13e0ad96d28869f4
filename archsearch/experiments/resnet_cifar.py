"""colu-resnet56: ResNet-56 on CIFAR-10 with ReLU, CoLU or the orthogonal SOC projection as the activation.

The slides report ResNet-56 on CIFAR-10: test accuracy 92.7282 ± 0.357 (ReLU) against 93.5851 ± 0.442
(CoLU), forward FLOPs "0.252M" against "0.257M" — read as GFLOPs: ResNet-56 does 125.5 M multiply-adds per
image (0.251 G FLOPs, measured here), and CoLU's extra 0.005 G is about 9 operations for each of the 532 480
values the activations see per image. The slides say nothing of the recipe, so it is He et al. (2016, §4.2),
the standard one for this network: SGD with momentum 0.9, weight decay 10⁻⁴ on every parameter, batch 128,
learning rate 0.1 divided by 10 at 32 k and 48 k iterations and stopped at 64 k (164 epochs of the 50 000
training images: milestones at epochs 82 and 123); augmentation by 4-pixel zero padding, a random 32 × 32
crop and a random horizontal flip; inputs normalised by the training set's per-channel mean and std
(He et al. subtract the per-pixel mean). All 50 000 training images train (no validation split); the
test accuracy after the last epoch is reported, as He et al. do. CoLU and SOC act on cones of 4 consecutive
channels (the slides do not give the cone size). Data: the CIFAR-10 python batches from a local directory
(``--data``; archsearch.experiments.cifar), never downloaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archsearch.experiments.base import Context, Experiment, ExperimentError, Findings, check_arms, positive
from archsearch.experiments.seeds import seed_comparison, seed_figures
from archsearch.experiments.stats import CONFIRMED, NOT_CONFIRMED, Comparison, Verdict, band, fmt, mean_std

ACTS = ("relu", "colu", "soc")
LABELS = {"relu": "ReLU", "colu": "CoLU", "soc": "SOC"}
ACCURACY = "test accuracy (%)"


@dataclass(frozen=True)
class ResNetConfig:
    """Activations; depth; cone size; the recipe (epochs, batch, learning rate, momentum, weight decay, epochs
    at which the rate is divided by 10); seeds; augmentation; test batch size; bf16 autocast (CUDA)."""

    arms: tuple[str, ...] = ACTS
    depth: int = 56
    cone_size: int = 4
    epochs: int = 164
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[int, ...] = (82, 123)
    seeds: int = 5
    augment: bool = True
    eval_batch: int = 1000
    amp: bool = False

    def __post_init__(self) -> None:
        positive(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seeds=self.seeds,
                 eval_batch=self.eval_batch)
        check_arms(self.arms, ACTS, "activation")
        if not 0 <= self.momentum < 1 or self.weight_decay < 0:
            raise ValueError("momentum must lie in [0, 1) and weight_decay be >= 0")
        if list(self.milestones) != sorted(set(self.milestones)) or any(m < 1 for m in self.milestones):
            raise ValueError(f"milestones must be increasing positive epochs, not {self.milestones}")


def normaliser(images: Any) -> tuple[Any, Any]:
    """Per-channel mean and std of uint8 images (n, 3, 32, 32), as (1, 3, 1, 1) float tensors in [0, 1] units."""
    x = images.float().div_(255)
    return x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)


def augment(images: Any, generator: Any) -> Any:
    """4-pixel zero padding, a random 32 × 32 crop and a random horizontal flip per image (uint8, any device);
    the random numbers come from ``generator`` on the CPU, so every device sees the same crops."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    n, _, side, _ = images.shape
    offsets = torch.randint(0, 9, (n, 2), generator=generator).to(images.device)
    flips = (torch.rand(n, generator=generator) < 0.5).to(images.device)
    padded = F.pad(images, (4, 4, 4, 4))
    grid = torch.arange(side, device=images.device)
    rows = (offsets[:, :1] + grid)[:, :, None]
    cols = (offsets[:, 1:] + grid)[:, None, :]
    crops = padded[torch.arange(n, device=images.device)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    return torch.where(flips[:, None, None, None], crops.flip(3), crops)


def accuracy(model: Any, images: Any, labels: Any, mean: Any, std: Any, batch: int, amp: bool) -> float:
    """Top-1 accuracy in % of ``model`` (eval mode) on uint8 ``images``."""
    import torch

    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast(images.device.type, torch.bfloat16, enabled=amp):
        for i in range(0, len(labels), batch):
            x = (images[i:i + batch].float() / 255 - mean) / std
            correct += int((model(x).argmax(-1) == labels[i:i + batch]).sum())
    model.train()
    return 100.0 * correct / len(labels)


def train_seed(config: ResNetConfig, act: str, seed: int, data: dict[str, Any], device: str,
               log: Any) -> dict[str, Any]:
    """One ResNet trained with the recipe from ``seed`` (initialisation, order, augmentation)."""
    import torch

    from archsearch.experiments.resnet import CifarResNet

    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CifarResNet(config.depth, act, config.cone_size)
    dev = torch.device(device)
    model = model.to(dev, memory_format=torch.channels_last if dev.type == "cuda"  # type: ignore[call-overload]
                     else torch.contiguous_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(config.milestones), 0.1)
    generator = torch.Generator().manual_seed(seed)
    images, labels = data["train_images"], data["train_labels"]
    amp = config.amp and dev.type == "cuda"
    history = []
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(len(labels), generator=generator).to(dev)
        total, count = 0.0, 0
        for i in range(0, len(labels), config.batch_size):
            idx = order[i:i + config.batch_size]
            x = augment(images[idx], generator) if config.augment else images[idx]
            x = (x.float() / 255 - data["mean"]) / data["std"]
            with torch.autocast(dev.type, torch.bfloat16, enabled=amp):
                loss = torch.nn.functional.cross_entropy(model(x).float(), labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        schedule.step()
        test = accuracy(model, data["test_images"], data["test_labels"], data["mean"], data["std"],
                        config.eval_batch, amp)
        history.append({"epoch": epoch, "train_loss": total / count, "test": test,
                        "elapsed": time.perf_counter() - start})
        if epoch == config.epochs or epoch % 10 == 0:
            log(f"{act} seed {seed} epoch {epoch}: train loss {total / count:.4f}, test accuracy {test:.2f} %")
    return {"seed": seed, "test": history[-1]["test"], "history": history, "seconds": time.perf_counter() - start}


class ResNetCifar(Experiment):
    name = "colu-resnet56"
    version = 1
    title = "ResNet-56 on CIFAR-10: ReLU / CoLU / SOC (for a GPU)"
    seed_key = "resnet56"
    claim = "ResNet-56 with CoLU reaches a higher CIFAR-10 test accuracy than with ReLU"
    reading = __doc__.split("\n\n", 1)[1].strip()
    Config = ResNetConfig
    quick = {"epochs": 1, "seeds": 1, "milestones": (), "batch_size": 32, "eval_batch": 64}
    data_help = "the CIFAR-10 python directory (cifar-10-batches-py: data_batch_1 … data_batch_5, test_batch)"
    gpu = True

    def run(self, config: ResNetConfig, ctx: Context) -> dict[str, Any]:
        import torch

        from archsearch.experiments.cifar import load_cifar10
        from archsearch.experiments.resnet import CifarResNet, activation_entries
        from archsearch.train.flops import count_forward_flops

        if ctx.data is None:
            raise ExperimentError(f"{self.name} needs --data: {self.data_help}; nothing is downloaded")
        cifar = load_cifar10(ctx.data)
        dev = torch.device(ctx.device)
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
        data = {"train_images": torch.from_numpy(cifar.train_images).to(dev),
                "train_labels": torch.from_numpy(cifar.train_labels).to(dev),
                "test_images": torch.from_numpy(cifar.test_images).to(dev),
                "test_labels": torch.from_numpy(cifar.test_labels).to(dev)}
        data["mean"], data["std"] = normaliser(data["train_images"])
        arms: dict[str, Any] = {}
        for act in config.arms:
            probe = CifarResNet(config.depth, act, config.cone_size)
            image = torch.zeros(1, 3, 32, 32)
            runs = [train_seed(config, act, seed, data, ctx.device, ctx.log) for seed in range(config.seeds)]
            arms[act] = {"runs": runs, "flops": count_forward_flops(probe, image),
                         "activation_entries": activation_entries(probe, image),
                         "params": sum(p.numel() for p in probe.parameters())}
            ctx.log(f"{act}: test accuracy {fmt(*mean_std([r['test'] for r in runs]))} %")
        return {"data": cifar.describe(), "arms": arms}

    def findings(self, config: ResNetConfig, results: dict[str, Any]) -> Findings:
        accs = seed_figures(self.seed_key, ACCURACY)
        flops = seed_figures(self.seed_key, "forward FLOPs")
        lines = ["| activation | test accuracy (%) | seeds: test accuracy (%) | forward FLOPs (G) | seeds: forward "
                 "FLOPs | parameters | activation values per image |", "|" + " --- |" * 7]
        tests = {act: [r["test"] for r in arm["runs"]] for act, arm in results["arms"].items()}
        for act, arm in results["arms"].items():
            value = accs[act].value if act in accs else None
            quoted = fmt(value, accs[act].spread) if value is not None else "—"
            quoted_flops = f"{flops[act].value} ('{flops[act].value}M')" if act in flops else "—"
            lines.append(f"| {LABELS[act]} | {fmt(*mean_std(tests[act]))} | {quoted} | {arm['flops'] / 1e9:.4f} | "
                         f"{quoted_flops} | {arm['params']:,} | {arm['activation_entries']:,} |")
        notes, verdicts, headline = [], [], {}
        if {"relu", "colu"} <= set(tests):
            cmp = Comparison.of("CoLU", tests["colu"], "ReLU", tests["relu"], "maximize")
            headline["colu_vs_relu"] = cmp.to_dict()
            verdicts.append(Verdict(self.claim, CONFIRMED if cmp.real else NOT_CONFIRMED, cmp.sentence("points")))
        theirs = seed_comparison(self.seed_key, ACCURACY, "maximize")
        if theirs is not None:
            notes.append(f"The seeds' own figures under the same rule: {theirs.sentence('points')}.")
        notes.append("Forward FLOPs are measured (convolutions and the linear layer, 2 per multiply-add); the "
                     "activations' element-wise work is not counted.")
        summary = "test accuracy (%) — " + ", ".join(f"{LABELS[a]} {fmt(*mean_std(v))}" for a, v in tests.items())
        return Findings(lines, verdicts, notes, headline, summary)

    def plot(self, config: ResNetConfig, results: dict[str, Any], path: Path) -> None:
        from archsearch.experiments.plots import band_plot, figure, save

        colours = {"relu": "#1f77b4", "colu": "#d62728", "soc": "#2ca02c"}
        fig, (curves, final) = figure(2, width=5.2)
        accs = seed_figures(self.seed_key, ACCURACY)
        for i, (act, arm) in enumerate(results["arms"].items()):
            epochs = [h["epoch"] for h in arm["runs"][0]["history"]]
            band_plot(curves, epochs, band([[h["test"] for h in r["history"]] for r in arm["runs"]]), colours[act],
                      "-", LABELS[act])
            m, s = mean_std([r["test"] for r in arm["runs"]])
            final.errorbar([i], [m], yerr=[s], fmt="o", color=colours[act], capsize=4,
                           label="ours" if i == 0 else None)
            if act in accs:
                final.errorbar([i + 0.2], [accs[act].value], yerr=[accs[act].spread], fmt="s", mfc="white",
                               color=colours[act], capsize=4, label="seeds (slides)" if act == "relu" else None)
        curves.set_xlabel("epoch")
        curves.set_ylabel(f"test accuracy (%), mean ± std over {config.seeds} seeds")
        curves.legend(fontsize=8)
        final.set_xticks(range(len(results["arms"])), [LABELS[a] for a in results["arms"]])
        final.set_ylabel("final test accuracy (%)")
        final.legend(fontsize=8)
        fig.suptitle(f"ResNet-{config.depth}, CIFAR-10, {config.epochs} epochs")
        save(fig, path)
