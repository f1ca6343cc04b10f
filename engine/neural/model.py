"""A first-order-motion model (FOMM): keypoint detector, dense motion network, occlusion-aware
generator, written so that parameter names and shapes match the published vox-256 checkpoints.

Facts carried over from FOMM's ``config/vox-256.yaml`` (our own code): 256x256x3 frames, 10
keypoints with jacobians; the keypoint detector is an hourglass (block_expansion 32, max_features
1024, 5 blocks) on the frame blurred and scaled by 0.25, softmax heatmaps at temperature 0.1 and
7x7 heads without padding; the generator encodes with 2 down blocks (64 → 128 → 256 channels),
warps the features by the dense motion, masks them with the occlusion map, runs 6 residual
blocks and decodes; the dense motion hourglass (64 / 1024 / 5 blocks, scale 0.25) sees the
difference of keypoint gaussians and the source warped by each keypoint's local affine motion.
Norm layers are batch norms (FOMM's synchronised batch norm has the same state).

Coordinates are FOMM's: x then y in [-1, 1] across pixel centres, so the grid samples with
``align_corners=True`` (the behaviour of the torch version the published weights were trained
with).

Everything is sized by ``ModelConfig``; ``VOX_256`` is the published model and smaller configs
use the same classes (the tests and ``persona train --size tiny``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """The sizes of a FOMM model (the fields of vox-256.yaml that shape its parameters)."""

    image_size: int = 256
    num_channels: int = 3
    num_kp: int = 10
    estimate_jacobian: bool = True
    kp_block_expansion: int = 32
    kp_max_features: int = 1024
    kp_num_blocks: int = 5
    kp_temperature: float = 0.1
    kp_scale_factor: float = 0.25
    gen_block_expansion: int = 64
    gen_max_features: int = 512
    gen_num_down_blocks: int = 2
    gen_num_bottleneck_blocks: int = 6
    estimate_occlusion_map: bool = True
    dm_block_expansion: int = 64
    dm_max_features: int = 1024
    dm_num_blocks: int = 5
    dm_scale_factor: float = 0.25
    kp_variance: float = 0.01

    def to_dict(self) -> dict:
        return asdict(self)


VOX_256 = ModelConfig()
# Small enough to train a few steps on two CPU cores; the same classes and layout.
TINY = ModelConfig(image_size=64, num_kp=10, kp_block_expansion=8, kp_max_features=64,
                   kp_num_blocks=3, gen_block_expansion=8, gen_max_features=64,
                   gen_num_bottleneck_blocks=2, dm_block_expansion=8, dm_max_features=64,
                   dm_num_blocks=3)
# The model this project trains and ships (avatars/neural-*): 64x64 faces, keypoints and dense
# motion at 32x32, the generator's features warped at 32x32 (one down block: a 16x16 bottleneck
# blurs a 64x64 face); 1.3 M parameters.
SMALL_64 = ModelConfig(image_size=64, num_kp=10, kp_block_expansion=16, kp_max_features=128,
                       kp_num_blocks=4, kp_scale_factor=0.5, gen_block_expansion=16,
                       gen_max_features=128, gen_num_down_blocks=1, gen_num_bottleneck_blocks=3,
                       dm_block_expansion=16, dm_max_features=128, dm_num_blocks=4,
                       dm_scale_factor=0.5)
SIZES = {"vox-256": VOX_256, "tiny": TINY, "small-64": SMALL_64}


def coordinate_grid(height: int, width: int, like: torch.Tensor | None = None) -> torch.Tensor:
    """(H, W, 2) x, y in [-1, 1] at pixel centres (-1 is the first pixel, 1 the last)."""
    kwargs = {"dtype": like.dtype, "device": like.device} if like is not None else {}
    x = torch.arange(width, **kwargs) * (2.0 / max(width - 1, 1)) - 1.0
    y = torch.arange(height, **kwargs) * (2.0 / max(height - 1, 1)) - 1.0
    return torch.stack(torch.meshgrid(x, y, indexing="xy"), dim=-1)


def gaussians(keypoints: torch.Tensor, height: int, width: int, variance: float) -> torch.Tensor:
    """(B, K, H, W) gaussian blobs at (B, K, 2) keypoints."""
    grid = coordinate_grid(height, width, keypoints)
    diff = grid[None, None] - keypoints[:, :, None, None, :]
    return torch.exp(-0.5 * (diff * diff).sum(-1) / variance)


class AntiAliasDownsample(nn.Module):
    """Gaussian blur then subsampling by an integer factor (``weight`` is a buffer, in the
    checkpoint, as in FOMM)."""

    def __init__(self, channels: int, scale: float) -> None:
        super().__init__()
        sigma = (1.0 / scale - 1.0) / 2.0
        size = 2 * round(sigma * 4) + 1
        self.before = size // 2
        self.after = self.before - 1 if size % 2 == 0 else self.before
        axis = torch.arange(size, dtype=torch.float32)
        bell = torch.exp(-((axis - (size - 1) / 2.0) ** 2) / (2.0 * sigma ** 2))
        kernel = torch.outer(bell, bell)
        kernel = kernel / kernel.sum()
        self.register_buffer("weight", kernel.expand(channels, 1, size, size).clone())
        self.groups = channels
        self.step = int(round(1.0 / scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.before, self.after, self.before, self.after))
        x = F.conv2d(x, self.weight, groups=self.groups)
        return x[:, :, ::self.step, ::self.step]


class ConvNormRelu(nn.Module):
    """conv → batch norm → relu, with FOMM's names (``conv``, ``norm``); ``up`` doubles
    the size first (nearest), ``down`` halves it after (2x2 average)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, up: bool = False,
                 down: bool = False) -> None:
        super().__init__()
        self.up, self.down = up, down
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
        self.norm = nn.BatchNorm2d(cout, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = F.relu(self.norm(self.conv(x)))
        return F.avg_pool2d(x, 2) if self.down else x


class ResBlock(nn.Module):
    """Pre-activation residual block: norm → relu → conv, twice, plus the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = nn.BatchNorm2d(channels, affine=True)
        self.norm2 = nn.BatchNorm2d(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        return x + self.conv2(F.relu(self.norm2(out)))


class Encoder(nn.Module):
    def __init__(self, expansion: int, cin: int, blocks: int, max_features: int) -> None:
        super().__init__()
        widths = [cin] + [min(max_features, expansion * 2 ** (i + 1)) for i in range(blocks)]
        self.down_blocks = nn.ModuleList(ConvNormRelu(widths[i], widths[i + 1], down=True)
                                         for i in range(blocks))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class Decoder(nn.Module):
    def __init__(self, expansion: int, cin: int, blocks: int, max_features: int) -> None:
        super().__init__()
        layers = []
        for i in reversed(range(blocks)):
            width = min(max_features, expansion * 2 ** (i + 1))
            layers.append(ConvNormRelu(width * (1 if i == blocks - 1 else 2),
                                       min(max_features, expansion * 2 ** i), up=True))
        self.up_blocks = nn.ModuleList(layers)
        self.out_filters = expansion + cin

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        skips = list(skips)
        out = skips.pop()
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return out


class Hourglass(nn.Module):
    def __init__(self, expansion: int, cin: int, blocks: int, max_features: int) -> None:
        super().__init__()
        self.encoder = Encoder(expansion, cin, blocks, max_features)
        self.decoder = Decoder(expansion, cin, blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class KPDetector(nn.Module):
    """Frame → keypoints ``value`` (B, K, 2) and ``jacobian`` (B, K, 2, 2)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.predictor = Hourglass(c.kp_block_expansion, c.num_channels, c.kp_num_blocks,
                                   c.kp_max_features)
        self.kp = nn.Conv2d(self.predictor.out_filters, c.num_kp, 7)
        self.estimate_jacobian = c.estimate_jacobian
        if c.estimate_jacobian:
            self.jacobian = nn.Conv2d(self.predictor.out_filters, 4 * c.num_kp, 7)
            # Identity jacobians to start with: training begins from pure translations.
            nn.init.zeros_(self.jacobian.weight)
            with torch.no_grad():
                self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(c.num_kp))
        self.temperature = c.kp_temperature
        self.down = AntiAliasDownsample(c.num_channels, c.kp_scale_factor) \
            if c.kp_scale_factor != 1 else None

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.down(image) if self.down is not None else image
        features = self.predictor(x)
        logits = self.kp(features)
        b, k, h, w = logits.shape
        heat = F.softmax(logits.reshape(b, k, h * w) / self.temperature, dim=2).reshape(b, k, h, w)
        grid = coordinate_grid(h, w, heat)
        out = {"value": (heat[..., None] * grid).sum(dim=(2, 3))}
        if self.estimate_jacobian:
            maps = self.jacobian(features).reshape(b, k, 4, h, w)
            out["jacobian"] = (heat[:, :, None] * maps).sum(dim=(3, 4)).reshape(b, k, 2, 2)
        return out


