#!/usr/bin/env python3
"""Storage benchmarks (`make bench`): Iris on S3 against Iris on disk, and `iris storage
migrate` against a plain boto3 upload, all in the same run. The S3 server is moto on
loopback (scripts/s3-test-server.sh), so these ratios measure Iris's S3 path (signing,
streaming, the cache), not a network.

1. Ingest: the same 4 MP photos uploaded over HTTP to a release `iris serve` on disk and on
   S3 (3 interleaved pairs, timed until the 1024 px thumbnail jobs are done): S3 ÷ disk,
   target ≥ 0.8×.
2. Thumbnail reads with a warm cache: every 256 px thumbnail read twice from each server, the
   second pass timed: S3 ÷ disk, target ≥ 0.9×.
3. Migration: the disk server's data folder moved with `iris storage migrate --to s3` (every
   blob copied, then read back from S3 and its SHA-256 checked), in MB/s, against boto3
   uploading the same blob files to another prefix with no check.

Usage: Benchmarks/storage.py IRIS_BIN PHOTO_DIR WORK_DIR   (IRIS_TEST_S3_* from scripts/s3-test-server.sh)
"""

import http.client
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ingest import Server, split, timed_in_parallel, upload_all, variant, WORKERS  # noqa: E402

import boto3  # noqa: E402

PAIRS = 3
VARIANTS = 8


def s3_env(prefix):
    return {
        "IRIS_STORAGE_BACKEND": "s3", "IRIS_STORAGE_S3_ENDPOINT": os.environ["IRIS_TEST_S3_URL"],
        "IRIS_STORAGE_S3_BUCKET": os.environ["IRIS_TEST_S3_BUCKET"], "IRIS_STORAGE_S3_PREFIX": prefix,
        "IRIS_STORAGE_S3_ACCESS_KEY": os.environ["IRIS_TEST_S3_ACCESS_KEY"],
        "IRIS_STORAGE_S3_SECRET_KEY": os.environ["IRIS_TEST_S3_SECRET_KEY"],
    }


def ingest(binary, files, work, env):
    """Seconds to upload `files` with 2 clients and finish the thumbnail jobs; the server and its data folder."""
    data = work / f"data-{uuid.uuid4().hex[:6]}"
    server = Server(binary, data, extra_env=env)
    start = time.perf_counter()
    upload_all(server, files)
    server.wait_for_jobs(queues=("images",))
    return time.perf_counter() - start, server, data


def read_thumbnails(server):
    """Seconds to read every 256 px thumbnail of the project once, with 2 clients."""
    items = server.request("GET", f"/api/v1/projects/{server.project}/images?limit=500")[1]["items"]
    hashes = [item["sha256"] for item in items]

    def worker(chunk):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        for digest in chunk:
            connection.request("GET", f"/api/v1/images/{digest}/thumbnail?size=256", headers=server.auth)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
        connection.close()
    return timed_in_parallel(worker, split(hashes, WORKERS)), len(hashes)


def main():
    binary, photo_dir, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    work.mkdir(parents=True, exist_ok=True)
    inputs = work / "storage-inputs"
    inputs.mkdir(exist_ok=True)
    files = []
    for photo in sorted(photo_dir.glob("*.jpg")):
        for index in range(VARIANTS):
            path = inputs / f"{photo.stem}-{index}.jpg"
            path.write_bytes(variant(photo.read_bytes(), index))
            files.append(path)
    print(f"== storage ({len(files)} photos of 4 MP, {WORKERS} clients; S3 is moto on loopback)")
    ingest_pairs, read_pairs = [], []
    kept = None
    for round_index in range(PAIRS):
        disk_seconds, disk_server, disk_data = ingest(binary, files, work, {})
        s3_seconds, s3_server, s3_data = ingest(binary, files, work, s3_env(f"bench-{uuid.uuid4().hex[:8]}"))
        ingest_pairs.append((disk_seconds, s3_seconds))
        for server in (disk_server, s3_server):
            read_thumbnails(server)  # warm: the S3 server's cache now holds every thumbnail
        disk_read, count = read_thumbnails(disk_server)
        s3_read, _ = read_thumbnails(s3_server)
        read_pairs.append((disk_read, s3_read))
        disk_server.stop()
        s3_server.stop()
        shutil.rmtree(s3_data, ignore_errors=True)
        if round_index == PAIRS - 1:
            kept = disk_data
        else:
            shutil.rmtree(disk_data, ignore_errors=True)
    ratios = sorted(disk / s3 for disk, s3 in ingest_pairs)
    print(f"ingest: disk {len(files) / statistics.median(d for d, _ in ingest_pairs):.1f} images/s, "
          f"S3 {len(files) / statistics.median(s for _, s in ingest_pairs):.1f} images/s → S3 ÷ disk {statistics.median(ratios):.2f} "
          f"(range {ratios[0]:.2f}–{ratios[-1]:.2f}; target ≥ 0.80) {'PASS' if statistics.median(ratios) >= 0.8 else 'FAIL'}")
    ratios = sorted(disk / s3 for disk, s3 in read_pairs)
    print(f"thumbnail reads, warm cache: disk {count / statistics.median(d for d, _ in read_pairs):.0f}/s, "
          f"S3 {count / statistics.median(s for _, s in read_pairs):.0f}/s → S3 ÷ disk {statistics.median(ratios):.2f} "
          f"(range {ratios[0]:.2f}–{ratios[-1]:.2f}; target ≥ 0.90) {'PASS' if statistics.median(ratios) >= 0.9 else 'FAIL'}")

    # Migration of the last disk data folder, against boto3 uploading the same files.
    blobs = [path for path in (kept / "blobs").rglob("*") if path.is_file()]
    total = sum(path.stat().st_size for path in blobs) / 1e6
    config = work / "migrate.json"
    config.write_text("{}")
    env = dict(os.environ, **{**s3_env(f"migrate-{uuid.uuid4().hex[:8]}"), "IRIS_STORAGE_BACKEND": "disk"})
    start = time.perf_counter()
    subprocess.run([binary, "storage", "migrate", "--to", "s3", "--config", str(config), "--data", str(kept),
                    "--log-level", "warning"], check=True, env=env, capture_output=True)
    migrate_seconds = time.perf_counter() - start
    client = boto3.client("s3", endpoint_url=os.environ["IRIS_TEST_S3_URL"], region_name="us-east-1",
                          aws_access_key_id=os.environ["IRIS_TEST_S3_ACCESS_KEY"],
                          aws_secret_access_key=os.environ["IRIS_TEST_S3_SECRET_KEY"])
    prefix = f"boto3-{uuid.uuid4().hex[:8]}/"
    start = time.perf_counter()
    for path in blobs:
        client.upload_file(str(path), os.environ["IRIS_TEST_S3_BUCKET"], prefix + str(path.relative_to(kept / "blobs")))
    boto_seconds = time.perf_counter() - start
    print(f"migrate: {len(blobs)} blobs, {total:.0f} MB: iris storage migrate {total / migrate_seconds:.1f} MB/s "
          f"(copied, then read back from S3 and checked); boto3 upload_file {total / boto_seconds:.1f} MB/s (no check) "
          f"→ {boto_seconds / migrate_seconds:.2f}×")
    shutil.rmtree(kept, ignore_errors=True)


if __name__ == "__main__":
    main()
