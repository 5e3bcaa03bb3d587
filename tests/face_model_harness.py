"""A small ArcFace-shaped ONNX face model written in the test (a fixed random linear projection of the
aligned 112 x 112 x 3 face), with its sidecar and, on request, a calibration; for the face model tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

SIZE = 112


def projection(dim: int, seed: int = 7) -> np.ndarray:
    """The model's weights: (112*112*3) x dim, fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((SIZE * SIZE * 3, dim)) / 100.0).astype(np.float32)


def write_model(
    folder: Path,
    *,
    dim: int = 64,
    layout: str = "NCHW",
    name: str = "test-projection-64",
    sidecar: dict[str, Any] | None = None,
    fixed_batch: bool = False,
    seed: int = 7,
    file: str = "face.onnx",
) -> Path:
    """Write ``face.onnx`` (input ``faces``, output ``embedding``) and ``face.onnx.yaml`` into ``folder``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shape: list[Any] = [1 if fixed_batch else "N", 3, SIZE, SIZE]
    if layout == "NHWC":
        shape = [shape[0], SIZE, SIZE, 3]
    w = projection(dim, seed)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["faces"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "W"], ["embedding"]),
        ],
        "projection",
        [helper.make_tensor_value_info("faces", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [shape[0], dim])],
        [numpy_helper.from_array(w, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file
    onnx.save(model, str(path))
    spec = {
        "name": name,
        "licence": "test model written by the test (no weights from anywhere)",
        "input": {
            "size": SIZE,
            "layout": layout,
            "channels": "RGB",
            "mean": [127.5, 127.5, 127.5],
            "std": [127.5, 127.5, 127.5],
        },
        "embedding_dim": dim,
        "mirror": True,
    }
    if sidecar:
        for k, v in sidecar.items():
            if isinstance(v, dict):
                spec[k] = {**spec.get(k, {}), **v}
            else:
                spec[k] = v
    path.with_name(path.name + ".yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def write_calibration(model_path: Path, name: str, threshold: float = 0.3) -> Path:
    """A calibration for the test model in the shipped format (values for tests, not measured): a one-cluster
    cohort centred at the origin, and one plain similarity limit (distance ``threshold`` to the template)."""
    from jikimi.signals.face_models import embedder_for

    dim = embedder_for(model_path).dim
    cohort = model_path.with_suffix(".calibration_cohort.npz")
    np.savez(cohort, means=np.zeros((1, dim)), covariances=np.eye(dim)[None] / dim)
    table = [[float(z), max(0.0, 0.01 * (1 - z / 10))] for z in range(-10, 11)]
    point = {"similarity": 1 - threshold**2 / 2, "z": -100.0, "far": 0.001, "tar": 0.5, "far_table": table}
    raw = {
        "model": name,
        "cohort": cohort.name,
        "target_far": 0.001,
        "logistic_a": 1.0,
        "logistic_b": 0.0,
        "by_photos": {str(k): point for k in (1, 3, 5)},
    }
    out = model_path.with_suffix(".calibration.json")
    out.write_text(json.dumps(raw), encoding="utf-8")
    return out
