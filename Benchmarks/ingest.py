#!/usr/bin/env python3
"""Iris ingest benchmarks. Every figure is printed with a baseline measured in the same run.

1. Ingest throughput: real photos (4 MP JPEGs from Debian's plasma-workspace-wallpapers)
   uploaded over HTTP to a release `iris serve` (hashing, storage, both thumbnails), against
   `vipsthumbnail` making the same two thumbnails from the same files, both with 2 workers;
   Iris is timed until its 1024 px thumbnail jobs are done too.
   The baseline makes thumbnails only, so Iris runs with automatic analysis off for the ratio;
   a second Iris run with analysis on (every model in `analysis.auto_models` on every upload)
   shows what the models cost, timed until the last analysis has finished.
2. Memory: a 200 MB upload, and 64 concurrent uploads, each on a fresh server; the peak
   resident memory (VmHWM) against the 300 MB budget and the idle server's own. The 64
   uploads run again with analysis on, measured until every analysis has finished.

Usage: Benchmarks/ingest.py IRIS_BIN PHOTO_DIR WORK_DIR [--memory]
(--memory: only the memory runs, part 2.)
"""

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path

WORKERS = 2          # the machine's cores
VARIANTS = 8         # distinct copies of each photo, so nothing is deduplicated
PAIRS = 5            # interleaved rounds of Iris and its baseline; the median ratio is reported
BUDGET_MB = 300


def variant(jpeg, index):
    comment = f"iris bench {index}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, binary, data, analysis=False, extra_env=None):
        self.port = free_port()
        self.data = data
        # An administrator and a token, made with the CLI before the server starts.
        common = ["--data", str(data), "--log-level", "warning"]
        environment = dict(os.environ, **(extra_env or {}))
        subprocess.run([binary, "user", "create", "bench", "--admin", "--password-stdin"] + common,
                       input="bench-password-1\n", text=True, check=True, capture_output=True, env=environment)
        token = subprocess.run([binary, "token", "create", "--user", "bench", "--name", "bench", "--scopes", "read,write,admin"] + common,
                               text=True, check=True, capture_output=True, env=environment).stdout.strip().splitlines()[-1]
        self.auth = {"Authorization": "Bearer " + token}
        self.process = subprocess.Popen(
            [binary, "serve", "--port", str(self.port), "--data", str(data), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=environment if analysis else dict(environment, IRIS_ANALYSIS_AUTO_MODELS=""))
        try:
            for _ in range(300):
                try:
                    if self.request("GET", "/readyz")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            status, body = self.request("POST", "/api/v1/projects", json.dumps({"name": "bench"}).encode(),
                                        {"Content-Type": "application/json"})
            if status != 201:
                raise RuntimeError(f"creating the bench project answered {status}: {body}")
            self.project = body["id"]
        except BaseException:
            self.stop()  # never leave a server behind
            raise

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        connection.request(method, path, body=body, headers={**self.auth, **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, (json.loads(data) if data[:1] == b"{" else data)

    def status(self, field):
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # MB
        return 0.0

    def wait_for_jobs(self, queues=("images", "ml"), timeout=1800):
        """Until the queues have nothing queued or running: the 1024 px thumbnails (`images`)
        and the analyses (`ml`) are jobs that finish after the upload has answered."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, body = self.request("GET", "/api/v1/queues")
            if status == 200 and all(item["counts"].get("queued", 0) + item["counts"].get("running", 0) == 0
                                     for item in body.get("items", []) if item["queue"] in queues):
                return
            time.sleep(0.1)
        raise RuntimeError(f"jobs on {queues} did not finish")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def upload(server, path, connection=None):
    """Streams a multipart upload from disk (never the whole file in memory)."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = path.stat().st_size
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    connection.putrequest("POST", f"/api/v1/projects/{server.project}/images")
    connection.putheader("Authorization", server.auth["Authorization"])
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + size + len(tail)))
    connection.endheaders()
    connection.send(head)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            connection.send(chunk)
    connection.send(tail)
    response = connection.getresponse()
    response.read()
    if own:
        connection.close()
    if response.status not in (200, 201):
        raise RuntimeError(f"upload of {path.name} answered {response.status}")


def timed_in_parallel(worker, chunks):
    """Runs worker(chunk) for every chunk, each in its own thread; returns the wall time."""
    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def split(items, parts):
    return [items[index::parts] for index in range(parts)]


def upload_all(server, files):
    """Uploads `files` with WORKERS clients, each on one kept-alive connection; returns the wall time."""
    def worker(chunk):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        for path in chunk:
            upload(server, path, connection)
        connection.close()
    return timed_in_parallel(worker, split(files, WORKERS))


def time_iris(binary, files, work, analysis=False):
    data = work / f"iris-data-{uuid.uuid4().hex[:6]}"
    server = Server(binary, data, analysis)
    try:
        start = time.perf_counter()
        uploaded = upload_all(server, files)
        server.wait_for_jobs()
        done = time.perf_counter() - start
        return (uploaded, done) if analysis else done
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def time_import(binary, zip_path, count, work):
    """One zip import over HTTP (analysis off); returns the wall time until its thumbnails are made."""
    data = work / f"iris-import-{uuid.uuid4().hex[:6]}"
    server = Server(binary, data)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1800)
        start = time.perf_counter()
        connection.putrequest("POST", f"/api/v1/projects/{server.project}/imports")
        connection.putheader("Authorization", server.auth["Authorization"])
        connection.putheader("Content-Type", "application/zip")
        connection.putheader("Content-Length", str(zip_path.stat().st_size))
        connection.endheaders()
        with open(zip_path, "rb") as file:
            while chunk := file.read(1 << 20):
                connection.send(chunk)
        response = connection.getresponse()
        report = json.loads(response.read())
        server.wait_for_jobs()
        elapsed = time.perf_counter() - start
        connection.close()
        if response.status != 201 or report.get("imported") != count:
            raise RuntimeError(f"the import answered {response.status}: {report}")
        return elapsed
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def time_vipsthumbnail(files, work):
    out = work / "vips-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()

    def worker(chunk):
        names = [str(path) for path in chunk]
        for size in (1024, 256):
            subprocess.run(["vipsthumbnail", "-s", f"{size}x{size}", "-o", f"{out}/%s-{size}.jpg[Q=82,strip]"] + names,
                           check=True, stderr=subprocess.DEVNULL)
    return timed_in_parallel(worker, split(files, WORKERS))


