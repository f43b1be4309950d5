"""The LRW word models of Ma, Martinez, Petridis and Pantic (ICASSP 2021), in PyTorch, for export only.

Visual: 3-D convolution front end (5x7x7, 64 channels, max-pool) -> ResNet-18 on
each frame -> multi-scale multi-branch TCN (kernels 3/5/7, 4 levels of 768
channels, dilations 1/2/4/8) -> mean over time -> 500 words. Audio: ResNet-18
of 1-D convolutions on the raw 16 kHz waveform (an 80-sample, stride-4 first
convolution; 640 samples become one 25-fps frame) -> the same TCN back end.

Module and parameter names follow the published checkpoints
(`lrw_resnet18_mstcn_*.pth.tar`, key `model_state_dict`), so those load with
strict=True. The first release used PReLU activations, the later one Swish;
`activation_of(state)` tells them apart from the parameters present.
"""

from __future__ import annotations

import torch
from torch import nn

WORDS = 500
FRAMES = 29  # an LRW clip: 1.16 s at 25 fps
SAMPLES_PER_FRAME = 640  # 16 kHz / 25 fps
KERNELS = (3, 5, 7)
LEVELS = 4
HIDDEN = 256  # per kernel branch: 3 x 256 = 768 channels per TCN level


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


def _act(kind: str, channels: int) -> nn.Module:
    return nn.PReLU(num_parameters=channels) if kind == "prelu" else Swish()


