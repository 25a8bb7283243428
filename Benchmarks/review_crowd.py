"""A simulated crowd and a reviewer: how many wrong labels the review queue's `suspect` order
leaves after a reviewer has looked at 30% of the crowd's photos, against the `newest` order,
in the same run.

    python review_crowd.py IRIS WORK PHOTOSET

PHOTOSET is the photo evaluation set (one folder of different photographs per class). Two
projects get the same photos: the first 4 of each class (by name) uploaded by the owner with
their true label (the learner's classes are made from them), the rest through a contributor
link of a project that reviews link uploads, with 15% of the labels wrong (another class,
chosen by a seeded generator, the same photos wrong in both projects). A reviewer who knows
the true labels then takes the queue 10 photos at a time, in `suspect` order in one project and
`newest` order in the other, accepting each with its true label (so every wrong label looked
at is corrected and the learner learns from it), until they have looked at 30% of the crowd's
photos. Reported: the wrong labels in all, and how many of them each order left unseen.
"""
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SEEDS_PER_CLASS = 4
WRONG = 0.15
LOOKED_AT = 0.30
BATCH = 10


class Server:
    def __init__(self, iris, data, env):
        self.port = 19000 + os.getpid() % 1000
        self.base = f"http://127.0.0.1:{self.port}"
        subprocess.run([iris, "user", "create", "bench", "--admin", "--password-stdin", "--data", str(data)],
                       input="bench-password\n", text=True, check=True, env=env, capture_output=True)
        self.token = subprocess.run(
            [iris, "token", "create", "--user", "bench", "--name", "bench", "--scopes", "read,write,admin",
             "--data", str(data)], text=True, check=True, env=env, capture_output=True).stdout.strip().splitlines()[-1]
        self.process = subprocess.Popen([iris, "serve", "--port", str(self.port), "--data", str(data)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            if subprocess.run(["curl", "-sf", self.base + "/readyz"], capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        sys.exit("review_crowd: the server did not start")

    def call(self, method, path, body=None):
        request = urllib.request.Request(
            self.base + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as response:
            text = response.read()
            return json.loads(text) if text else {}

    def upload(self, path, label, project=None, code=None):
        target = f"/api/v1/projects/{project}/images" if project else f"/api/v1/links/{code}/images"
        headers = ["-H", f"Authorization: Bearer {self.token}"] if project else []
        out = subprocess.run(["curl", "-sf", *headers, "-F", f"file=@{path}", "-F", f"label={label}",
                              self.base + target], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"review_crowd: uploading {path} failed")

    def settle(self):
        """Waits until no job is queued or running."""
        for _ in range(3600):
            queues = self.call("GET", "/api/v1/queues")["items"]
            if all(q["counts"].get("queued", 0) + q["counts"].get("running", 0) == 0 for q in queues):
                return
            time.sleep(1)
        sys.exit("review_crowd: the jobs did not finish")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(iris, work, photoset):
    classes = sorted(p.name for p in Path(photoset).iterdir() if p.is_dir())
    photos = {c: sorted(str(p) for p in (Path(photoset) / c).iterdir() if p.suffix.lower() in (".jpg", ".png"))
              for c in classes}
    seeds = [(p, c) for c in classes for p in photos[c][:SEEDS_PER_CLASS]]
    crowd = [(p, c) for c in classes for p in photos[c][SEEDS_PER_CLASS:]]
    chance = random.Random(29)
    chance.shuffle(crowd)
    given = {}
    for path, truth in crowd:
        given[path] = chance.choice([c for c in classes if c != truth]) if chance.random() < WRONG else truth
    truth_of = {sha256(p): c for p, c in crowd}
    wrong = {sha256(p) for p, c in crowd if given[p] != c}

    data = Path(work) / "review-crowd"
    shutil.rmtree(data, ignore_errors=True)
    env = dict(os.environ, IRIS_ANALYSIS_AUTO_MODELS="mobilenet-v2", IRIS_LOG_LEVEL="warning",
               IRIS_UPLOAD_RATE_LIMIT="1000000")
    server = Server(iris, data, env)
    try:
        projects = {}
        for order in ["suspect", "newest"]:
            project = server.call("POST", "/api/v1/projects", {"name": f"crowd {order}", "label_set": classes})["id"]
            for path, truth in seeds:
                server.upload(path, truth, project=project)
            projects[order] = project
        server.settle()
        for project in projects.values():
            for name in classes:
                server.call("POST", f"/api/v1/projects/{project}/learner/classes", {"name": name, "from_label": name})
            server.call("PATCH", f"/api/v1/projects/{project}", {"review": "links"})
            code = server.call("POST", f"/api/v1/projects/{project}/links", {"name": "crowd"})["code"]
            for path, _ in crowd:
                server.upload(path, given[path], code=code)
        server.settle()
        budget = round(LOOKED_AT * len(crowd))
        unseen = {}
        for order, project in projects.items():
            seen = set()
            while len(seen) < budget:
                queue = server.call("GET", f"/api/v1/projects/{project}/review?order={order}&limit={BATCH}")["items"]
                batch = [item for item in queue if item["sha256"] not in seen][:budget - len(seen)]
                if not batch:
                    break
                seen.update(item["sha256"] for item in batch)
                server.call("POST", f"/api/v1/projects/{project}/review", {"decisions": [
                    {"sha256": item["sha256"], "action": "accept", "labels": [truth_of[item["sha256"]]]}
                    for item in batch]})
            unseen[order] = len(wrong - seen)
        print(f"== review: {len(crowd)} crowd photos of {len(classes)} classes, {len(wrong)} labelled wrong "
              f"({WRONG:.0%}); a reviewer looks at {budget} ({LOOKED_AT:.0%}), {BATCH} at a time")
        for order in ["suspect", "newest"]:
            print(f"{order:8} wrong labels left unseen: {unseen[order]:4} of {len(wrong)} "
                  f"({unseen[order] / max(len(wrong), 1):.0%})")
        print(json.dumps({"crowd": len(crowd), "wrong": len(wrong), "looked_at": budget,
                          "left_suspect": unseen["suspect"], "left_newest": unseen["newest"]}))
    finally:
        server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
