"""kill -9 during a stream of uploads, then restart: every upload that got a 2xx is
readable and hashes to its sha256; no row points to a missing blob; every stored image has
its thumbnail job and one analysis job per automatic model (they commit with the row);
stray temporary files are cleaned at start."""

import threading
import time

import requests

from conftest import sha256, variant

# analysis.auto_models' default.
AUTO_MODELS = {"mobilenet-v2", "open-nsfw", "ppocr-v4"}


def test_kill_during_uploads_loses_nothing_acknowledged(server, base_jpeg):
    # setup
    project = server.create_project("crash")
    acknowledged = {}
    lock = threading.Lock()
    stop = threading.Event()

    def uploader(worker):
        index = 0
        while not stop.is_set():
            data = variant(base_jpeg, worker * 100_000 + index)
            index += 1
            try:
                response = requests.post(
                    server.url(f"/api/v1/projects/{project}/images"), headers=server.auth,
                    files={"file": (f"{worker}-{index}.jpg", data, "image/jpeg")}, timeout=10)
            except requests.RequestException:
                continue  # the server is gone; keep trying until told to stop
            if 200 <= response.status_code < 300:
                with lock:
                    acknowledged[response.json()["sha256"]] = sha256(data)

    threads = [threading.Thread(target=uploader, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    # act: let uploads flow, then kill the server mid-stream
    deadline = time.time() + 20
    while time.time() < deadline and len(acknowledged) < 25:
        time.sleep(0.05)
    server.kill()
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    # Something a crash can leave behind: a half-written upload in scratch space.
    scratch = server.data_dir / "tmp"
    (scratch / "leftover.part").write_bytes(b"half an upload")
    server.start()

    # check: everything acknowledged is there, byte for byte
    assert len(acknowledged) >= 25, "too few uploads completed before the kill to test anything"
    for digest, expected in acknowledged.items():
        assert digest == expected
        original = server.http.get(server.url(f"/api/v1/images/{digest}/original"), timeout=10)
        assert original.status_code == 200, digest
        assert sha256(original.content) == digest
    # check: every row the project lists has its blob
    listed = 0
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = server.http.get(server.url(f"/api/v1/projects/{project}/images"), params=params, timeout=10).json()
        for item in page["items"]:
            listed += 1
            original = server.http.get(server.url(item["urls"]["original"]), timeout=10)
            assert original.status_code == 200
            assert sha256(original.content) == item["sha256"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert listed >= len(acknowledged)
    # check: no stored image was left without its follow-up jobs (kill -9 once left 5 of 52 so)
    models = [m["name"] for m in server.http.get(server.url("/api/v1/models"), timeout=10).json()["items"] if m["available"]]
    keys = set()
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = server.http.get(server.url("/api/v1/jobs"), params=params, timeout=10).json()
        keys.update(job.get("idempotency_key") for job in page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    lacking = []
    for digest in acknowledged:
        wanted = [f"thumbnails:{digest}"] + [f"analyze:{digest}:{model}" for model in models if model in AUTO_MODELS]
        lacking += [key for key in wanted if key not in keys]
    assert lacking == [], f"{len(lacking)} follow-up jobs missing: {lacking[:5]}"
    # check: scratch space was emptied at start
    assert list(scratch.iterdir()) == []