class DenseMotionNetwork(nn.Module):
    """Keypoints of source and driving → dense backward motion (B, h, w, 2), the softmax mask
    over the K+1 local motions and the occlusion map, at ``dm_scale_factor`` of the frame."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        k = c.num_kp
        self.hourglass = Hourglass(c.dm_block_expansion, (k + 1) * (c.num_channels + 1),
                                   c.dm_num_blocks, c.dm_max_features)
        self.mask = nn.Conv2d(self.hourglass.out_filters, k + 1, 7, padding=3)
        self.occlusion = nn.Conv2d(self.hourglass.out_filters, 1, 7, padding=3) \
            if c.estimate_occlusion_map else None
        self.num_kp = k
        self.kp_variance = c.kp_variance
        self.down = AntiAliasDownsample(c.num_channels, c.dm_scale_factor) \
            if c.dm_scale_factor != 1 else None

    def sparse_motions(self, h: int, w: int, kp_driving: dict, kp_source: dict) -> torch.Tensor:
        """(B, K+1, h, w, 2): identity, then each keypoint's local affine map driving → source."""
        b, k = kp_driving["value"].shape[:2]
        identity = coordinate_grid(h, w, kp_driving["value"])[None, None]
        local = identity - kp_driving["value"][:, :, None, None, :]
        if "jacobian" in kp_driving:
            jac = kp_source["jacobian"] @ inverse_2x2(kp_driving["jacobian"])  # (B, K, 2, 2)
            local = (jac[:, :, None, None] @ local[..., None])[..., 0]
        to_source = local + kp_source["value"][:, :, None, None, :]
        return torch.cat([identity.expand(b, 1, h, w, 2), to_source], dim=1)

    def forward(self, source: torch.Tensor, kp_driving: dict, kp_source: dict,
                small_source: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``small_source``: the source already downsampled (cached per source), or None."""
        if small_source is None:
            small_source = self.down(source) if self.down is not None else source
        b, c, h, w = small_source.shape
        k1 = self.num_kp + 1
        heat = gaussians(kp_driving["value"], h, w, self.kp_variance) \
            - gaussians(kp_source["value"], h, w, self.kp_variance)
        heat = torch.cat([heat.new_zeros(b, 1, h, w), heat], dim=1)[:, :, None]
        motions = self.sparse_motions(h, w, kp_driving, kp_source)
        repeated = small_source[:, None].expand(b, k1, c, h, w).reshape(b * k1, c, h, w)
        deformed = F.grid_sample(repeated, motions.reshape(b * k1, h, w, 2),
                                 align_corners=True).reshape(b, k1, c, h, w)
        features = self.hourglass(torch.cat([heat, deformed], dim=2).reshape(b, -1, h, w))
        mask = F.softmax(self.mask(features), dim=1)
        deformation = (motions * mask[..., None]).sum(dim=1)
        out = {"mask": mask, "deformation": deformation, "sparse_deformed": deformed}
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(features))
        return out


class OcclusionAwareGenerator(nn.Module):
    """Source frame, source and driving keypoints → the source re-posed (``prediction``,
    (B, 3, H, W) in [0, 1]). ``encode`` and ``decode`` split it so the source's features are
    computed once per source (``engine.neural.driver``)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.dense_motion_network = DenseMotionNetwork(c)
        e, m, n = c.gen_block_expansion, c.gen_max_features, c.gen_num_down_blocks
        self.first = ConvNormRelu(c.num_channels, e, kernel=7)
        self.down_blocks = nn.ModuleList(
            ConvNormRelu(min(m, e * 2 ** i), min(m, e * 2 ** (i + 1)), down=True)
            for i in range(n))
        self.up_blocks = nn.ModuleList(
            ConvNormRelu(min(m, e * 2 ** (n - i)), min(m, e * 2 ** (n - i - 1)), up=True)
            for i in range(n))
        width = min(m, e * 2 ** n)
        self.bottleneck = nn.Sequential()
        for i in range(c.gen_num_bottleneck_blocks):
            self.bottleneck.add_module(f"r{i}", ResBlock(width))
        self.final = nn.Conv2d(e, c.num_channels, 7, padding=3)

    def encode(self, source: torch.Tensor) -> torch.Tensor:
        out = self.first(source)
        for block in self.down_blocks:
            out = block(out)
        return out

    def decode(self, features: torch.Tensor, motion: dict[str, torch.Tensor]) -> torch.Tensor:
        out = warp(features, motion["deformation"])
        occlusion = motion.get("occlusion_map")
        if occlusion is not None:
            if occlusion.shape[2:] != out.shape[2:]:
                occlusion = F.interpolate(occlusion, size=out.shape[2:], mode="bilinear")
            out = out * occlusion
        out = self.bottleneck(out)
        for block in self.up_blocks:
            out = block(out)
        return torch.sigmoid(self.final(out))

    def forward(self, source: torch.Tensor, kp_driving: dict,
                kp_source: dict) -> dict[str, torch.Tensor]:
        motion = self.dense_motion_network(source, kp_driving, kp_source)
        out = dict(motion)
        out["prediction"] = self.decode(self.encode(source), motion)
        return out


def inverse_2x2(m: torch.Tensor) -> torch.Tensor:
    """The inverse of (..., 2, 2) matrices in closed form (ONNX has no matrix inverse)."""
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    rows = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2)
    return rows / det[..., None, None]


