"""Iris as an Open Inference Protocol server, over loopback with NVIDIA's `tritonclient`:
MobileNetV2 on batches of 8 photos from 2 clients at once, in images/s, against

- `POST /api/v1/analyses` on the same photos (each request 8 new photos, timed until their
  analyses are done: what the analysis API costs, uploads stored and thumbnailed included);
- MLServer (Seldon, from PyPI) serving the same ONNX file through onnxruntime (the remote-model
  tests' peer, Tests/e2e/oip/iris_oip_peer.py) with the same threads. MLServer takes tensors,
  not photos, and no binary data (SeldonIO/MLServer#324), so it gets FP32 batches in JSON; Iris
  is timed on the very same JSON tensors too, for a like-for-like row.

Rounds are interleaved (Iris photos, Iris tensors, MLServer, analyses; `--rounds` times) and
each figure is the median over rounds.

    python Benchmarks/oip.py IRIS_BINARY MLSERVER_PYTHON WORK PHOTO...
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import requests
import tritonclient.http as triton

ROOT = Path(__file__).resolve().parents[1]
BATCH = 8
CLIENTS = 2


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def variant(photo, index):
    """The same picture with distinct bytes (a JPEG comment segment, or a PNG text chunk after
    IHDR), so each analysis request is new work."""
    comment = f"iris oip bench {index}".encode()
    if photo.startswith(b"\x89PNG"):
        chunk = b"tEXt" + b"Comment\x00" + comment
        return photo[:33] + (len(chunk) - 4).to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big") + photo[33:]
    return photo[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + photo[2:]


def wait_until(url, timeout, process, log):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited: {Path(log).read_text()[-2000:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready in {timeout} s")


def start_iris(binary, work, threads):
    data = work / "iris-data"
    common = ["--data", str(data), "--log-level", "warning"]
    subprocess.run([binary, "user", "create", "bench", "--admin", "--password-stdin"] + common,
                   input="bench-password-1\n", text=True, check=True, capture_output=True)
    token = subprocess.run([binary, "token", "create", "--user", "bench", "--name", "bench", "--scopes", "read,write,admin"] + common,
                           text=True, check=True, capture_output=True).stdout.strip().splitlines()[-1]
    port = free_port()
    log = work / "iris.log"
    process = subprocess.Popen([binary, "serve", "--port", str(port)] + common, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                               env=dict(os.environ, IRIS_ANALYSIS_AUTO_MODELS="", IRIS_ML_THREADS=str(threads)))
    base = f"http://127.0.0.1:{port}"
    wait_until(base + "/readyz", 60, process, log)
    return process, base, {"Authorization": "Bearer " + token}


def start_mlserver(python, work, threads):
    folder = work / "mlserver"
    (folder / "mobilenet").mkdir(parents=True)
    port = free_port()
    (folder / "settings.json").write_text(json.dumps({
        "host": "127.0.0.1", "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
        "metrics_endpoint": None, "parallel_workers": 0}))
    (folder / "mobilenet" / "model-settings.json").write_text(json.dumps({
        "name": "mobilenet", "implementation": "iris_oip_peer.OnnxGraph",
        "parameters": {"uri": str(ROOT / "models" / "mobilenet-v2.onnx"), "extra": {"threads": threads}},
        "inputs": [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 224, 224]}],
        "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}]}))
    log = folder / "mlserver.log"
    process = subprocess.Popen([str(Path(python).parent / "mlserver"), "start", str(folder)], stdout=open(log, "wb"),
                               stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(ROOT / "Tests" / "e2e" / "oip")))
    base = f"http://127.0.0.1:{port}"
    wait_until(base + "/v2/models/mobilenet/ready", 180, process, log)
    return process, base


def in_parallel(work, requests_per_client):
    """Runs `work(client, index)` requests_per_client times in each of CLIENTS threads; answers the seconds taken."""
    failures = []

    def run(client):
        try:
            for index in range(requests_per_client):
                work(client, index)
        except Exception as error:  # reported after the round
            failures.append(error)

    threads = [threading.Thread(target=run, args=(client,)) for client in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - started


def oip_photos(base, auth, photos, count):
    clients = [triton.InferenceServerClient(base.removeprefix("http://"), network_timeout=600) for _ in range(CLIENTS)]
    batch = np.array(photos[:BATCH], dtype=np.object_)

    def one(client, index):
        tensor = triton.InferInput("encoded_image", [BATCH], "BYTES")
        tensor.set_data_from_numpy(batch)
        result = clients[client].infer("mobilenet-v2", [tensor], headers=dict(auth), outputs=[triton.InferRequestedOutput("labels")])
        assert result.as_numpy("labels").shape == (BATCH, 5)

    return CLIENTS * count * BATCH / in_parallel(one, count)


def oip_tensors(base, model, auth, tensor, count):
    clients = [triton.InferenceServerClient(base.removeprefix("http://"), network_timeout=600) for _ in range(CLIENTS)]

    def one(client, index):
        # JSON, as MLServer takes it (no binary data there).
        values = triton.InferInput("image", list(tensor.shape), "FP32")
        values.set_data_from_numpy(tensor, binary_data=False)
        result = clients[client].infer(model, [values], headers=dict(auth),
                                       outputs=[triton.InferRequestedOutput("logits", binary_data=False)])
        assert result.as_numpy("logits").shape == (BATCH, 1000)

    return CLIENTS * count * BATCH / in_parallel(one, count)


def analyses(base, auth, photos, count, project, offset):
    session = [requests.Session() for _ in range(CLIENTS)]

    def one(client, index):
        serial = offset + (client * count + index) * BATCH
        files = [("file", (f"{serial + n}.jpg", variant(photos[n % len(photos)], serial + n), "image/jpeg")) for n in range(BATCH)]
        created = session[client].post(base + "/api/v1/analyses", headers=dict(auth), files=files,
                                       data={"models": "mobilenet-v2", "project_id": str(project)}, timeout=600)
        assert created.status_code == 202, created.text
        for item in created.json()["items"]:
            while True:
                status = session[client].get(base + f"/api/v1/analyses/{item['sha256']}", headers=dict(auth), timeout=60).json()
                if status["models"].get("mobilenet-v2", {}).get("result"):
                    break
                time.sleep(0.02)

    return CLIENTS * count * BATCH / in_parallel(one, count)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("iris")
    parser.add_argument("mlserver_python")
    parser.add_argument("work", type=Path)
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=6, help="requests per client per round")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads, both servers")
    options = parser.parse_args()
    photos = [path.read_bytes() for path in options.photos]
    photos = (photos * BATCH)[:BATCH]
    options.work.mkdir(parents=True, exist_ok=True)
    tensor = np.random.default_rng(20261207).standard_normal((BATCH, 3, 224, 224)).astype(np.float32)

    iris, base, auth = start_iris(options.iris, options.work, options.threads)
    mlserver = None
    try:
        mlserver, mlserver_base = start_mlserver(options.mlserver_python, options.work, options.threads)
        project = requests.post(base + "/api/v1/projects", headers=dict(auth), json={"name": "oip bench"}, timeout=30).json()["id"]
        # Warm-up: every path once, so no round pays for loading a graph.
        oip_photos(base, auth, photos, 1)
        oip_tensors(base, "mobilenet-v2", auth, tensor, 1)
        oip_tensors(mlserver_base, "mobilenet", {}, tensor, 1)
        analyses(base, auth, photos, 1, project, 10_000_000)
        figures = {"iris_photos": [], "iris_tensors": [], "mlserver_tensors": [], "analyses": []}
        for round_ in range(options.rounds):
            figures["iris_photos"].append(oip_photos(base, auth, photos, options.requests))
            figures["iris_tensors"].append(oip_tensors(base, "mobilenet-v2", auth, tensor, options.requests))
            figures["mlserver_tensors"].append(oip_tensors(mlserver_base, "mobilenet", {}, tensor, options.requests))
            figures["analyses"].append(analyses(base, auth, photos, options.requests, project, round_ * 100_000))
            print(f"round {round_ + 1}: " + ", ".join(f"{name} {values[-1]:.1f}" for name, values in figures.items()),
                  file=sys.stderr)
    finally:
        iris.terminate()
        iris.wait(timeout=30)
        if mlserver:
            mlserver.terminate()
            mlserver.wait(timeout=30)

    def median(name):
        return statistics.median(figures[name])

    def spread(name):
        return f"{min(figures[name]):.1f}–{max(figures[name]):.1f}"

    print(f"== OIP server (MobileNetV2, batches of {BATCH}, {CLIENTS} clients, tritonclient over loopback; "
          f"medians of {options.rounds} interleaved rounds of {options.requests} requests per client)")
    print(f"Iris OIP, encoded photos (binary BYTES): {median('iris_photos'):.1f} images/s ({spread('iris_photos')})")
    print(f"POST /api/v1/analyses, same photos until analysed: {median('analyses'):.1f} images/s ({spread('analyses')}) "
          f"→ OIP {median('iris_photos') / median('analyses'):.2f}×")
    print(f"Iris OIP, FP32 tensors in JSON: {median('iris_tensors'):.1f} images/s ({spread('iris_tensors')})")
    print(f"MLServer, same ONNX file, same FP32 tensors in JSON: {median('mlserver_tensors'):.1f} images/s "
          f"({spread('mlserver_tensors')}) → Iris {median('iris_tensors') / median('mlserver_tensors'):.2f}× on tensors, "
          f"{median('iris_photos') / median('mlserver_tensors'):.2f}× with photos (decode and resize included)")


if __name__ == "__main__":
    main()