class BasicBlock(nn.Module):
    """ResNet basic block in 2-D (frames) or 1-D (waveform)."""

    def __init__(self, dims: int, cin: int, cout: int, stride: int, act: str) -> None:
        super().__init__()
        conv, bn = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (nn.Conv1d, nn.BatchNorm1d)
        self.conv1 = conv(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = bn(cout)
        self.relu1 = _act(act, cout)
        self.conv2 = conv(cout, cout, 3, padding=1, bias=False)
        self.bn2 = bn(cout)
        self.relu2 = _act(act, cout)
        self.downsample = (nn.Sequential(conv(cin, cout, 1, stride=stride, bias=False), bn(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + (x if self.downsample is None else self.downsample(x)))


def _layers(dims: int, act: str) -> list[nn.Sequential]:
    out, cin = [], 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        out.append(nn.Sequential(BasicBlock(dims, cin, cout, stride, act), BasicBlock(dims, cout, cout, 1, act)))
        cin = cout
    return out


class ResNet2D(nn.Module):
    """Per-frame trunk: (N, 64, 22, 22) -> (N, 512)."""

    def __init__(self, act: str) -> None:
        super().__init__()
        self.layer1, self.layer2, self.layer3, self.layer4 = _layers(2, act)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)


class ResNet1D(nn.Module):
    """Waveform trunk: (B, 1, 640 T) -> (B, 512, T)."""

    def __init__(self, act: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 64, kernel_size=80, stride=4, padding=38, bias=False)
        self.bn1 = nn.BatchNorm1d(64)
        self.relu = _act(act, 64)
        self.layer1, self.layer2, self.layer3, self.layer4 = _layers(1, act)
        self.avgpool = nn.AvgPool1d(kernel_size=20, stride=20)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x)


class ConvBatchChompRelu(nn.Module):
    """Dilated 1-D convolution, batch norm, symmetric trim back to the input length, activation."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int, act: str) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(cin, cout, kernel, padding=self.pad, dilation=dilation)
        self.batchnorm = nn.BatchNorm1d(cout)
        self.non_lin = _act(act, cout)

    def forward(self, x):
        x = self.batchnorm(self.conv(x))
        half = self.pad // 2
        return self.non_lin(x[:, :, half:x.shape[2] - half])


class MultibranchTemporalBlock(nn.Module):
    """Two rounds of three parallel kernels (3/5/7) concatenated, plus a 1x1 residual projection."""

    def __init__(self, cin: int, cout: int, dilation: int, act: str) -> None:
        super().__init__()
        branch = cout // len(KERNELS)
        for stage, c in ((0, cin), (1, cout)):
            for k_idx, k in enumerate(KERNELS):
                setattr(self, f"cbcr{stage}_{k_idx}", ConvBatchChompRelu(c, branch, k, dilation, act))
        self.dropout0 = nn.Dropout(0.2)
        self.dropout1 = nn.Dropout(0.2)
        # The published models project the residual in every block: (cin // 3) never equals cout here.
        self.downsample = nn.Conv1d(cin, cout, 1) if cin // len(KERNELS) != cout else None
        self.relu_final = _act(act, cout)

    def _round(self, stage: int, x):
        return torch.cat([getattr(self, f"cbcr{stage}_{k}")(x) for k in range(len(KERNELS))], 1)

    def forward(self, x):
        out = self.dropout1(self._round(1, self.dropout0(self._round(0, x))))
        return self.relu_final(out + (x if self.downsample is None else self.downsample(x)))


class MultibranchTCN(nn.Module):
    def __init__(self, cin: int, act: str) -> None:
        super().__init__()
        width = HIDDEN * len(KERNELS)
        self.network = nn.Sequential(*[MultibranchTemporalBlock(cin if i == 0 else width, width, 2**i, act)
                                       for i in range(LEVELS)])

    def forward(self, x):
        return self.network(x)


class MultiscaleMultibranchTCN(nn.Module):
    """(B, T, 512) features -> (B, 500) word logits: TCN, mean over all frames, linear."""

    def __init__(self, act: str, words: int = WORDS) -> None:
        super().__init__()
        self.mb_ms_tcn = MultibranchTCN(512, act)
        self.tcn_output = nn.Linear(HIDDEN * len(KERNELS), words)

    def forward(self, x):
        return self.tcn_output(self.mb_ms_tcn(x.transpose(1, 2)).mean(2))


class VideoModel(nn.Module):
    """(B, 1, T, 88, 88) normalised grey mouth crops -> (B, 500) logits."""

    def __init__(self, act: str = "prelu", words: int = WORDS) -> None:
        super().__init__()
        self.frontend3D = nn.Sequential(
            nn.Conv3d(1, 64, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3), bias=False),
            nn.BatchNorm3d(64), _act(act, 64),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
        self.trunk = ResNet2D(act)
        self.tcn = MultiscaleMultibranchTCN(act, words)

    def forward(self, x):
        b, t = x.shape[0], x.shape[2]
        x = self.frontend3D(x)  # (B, 64, T, 22, 22)
        x = x.transpose(1, 2).reshape(b * t, 64, x.shape[3], x.shape[4])
        return self.tcn(self.trunk(x).reshape(b, t, 512))


class AudioModel(nn.Module):
    """(B, 1, 640 T) utterance-normalised 16 kHz waveform -> (B, 500) logits."""

    def __init__(self, act: str = "prelu", words: int = WORDS) -> None:
        super().__init__()
        self.trunk = ResNet1D(act)
        self.tcn = MultiscaleMultibranchTCN(act, words)

    def forward(self, x):
        return self.tcn(self.trunk(x).transpose(1, 2))


class Ensemble(nn.Module):
    """Late fusion inside the graph: w * log p(word | lips) + (1 - w) * log p(word | sound)."""

    def __init__(self, video: VideoModel, audio: AudioModel, video_weight: float) -> None:
        super().__init__()
        self.video, self.audio = video, audio
        self.video_weight = float(video_weight)

    def forward(self, video, audio):
        v = torch.log_softmax(self.video(video), dim=1)
        a = torch.log_softmax(self.audio(audio), dim=1)
        return self.video_weight * v + (1.0 - self.video_weight) * a


def activation_of(state: dict) -> str:
    """"prelu" for the first release's checkpoints (PReLU weights present), else "swish"."""
    return "prelu" if any(k.endswith("relu1.weight") for k in state) else "swish"


def modality_of(state: dict) -> str:
    return "video" if "frontend3D.0.weight" in state else "audio"


def build(state: dict) -> VideoModel | AudioModel:
    """The model a checkpoint's state dict describes, loaded with strict=True, in eval mode."""
    act = activation_of(state)
    words = state["tcn.tcn_output.weight"].shape[0]
    model = VideoModel(act, words) if modality_of(state) == "video" else AudioModel(act, words)
    model.load_state_dict(state, strict=True)
    return model.eval()


def randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """Deterministic random weights and batch-norm statistics (the real models' cost, no real weights)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + 0.75)
            elif name.endswith("running_mean") or name.endswith("bias"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.05)
            elif name.endswith("bn1.weight") or name.endswith("bn2.weight") or "batchnorm" in name or \
                    ".1.weight" in name:
                t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + 0.5)
            elif t.dim() == 1:  # PReLU slopes
                t.copy_(torch.rand(t.shape, generator=gen) * 0.3)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
    return model.eval()