def warp(image: torch.Tensor, deformation: torch.Tensor) -> torch.Tensor:
    """``image`` sampled at ``deformation`` (B, h, w, 2), resized to the image first."""
    h, w = image.shape[2:]
    if deformation.shape[1:3] != (h, w):
        deformation = F.interpolate(deformation.permute(0, 3, 1, 2), size=(h, w),
                                    mode="bilinear").permute(0, 2, 3, 1)
    return F.grid_sample(image, deformation, align_corners=True)


@dataclass
class Model:
    """The two networks inference needs, with their config."""

    config: ModelConfig
    kp_detector: KPDetector
    generator: OcclusionAwareGenerator

    @classmethod
    def build(cls, config: ModelConfig = VOX_256, seed: int | None = None) -> Model:
        if seed is not None:
            torch.manual_seed(seed)
        return cls(config, KPDetector(config), OcclusionAwareGenerator(config))

    def eval(self) -> Model:
        self.kp_detector.eval()
        self.generator.eval()
        return self

    def parameters_count(self) -> int:
        return sum(p.numel() for net in (self.kp_detector, self.generator)
                   for p in net.parameters())


def hull_area(points: torch.Tensor) -> float:
    """Area of the convex hull of (K, 2) keypoints (0 for degenerate ones)."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        return float(ConvexHull(points.detach().double().cpu().numpy()).volume)  # 2-D: the area
    except (QhullError, ValueError):
        return 0.0
