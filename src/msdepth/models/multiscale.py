"""The multi-scale network of Eigen, Puhrsch and Fergus (NIPS 2014).

Read beside the paper's layer tables (../shared/docs/paper.md, docs/architecture.md). All hidden
layers are ReLU; the two output layers (coarse7, fine4) are linear and predict **log depth** in
metres. Inputs to `MultiScaleDepth` are RGB in [0, 1]; the mean/std normalisation is a buffer of
the model, so exported models take the same input.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from msdepth.config import ModelConfig
from msdepth.models.geometry import Geometry, geometry_for

Stage = Literal["coarse", "fine"]
Init = Literal["he", "pytorch"]
OUTPUT_INIT_STD = 1e-3  # output layers start near their bias: a flat prediction, no noise


def he_init(hidden: tuple[nn.Module, ...], output: nn.Module) -> None:
    """He-normal weights and zero biases for ReLU layers; near-zero weights for the output.

    PyTorch's default init draws weights of variance 1/(3 fan_in), so each ReLU layer shrinks the
    signal's variance about 6x: after coarse1-6 the output barely depends on the image and the
    conv layers get almost no gradient. The paper started its conv layers from an ImageNet
    classifier, which cannot be downloaded here; He init (variance 2/fan_in) keeps the signal.
    """
    for layer in hidden:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.zeros_(layer.bias)
    nn.init.normal_(output.weight, std=OUTPUT_INIT_STD)


class CoarseNet(nn.Module):
    """Global coarse-scale network: 5 conv + 2 fully connected layers, sees the whole image."""

    def __init__(
        self,
        geometry: Geometry,
        dropout: float = 0.5,
        init_log_depth: float = 0.0,
        init: Init = "he",
        norm: str = "none",
    ):
        super().__init__()
        self.output_hw = geometry.output_hw
        self.coarse1 = nn.Conv2d(3, 96, kernel_size=11, stride=4)  # valid
        self.coarse2 = nn.Conv2d(96, 256, kernel_size=5, padding=2)
        self.coarse3 = nn.Conv2d(256, 384, kernel_size=3, padding=1)
        self.coarse4 = nn.Conv2d(384, 384, kernel_size=3, padding=1)
        self.coarse5 = nn.Conv2d(384, 256, kernel_size=3, padding=1)
        # "batch": a BatchNorm after each conv (not in the paper; config model.norm)
        widths = (96, 256, 384, 384, 256)
        norms = [nn.BatchNorm2d(c) if norm == "batch" else nn.Identity() for c in widths]
        self.norm1, self.norm2, self.norm3, self.norm4, self.norm5 = norms
        self.coarse6 = nn.Linear(geometry.fc6_in, 4096)
        self.dropout = nn.Dropout(dropout)  # the only dropout in the model
        self.coarse7 = nn.Linear(4096, geometry.fc7_out)  # linear output
        if init == "he":
            hidden = (self.coarse1, self.coarse2, self.coarse3, self.coarse4, self.coarse5)
            he_init((*hidden, self.coarse6), self.coarse7)
        nn.init.constant_(self.coarse7.bias, init_log_depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised image (N, 3, H, W) -> log depth (N, 1, h, w)."""
        x = F.max_pool2d(F.relu(self.norm1(self.coarse1(x))), 2)
        x = F.max_pool2d(F.relu(self.norm2(self.coarse2(x))), 2)
        x = F.relu(self.norm3(self.coarse3(x)))
        x = F.relu(self.norm4(self.coarse4(x)))
        x = F.max_pool2d(F.relu(self.norm5(self.coarse5(x))), kernel_size=3, stride=2)
        x = self.dropout(F.relu(self.coarse6(torch.flatten(x, 1))))
        x = self.coarse7(x)
        return x.view(-1, 1, *self.output_hw)


