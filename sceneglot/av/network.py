"""Light-ASD (Liao et al., CVPR 2023) as a torch module whose key names match the released weights.

Torch is needed only here, for the one-off ONNX export and the parity test;
inference runs the exported graph. The layer tree follows
../shared/models/light-asd/SPEC.md so the state dicts load with strict=True.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

_EPS = 0.001
_MOMENTUM = 0.01
MEAN, STD = 0.4161, 0.1688  # grey-level statistics the visual front end normalises with


def _bn3(c: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(c, eps=_EPS, momentum=_MOMENTUM)


def _bn2(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=_EPS, momentum=_MOMENTUM)


class VisualBlock(nn.Module):
    """Two (spatial then temporal) factorised 3-D conv branches, 3 and 5 wide, summed and mixed 1x1x1."""

    def __init__(self, cin: int, cout: int, down: bool = False) -> None:
        super().__init__()
        stride = (1, 2, 2) if down else (1, 1, 1)
        self.s_3 = nn.Conv3d(cin, cout, (1, 3, 3), stride=stride, padding=(0, 1, 1), bias=False)
        self.bn_s_3 = _bn3(cout)
        self.t_3 = nn.Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.bn_t_3 = _bn3(cout)
        self.s_5 = nn.Conv3d(cin, cout, (1, 5, 5), stride=stride, padding=(0, 2, 2), bias=False)
        self.bn_s_5 = _bn3(cout)
        self.t_5 = nn.Conv3d(cout, cout, (5, 1, 1), padding=(2, 0, 0), bias=False)
        self.bn_t_5 = _bn3(cout)
        self.last = nn.Conv3d(cout, cout, 1, bias=False)
        self.bn_last = _bn3(cout)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.relu(self.bn_t_3(self.t_3(self.relu(self.bn_s_3(self.s_3(x))))))
        b = self.relu(self.bn_t_5(self.t_5(self.relu(self.bn_s_5(self.s_5(x))))))
        return self.relu(self.bn_last(self.last(a + b)))


class VisualEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block1 = VisualBlock(1, 32, down=True)
        self.pool1 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.block2 = VisualBlock(32, 64)
        self.pool2 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.block3 = VisualBlock(64, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, T, H, W) -> (B, T, 128)."""
        x = self.block3(self.pool2(self.block2(self.pool1(self.block1(x)))))
        x = torch.amax(x, dim=(3, 4))  # (B, C, T): global max over the face per frame
        return x.transpose(1, 2)


class AudioBlock(nn.Module):
    """Same two-branch shape as the visual block, factorised over (MFCC, time) with 2-D convs."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.m_3 = nn.Conv2d(cin, cout, (3, 1), padding=(1, 0), bias=False)
        self.bn_m_3 = _bn2(cout)
        self.t_3 = nn.Conv2d(cout, cout, (1, 3), padding=(0, 1), bias=False)
        self.bn_t_3 = _bn2(cout)
        self.m_5 = nn.Conv2d(cin, cout, (5, 1), padding=(2, 0), bias=False)
        self.bn_m_5 = _bn2(cout)
        self.t_5 = nn.Conv2d(cout, cout, (1, 5), padding=(0, 2), bias=False)
        self.bn_t_5 = _bn2(cout)
        self.last = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn_last = _bn2(cout)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.relu(self.bn_t_3(self.t_3(self.relu(self.bn_m_3(self.m_3(x))))))
        b = self.relu(self.bn_t_5(self.t_5(self.relu(self.bn_m_5(self.m_5(x))))))
        return self.relu(self.bn_last(self.last(a + b)))


class AudioEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block1 = AudioBlock(1, 32)
        self.pool1 = nn.MaxPool2d((1, 3), stride=(1, 2), padding=(0, 1))
        self.block2 = AudioBlock(32, 64)
        self.pool2 = nn.MaxPool2d((1, 3), stride=(1, 2), padding=(0, 1))
        self.block3 = AudioBlock(64, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 13, 4T) -> (B, T, 128): two stride-2 time pools bring 100 Hz down to 25 Hz."""
        x = self.block3(self.pool2(self.block2(self.pool1(self.block1(x)))))
        return x.mean(dim=2).transpose(1, 2)


