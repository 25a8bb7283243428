"""Search speed: Iris's vector index against FAISS on the same vectors, and Iris's HTTP search
end to end.

    python search_speed.py IRIS DATA WORK [VECTORS]

DATA is a data folder holding real embeddings (the quality benchmark's). `iris search bench`
makes VECTORS (default 1,000,000) synthetic vectors shaped like them, times its exact and
clustered (IVF) searches, and writes the vectors, the queries and its exact answers to WORK;
then FAISS (faiss-cpu, 2 threads) indexes the same vectors in IndexFlatIP and IndexHNSWFlat and
answers the same queries one at a time. Last, `iris serve` on DATA answers similar-photo and
text searches over HTTP, timed from the client, one at a time.
"""
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import urllib.request

import faiss
import numpy as np

THREADS = 2


def percentiles(milliseconds):
    ordered = sorted(milliseconds)

    def at(p):
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    rate = len(ordered) / (sum(ordered) / 1000)
    return f"p50 {at(0.5):.2f} ms, p95 {at(0.95):.2f} ms, p99 {at(0.99):.2f} ms, {rate:.1f} queries/s"


def timed_search(index, queries, k=10):
    times, found = [], []
    for row in queries:
        started = time.perf_counter()
        _, ids = index.search(row[None, :], k)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids[0])
    return times, found


def recall(found, truth):
    return sum(len(set(a) & set(b)) for a, b in zip(found, truth)) / (10 * len(truth))


def faiss_side(work, dimension):
    faiss.omp_set_num_threads(THREADS)
    vectors = np.fromfile(os.path.join(work, "vectors.f32"), dtype=np.float32).reshape(-1, dimension)
    queries = np.fromfile(os.path.join(work, "queries.f32"), dtype=np.float32).reshape(-1, dimension)
    faiss.normalize_L2(vectors)  # in place: the vectors are gigabytes
    faiss.normalize_L2(queries)
    iris_exact = [[int(x) for x in line.split()] for line in open(os.path.join(work, "exact.txt"))]
    started = time.perf_counter()
    flat = faiss.IndexFlatIP(dimension)
    flat.add(vectors)
    print(f"FAISS IndexFlatIP: built in {time.perf_counter() - started:.1f} s")
    times, truth = timed_search(flat, queries)
    flat_rate = len(times) / (sum(times) / 1000)
    print(f"FAISS IndexFlatIP, {THREADS} threads: {percentiles(times)}; Iris's exact answers agree on "
          f"{recall(iris_exact, truth):.3f} of the top 10")
    # FAISS's strength: many queries at once (one matrix product); Iris answers one at a time.
    started = time.perf_counter()
    flat.search(queries, 10)
    batched = time.perf_counter() - started
    print(f"FAISS IndexFlatIP, all {len(queries)} queries in one batch: {len(queries) / batched:.1f} queries/s "
          f"(a single query runs on one thread in FAISS's flat search)")
    del flat
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 40
    hnsw.add(vectors)
    print(f"FAISS IndexHNSWFlat (M 32, efConstruction 40): built in {time.perf_counter() - started:.1f} s")
    rows = []
    for ef in [16, 32, 64, 128, 256]:
        hnsw.hnsw.efSearch = ef
        times, found = timed_search(hnsw, queries)
        rows.append((ef, recall(found, truth), times))
        print(f"FAISS HNSW efSearch {ef}: recall@10 {recall(found, truth):.3f}, {percentiles(times)}")
    return flat_rate, rows


def http_side(iris, data, work):
    """Times similar-photo and text searches over HTTP on the real photos, one request at a time."""
    port = 18600 + random.randrange(300)
    name = f"speed{random.randrange(10**6)}"
    subprocess.run([iris, "user", "create", name, "--admin", "--password-stdin", "--data", data,
                    "--log-level", "warning"], input="speed-bench-password\n", text=True, check=True,
                   stdout=subprocess.DEVNULL)
    token = subprocess.run([iris, "token", "create", "--user", name, "--name", "speed", "--data", data,
                            "--log-level", "warning"], capture_output=True, text=True, check=True).stdout.split()[-1]
    server = subprocess.Popen([iris, "serve", "--data", data, "--port", str(port), "--log-level", "warning"],
                              env=dict(os.environ, IRIS_JOBS_QUEUES=""), stdout=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"

        def get(path):
            request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)

        for _ in range(100):
            try:
                get("/api/v1/me")
                break
            except OSError:
                time.sleep(0.2)
        with sqlite3.connect(os.path.join(data, "iris.sqlite")) as db:
            hashes = [row[0] for row in db.execute("SELECT sha256 FROM embeddings ORDER BY sha256")]
        get(f"/api/v1/images/{hashes[0]}/similar")  # builds the index
        times = []
        for sha256 in hashes[:200]:
            started = time.perf_counter()
            get(f"/api/v1/images/{sha256}/similar?limit=10")
            times.append((time.perf_counter() - started) * 1000)
        print(f"HTTP similar photos over {len(hashes)} real embeddings: {percentiles(times)}")
        words = ["dog", "bird", "a boat on the water", "musical instrument", "something to eat", "stop", "mammal",
                 "tool", "a farm animal", "furniture"]
        get("/api/v1/search?q=warm+up")  # loads WordNet
        time.sleep(8)  # the sentence model loads in the background
        times = []
        for round_ in range(10):
            for text in words:
                started = time.perf_counter()
                get("/api/v1/search?limit=24&q=" + urllib.request.quote(text))
                times.append((time.perf_counter() - started) * 1000)
        print(f"HTTP text search over {len(hashes)} photos ({len(words)} queries × 10; repeated queries' "
              f"embeddings are cached): {percentiles(times)}")
    finally:
        server.terminate()
        server.wait()


def main(iris, data, work, count="1000000"):
    os.makedirs(work, exist_ok=True)
    print(f"== search speed ({count} vectors; Iris and FAISS on the same vectors and queries, {THREADS} threads)")
    output = subprocess.run([iris, "search", "bench", "--data", data, "--vectors", count, "--queries", "200",
                             "--threads", str(THREADS), "--out", work, "--log-level", "warning"],
                            capture_output=True, text=True, check=True).stdout
    print(output, end="")
    dimension = int(output.split(" × ")[1].split()[0])
    exact_rate = float(output.split("exact search")[1].split("ms, ")[-1].split()[0].replace(",", ""))
    flat_rate, hnsw = faiss_side(work, dimension)
    print(f"Iris exact ÷ FAISS flat, queries per second: {exact_rate / flat_rate:.2f} (target ≥ 0.7)")
    for name in ["vectors.f32", "queries.f32"]:
        os.remove(os.path.join(work, name))
    http_side(iris, data, work)


if __name__ == "__main__":
    main(*sys.argv[1:])
