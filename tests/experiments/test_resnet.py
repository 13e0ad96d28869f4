"""ResNet-56 for CIFAR (He et al. 2016) with a swappable activation; the data augmentation."""

from __future__ import annotations

import pytest
import torch

from archsearch.experiments.activations import ConeActivation
from archsearch.experiments.resnet import CifarResNet, activation_entries
from archsearch.experiments.resnet_cifar import ResNetConfig, augment
from archsearch.train.flops import count_forward_flops


@pytest.mark.parametrize("act", ["relu", "colu", "soc"])
def test_resnet56_size_flops_and_activation(act):
    model = CifarResNet(56, act)
    image = torch.randn(1, 3, 32, 32)
    # He et al.: 0.85 M parameters; 125.5 M multiply-adds per image (the seeds' "0.252M" FLOPs read as G)
    assert sum(p.numel() for p in model.parameters()) == 853_018
    assert count_forward_flops(model, image) == pytest.approx(0.251e9, rel=0.002)
    acts = [m for m in model.modules() if isinstance(m, ConeActivation)]
    assert len(acts) == 1 + 2 * 27 and {m.projection for m in acts} == {act}
    assert activation_entries(model, image) == 16 * 32 * 32 * 19 + 32 * 16 * 16 * 18 + 64 * 8 * 8 * 18
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_the_activation_changes_the_function():
    torch.manual_seed(0)
    relu = CifarResNet(20, "relu")
    colu = CifarResNet(20, "colu")
    colu.load_state_dict(relu.state_dict())
    x = torch.randn(2, 3, 32, 32)
    relu.eval()
    colu.eval()
    assert not torch.allclose(relu(x), colu(x))


def test_depth_and_cone_checks():
    with pytest.raises(ValueError, match="6n \\+ 2"):
        CifarResNet(52)
    with pytest.raises(ValueError, match="cone size 3 must divide"):
        CifarResNet(20, "colu", cone_size=3)


def test_augment_crops_and_flips():
    images = torch.arange(2 * 3 * 32 * 32, dtype=torch.int64).reshape(2, 3, 32, 32) % 251
    images = images.to(torch.uint8)
    out = augment(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    g = torch.Generator().manual_seed(0)
    offsets = torch.randint(0, 9, (2, 2), generator=g)
    flips = torch.rand(2, generator=g) < 0.5
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    for i in range(2):
        oy, ox = (int(v) for v in offsets[i])
        want = padded[i, :, oy:oy + 32, ox:ox + 32]
        assert torch.equal(out[i], want.flip(2) if flips[i] else want)


def test_recipe_checks():
    with pytest.raises(ValueError, match="milestones"):
        ResNetConfig(milestones=(123, 82))
    with pytest.raises(ValueError, match="unknown activation"):
        ResNetConfig(arms=("relu", "gelu"))