class FineNet(nn.Module):
    """Local fine-scale network: refines the coarse prediction with 45x45-pixel receptive fields."""

    def __init__(self, init_log_depth: float = 0.0, init: Init = "he"):
        super().__init__()
        self.fine1 = nn.Conv2d(3, 63, kernel_size=9, stride=2)  # valid
        self.fine3 = nn.Conv2d(64, 64, kernel_size=5, padding=2)  # 63 + the coarse map = 64
        self.fine4 = nn.Conv2d(64, 1, kernel_size=5, padding=2)  # linear output
        if init == "pytorch":
            nn.init.constant_(self.fine4.bias, init_log_depth)
            return
        he_init((self.fine1, self.fine3), self.fine4)
        # Start as the identity on the coarse map: fine3's channels 0 and 1 carry +coarse and
        # -coarse through the ReLU (center tap of input channel 63) and fine4 adds them back, so
        # stage 2 starts from stage 1's prediction, not from a random one, and only refines it.
        # fine4's other weights start at zero (not 1e-3: 62 channels x 25 taps of He-scale
        # activations would add ~0.1 of noise in log depth); they get gradient from step one.
        with torch.no_grad():
            self.fine4.weight.zero_()
            self.fine4.bias.zero_()
            for sign, channel in ((1.0, 0), (-1.0, 1)):
                self.fine3.weight[channel].zero_()
                self.fine3.bias[channel] = 0.0
                self.fine3.weight[channel, 63, 2, 2] = sign
                self.fine4.weight[0, channel, 2, 2] = sign

    def forward(self, x: torch.Tensor, coarse_log_depth: torch.Tensor) -> torch.Tensor:
        """Normalised image and the coarse log depth (N, 1, h, w) -> refined log depth."""
        x = F.max_pool2d(F.relu(self.fine1(x)), 2)
        x = torch.cat([x, coarse_log_depth.to(x.dtype)], dim=1)  # fine2: the 64th channel
        x = F.relu(self.fine3(x))
        return self.fine4(x)


class MultiScaleDepth(nn.Module):
    """Coarse and fine networks with the input normalisation; predicts log depth.

    ``stage="coarse"`` returns the coarse prediction; ``stage="fine"`` the refined one. With
    ``freeze_coarse`` (the paper's stage 2) the coarse network gets no gradient and stays in
    eval mode (no dropout) whatever ``train()`` is called with.
    """

    def __init__(self, config: ModelConfig | None = None, stage: Stage = "fine"):
        super().__init__()
        self.config = config or ModelConfig()
        self.geometry = geometry_for(self.config.input_height, self.config.input_width)
        if min(self.geometry.coarse5_hw) < 1:
            raise ValueError(
                f"input {self.config.input_width}x{self.config.input_height} is too small "
                "for the coarse network; use at least 64x64"
            )
        self.register_buffer("rgb_mean", torch.tensor(self.config.rgb_mean).view(1, 3, 1, 1))
        self.register_buffer("rgb_std", torch.tensor(self.config.rgb_std).view(1, 3, 1, 1))
        cfg = self.config
        self.coarse = CoarseNet(self.geometry, cfg.dropout, cfg.init_log_depth, cfg.init, cfg.norm)
        self.fine = FineNet(cfg.init_log_depth, cfg.init)
        self.stage: Stage = stage
        self.freeze_coarse = False
        self.set_stage(stage)

    @property
    def output_hw(self) -> tuple[int, int]:
        return self.geometry.output_hw

    def set_stage(self, stage: Stage, freeze_coarse: bool | None = None) -> MultiScaleDepth:
        """Select the output; in the fine stage the coarse network is frozen by default."""
        if stage not in ("coarse", "fine"):
            raise ValueError(f"stage must be 'coarse' or 'fine', got {stage!r}")
        self.stage = stage
        self.freeze_coarse = (stage == "fine") if freeze_coarse is None else freeze_coarse
        self.coarse.requires_grad_(not self.freeze_coarse)
        self.train(self.training)
        return self

    def train(self, mode: bool = True) -> MultiScaleDepth:
        super().train(mode)
        if self.freeze_coarse:
            self.coarse.eval()
        return self

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return (rgb - self.rgb_mean) / self.rgb_std

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1], (N, 3, H, W) at the configured size -> log depth (N, 1, h, w)."""
        x = self.normalize(rgb)
        if self.stage == "coarse":
            return self.coarse(x)
        if self.freeze_coarse:
            with torch.no_grad():
                coarse = self.coarse(x)
            coarse = coarse.detach()
        else:
            coarse = self.coarse(x)
        return self.fine(x, coarse)

    def predict_depth(self, rgb: torch.Tensor) -> torch.Tensor:
        """Depth in metres (the exponential of `forward`)."""
        return torch.exp(self(rgb))


def count_parameters(module: nn.Module) -> int:
    """Number of learnable parameters (buffers such as the normalisation excluded)."""
    return sum(p.numel() for p in module.parameters())
