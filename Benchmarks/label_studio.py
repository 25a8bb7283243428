"""Label Studio `/predict`: how long Iris takes to answer a batch of 16 tasks, as Label Studio
sends them (Iris image URLs, the project's learner answering). A project of 4 classes × 4
labelled photos teaches the learner; the 16 tasks are other photos of the same folders, analysed
(so their embeddings are stored) before the clock starts. Reported: the median and range of 20
requests over loopback, each followed by the baseline, Iris's own `POST …/learner/classify` of
the same 16 photos, and the median of their ratios.

    python label_studio.py IRIS WORK PHOTOSET
"""
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

CONFIG = """<View><Image name="image" value="$image"/><Choices name="kind" toName="image">{}</Choices></View>"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(base, method, path, token, body=None, content_type="application/json", timeout=120):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def upload(base, token, project, path, label=None):
    boundary = uuid.uuid4().hex
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n".encode() + path.read_bytes() + b"\r\n"]
    if label:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"label\"\r\n\r\n{label}\r\n".encode())
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return call(base, "POST", f"/api/v1/projects/{project}/images", token, body,
                f"multipart/form-data; boundary={boundary}")["sha256"]


def main(iris, work, photoset):
    work = Path(work) / "label-studio-bench"
    shutil.rmtree(work, ignore_errors=True)
    data = work / "data"
    subprocess.run([iris, "user", "create", "bench", "--admin", "--password-stdin", "--data", str(data)],
                   input="bench-password\n", text=True, check=True, capture_output=True)
    token = subprocess.run([iris, "token", "create", "--user", "bench", "--name", "bench", "--scopes", "read,write,admin",
                            "--data", str(data)], text=True, check=True, capture_output=True).stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([iris, "serve", "--port", str(port), "--data", str(data), "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=dict(os.environ, IRIS_AUTH_BCRYPT_COST="10"))
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        classes = sorted(folder.name for folder in Path(photoset).iterdir() if folder.is_dir())[:4]
        project = call(base, "POST", "/api/v1/projects", token, {"name": "Label Studio bench", "label_set": classes})["id"]
        tasks = []
        for name in classes:
            photos = sorted((Path(photoset) / name).glob("*.jpg"))
            for photo in photos[:4]:
                upload(base, token, project, photo, name)
            tasks += [upload(base, token, project, photo) for photo in photos[4:8]]
        # Every analysis done, so the tasks' embeddings are stored as they are for photos in a project.
        deadline = time.time() + 600
        while call(base, "GET", "/api/v1/jobs?state=queued&limit=1", token)["items"] or \
                call(base, "GET", "/api/v1/jobs?state=running&limit=1", token)["items"]:
            assert time.time() < deadline, "analyses did not finish in 600 s"
            time.sleep(0.5)
        for name in classes:
            call(base, "POST", f"/api/v1/projects/{project}/learner/classes", token, {"name": name})
        config = CONFIG.format("".join(f'<Choice value="{name}"/>' for name in classes))
        body = {"tasks": [{"id": index, "data": {"image": f"{base}/api/v1/images/{sha}/original"}}
                          for index, sha in enumerate(tasks[:16])], "label_config": config, "project": "1.1"}
        basic = base64.b64encode(f"label-studio:{token}".encode()).decode()

        def timed(path, payload, authorization):
            request = urllib.request.Request(base + path, data=json.dumps(payload).encode(), method="POST")
            request.add_header("Authorization", authorization)
            request.add_header("Content-Type", "application/json")
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.loads(response.read())
            return time.perf_counter() - started, answer

        # The baseline: the same 16 photos through Iris's own classify route, interleaved with /predict.
        predict_path = f"/api/v1/projects/{project}/label-studio/predict"
        classify_path = f"/api/v1/projects/{project}/learner/classify"
        first, answer = timed(predict_path, body, "Basic " + basic)
        timed(classify_path, {"images": tasks[:16]}, "Bearer " + token)
        predicts, classifies = [], []
        for _ in range(20):
            seconds, answer = timed(predict_path, body, "Basic " + basic)
            predicts.append(seconds)
            classifies.append(timed(classify_path, {"images": tasks[:16]}, "Bearer " + token)[0])
        right = sum(1 for index, result in enumerate(answer["results"])
                    if result and result[0]["result"][0]["value"]["choices"][0] == classes[index // 4])
        ratios = sorted(p / c for p, c in zip(predicts, classifies))
        predicts.sort()
        print("== Label Studio /predict (16 tasks, Iris image URLs, the learner of 4 classes × 4 photos; "
              "20 requests interleaved with POST …/learner/classify of the same 16 photos)")
        print(f"   first request {first * 1000:.0f} ms; then median {statistics.median(predicts) * 1000:.0f} ms "
              f"(range {predicts[0] * 1000:.0f}–{predicts[-1] * 1000:.0f} ms), {16 / statistics.median(predicts):.0f} tasks/s; "
              f"classify median {statistics.median(classifies) * 1000:.0f} ms; /predict ÷ classify "
              f"{statistics.median(ratios):.2f}× (range {ratios[0]:.2f}–{ratios[-1]:.2f}); "
              f"{right}/16 predictions name the photo's folder")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
