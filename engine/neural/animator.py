"""Animating one source picture with driving keypoints: the exact fast path.

What a straightforward FOMM loop does per frame (``reference_frame``): the keypoint detector on
the driving frame, then the whole generator on the source — re-encoding the source picture and
re-blurring it for the dense motion network every time. ``Animator`` computes per source, once:
its keypoints, the generator's encoder features and the downsampled source the dense motion
network warps; per frame it runs only the keypoint detector on the driving frame, the dense
motion network and the decoder. The networks it runs have each batch norm folded into the
convolution before it (exact up to float rounding; the pre-activation norm of a residual block
has no convolution before it and stays) and use channels-last memory on the CPU; on CUDA they
run in fp16.

Motion is FOMM's relative mode with adapted scale (what Avatarify drives with): the driving
keypoints' movement since the calibration frame, scaled by the square root of the ratio of the
source's and the calibration frame's keypoint hull areas, added to the source keypoints; the
jacobians ``J_drv · inv(J_cal) · J_src``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.neural.model import (ConvNormRelu, KPDetector, Model, OcclusionAwareGenerator,
                                 ResBlock, hull_area, inverse_2x2)

Keypoints = dict[str, torch.Tensor]


def to_tensor(image: np.ndarray, device: torch.device | str = "cpu",
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(H, W, 3) uint8 RGB → (1, 3, H, W) in [0, 1]."""
    tensor = torch.tensor(image, device=device)  # a copy: camera frames are read-only
    return tensor.permute(2, 0, 1)[None].to(dtype) / 255.0


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] → (H, W, 3) uint8 RGB."""
    return (tensor[0].float().clamp(0, 1).permute(1, 2, 0) * 255.0 + 0.5).byte().cpu().numpy()


def relative_keypoints(kp_driving: Keypoints, kp_calibration: Keypoints, kp_source: Keypoints,
                       scale: float) -> Keypoints:
    """The source's keypoints moved as the driving face moved since the calibration frame."""
    out = {"value": kp_source["value"] + (kp_driving["value"] - kp_calibration["value"]) * scale}
    if "jacobian" in kp_driving:
        change = kp_driving["jacobian"] @ inverse_2x2(kp_calibration["jacobian"])
        out["jacobian"] = change @ kp_source["jacobian"]
    return out


def movement_scale(kp_source: Keypoints, kp_calibration: Keypoints) -> float:
    """sqrt(source hull area / calibration hull area): a face filling less of its crop moves
    less (FOMM's ``adapt_movement_scale``)."""
    source, calibration = hull_area(kp_source["value"][0]), hull_area(kp_calibration["value"][0])
    return math.sqrt(source / calibration) if source > 0 and calibration > 0 else 1.0


