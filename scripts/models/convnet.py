"""A convolutional network given as steps, to ONNX and to a plain numpy forward pass.

Both bundled CNNs (MobileNetV2, EfficientNet-Lite0) are a list of steps: ("conv", conv, bn,
stride, groups, relu6) names a convolution and its batch norm in the checkpoint; ("block",
[conv steps], residual) is an inverted-residual block. Then global average pooling (the
1280-d `embedding`) and a fully connected layer (`logits`). Batch norms are folded into the
convolutions for the graph; the numpy pass keeps them unfolded, so comparing the two checks
the conversion. `pads(size, kernel, stride)` gives one axis's (before, after) padding.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 224


def symmetric_pads(size, kernel, stride):
    return kernel // 2, kernel // 2


def fold_batchnorm(weights, conv, bn, epsilon):
    w = weights[conv + ".weight"]
    scale = weights[bn + ".weight"] / np.sqrt(weights[bn + ".running_var"] + epsilon)
    bias = weights[bn + ".bias"] - weights[bn + ".running_mean"] * scale
    return (w * scale[:, None, None, None]).astype(np.float32), bias.astype(np.float32)


def output_size(size, kernel, stride, pads):
    before, after = pads(size, kernel, stride)
    return (size + before + after - kernel) // stride + 1


def build(weights, steps, fc, name, epsilon, pads=symmetric_pads, size=SIZE):
    """The ONNX graph: input `image` N×3×size×size, outputs `logits` and `embedding`."""
    nodes, initializers = [], []
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def constant(value, prefix):
        n = fresh(prefix)
        initializers.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    zero, six = constant(np.float32(0), "zero"), constant(np.float32(6), "six")
    spatial = [size]

    def conv(x, step):
        _, conv_name, bn_name, stride, groups, relu6 = step
        w, b = fold_batchnorm(weights, conv_name, bn_name, epsilon)
        k = w.shape[2]
        before, after = pads(spatial[0], k, stride)
        spatial[0] = output_size(spatial[0], k, stride, pads)
        out = fresh("conv")
        nodes.append(helper.make_node(
            "Conv", [x, constant(w, "w"), constant(b, "b")], [out], strides=[stride, stride],
            pads=[before, before, after, after], group=groups, kernel_shape=[k, k]))
        if relu6:
            clipped = fresh("relu6")
            nodes.append(helper.make_node("Clip", [out, zero, six], [clipped]))
            out = clipped
        return out

    x = "image"
    for step in steps:
        if step[0] == "conv":
            x = conv(x, step)
        else:
            _, block, residual = step
            y = x
            for inner in block:
                y = conv(y, inner)
            if residual:
                summed = fresh("add")
                nodes.append(helper.make_node("Add", [x, y], [summed]))
                y = summed
            x = y
    pooled = fresh("pool")
    nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    nodes.append(helper.make_node("Flatten", [pooled], ["embedding"], axis=1))
    nodes.append(helper.make_node(
        "Gemm", ["embedding", constant(weights[fc + ".weight"].astype(np.float32), "fc_w"),
                 constant(weights[fc + ".bias"].astype(np.float32), "fc_b")], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000]),
         helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 1280])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="iris-prepare-models")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def reference_forward(weights, steps, fc, epsilon, batch, pads=symmetric_pads):
    """The unfolded network in plain numpy (padded conv, batch norm, ReLU6)."""

    def conv2d(x, w, stride, groups):
        n, _, h, wd = x.shape
        cout, _, k, _ = w.shape
        (top, bottom), (left, right) = pads(h, k, stride), pads(wd, k, stride)
        xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        ho, wo = output_size(h, k, stride, pads), output_size(wd, k, stride, pads)
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
        y = (y - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + epsilon) \
            * gamma[None, :, None, None] + beta[None, :, None, None]
        return np.clip(y, 0, 6) if relu6 else y

    x = batch.astype(np.float64)
    for s in steps:
        if s[0] == "conv":
            x = step(x, s)
        else:
            y = x
            for inner in s[1]:
                y = step(y, inner)
            x = x + y if s[2] else y
    embedding = x.mean(axis=(2, 3))
    logits = embedding @ weights[fc + ".weight"].T.astype(np.float64) + weights[fc + ".bias"]
    return logits, embedding
