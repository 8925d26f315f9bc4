"""Small conv nets whose weights come from a fixed seed, and the sha256 of their weights."""

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


def seeded_conv_net(channels: Sequence[int], seed: int) -> nn.Sequential:
    """Build 3x3 stride-2 conv + ReLU layers followed by global average pooling.

    `channels` lists the channels from input to output, so (3, 16, 32, 64) maps (n, 3, h, w)
    images to (n, 64) features. The weights are drawn from numpy's `RandomState(seed)`, whose
    stream numpy keeps fixed across versions, so a seed always gives the same weights.
    """
    layers: list[nn.Module] = []
    for in_channels, out_channels in zip(channels[:-1], channels[1:]):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1))
        layers.append(nn.ReLU())
    layers.append(nn.AdaptiveAvgPool2d(1))
    layers.append(nn.Flatten())
    net = nn.Sequential(*layers)

    random = np.random.RandomState(seed)
    with torch.no_grad():
        for name, parameter in sorted(net.named_parameters()):
            if name.endswith("weight"):
                fan_in = parameter[0].numel()
                values = random.standard_normal(parameter.shape) * np.sqrt(2.0 / fan_in)  # He initialisation
            else:
                values = random.standard_normal(parameter.shape) * 0.01
            parameter.copy_(torch.from_numpy(values.astype(np.float32)))

    return net.eval()


def state_dict_sha256(module: nn.Module) -> str:
    """Return the sha256 of a module's state dict: names and little-endian float32 bytes, sorted by name."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().astype("<f4").tobytes())
    return digest.hexdigest()
