"""ONNX Runtime sessions: execution providers, thread counts and feature taps inside a graph."""

import logging
import os
from pathlib import Path

import onnx
import onnxruntime as ort

from t2c.errors import ConfigError, NotFoundError

log = logging.getLogger("t2c.offline.runtime")


def available_cores() -> int:
    """Return the number of CPU cores this process may run on."""
    return len(os.sched_getaffinity(0))


def providers_for(device: str) -> list:
    """Return the ONNX Runtime execution providers that run on `device` ("cpu", "cuda", "cuda:1")."""
    if device == "cpu":
        return ["CPUExecutionProvider"]

    name, _, index = device.partition(":")
    if name != "cuda" or (index and not index.isdigit()):
        raise ConfigError(f"device {device!r} is not supported by ONNX Runtime encoders; use 'cpu' or 'cuda[:N]'")

    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise ConfigError(
            f"device {device!r} needs onnxruntime's CUDAExecutionProvider, but this onnxruntime "
            f"offers {available}; use device 'cpu' or install onnxruntime-gpu"
        )
    return [("CUDAExecutionProvider", {"device_id": int(index or 0)}), "CPUExecutionProvider"]


def tap_graph(path: Path, tensor: str) -> bytes:
    """Return the serialised graph at `path` with its outputs replaced by the intermediate `tensor`.

    ONNX Runtime's graph optimizer then drops every node the tap does not depend on
    (the classifier or saliency head after the feature tensor).
    """
    model = onnx.load(str(path))

    produced = {name for node in model.graph.node for name in node.output}
    if tensor not in produced:
        raise NotFoundError(f"tensor {tensor!r} is not produced by any node of {path}; the graph may have changed")

    del model.graph.output[:]
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(tensor))
    return model.SerializeToString()


def make_session(model: bytes | Path, device: str, num_threads: int) -> ort.InferenceSession:
    """Build an inference session for a serialised graph or a graph file.

    Args:
        model: the graph as bytes, or the path of a `.onnx` file.
        device: "cpu", "cuda" or "cuda:N"; the index picks the GPU.
        num_threads: intra-op threads on CPU.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = num_threads
    options.log_severity_level = 3

    providers = providers_for(device)
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=providers)
