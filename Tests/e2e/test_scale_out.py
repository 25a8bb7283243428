"""Iris on many machines, on one machine: PostgreSQL, the S3 server, two `iris serve`
processes on two ports (each with its own data folder, as on two machines) and two
`iris worker` processes. Uploads from 8 concurrent clients spread over both servers; an
event stream on server A sees the uploads made through server B; one server and one worker
are killed with SIGKILL in the middle. Afterwards every acknowledged upload reads back
byte-identical from the surviving server, and every job has run to success exactly once."""

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import IRIS_BIN, IrisServer, free_port, make_jpeg, postgres_database, sha256, variant

S3 = os.environ.get("IRIS_TEST_S3_URL")
pytestmark = pytest.mark.skipif(
    not S3 and os.environ.get("IRIS_TEST_REQUIRE_S3") != "1", reason="no S3 test server")


def storage_env():
    return {
        "IRIS_STORAGE_BACKEND": "s3", "IRIS_STORAGE_S3_ENDPOINT": S3,
        "IRIS_STORAGE_S3_BUCKET": os.environ["IRIS_TEST_S3_BUCKET"],
        "IRIS_STORAGE_S3_PREFIX": f"scale-{uuid.uuid4().hex[:8]}",
        "IRIS_STORAGE_S3_ACCESS_KEY": os.environ["IRIS_TEST_S3_ACCESS_KEY"],
        "IRIS_STORAGE_S3_SECRET_KEY": os.environ["IRIS_TEST_S3_SECRET_KEY"],
        "IRIS_ANALYSIS_AUTO_MODELS": "", "IRIS_JOBS_LEASE_SECONDS": "3", "IRIS_JOBS_POLL_SECONDS": "0.2",
        "IRIS_UPLOAD_RATE_LIMIT": "100000",
    }


class Worker:
    def __init__(self, data_dir, database_url, env, name):
        data_dir.mkdir(parents=True, exist_ok=True)
        self.health = free_port()
        env = {**env, "IRIS_JOBS_HEALTH_PORT": str(self.health)}
        self.log_path = data_dir.parent / f"worker-{name}.log"
        self.process = subprocess.Popen(
            [IRIS_BIN, "worker", "--data", str(data_dir), "--database", database_url,
             "--queues", "images,ml,default", "--concurrency", "2"],
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT, env=dict(os.environ, **env))

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)


def test_two_servers_two_workers_on_postgresql_and_s3_survive_kill_9(workdir, monkeypatch):
    url, drop = postgres_database()
    env = storage_env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the iris commands that make the administrator use them too
    servers, workers = [], []
    try:
        # arrange: two servers that run no jobs, two workers, one project
        for name in ("a", "b"):
            (workdir / name).mkdir()
        a = IrisServer(workdir / "a" / "data", url)
        a.start(extra_env={**env, "IRIS_JOBS_QUEUES": ""})
        b = IrisServer(workdir / "b" / "data", url, provision=False)
        b.auth = a.auth
        b.http.headers.update(a.auth)
        b.start(extra_env={**env, "IRIS_JOBS_QUEUES": ""})
        servers = [a, b]
        workers = [Worker(workdir / f"w{i}" / "data", url, env, f"w{i}") for i in range(2)]
        project = a.create_project("Everywhere")

        # An event stream on A, read in the background.
        seen = []
        stream = requests.get(a.url("/api/v1/events"), headers={**a.auth, "Accept": "text/event-stream"},
                              stream=True, timeout=120)
        assert stream.status_code == 200

        def read():
            try:
                for line in stream.iter_lines():
                    if line.startswith(b"data: "):
                        seen.append(json.loads(line[6:]))
            except Exception:
                pass
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(1.5)  # the stream's start is "from now on"

        # act: 8 clients upload 32 photos, alternating servers; B and a worker die halfway
        base = make_jpeg(workdir / "base.jpg", 800, 600)
        photos = [variant(base, index) for index in range(32)]
        acknowledged = {}
        through_b = set()
        lock = threading.Lock()
        killed = threading.Event()

        def upload(index):
            for server in ([b, a] if index % 2 else [a, b]):
                if server is b and killed.is_set():
                    continue
                try:
                    response = requests.post(
                        server.url(f"/api/v1/projects/{project}/images"), headers=a.auth,
                        files={"file": (f"{index}.jpg", photos[index], "image/jpeg")}, timeout=60)
                except requests.ConnectionError:
                    continue  # that server is gone: the client tries the other
                if response.status_code in (200, 201):
                    with lock:
                        acknowledged[response.json()["sha256"]] = photos[index]
                        if server is b:
                            through_b.add(response.json()["sha256"])
                    return
            raise AssertionError(f"photo {index} was not accepted by either server")

        def kill_halfway():
            while len(acknowledged) < 12:
                time.sleep(0.05)
            b.kill()
            workers[0].process.send_signal(signal.SIGKILL)
            workers[0].process.wait(timeout=10)
            killed.set()

        killer = threading.Thread(target=kill_halfway)
        killer.start()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(upload, range(32)))
        killer.join(timeout=60)

        # check: the surviving worker answers its probes
        assert requests.get(f"http://127.0.0.1:{workers[1].health}/readyz", timeout=5).status_code == 200
        # every acknowledged upload reads back byte-identical from the survivor
        assert killed.is_set() and len(acknowledged) == 32 and through_b
        for digest, data in acknowledged.items():
            original = a.http.get(a.url(f"/api/v1/images/{digest}/original"), timeout=30)
            assert original.status_code == 200 and original.content == data and sha256(original.content) == digest

        # every job finishes, each with exactly one successful run, on the surviving worker if need be
        deadline = time.time() + 120
        while True:
            jobs = a.http.get(a.url("/api/v1/jobs?limit=200"), timeout=10).json()["items"]
            if jobs and all(job["state"] in ("succeeded", "dead", "failed", "cancelled") for job in jobs):
                break
            assert time.time() < deadline, [(job["kind"], job["queue"], job["state"]) for job in jobs if job["state"] != "succeeded"]
            time.sleep(0.5)
        for job in jobs:
            record = a.http.get(a.url(f"/api/v1/jobs/{job['id']}"), timeout=10).json()
            outcomes = [run["outcome"] for run in record.get("runs", [])]
            assert record["state"] == "succeeded" and outcomes.count("succeeded") == 1, record
        for digest in acknowledged:
            thumbnail = a.http.get(a.url(f"/api/v1/images/{digest}/thumbnail?size=1024"), timeout=30)
            assert thumbnail.status_code == 200, digest

        # the stream on A carried the uploads made through B
        deadline = time.time() + 10
        while time.time() < deadline and not through_b <= {e.get("subject") for e in seen if e.get("action") == "image.uploaded"}:
            time.sleep(0.2)
        uploaded = {event.get("subject") for event in seen if event.get("action") == "image.uploaded"}
        assert through_b <= uploaded, (len(through_b), len(uploaded))
        stream.close()
    finally:
        for worker in workers:
            worker.stop()
        for server in servers:
            server.stop()
        drop()
