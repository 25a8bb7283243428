"""The pipeline users run today (Immich's and the seeds' ML services): Pillow decode, numpy
preprocessing, onnxruntime in Python. Classify + embed with the same MobileNetV2 graph,
same images, same thread count as `iris models bench`.

    python python_pipeline.py MODELS_DIR THREADS ROUNDS FILE...
"""
import resource
import sys
import time

import numpy as np
import onnxruntime
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(path):
    image = Image.open(path)
    image.draft("RGB", (256, 256))  # JPEG shrink-on-load, as fair as Pillow allows
    image = image.convert("RGB")
    scale = 256 / min(image.size)
    image = image.resize((max(256, round(image.width * scale)), max(256, round(image.height * scale))), Image.BILINEAR)
    left, top = (image.width - 224) // 2, (image.height - 224) // 2
    pixels = (np.asarray(image.crop((left, top, left + 224, top + 224)), dtype=np.float32) / 255 - MEAN) / STD
    return pixels.transpose(2, 0, 1)[None].astype(np.float32)


def main(models, threads, rounds, files):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(f"{models}/mobilenet-v2.onnx", options, providers=["CPUExecutionProvider"])
    session.run(["logits", "embedding"], {"image": preprocess(files[0])})
    latencies = []
    start = time.perf_counter()
    for _ in range(rounds):
        for path in files:
            began = time.perf_counter()
            logits, embedding = session.run(["logits", "embedding"], {"image": preprocess(path)})
            _ = np.argsort(-logits[0])[:5]
            _ = embedding / np.linalg.norm(embedding)
            latencies.append(time.perf_counter() - began)
    seconds = time.perf_counter() - start
    latencies.sort()
    count = len(latencies)
    print(f"Python pipeline (Pillow + numpy + onnxruntime): {count} images in {seconds:.2f} s = {count / seconds:.1f} images/s; "
          f"latency p50 {latencies[count // 2] * 1000:.1f} ms, p99 {latencies[min(count - 1, int((count - 1) * 0.99))] * 1000:.1f} ms; "
          f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    return count / seconds


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
