"""ResNet for CIFAR (He et al. 2016, §4.2) with a swappable activation: depth 6n + 2 (ResNet-56: n = 9).

conv3×3(3→16) → BN → σ → three stages of n basic blocks (16, 32, 64 channels; the first block of stages 2
and 3 halves the resolution) → global average pool → linear(64 → 10). A basic block is
σ(BN(conv(σ(BN(conv(x))))) + shortcut(x)), the shortcut the identity, or "option A" where the shape changes
(subsample by 2, pad the new channels with zeros: no parameters). σ is ReLU or a cone projection along the
channels (archsearch.experiments.activations; cones of ``cone_size`` consecutive channels). Convolutions and
the linear layer start from He (Kaiming) normal initialisation; BN from weight 1, bias 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from archsearch.experiments.activations import activation

STAGES = (16, 32, 64)


class ShortcutA(nn.Module):
    """Option A: x[:, :, ::2, ::2] with (planes − in) / 2 zero channels on each side."""

    def __init__(self, in_planes: int, planes: int) -> None:
        super().__init__()
        self.pad = (planes - in_planes) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    """σ(BN(conv3×3(σ(BN(conv3×3(x)))))) + shortcut(x)) with the second σ after the sum."""

    def __init__(self, in_planes: int, planes: int, stride: int, act: str, cone_size: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = activation(act, cone_size, dim=1)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = activation(act, cone_size, dim=1)
        self.shortcut = ShortcutA(in_planes, planes) if stride != 1 or in_planes != planes else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        return self.act2(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-``depth`` for 32 × 32 images; ``act`` relu, colu or soc (cones of ``cone_size`` channels)."""

    def __init__(self, depth: int = 56, act: str = "relu", cone_size: int = 4, classes: int = 10) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet has depth 6n + 2 (20, 32, 44, 56, 110, …), not {depth}")
        if act != "relu" and any(c % cone_size for c in STAGES):
            raise ValueError(f"cone size {cone_size} must divide the channel counts {STAGES}")
        n = (depth - 2) // 6
        self.depth, self.act, self.cone_size = depth, act, cone_size
        self.conv = nn.Conv2d(3, STAGES[0], 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(STAGES[0])
        self.stem_act = activation(act, cone_size, dim=1)
        blocks: list[nn.Module] = []
        in_planes = STAGES[0]
        for i, planes in enumerate(STAGES):
            for j in range(n):
                blocks.append(BasicBlock(in_planes, planes, 2 if i > 0 and j == 0 else 1, act, cone_size))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(STAGES[-1], classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(self.stem_act(self.bn(self.conv(x))))
        return self.fc(out.mean(dim=(2, 3)))


def activation_entries(model: nn.Module, image: torch.Tensor) -> int:
    """How many values the model's activations process for one image (hooks on every activation module)."""
    from archsearch.experiments.activations import ConeActivation

    total = 0

    def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        nonlocal total
        total += inputs[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, ConeActivation)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(image)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total