def memory_run(binary, work, label, action, analysis=False):
    data = work / f"mem-{uuid.uuid4().hex[:6]}"
    server = Server(binary, data, analysis)
    try:
        idle = server.status("VmRSS")
        action(server)
        peak = server.status("VmHWM")
        print(f"memory: {label}: peak RSS {peak:.0f} MB (idle {idle:.0f} MB) → {peak / BUDGET_MB:.2f} of the "
              f"{BUDGET_MB} MB budget {'PASS' if peak < BUDGET_MB else 'FAIL'}")
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def main():
    binary, photo_dir, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    memory_only = "--memory" in sys.argv[4:]
    work.mkdir(parents=True, exist_ok=True)
    photos = sorted(photo_dir.glob("*.jpg"))
    files = []
    inputs = work / "inputs"
    inputs.mkdir(exist_ok=True)
    for photo in photos:
        data = photo.read_bytes()
        for index in range(VARIANTS):
            path = inputs / f"{photo.stem}-{index}.jpg"
            path.write_bytes(variant(data, index))
            files.append(path)
    megapixels = []
    for photo in photos:
        header = subprocess.run(["vipsheader", str(photo)], capture_output=True, text=True).stdout
        width, height = header.split(":")[1].split()[0].split("x")
        megapixels.append(int(width) * int(height) / 1e6)
    print(f"inputs: {len(photos)} photos ({min(megapixels):.1f}–{max(megapixels):.1f} MP), {VARIANTS} variants each = {len(files)} files, "
          f"{WORKERS} workers, {PAIRS} interleaved pairs (Iris, then the baseline)")
    if not memory_only:
        throughput(binary, files, work)
    memory(binary, files, work)


def throughput(binary, files, work):
    # A zip of the same files, deflated in class folders as zip tools make them.
    zip_path = work / "import.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, f"{path.stem.split('-')[0]}/{path.name}")
    ingest_pairs, import_pairs = [], []
    for _ in range(PAIRS):
        iris = time_iris(binary, files, work)
        imported = time_import(binary, zip_path, len(files), work)
        vips = time_vipsthumbnail(files, work)
        ingest_pairs.append((iris, vips))
        import_pairs.append((imported, vips))

    def summary(pairs):
        ratios = sorted(vips / iris for iris, vips in pairs)
        rates = [len(files) / iris for iris, _ in pairs]
        baseline = [len(files) / vips for _, vips in pairs]
        return statistics.median(ratios), ratios[0], ratios[-1], statistics.median(rates), statistics.median(baseline)

    ratio, low, high, rate, baseline = summary(ingest_pairs)
    print(f"ingest: iris {rate:.1f} images/s (HTTP upload + SHA-256 + fsync'd storage + 1024 and 256 px thumbnails + DB row, "
          f"analysis off); vipsthumbnail {baseline:.1f} images/s (same two thumbnails) → ratio {ratio:.2f} median "
          f"(range {low:.2f}–{high:.2f}; target ≥ 0.70) {'PASS' if ratio >= 0.7 else 'FAIL'}")
    ratio, low, high, rate, baseline = summary(import_pairs)
    print(f"import: one {zip_path.stat().st_size / 1e6:.0f} MB zip of the {len(files)} files, iris {rate:.1f} images/s "
          f"(archive checked whole, then staged, hashed, stored and thumbnailed; analysis off); "
          f"vipsthumbnail {baseline:.1f} images/s → ratio {ratio:.2f} median (range {low:.2f}–{high:.2f})")
    uploaded, analysed = time_iris(binary, files, work, analysis=True)
    print(f"ingest with automatic analysis on (every model in analysis.auto_models on every upload): uploads took {uploaded:.1f} s "
          f"({len(files) / uploaded:.1f} images/s), the last analysis finished after {analysed:.1f} s "
          f"({len(files) / analysed:.1f} images/s)")


def memory(binary, files, work):
    big = work / "big.tif"
    if not big.exists():
        subprocess.run(["vips", "black", str(big), "8200", "8200", "--bands", "3"], check=True)
    size_mb = big.stat().st_size / 1e6
    memory_run(binary, work, f"one {size_mb:.0f} MB upload (8200×8200 TIFF, ingested with thumbnails)",
               lambda server: upload(server, big))

    concurrent = files[:64] if len(files) >= 64 else (files * 2)[:64]

    def sixty_four(server):
        timed_in_parallel(lambda path: upload(server, path), concurrent)
        count = server.request("GET", f"/api/v1/projects/{server.project}/images?limit=500")[1]["items"]
        assert len(count) == len(set(concurrent)), f"{len(count)} stored of {len(set(concurrent))}"
    memory_run(binary, work, "64 concurrent uploads of 4 MP photos", sixty_four)

    def sixty_four_analysed(server):
        sixty_four(server)
        server.wait_for_jobs()
    memory_run(binary, work, "64 concurrent uploads of 4 MP photos with automatic analysis, until every analysis is done",
               sixty_four_analysed, analysis=True)


if __name__ == "__main__":
    main()
