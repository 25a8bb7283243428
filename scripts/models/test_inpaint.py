"""Builds the test inpaint model (not a real network): a graph with the inpaint contract's
inputs and output (docs/MODELS.md) that fills the hole with the mean colour of the pixels
around it, so a test can check the plumbing end to end: tensor layouts, value ranges, colour
order and the paste back. Written to OUT_DIR with its manifest; never installed in models/.

Usage: test_inpaint.py OUT_DIR
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 64


def build():
    one = numpy_helper.from_array(np.array([1.0], np.float32), "one")
    tiny = numpy_helper.from_array(np.array([1e-6], np.float32), "tiny")
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    nodes = [
        helper.make_node("Sub", ["one", "mask"], ["known"]),
        helper.make_node("Mul", ["image", "known"], ["kept"]),
        helper.make_node("ReduceSum", ["kept", "axes"], ["sums"], keepdims=1),
        helper.make_node("ReduceSum", ["known", "axes"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "tiny"], ["safe_count"]),
        helper.make_node("Div", ["sums", "safe_count"], ["mean"]),
        helper.make_node("Mul", ["mean", "mask"], ["fill"]),
        helper.make_node("Add", ["kept", "fill"], ["repaired"]),
    ]
    graph = helper.make_graph(
        nodes, "mean-fill",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIZE, SIZE]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, SIZE, SIZE])],
        [helper.make_tensor_value_info("repaired", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        initializer=[one, tiny, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(build(), str(out / "mean-fill.onnx"))
    manifest = {
        "name": "mean-fill",
        "description": "TEST ONLY, not a real network: fills the hole with the mean colour around it (checks the inpaint plumbing).",
        "tasks": ["inpaint"],
        "file": "mean-fill.onnx",
        "input": {"name": "image", "layout": "NCHW", "width": SIZE, "height": SIZE, "colors": "RGB",
                  "resize": "stretch", "scale": 255, "mean": [0, 0, 0], "std": [1, 1, 1]},
        "outputs": {"image": "repaired"},
        "inpaint": {"mask_input": "mask", "output_scale": 255},
    }
    (out / "mean-fill.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
