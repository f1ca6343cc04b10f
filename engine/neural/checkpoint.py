"""Checkpoints in FOMM's layout: reading them safely, checking them strictly, writing them.

A FOMM checkpoint (``vox-cpk.pth.tar``, ``vox-adv-cpk.pth.tar``) is a dict with ``generator``,
``kp_detector``, ``discriminator``, ``optimizer_generator``, ``optimizer_kp_detector``,
``optimizer_discriminator`` and ``epoch``; inference needs the first two. A checkpoint is an
untrusted pickle, so it is read with ``torch.load(weights_only=True)`` (tensors, numbers,
strings and containers only: a pickle that would run code is refused), bounded in size, hashed
(the SHA-256 goes into the avatar's manifest and the consent signature covers the file), and
its two state dicts must match the model exactly: every problem is one line naming the file.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import AssetError
from engine.neural.model import Model, ModelConfig
from engine.safe_write import replace_on_success
from engine.safety.regular_file import read_bytes

MAX_CHECKPOINT_BYTES = 2 << 30  # vox-adv-cpk.pth.tar with its optimizer states is ~0.7 GB
INFERENCE_ENTRIES = ("generator", "kp_detector")
LAYOUT = ("generator", "kp_detector", "discriminator", "optimizer_generator",
          "optimizer_kp_detector", "optimizer_discriminator", "epoch")
# Older torch wrote batch norms without this counter; it does not affect inference.
OPTIONAL_SUFFIX = "num_batches_tracked"


@dataclass(frozen=True)
class Checkpoint:
    """A checked checkpoint: the model with its weights loaded, and what it was read from."""

    model: Model
    sha256: str
    epoch: int | None
    path: Path


def read_checkpoint_bytes(path: Path) -> bytes:
    """The file's bytes, bounded (a regular file only, never waiting on a FIFO)."""
    return read_bytes(path, MAX_CHECKPOINT_BYTES, lambda why: AssetError(f"{path}: {why}"))


def parse_checkpoint(data: bytes, path: Path) -> dict:
    """The checkpoint's top-level dict, unpickled without running code."""
    try:
        content = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # Not torch's advice to retry without weights_only: that would run what is in it.
        raise AssetError(f"{path}: not a loadable weights-only checkpoint (it holds more than "
                         "tensors and plain data — a pickle that could run code — or is not a "
                         "checkpoint at all)") from None
    except Exception as error:  # noqa: BLE001 - torch raises many types for a bad file
        raise AssetError(f"{path}: not a loadable weights-only checkpoint "
                         f"({_first_line(error)})") from None
    if not isinstance(content, dict):
        raise AssetError(f"{path}: expected a dict of state dicts, got {type(content).__name__}")
    return content


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


def check_state(path: Path, entry: str, state: object, module: torch.nn.Module) -> None:
    """Raise one line naming missing, unexpected and mis-shaped keys of ``state`` against
    ``module``'s own state dict."""
    if not isinstance(state, dict):
        raise AssetError(f"{path}: {entry}: expected a state dict, got {type(state).__name__}")
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(OPTIONAL_SUFFIX)]
    unexpected = [k for k in state if k not in expected]
    not_tensor = [k for k in expected if k in state and not isinstance(state[k], torch.Tensor)]
    shapes = [f"{k} {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
              for k in expected if k in state and isinstance(state[k], torch.Tensor)
              and state[k].shape != expected[k].shape]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected),
                        ("not tensors", not_tensor), ("shape mismatch", shapes)):
        if keys:
            shown = ", ".join(keys[:3]) + (f", … ({len(keys) - 3} more)" if len(keys) > 3 else "")
            problems.append(f"{len(keys)} {label} ({shown})")
    if problems:
        raise AssetError(f"{path}: {entry} does not match the model: " + "; ".join(problems))


def load_checkpoint(path: Path, config: ModelConfig, sha256: str | None = None,
                    data: bytes | None = None) -> Checkpoint:
    """The model of ``config`` with the checkpoint's weights, checked strictly, in eval mode.
    ``sha256``: the digest the file must have (the one the avatar's manifest recorded);
    ``data``: the file's bytes when the caller has read them already."""
    data = read_checkpoint_bytes(path) if data is None else data
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256:
        raise AssetError(f"{path}: sha256 {digest} is not the {sha256} recorded for it; the "
                         "checkpoint was changed")
    content = parse_checkpoint(data, path)
    absent = [entry for entry in INFERENCE_ENTRIES if entry not in content]
    if absent:
        raise AssetError(f"{path}: no {' or '.join(absent)} entry; found "
                         f"{', '.join(map(str, content)) or 'nothing'}")
    model = Model.build(config)
    for entry, module in (("kp_detector", model.kp_detector), ("generator", model.generator)):
        check_state(path, entry, content[entry], module)
        module.load_state_dict(content[entry], strict=False)  # checked above, counters optional
        bad = [k for k, v in content[entry].items() if not torch.isfinite(v).all()]
        if bad:
            raise AssetError(f"{path}: {entry}: {bad[0]} holds NaN or infinite values")
    epoch = content.get("epoch")
    return Checkpoint(model.eval(), digest, epoch if isinstance(epoch, int) else None, path)


def save_checkpoint(path: Path, model: Model, epoch: int,
                    discriminator: dict | None = None,
                    optimizers: dict[str, dict] | None = None,
                    extra: dict | None = None) -> None:
    """Write ``path`` in FOMM's layout (all seven entries; a trainer without an adversary
    writes an empty discriminator and its optimizer), replacing it only once complete."""
    optimizers = optimizers or {}
    content = {
        "generator": model.generator.state_dict(),
        "kp_detector": model.kp_detector.state_dict(),
        "discriminator": discriminator or {},
        "optimizer_generator": optimizers.get("generator", {}),
        "optimizer_kp_detector": optimizers.get("kp_detector", {}),
        "optimizer_discriminator": optimizers.get("discriminator", {}),
        "epoch": int(epoch),
        **(extra or {}),
    }
    with replace_on_success(path) as staged:
        torch.save(content, staged.file)
