"""all-MiniLM-L6-v2 (a 6-layer BERT encoder, 384 wide, 12 heads) from its safetensors weights to
ONNX, with a plain numpy forward pass to check the graph.

The safetensors file is an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the bytes; it is read here with numpy alone. The
graph takes `input_ids` and `attention_mask` (int64, batch × tokens; segment 0 throughout,
as for one sentence) and gives `last_hidden_state` (batch × tokens × 384), which Iris's
SentenceEncoder mean-pools over the attended tokens and normalises, as sentence-transformers'
Pooling and Normalize modules do for this model.

BERT (Devlin et al. 2018): the token, position and segment embeddings are summed and layer-
normalised; each layer is multi-head self-attention (scaled dot products, masked positions
pushed to -10000 before the softmax) with a residual and layer norm, then a feed-forward
block with the exact (erf) GELU, a residual and layer norm. PyTorch's Linear keeps its weight
as [out, in], so the graph multiplies by its transpose.

Usage: minilm.py MODEL_SAFETENSORS CONFIG_JSON OUT_ONNX VOCAB_TXT
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as handle:
        length = struct.unpack("<Q", handle.read(8))[0]
        if length > 100_000_000:
            raise SystemExit(f"{path}: a header of {length} bytes is not safetensors")
        header = json.loads(handle.read(length))
        data = handle.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        dtype = DTYPES[entry["dtype"]]
        tensors[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(entry["shape"]).copy()
    return tensors


def layer_count(weights):
    count = 0
    while f"encoder.layer.{count}.attention.self.query.weight" in weights:
        count += 1
    return count


def build(weights, config):
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head = hidden // heads
    epsilon = config["layer_norm_eps"]
    nodes, initializers = [], []
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def constant(value, name=None, dtype=np.float32):
        name = name or fresh("const")
        initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(op, inputs, **attributes):
        out = fresh(op.lower())
        nodes.append(helper.make_node(op, inputs, [out], **attributes))
        return out

    def linear(x, prefix):
        w = constant(weights[prefix + ".weight"].T, prefix + ".weight.T")
        b = constant(weights[prefix + ".bias"], prefix + ".bias")
        return node("Add", [node("MatMul", [x, w]), b])

    def layer_norm(x, prefix):
        scale = constant(weights[prefix + ".weight"], prefix + ".weight")
        bias = constant(weights[prefix + ".bias"], prefix + ".bias")
        return node("LayerNormalization", [x, scale, bias], axis=-1, epsilon=epsilon)

    # Embeddings: token + position (0..tokens-1) + segment 0.
    words = node("Gather", [constant(weights["embeddings.word_embeddings.weight"], "word_embeddings"), "input_ids"])
    shape = node("Shape", ["input_ids"])
    tokens = node("Gather", [shape, constant(1, dtype=np.int64)], axis=0)
    positions = node("Range", [constant(0, dtype=np.int64), tokens, constant(1, dtype=np.int64)])
    placed = node("Gather", [constant(weights["embeddings.position_embeddings.weight"], "position_embeddings"),
                             positions])
    segment = constant(weights["embeddings.token_type_embeddings.weight"][0], "segment_embedding")
    x = layer_norm(node("Add", [node("Add", [words, placed]), segment]), "embeddings.LayerNorm")

    # Additive mask: 0 where attended, -10000 where padded, shaped batch × 1 × 1 × tokens.
    mask = node("Cast", [node("Unsqueeze", ["attention_mask", constant([1, 2], dtype=np.int64)])],
                to=TensorProto.FLOAT)
    mask = node("Mul", [node("Sub", [constant(1.0), mask]), constant(-10000.0)])
    split = constant([0, 0, heads, head], dtype=np.int64)
    merge = constant([0, 0, hidden], dtype=np.int64)
    scale = constant(1.0 / np.sqrt(head))

    for index in range(layer_count(weights)):
        p = f"encoder.layer.{index}"

        def heads_of(name):
            projected = linear(x, f"{p}.attention.self.{name}")
            return node("Transpose", [node("Reshape", [projected, split])], perm=[0, 2, 1, 3])

        q, k, v = heads_of("query"), heads_of("key"), heads_of("value")
        scores = node("Mul", [node("MatMul", [q, node("Transpose", [k], perm=[0, 1, 3, 2])]), scale])
        attention = node("Softmax", [node("Add", [scores, mask])], axis=-1)
        context = node("Reshape", [node("Transpose", [node("MatMul", [attention, v])], perm=[0, 2, 1, 3]), merge])
        attended = layer_norm(node("Add", [linear(context, f"{p}.attention.output.dense"), x]),
                              f"{p}.attention.output.LayerNorm")
        inner = linear(attended, f"{p}.intermediate.dense")
        # GELU(x) = x · ½ · (1 + erf(x / √2))
        gelu = node("Mul", [inner, node("Mul", [node("Add", [node("Erf", [node("Div", [inner, constant(np.sqrt(2.0))])]),
                                                           constant(1.0)]), constant(0.5)])])
        x = layer_norm(node("Add", [linear(gelu, f"{p}.output.dense"), attended]), f"{p}.output.LayerNorm")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", hidden])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="iris")
    onnx.checker.check_model(model)
    return model


def reference_forward(weights, config, ids, mask):
    """The same network in numpy, written from the description above rather than the graph."""
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head = hidden // heads
    epsilon = config["layer_norm_eps"]

    def norm(x, prefix):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + epsilon) * weights[prefix + ".weight"] + weights[prefix + ".bias"]

    def dense(x, prefix):
        return x @ weights[prefix + ".weight"].T + weights[prefix + ".bias"]

    from math import erf
    erf_vec = np.vectorize(erf)
    batch, tokens = ids.shape
    x = (weights["embeddings.word_embeddings.weight"][ids] + weights["embeddings.position_embeddings.weight"][:tokens]
         + weights["embeddings.token_type_embeddings.weight"][0])
    x = norm(x.astype(np.float64), "embeddings.LayerNorm")
    additive = (1.0 - mask[:, None, None, :]) * -10000.0
    for index in range(layer_count(weights)):
        p = f"encoder.layer.{index}"
        q, k, v = (dense(x, f"{p}.attention.self.{n}").reshape(batch, tokens, heads, head).transpose(0, 2, 1, 3)
                   for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + additive
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, tokens, hidden)
        attended = norm(dense(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        inner = dense(attended, f"{p}.intermediate.dense")
        inner = inner * 0.5 * (1.0 + erf_vec(inner / np.sqrt(2.0)))
        x = norm(dense(inner, f"{p}.output.dense") + attended, f"{p}.output.LayerNorm")
    return x


def sentence(vectors, mask):
    pooled = (vectors * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def check(path, weights, config, vocabulary):
    """The graph against the numpy pass on a padded batch, and the embeddings against meaning:
    a sentence is nearer its paraphrase than an unrelated one."""
    import onnxruntime
    index = {word: i for i, word in enumerate(vocabulary)}

    def ids_of(text):
        return [index["[CLS]"]] + [index.get(word, index["[UNK]"]) for word in text.split()] + [index["[SEP]"]]

    texts = ["a dog runs on the beach", "a puppy playing by the sea", "the stock market fell today", "pizza"]
    rows = [ids_of(text) for text in texts]
    width = max(len(row) for row in rows)
    ids = np.array([row + [0] * (width - len(row)) for row in rows], dtype=np.int64)
    mask = np.array([[1] * len(row) + [0] * (width - len(row)) for row in rows], dtype=np.int64)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]
    want = reference_forward(weights, config, ids, mask)
    attended = mask.astype(bool)
    difference = float(np.abs(got[attended] - want[attended]).max())
    if difference > 1e-3:
        raise SystemExit(f"all-MiniLM-L6-v2: the graph differs from the numpy pass by {difference}")
    vectors = sentence(got, mask.astype(np.float32))
    paraphrase, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    if paraphrase < unrelated + 0.2:
        raise SystemExit(f"all-MiniLM-L6-v2: a paraphrase scores {paraphrase:.2f}, an unrelated sentence "
                         f"{unrelated:.2f}: the weights were misread")
    print(f"  all-MiniLM-L6-v2: graph within {difference:.1e} of numpy; paraphrase {paraphrase:.2f}, "
          f"unrelated {unrelated:.2f}")


def main(weights_path, config_path, out, vocabulary_path):
    weights = read_safetensors(weights_path)
    config = json.loads(Path(config_path).read_text())
    model = build(weights, config)
    target = Path(out)
    tmp = target.with_suffix(".onnx.tmp")
    onnx.save(model, str(tmp))
    check(tmp, weights, config, Path(vocabulary_path).read_text(encoding="utf-8").splitlines())
    tmp.replace(target)
    print(f"  wrote {target}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit("usage: minilm.py MODEL_SAFETENSORS CONFIG_JSON OUT_ONNX VOCAB_TXT")
    main(*sys.argv[1:])