class BGRU(nn.Module):
    """A forward GRU, then a second GRU run over the reversed sequence."""

    def __init__(self, size: int = 128) -> None:
        super().__init__()
        self.gru_forward = nn.GRU(size, size, num_layers=1, batch_first=True)
        self.gru_backward = nn.GRU(size, size, num_layers=1, batch_first=True)
        self.gelu = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gelu(self.gru_forward(x)[0])
        x = self.gru_backward(torch.flip(x, dims=[1]))[0]
        return self.gelu(torch.flip(x, dims=[1]))


class ASDModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.visualEncoder = VisualEncoder()
        self.audioEncoder = AudioEncoder()
        self.GRU = BGRU()


class _Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.FC = nn.Linear(128, 2)


class LightASD(nn.Module):
    """The whole checkpoint: `model` (the network) + `lossAV`/`lossV` (classifier heads).

    forward(audio (B, 4T, 13) MFCC, video (B, T, 112, 112) grey 0..255) -> (B*T, 2) logits;
    column 1 is the speaking score.
    """

    def __init__(self) -> None:
        super().__init__()
        self.model = ASDModel()
        self.lossAV = _Head()
        self.lossV = _Head()  # visual-only head: trained with the model, unused at inference

    def forward(self, audio: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        a = self.model.audioEncoder(audio.unsqueeze(1).transpose(2, 3))
        v = self.model.visualEncoder(((video / 255.0 - MEAN) / STD).unsqueeze(1))
        x = self.model.GRU(a + v)
        return self.lossAV.FC(x.reshape(-1, 128))


class Encoders(nn.Module):
    """The per-frame front ends of LightASD: (1, 4T, 13) + (1, T, 112, 112) -> their sum (1, T, 128)
    and the visual encoder's own rows (1, T, 128).

    Exported apart from the back end so a track's heavy convolutions run once
    while the GRU back end is re-run over each scoring window. The visual rows
    are a second output of the same graph (no extra work): av.sync compares them
    with the audio encoder's rows of the soundtrack (`AudioFeatures`).
    """

    def __init__(self, net: LightASD) -> None:
        super().__init__()
        self.net = net
        self.eval()

    def forward(self, audio: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        m = self.net.model
        a = m.audioEncoder(audio.unsqueeze(1).transpose(2, 3))
        v = m.visualEncoder(((video / 255.0 - MEAN) / STD).unsqueeze(1))
        return a + v, v


class AudioFeatures(nn.Module):
    """LightASD's audio encoder alone: (1, 4N, 13) MFCC -> (1, N, 128), one row per 25-fps frame."""

    def __init__(self, net: LightASD) -> None:
        super().__init__()
        self.net = net
        self.eval()

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.net.model.audioEncoder(audio.unsqueeze(1).transpose(2, 3))


def _folded(weight: torch.Tensor, bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """A bias-free convolution's weight and bias with the inference BatchNorm that follows it folded in."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return weight * scale.reshape(-1, *[1] * (weight.dim() - 1)), bn.bias - bn.running_mean * scale


def _block_2d(block: VisualBlock, x: torch.Tensor, pooled: bool) -> torch.Tensor:
    """VisualBlock on frames as a batch, (T, C, H, W): the same convolutions, written as 2-D ones.

    A (1, k, k) Conv3d is a k x k Conv2d per frame; a (k, 1, 1) Conv3d is a (k, 1)
    Conv2d over the (T, H*W) plane of each channel, which is also where the branch
    sum and the 1x1x1 mix run, so each block transposes three times, not four.
    BatchNorms are folded into the convolutions. Returns (T, C', H', W') after a
    3x3/2 max-pool when `pooled`, else the per-frame max over H', W' as (1, T, C').
    """

    def spatial(conv, bn):
        weight, bias = _folded(conv.weight[:, :, 0], bn)  # (1, k, k) -> k x k
        v = F.relu(F.conv2d(x, weight, bias, stride=conv.stride[1:], padding=conv.padding[1:]))
        frames, channels, h, w = v.shape
        return v.permute(1, 0, 2, 3).reshape(1, channels, frames, h * w), (h, w)

    def temporal(conv, bn, planes):
        weight, bias = _folded(conv.weight[..., 0], bn)  # (k, 1, 1) -> (k, 1)
        return F.relu(F.conv2d(planes, weight, bias, padding=(conv.padding[0], 0)))

    p3, (h, w) = spatial(block.s_3, block.bn_s_3)
    p5, _ = spatial(block.s_5, block.bn_s_5)
    weight, bias = _folded(block.last.weight[:, :, 0], block.bn_last)  # 1x1x1 -> 1x1
    y = F.relu(F.conv2d(temporal(block.t_3, block.bn_t_3, p3) + temporal(block.t_5, block.bn_t_5, p5),
                        weight, bias))  # (1, C', T, H'*W')
    if not pooled:
        return torch.amax(y, dim=3).transpose(1, 2)
    frames_major = y.reshape(y.shape[1], -1, h, w).permute(1, 0, 2, 3)
    return F.max_pool2d(frames_major, 3, 2, 1)


class Encoders2D(Encoders):
    """`Encoders` with the visual 3-D convolutions run as 2-D ones (same weights, same sums).

    onnxruntime runs 2-D convolutions in its blocked (NCHWc) kernels and 3-D ones
    through a generic im2col path: this graph needs ~12 % less CPU per frame.
    OpenCV's importer cannot infer the shapes of its reshapes, so OpenCV keeps `Encoders`.
    """

    def forward(self, audio: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        m = self.net.model
        v = m.visualEncoder
        a = m.audioEncoder(audio.unsqueeze(1).transpose(2, 3))
        x = ((video[0] / 255.0 - MEAN) / STD).unsqueeze(1)  # (T, 1, 112, 112): batch 1, frames as the batch
        x = _block_2d(v.block1, x, pooled=True)
        x = _block_2d(v.block2, x, pooled=True)
        visual = _block_2d(v.block3, x, pooled=False)  # (1, T, 128)
        return a + visual, visual


class Backend(nn.Module):
    """LightASD's GRU back end + lossAV head, (1, T, 128) -> (T, 2), with ops OpenCV's ONNX importer accepts.

    `flip(gru_b(flip(x)))` is exactly the reverse direction of a bidirectional
    GRU, so the backward GRU's weights go into the reverse half of one
    bidirectional GRU (its forward half, a copy, is discarded); initial states
    are constant zeros for batch 1, so no flip reaches the graph.
    """

    def __init__(self, net: LightASD) -> None:
        super().__init__()
        self.net = net
        gru = net.model.GRU
        self.reverse_gru = nn.GRU(128, 128, num_layers=1, batch_first=True, bidirectional=True)
        with torch.no_grad():
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                value = getattr(gru.gru_backward, name)
                getattr(self.reverse_gru, name).copy_(value)
                getattr(self.reverse_gru, name + "_reverse").copy_(value)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gru = self.net.model.GRU
        x = gru.gelu(gru.gru_forward(x, torch.zeros(1, 1, 128))[0])
        x = self.reverse_gru(x, torch.zeros(2, 1, 128))[0][:, :, 128:]
        return self.net.lossAV.FC(gru.gelu(x).reshape(-1, 128))


def load(weights: str | Path) -> LightASD:
    """Build the network and load a released state dict strictly (any key mismatch is an error)."""
    net = LightASD()
    state = torch.load(str(weights), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()