def _fold(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    """Fold ``norm`` (applied to ``conv``'s output, eval statistics) into ``conv``."""
    with torch.no_grad():
        factor = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        conv.weight.mul_(factor[:, None, None, None])
        conv.bias.copy_((conv.bias - norm.running_mean) * factor + norm.bias)


class FoldedConvRelu(nn.Module):
    """A ``ConvNormRelu`` with its norm folded into the convolution; the relu runs in place on
    the convolution's fresh output (one full-size tensor fewer per block)."""

    def __init__(self, block: ConvNormRelu) -> None:
        super().__init__()
        _fold(block.conv, block.norm)
        self.conv, self.up, self.down = block.conv, block.up, block.down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = F.relu_(self.conv(x))
        return F.avg_pool2d(x, 2) if self.down else x


class FoldedResBlock(nn.Module):
    """A ``ResBlock`` with ``norm2`` folded into ``conv1``; ``norm1`` (no convolution before it)
    is one multiply-add with eval statistics, and the relus and the residual sum run in place
    on fresh tensors."""

    def __init__(self, block: ResBlock) -> None:
        super().__init__()
        _fold(block.conv1, block.norm2)
        norm = block.norm1
        with torch.no_grad():
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            shift = norm.bias - norm.running_mean * scale
        self.register_buffer("scale", scale[None, :, None, None].clone())
        self.register_buffer("shift", shift[None, :, None, None].clone())
        self.conv1, self.conv2 = block.conv1, block.conv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addcmul(self.shift, x, self.scale).relu_()
        out = F.relu_(self.conv1(out))
        return self.conv2(out).add_(x)


def _replace_blocks(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, ConvNormRelu):
            setattr(module, name, FoldedConvRelu(child))
        elif isinstance(child, ResBlock):
            setattr(module, name, FoldedResBlock(child))
        else:
            _replace_blocks(child)


def fold_batch_norms(module: nn.Module) -> nn.Module:
    """A copy of ``module`` (in eval mode) with each batch norm folded into the convolution
    before it, or (a residual block's first) made one multiply-add; for inference only."""
    module = copy.deepcopy(module).eval()
    _replace_blocks(module)
    return module


def reference_frame(model: Model, source: torch.Tensor, driving: torch.Tensor,
                    kp_source: Keypoints, kp_calibration: Keypoints, scale: float) -> torch.Tensor:
    """One frame the straightforward way (the baseline the fast path is measured and checked
    against): keypoints of the driving frame, then the whole generator."""
    with torch.no_grad():
        kp_driving = model.kp_detector(driving)
        kp = relative_keypoints(kp_driving, kp_calibration, kp_source, scale)
        return model.generator(source, kp, kp_source)["prediction"]


@dataclass
class SourceCache:
    """What depends only on the source picture."""

    image: torch.Tensor  # (1, 3, S, S)
    keypoints: Keypoints
    features: torch.Tensor  # the generator's encoder output
    small: torch.Tensor  # the source as the dense motion network sees it


class Animator:
    """The model's fused copy on a device, one cached source, and the calibration frame."""

    def __init__(self, model: Model, device: str | None = None) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        cuda = self.device.type == "cuda"
        self.dtype = torch.float16 if cuda else torch.float32
        memory = torch.channels_last
        self.size = model.config.image_size
        self.kp_detector: KPDetector = fold_batch_norms(model.kp_detector).to(
            self.device, self.dtype, memory_format=memory)
        self.generator: OcclusionAwareGenerator = fold_batch_norms(model.generator).to(
            self.device, self.dtype, memory_format=memory)
        self.source: SourceCache | None = None
        self.calibration: Keypoints | None = None
        self.scale = 1.0

    def tensor(self, image: np.ndarray) -> torch.Tensor:
        if image.shape != (self.size, self.size, 3):
            raise ValueError(f"expected a {self.size}x{self.size} RGB picture, got {image.shape}")
        return to_tensor(image, self.device, self.dtype).contiguous(
            memory_format=torch.channels_last)

    @torch.inference_mode()
    def keypoints(self, image: np.ndarray) -> Keypoints:
        return self.kp_detector(self.tensor(image))

    @torch.inference_mode()
    def set_source(self, image: np.ndarray) -> None:
        """Cache what the source picture gives (once per source)."""
        tensor = self.tensor(image)
        dense = self.generator.dense_motion_network
        small = dense.down(tensor) if dense.down is not None else tensor
        self.source = SourceCache(tensor, self.kp_detector(tensor),
                                  self.generator.encode(tensor), small)
        if self.calibration is not None:
            self.scale = movement_scale(self.source.keypoints, self.calibration)

    def calibrate(self, kp_driving: Keypoints) -> None:
        """Take these driving keypoints as the neutral pose the motion is measured from."""
        self.calibration = {key: value.clone() for key, value in kp_driving.items()}
        if self.source is not None:
            self.scale = movement_scale(self.source.keypoints, self.calibration)

    @torch.inference_mode()
    def motion_keypoints(self, kp_driving: Keypoints) -> Keypoints:
        if self.calibration is None:
            self.calibrate(kp_driving)
        return relative_keypoints(kp_driving, self.calibration, self.source.keypoints,
                                  self.scale)

    @torch.inference_mode()
    def render(self, kp: Keypoints) -> torch.Tensor:
        """(1, 3, S, S) the cached source posed by ``kp`` (already relative)."""
        source = self.source
        motion = self.generator.dense_motion_network(source.image, kp, source.keypoints,
                                                     small_source=source.small)
        return self.generator.decode(source.features, motion)

    def animate(self, driving: np.ndarray) -> np.ndarray:
        """(S, S, 3) uint8: the source posed as the driving crop is, relative to calibration."""
        if self.source is None:
            raise RuntimeError("set_source first")
        return to_image(self.render(self.motion_keypoints(self.keypoints(driving))))
