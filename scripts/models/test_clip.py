"""Builds a tiny CLIP-shaped pair for the tests (RANDOM WEIGHTS, not a real network: it knows
nothing of photos or words). The two graphs have the contract a real OpenCLIP export has for
Iris (docs/MODELS.md), so the tests can check the plumbing end to end: the tokenizer's ids in,
the image and text embeddings out, the pairing, the backfill, search and similar photos.

  tiny-clip-image.onnx  pixel_values float N×3×224×224 → image_embeds float N×64
                        (8×8 average pools of the 224 px image through a random projection)
  tiny-clip-text.onnx   input_ids int64 N×77 → text_embeds float N×64
                        (the sum of a random vector per non-zero id, then a random projection)

Written to OUT_DIR with their manifests and a copy of CLIP's merges, so that OUT_DIR is a models
folder of its own; never installed in models/, where random weights would mislead a user.

Usage: test_clip.py MERGES OUT_DIR
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DIMENSION = 64
CONTEXT = 77
ROWS = 1024  # ids are folded onto this many rows of the embedding table (id mod 1024)
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def image_graph(random):
    # 224 / 32 = 7: a 3×7×7 grid of average colours, 147 values, projected to 64.
    projection = numpy_helper.from_array(random.standard_normal((147, DIMENSION)).astype(np.float32), "projection")
    bias = numpy_helper.from_array(random.standard_normal(DIMENSION).astype(np.float32) * 0.1, "bias")
    nodes = [
        helper.make_node("AveragePool", ["pixel_values"], ["pooled"], kernel_shape=[32, 32], strides=[32, 32]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "projection"], ["projected"]),
        helper.make_node("Add", ["projected", "bias"], ["image_embeds"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny-clip-image",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["batch", DIMENSION])],
        initializer=[projection, bias])
    return finish(graph)


def text_graph(random):
    table = numpy_helper.from_array(random.standard_normal((ROWS, DIMENSION)).astype(np.float32), "table")
    projection = numpy_helper.from_array(
        random.standard_normal((DIMENSION, DIMENSION)).astype(np.float32), "text_projection")
    rows = numpy_helper.from_array(np.array(ROWS, np.int64), "rows")
    zero = numpy_helper.from_array(np.array(0, np.int64), "zero")
    last = numpy_helper.from_array(np.array([-1], np.int64), "last")
    tokens = numpy_helper.from_array(np.array([1], np.int64), "tokens")
    nodes = [
        helper.make_node("Mod", ["input_ids", "rows"], ["folded"]),
        helper.make_node("Gather", ["table", "folded"], ["vectors"], axis=0),
        helper.make_node("Greater", ["input_ids", "zero"], ["real"]),
        helper.make_node("Cast", ["real"], ["real_float"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["real_float", "last"], ["mask"]),
        helper.make_node("Mul", ["vectors", "mask"], ["kept"]),
        helper.make_node("ReduceSum", ["kept", "tokens"], ["summed"], keepdims=0),
        helper.make_node("MatMul", ["summed", "text_projection"], ["text_embeds"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny-clip-text",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", CONTEXT])],
        [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["batch", DIMENSION])],
        initializer=[table, projection, rows, zero, last, tokens])
    return finish(graph)


def finish(graph):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def manifests():
    note = "TEST ONLY, random weights (scripts/models/test_clip.py): knows nothing of photos or words; checks the CLIP plumbing."
    image = {
        "name": "tiny-clip-image",
        "description": note,
        "tasks": ["embed-image"],
        "file": "tiny-clip-image.onnx",
        "pair": "tiny-clip-text",
        "logit_scale": 100,
        "input": {"name": "pixel_values", "layout": "NCHW", "width": 224, "height": 224, "colors": "RGB",
                  "resize": "centre-crop", "short_side": 224, "scale": 255, "mean": CLIP_MEAN, "std": CLIP_STD,
                  "max_batch": 8},
        "outputs": {"embedding": "image_embeds"},
    }
    text = {
        "name": "tiny-clip-text",
        "description": note,
        "tasks": ["embed-text"],
        "file": "tiny-clip-text.onnx",
        "text": {"input": "input_ids", "context_length": CONTEXT, "merges": "clip-merges.txt"},
        "outputs": {"embedding": "text_embeds"},
    }
    return image, text


def main(merges, out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    random = np.random.default_rng(20261206)
    onnx.save(image_graph(random), str(out / "tiny-clip-image.onnx"))
    onnx.save(text_graph(random), str(out / "tiny-clip-text.onnx"))
    shutil.copyfile(merges, out / "clip-merges.txt")
    for manifest in manifests():
        (out / f"{manifest['name']}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote the tiny CLIP-shaped pair (random weights) to {out}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
