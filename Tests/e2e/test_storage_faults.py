"""Iris on S3 when the S3 server goes away: a private moto server (no authentication, so it
can be restarted with the same settings) is killed while uploads arrive, and Iris is killed
with SIGKILL in the middle of multipart uploads."""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import IrisServer, free_port, make_jpeg, variant

ROOT = Path(__file__).resolve().parents[2]
S3_PYTHON = ROOT / ".venv-s3" / "bin" / "python"
pytestmark = pytest.mark.skipif(not S3_PYTHON.exists() and os.environ.get("IRIS_TEST_REQUIRE_S3") != "1",
                                reason="no S3 server environment (scripts/python-env.sh s3)")

BOTO = """
import boto3, sys, time
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
if sys.argv[2] == "bucket":
    s3.create_bucket(Bucket="faults")
elif sys.argv[2] == "watch":
    # Says "open" as soon as a multipart upload is under way (or "none" after 120 s).
    deadline = time.time() + 120
    while not s3.list_multipart_uploads(Bucket="faults").get("Uploads") and time.time() < deadline:
        time.sleep(0.02)
    print("open" if time.time() < deadline else "none", flush=True)
else:
    print(len(s3.list_multipart_uploads(Bucket="faults").get("Uploads", [])))
"""


class Moto:
    def __init__(self, port):
        self.port, self.url, self.process = port, f"http://127.0.0.1:{port}", None

    def start(self):
        self.process = subprocess.Popen([str(S3_PYTHON.parent / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(self.url, timeout=5)
                break
            except requests.RequestException:  # not listening yet, or slow to answer its first request
                time.sleep(0.1)
        self.boto("bucket")

    def boto(self, action):
        return subprocess.run([str(S3_PYTHON), "-c", BOTO, self.url, action], check=True, capture_output=True,
                              text=True).stdout.strip()

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def storage_env(moto):
    return {"IRIS_STORAGE_BACKEND": "s3", "IRIS_STORAGE_S3_ENDPOINT": moto.url, "IRIS_STORAGE_S3_BUCKET": "faults",
            "IRIS_STORAGE_S3_ACCESS_KEY": "k", "IRIS_STORAGE_S3_SECRET_KEY": "s", "IRIS_STORAGE_S3_TIMEOUT": "3",
            "IRIS_ANALYSIS_AUTO_MODELS": ""}


@pytest.fixture
def moto_server():
    moto = Moto(free_port())
    moto.start()
    yield moto
    if moto.process.poll() is None:
        moto.kill()


@pytest.fixture
def s3_iris(workdir, moto_server, monkeypatch):
    """`iris serve` on SQLite with its blobs on the private moto (its set-up commands too)."""
    env = storage_env(moto_server)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    server = IrisServer(workdir / "data", "")
    server.start(extra_env=env)
    yield server
    server.stop()


def test_uploads_while_s3_is_down_are_503s_that_commit_nothing_and_work_again_when_it_returns(workdir, moto_server, s3_iris):
    server = s3_iris
    project = server.create_project("Outage")
    base = make_jpeg(workdir / "base.jpg", 640, 480)

    def send(index):
        return server.http.post(server.url(f"/api/v1/projects/{project}/images"),
                                files={"file": (f"{index}.jpg", variant(base, index), "image/jpeg")}, timeout=120)

    def count():
        return len(server.http.get(server.url(f"/api/v1/projects/{project}/images?limit=100"), timeout=10).json()["items"])

    assert all(send(index).status_code == 201 for index in range(3))
    # act: the S3 server dies
    moto_server.kill()
    refused = [send(index) for index in range(3, 6)]
    # check: each a 503 problem naming no address, nothing committed, nothing left in scratch
    for response in refused:
        assert response.status_code == 503, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
        assert "storage is not available" in response.text and "127.0.0.1" not in response.text
    assert count() == 3
    assert not [path for path in (workdir / "data" / "tmp").rglob("*") if path.is_file()]
    assert server.http.get(server.url("/healthz"), timeout=5).status_code == 200
    # The S3 server is back (empty: moto keeps nothing), and the same uploads go through.
    moto_server.start()
    assert all(send(index).status_code == 201 for index in range(3, 6))
    assert count() == 6


def test_kill_9_during_multipart_uploads_loses_nothing_acknowledged_and_cleanup_leaves_no_parts(workdir, moto_server, s3_iris):
    server = s3_iris
    project = server.create_project("Big")
    acknowledged = {}

    def photos(attempt):
        """Uncompressed TIFFs of about 60 MB (eight parts each), new bytes for each attempt."""
        paths = []
        for index in range(3):
            path = workdir / f"big{attempt}-{index}.tif"
            subprocess.run(["vips", "black", str(path), "4500", str(4500 + 10 * attempt + index), "--bands", "3"], check=True)
            paths.append(path)
        return paths

    def send(path):
        try:
            with open(path, "rb") as file:
                response = requests.post(server.url(f"/api/v1/projects/{project}/images"), headers=server.auth,
                                         files={"file": (path.name, file, "image/tiff")}, timeout=300)
            if response.status_code == 201:
                acknowledged[response.json()["sha256"]] = path.read_bytes()
        except requests.ConnectionError:
            pass  # the server was killed under it: not acknowledged

    # act: SIGKILL as soon as a multipart upload is under way in S3 (again, if the kill came
    # after the uploads had all finished)
    for attempt in range(3):
        big = photos(attempt)
        watcher = subprocess.Popen([str(S3_PYTHON), "-c", BOTO, moto_server.url, "watch"], stdout=subprocess.PIPE, text=True)
        time.sleep(1)  # the watcher is polling before the uploads begin
        threads = [threading.Thread(target=send, args=(path,)) for path in big]
        for thread in threads:
            thread.start()
        assert watcher.stdout.readline().strip() == "open", "no multipart upload started"
        server.kill()
        watcher.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=120)
        if int(moto_server.boto("uploads")) >= 1:
            break
        server.start()
    assert int(moto_server.boto("uploads")) >= 1, "the kill never landed during a multipart upload"
    # check: restarted, every acknowledged upload reads back whole; the cleanup leaves no part behind
    server.start()
    for digest, data in acknowledged.items():
        original = server.http.get(server.url(f"/api/v1/images/{digest}/original"), timeout=60)
        assert original.status_code == 200 and original.content == data
    job = server.http.post(server.url("/api/v1/jobs"), json={"kind": "maintenance.cleanup", "payload": {"min_age_seconds": 0}},
                           timeout=10)
    assert job.status_code == 201, job.text
    deadline = time.time() + 60
    while server.http.get(server.url(f"/api/v1/jobs/{job.json()['id']}"), timeout=10).json()["state"] != "succeeded":
        assert time.time() < deadline, "the cleanup did not finish"
        time.sleep(0.2)
    assert moto_server.boto("uploads") == "0"
