"""The same fast path on onnxruntime: the fused keypoint detector and the per-frame half of the
generator (dense motion + decoder, with the source's cached features as inputs) exported to
ONNX in memory and run by onnxruntime's CPU provider. ``persona bench neural`` measures it
beside torch; the live avatar uses it where it measured faster (``OnnxAnimator``).

**Approximate mode** (``approximate_with``: a few driving frames): the per-frame render
graph's convolutions quantised to int8 (the keypoint graph measured slower in int8 and stays
float) (static, per-channel weights, activations calibrated on those frames' real
inputs). Not the exact path: ``persona bench neural`` reports its own figures and its error
against the exact one, measured on frames other than the calibration frames.

Export uses torch's TorchScript exporter, which needs the ``onnx`` package; both come with the
``neural`` extra (onnx 1.17, the last that runs on the protobuf 4.x mediapipe pins).
"""

from __future__ import annotations

import io
import logging

import numpy as np
import torch
from torch import nn

from engine.neural.animator import Animator, Keypoints, to_image
from engine.neural.model import OcclusionAwareGenerator

OPSET = 17  # GridSample needs 16


class _RenderGraph(nn.Module):
    """(driving kp, source kp, cached source tensors) → prediction, as plain tensors."""

    def __init__(self, generator: OcclusionAwareGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, value, jacobian, source_value, source_jacobian, small, features, image):
        motion = self.generator.dense_motion_network(
            image, {"value": value, "jacobian": jacobian},
            {"value": source_value, "jacobian": source_jacobian}, small_source=small)
        return self.generator.decode(features, motion)


class _KeypointGraph(nn.Module):
    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, image):
        kp = self.detector(image)
        return kp["value"], kp["jacobian"]


def _export(module: nn.Module, inputs: tuple, names: list[str]) -> bytes:
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice, once per export
        torch.onnx.export(module.float().eval(), inputs, buffer, dynamo=False,
                          opset_version=OPSET, input_names=names)
    return buffer.getvalue()


def quantize(model_bytes: bytes, feeds: list[dict[str, np.ndarray]]) -> bytes:
    """The graph with its convolutions in int8, activation ranges calibrated on ``feeds``."""
    import tempfile
    from pathlib import Path

    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter(feeds)

        def get_next(self):
            return next(self._feeds, None)

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "float.onnx", Path(folder) / "int8.onnx"
        source.write_bytes(model_bytes)
        logging.disable(logging.WARNING)  # its advice to pre-process, on the root logger
        try:
            quantize_static(str(source), str(target), Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=True, op_types_to_quantize=["Conv"],
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        finally:
            logging.disable(logging.NOTSET)
        return target.read_bytes()


def _session(model_bytes: bytes, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


class OnnxAnimator:
    """An ``Animator`` (CPU, fp32, source already set) whose per-frame networks run on
    onnxruntime. Motion and calibration stay the animator's."""

    def __init__(self, animator: Animator, threads: int = 2,
                 approximate_with: list[np.ndarray] | None = None) -> None:
        if animator.source is None or animator.device.type != "cpu":
            raise ValueError("OnnxAnimator needs a CPU animator with its source set")
        self.animator = animator
        source = animator.source
        kp = source.keypoints
        self._cached = {"source_value": kp["value"].numpy(),
                        "source_jacobian": kp["jacobian"].numpy(),
                        "small": source.small.contiguous().numpy(),
                        "features": source.features.contiguous().numpy()}
        render_names = ["value", "jacobian", "source_value", "source_jacobian", "small",
                        "features", "image"]
        with torch.inference_mode(False), torch.no_grad():
            image = source.image.contiguous()
            render = _export(_RenderGraph(animator.generator),
                             (kp["value"], kp["jacobian"], kp["value"], kp["jacobian"],
                              source.small.contiguous(), source.features.contiguous(), image),
                             render_names)
            keypoints = _export(_KeypointGraph(animator.kp_detector), (image,), ["image"])
        self._cached["image"] = image.numpy()
        self._render = _session(render, threads)
        # The exporter drops inputs a graph does not read (the source image, used for shapes).
        self._render_inputs = {i.name for i in self._render.get_inputs()}
        self._cached = {k: v for k, v in self._cached.items() if k in self._render_inputs}
        if approximate_with:
            feeds = [self._feeds(animator.motion_keypoints(animator.keypoints(frame)))
                     for frame in approximate_with]
            self._render = _session(quantize(render, feeds), threads)
        self._keypoints = _session(keypoints, threads)

    def _feeds(self, kp: Keypoints) -> dict[str, np.ndarray]:
        return {"value": kp["value"].numpy(), "jacobian": kp["jacobian"].numpy(), **self._cached}

    def keypoints(self, image: np.ndarray) -> Keypoints:
        tensor = self.animator.tensor(image).contiguous().numpy()
        value, jacobian = self._keypoints.run(None, {"image": tensor})
        return {"value": torch.from_numpy(value), "jacobian": torch.from_numpy(jacobian)}

    def render(self, kp: Keypoints) -> torch.Tensor:
        return torch.from_numpy(self._render.run(None, self._feeds(kp))[0])

    def animate(self, driving: np.ndarray) -> np.ndarray:
        return to_image(self.render(self.animator.motion_keypoints(self.keypoints(driving))))
