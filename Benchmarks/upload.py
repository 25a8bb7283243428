"""`iris upload` against curl, over loopback, on one release `iris serve` (analysis off, so the
server's work is the upload itself: hashing, decoding, the small thumbnail, the database; and
the per-token upload rate limit lifted).

    python upload.py IRIS WORK PHOTO_FOLDER...

Each round makes two fresh sets of the same photos (every file given a distinct JPEG comment,
so nothing is deduplicated and both sets cost the server the same) and uploads one with curl,
file by file (one process per file, as a shell loop would), and the other with `iris upload`
(4 at a time). Rounds alternate which goes first. Then 1,000 small photos are uploaded with
`iris upload` and the same command is run again: the re-run's time is what resuming a
finished folder costs (its journal and one hash check).
"""
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROUNDS = 3


def variant(data, tag):
    comment = f"iris bench {tag}".encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def make_set(sources, folder, tag):
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    total = 0
    for index, (name, data) in enumerate(sources):
        path = folder / f"{index:04d}-{name}"
        path.write_bytes(variant(data, f"{tag}-{index}"))
        total += path.stat().st_size
    return total


def main(iris, work, *folders):
    work = Path(work)
    sources = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.jpg")):
            sources.append((path.name, path.read_bytes()))
    data = work / "upload-data"
    shutil.rmtree(data, ignore_errors=True)
    # Analysis off, and the per-token upload limit (600 a minute by default) lifted: this
    # measures the transport, not the limiter (which `iris upload` waits out by its Retry-After).
    env = dict(os.environ, IRIS_ANALYSIS_AUTO_MODELS="", IRIS_LOG_LEVEL="warning", IRIS_UPLOAD_RATE_LIMIT="1000000")
    subprocess.run([iris, "user", "create", "bench", "--admin", "--password-stdin", "--data", str(data)],
                   input="bench-password\n", text=True, check=True, env=env, capture_output=True)
    token = subprocess.run([iris, "token", "create", "--user", "bench", "--name", "bench", "--scopes", "read,write",
                            "--data", str(data)], text=True, check=True, env=env, capture_output=True
                           ).stdout.strip().splitlines()[-1]
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen([iris, "serve", "--port", str(port), "--data", str(data)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if subprocess.run(["curl", "-sf", base + "/readyz"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        auth = ["-H", f"Authorization: Bearer {token}"]

        def project(name):
            out = subprocess.run(["curl", "-sf", *auth, "-H", "content-type: application/json", "-d",
                                  f'{{"name": "{name}"}}', base + "/api/v1/projects"], capture_output=True, text=True,
                                 check=True).stdout
            return int(out.split('"id":')[1].split(",")[0])

        def by_curl(folder, pid):
            started = time.time()
            for path in sorted(folder.iterdir()):
                subprocess.run(["curl", "-sf", "-o", "/dev/null", *auth, "-F", f"file=@{path}",
                                f"{base}/api/v1/projects/{pid}/images"], check=True)
            return time.time() - started

        def by_iris(folder, name, state):
            started = time.time()
            subprocess.run([iris, "upload", str(folder), "--server", base, "--project", name, "--state", str(state)],
                           env=dict(env, IRIS_TOKEN=token), check=True, capture_output=True)
            return time.time() - started

        print(f"== upload ({len(sources)} photos a set, {ROUNDS} rounds; curl one file at a time against "
              f"`iris upload` 4 at a time; server analysis off)")
        ratios = []
        for round_ in range(ROUNDS):
            size = make_set(sources, work / "set-curl", f"c{round_}")
            make_set(sources, work / "set-iris", f"i{round_}")
            curl_project, iris_name = project(f"curl {round_}"), f"iris {round_}"
            project(iris_name)
            if round_ % 2 == 0:
                curl_s = by_curl(work / "set-curl", curl_project)
                iris_s = by_iris(work / "set-iris", iris_name, work / f"state-{round_}")
            else:
                iris_s = by_iris(work / "set-iris", iris_name, work / f"state-{round_}")
                curl_s = by_curl(work / "set-curl", curl_project)
            ratios.append(curl_s / iris_s)
            print(f"   round {round_ + 1}: curl {curl_s:.2f} s ({len(sources) / curl_s:.1f} photos/s, "
                  f"{size / 1e6 / curl_s:.1f} MB/s), iris upload {iris_s:.2f} s ({len(sources) / iris_s:.1f} photos/s): "
                  f"{curl_s / iris_s:.2f}x")
        print(f"iris upload / curl: median {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}; "
              f"target >= 1.5x)")

        small = [(name, content) for name, content in sources if len(content) < 100_000]
        thousand = [small[index % len(small)] for index in range(1000)]
        make_set(thousand, work / "set-1000", "k")
        project("thousand")
        first = by_iris(work / "set-1000", "thousand", work / "state-1000")
        reruns = [by_iris(work / "set-1000", "thousand", work / "state-1000") for _ in range(3)]
        print(f"1,000 photos: first upload {first:.2f} s; run again (nothing to send) median "
              f"{statistics.median(reruns):.3f} s of {', '.join(f'{r:.3f}' for r in reruns)} (target < 1 s)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main(*sys.argv[1:])
