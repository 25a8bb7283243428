"""Remote models over the Open Inference Protocol v2, against a real peer: Seldon MLServer
(from PyPI) on loopback, serving Iris's own MobileNetV2 graph through onnxruntime in Python
(Tests/e2e/oip/iris_oip_peer.py). Iris prepares the tensor, the peer runs the graph, and the
labels must be the ones the local model gives for the same photo."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import IRIS_BIN, IrisServer, free_port, iris
from pages import accept_confirmation, page_wait
from test_browser import browser, sign_in  # noqa: F401 (a fixture, used by name)

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
PEER = Path(__file__).resolve().parent / "oip"
CAT = ROOT / ".cache" / "photos" / "chelsea.png"


class Peer(str):
    """The peer's base URL; `batches` is the file where `batch-mobilenet` records each request's batch size."""
    batches: Path


@pytest.fixture(scope="module")
def mlserver(tmp_path_factory):
    """MLServer serving `mobilenet` (the graph as is), `slow-mobilenet` (3 s per answer) and
    `batch-mobilenet` (1 s per answer, batch sizes recorded)."""
    python = os.environ.get("IRIS_TEST_OIP_PYTHON")
    assert python, "IRIS_TEST_OIP_PYTHON is not set: run `make test` (scripts/test.sh makes the MLServer environment)"
    folder = tmp_path_factory.mktemp("mlserver")
    port = free_port()
    (folder / "settings.json").write_text(json.dumps({
        "host": "127.0.0.1", "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
        "metrics_endpoint": None, "parallel_workers": 0}))
    signature = {
        "inputs": [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 224, 224]}],
        "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]},
                    {"name": "embedding", "datatype": "FP32", "shape": [-1, 1280]}],
    }
    batches = folder / "batches.txt"
    served = [("mobilenet", {}), ("slow-mobilenet", {"delay_seconds": 3}),
              ("batch-mobilenet", {"delay_seconds": 1.0, "record": str(batches)})]
    for name, extra in served:
        (folder / name).mkdir()
        (folder / name / "model-settings.json").write_text(json.dumps({
            "name": name, "implementation": "iris_oip_peer.OnnxGraph",
            "parameters": {"uri": str(MODELS / "mobilenet-v2.onnx"), "extra": extra}, **signature}))
    log = open(folder / "mlserver.log", "wb")
    process = subprocess.Popen([str(Path(python).parent / "mlserver"), "start", str(folder)], stdout=log, stderr=subprocess.STDOUT,
                               env=dict(os.environ, PYTHONPATH=str(PEER)))
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        assert process.poll() is None, (folder / "mlserver.log").read_text()[-3000:]
        try:
            if all(requests.get(f"{base}/v2/models/{name}/ready", timeout=1).status_code == 200 for name, _ in served):
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    else:
        raise RuntimeError("MLServer did not become ready in 120 s: " + (folder / "mlserver.log").read_text()[-3000:])
    peer = Peer(base)
    peer.batches = batches
    yield peer
    process.terminate()
    process.wait(timeout=20)


def remote_manifest(name, url, model="mobilenet", **changes):
    """The local MobileNetV2 manifest, pointed at the peer, with the labels as a list."""
    manifest = json.loads((MODELS / "mobilenet-v2.json").read_text())
    manifest.pop("file")
    manifest["name"] = name
    manifest["description"] = "MobileNetV2 served by MLServer"
    manifest["remote"] = {"url": url, "model": model, "timeout_seconds": 20}
    manifest["labels"] = (MODELS / "imagenet-labels.txt").read_text().splitlines()
    manifest.update(changes)
    return manifest


def analyse(server, project, models):
    with open(CAT, "rb") as photo:
        response = server.http.post(server.url("/api/v1/analyses"), data={"models": ",".join(models), "project_id": str(project)},
                                    files={"file": ("chelsea.png", photo, "image/png")}, timeout=30)
    assert response.status_code == 202, response.text
    item = response.json()["items"][0]
    return item["sha256"], item["jobs"]


def wait_for(server, sha256, models, states=("succeeded",), timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = server.http.get(server.url(f"/api/v1/analyses/{sha256}"), timeout=10).json()["models"]
        if all(status.get(model, {}).get("state") in states for model in models):
            return status
        time.sleep(0.3)
    raise AssertionError(f"analyses not {states} after {timeout} s: {status}")


def names(server):
    return {item["name"]: item for item in server.http.get(server.url("/api/v1/models"), timeout=10).json()["items"]}


def test_a_registered_remote_model_labels_a_cat_as_the_local_model_does(workdir, database, mlserver):
    server = IrisServer(workdir / "data", database).start({"IRIS_MODELS_REMOTE_ALLOW": mlserver})
    try:
        created = server.http.post(server.url("/api/v1/models"), json=remote_manifest("mobilenet-remote", mlserver), timeout=30)
        assert created.status_code == 201, created.text
        assert created.json()["remote"] and created.json()["registered"] and created.json()["available"]
        assert names(server)["mobilenet-remote"]["available"]

        project = server.create_project("Cats")
        sha256, jobs = analyse(server, project, ["mobilenet-remote", "mobilenet-v2"])
        assert set(jobs) == {"mobilenet-remote", "mobilenet-v2"}
        status = wait_for(server, sha256, ["mobilenet-remote", "mobilenet-v2"])
        remote, local = status["mobilenet-remote"]["result"]["labels"], status["mobilenet-v2"]["result"]["labels"]
        assert [label["label"] for label in remote] == [label["label"] for label in local]
        assert "cat" in remote[0]["label"] or "tabby" in remote[0]["label"], remote
        assert all(abs(a["score"] - b["score"]) < 1e-3 for a, b in zip(remote, local)), (remote, local)
        vectors = [server.http.get(server.url(f"/api/v1/analyses/{sha256}/embeddings/{model}"), timeout=10).json()["vector"]
                   for model in ["mobilenet-remote", "mobilenet-v2"]]
        assert sum(a * b for a, b in zip(*vectors)) > 0.9999

        # The command line, through the running server: the same labels for the same photo.
        token = server.auth["Authorization"].split()[1]
        printed = subprocess.run([IRIS_BIN, "analyze", "--server", server.base, "--project", str(project), "--token", token,
                                  "--models", "mobilenet-remote,mobilenet-v2", str(CAT)], capture_output=True, text=True, timeout=120)
        assert printed.returncode == 0, printed.stdout + printed.stderr
        assert f"({sha256})" in printed.stdout
        for model in ["mobilenet-remote", "mobilenet-v2"]:
            assert f"  {model}  " in printed.stdout and remote[0]["label"] in printed.stdout, printed.stdout
        refused = subprocess.run([IRIS_BIN, "analyze", "--server", server.base, "--project", str(project), "--token", token,
                                  "--models", "no-such-model", str(CAT)], capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "no-such-model" in refused.stderr, refused.stderr

        # Registered models are kept: after a restart the model is back, from the database.
        server.restart()
        assert names(server)["mobilenet-remote"]["available"], names(server)["mobilenet-remote"].get("problem")

        # Folder models cannot be removed over the API; registered ones can.
        kept = server.http.delete(server.url("/api/v1/models/mobilenet-v2"), timeout=10)
        assert kept.status_code == 409 and "models folder" in kept.json()["detail"]
        removed = server.http.delete(server.url("/api/v1/models/mobilenet-remote"), timeout=10)
        assert removed.status_code == 204, removed.text
        assert "mobilenet-remote" not in names(server)
        refused = server.http.post(server.url("/api/v1/analyses"), json={"models": ["mobilenet-remote"], "images": [sha256]}, timeout=10)
        assert refused.status_code == 400 and "mobilenet-remote" in refused.json()["detail"]
        # Its results stay with the image.
        analysis = server.http.get(server.url(f"/api/v1/analyses/{sha256}"), timeout=10).json()
        assert analysis["models"]["mobilenet-remote"]["state"] == "succeeded"
    finally:
        server.stop()


def test_images_waiting_for_a_remote_model_go_to_its_server_in_batches(workdir, database, mlserver):
    # arrange: 4 workers on the ml queue and no automatic analyses, so that the only ml jobs are
    # the ones asked for; eight photos stored and labelled by the local model first
    server = IrisServer(workdir / "data", database).start(
        {"IRIS_MODELS_REMOTE_ALLOW": mlserver, "IRIS_JOBS_QUEUES": "images:1,ml:4,default:1,webhooks:1", "IRIS_ANALYSIS_AUTO_MODELS": ""})
    try:
        manifest = remote_manifest("mobilenet-batched", mlserver, model="batch-mobilenet")
        manifest["input"]["max_batch"] = 4
        created = server.http.post(server.url("/api/v1/models"), json=manifest, timeout=30)
        assert created.status_code == 201, created.text
        project = server.create_project("Batches")
        photos = [ROOT / ".cache" / "photos" / name for name in
                  ["chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "motorcycle_left.png", "horse.png", "ihc.png", "coins.png"]]
        files = [("file", (photo.name, photo.read_bytes())) for photo in photos]
        stored = server.http.post(server.url("/api/v1/analyses"), data={"models": "mobilenet-v2", "project_id": str(project)},
                                  files=files, timeout=60)
        assert stored.status_code == 202, stored.text
        hashes = [item["sha256"] for item in stored.json()["items"]]
        assert len(hashes) == 8
        for sha256 in hashes:
            wait_for(server, sha256, ["mobilenet-v2"])
        mlserver.batches.write_text("")

        # act: the eight stored photos for the remote model in one request (eight jobs at once;
        # each answer takes the peer 1 s, long enough for the other workers' images to wait)
        response = server.http.post(server.url("/api/v1/analyses"), json={"models": ["mobilenet-batched"], "images": hashes}, timeout=60)
        assert response.status_code == 202, response.text

        # assert: every photo has the local model's labels, and the server got batches of more than one
        for sha256 in hashes:
            status = wait_for(server, sha256, ["mobilenet-batched", "mobilenet-v2"])
            remote, local = status["mobilenet-batched"]["result"]["labels"], status["mobilenet-v2"]["result"]["labels"]
            assert [label["label"] for label in remote] == [label["label"] for label in local], (remote, local)
            assert all(abs(a["score"] - b["score"]) < 1e-3 for a, b in zip(remote, local)), (remote, local)
        sizes = [int(line) for line in mlserver.batches.read_text().split()]
        assert sum(sizes) == 8 and max(sizes) > 1 and max(sizes) <= 4, sizes
    finally:
        server.stop()


def test_remote_models_that_are_not_allowed_or_do_not_match_are_refused_and_nothing_is_kept(workdir, database, mlserver):
    server = IrisServer(workdir / "data", database).start({"IRIS_MODELS_REMOTE_ALLOW": mlserver})
    try:
        before = names(server)
        other = "http://127.0.0.1:%d" % free_port()
        cases = [
            (remote_manifest("elsewhere", other), 400, "models.remote_allow"),
            (remote_manifest("creds", mlserver.replace("http://", "http://user:secret@")), 400, "plain http(s) URL"),
            (remote_manifest("wrong-input", mlserver, input={**remote_manifest("x", mlserver)["input"], "name": "pixels"}),
             422, "not pixels"),
            (remote_manifest("few-labels", mlserver, labels=["a", "b", "c"]), 422, "1000 classes"),
            (remote_manifest("label-file", mlserver, labels="../../etc/passwd"), 400, "labels must be given as a list"),
            (remote_manifest("missing", mlserver, model="nope"), 422, "nope"),
            (remote_manifest("mobilenet-v2", mlserver), 409, "exists"),
            ({**remote_manifest("no-tasks", mlserver), "tasks": []}, 400, "tasks is empty"),
            ({"name": "half"}, 400, "tasks"),
        ]
        for manifest, status, words in cases:
            response = server.http.post(server.url("/api/v1/models"), json=manifest, timeout=30)
            assert response.status_code == status, (manifest.get("name"), response.text)
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert words in response.json()["detail"], (manifest.get("name"), response.json()["detail"])
        assert names(server) == before
        server.restart()
        assert names(server) == before

        # Only administrators register: a token without the admin scope is refused.
        token = server.http.post(server.url("/api/v1/tokens"), json={"name": "writer", "scopes": ["read", "write"]},
                                 timeout=10).json()["token"]
        writer = requests.post(server.url("/api/v1/models"), json=remote_manifest("by-writer", mlserver),
                               headers={"Authorization": "Bearer " + token}, timeout=10)
        assert writer.status_code == 403
    finally:
        server.stop()


def test_a_remote_model_that_answers_too_late_fails_its_job_with_the_reason(workdir, database, mlserver):
    server = IrisServer(workdir / "data", database).start({"IRIS_MODELS_REMOTE_ALLOW": mlserver})
    try:
        manifest = remote_manifest("slow-remote", mlserver, model="slow-mobilenet")
        manifest["remote"].update(timeout_seconds=1, retries=1)
        assert server.http.post(server.url("/api/v1/models"), json=manifest, timeout=30).status_code == 201
        project = server.create_project("Slow")
        sha256, jobs = analyse(server, project, ["slow-remote"])
        deadline = time.time() + 60
        while time.time() < deadline:
            job = server.http.get(server.url(f"/api/v1/jobs/{jobs['slow-remote']}"), timeout=10).json()
            if job.get("attempts", 0) >= 1 and job.get("error"):
                break
            time.sleep(0.3)
        assert "no answer within 1.0 s" in job["error"] and "tried 2 times" in job["error"], job
        assert job["state"] in ("queued", "dead", "running"), job
        status = server.http.get(server.url(f"/api/v1/analyses/{sha256}"), timeout=10).json()["models"]["slow-remote"]
        assert "result" not in status or status["result"] is None
    finally:
        server.stop()


def test_a_remote_manifest_in_the_models_folder_is_checked_at_start(workdir, mlserver):
    folder = workdir / "models"
    folder.mkdir()
    for name in ["mobilenet-v2.json", "mobilenet-v2.onnx", "imagenet-labels.txt"]:
        os.symlink(MODELS / name, folder / name)
    good = remote_manifest("folder-remote", mlserver)
    good["labels"] = "imagenet-labels.txt"
    (folder / "folder-remote.json").write_text(json.dumps(good))
    bad = remote_manifest("folder-wrong", mlserver)
    bad["outputs"] = {"scores": "probabilities", "embedding": "embedding"}
    (folder / "folder-wrong.json").write_text(json.dumps(bad))
    (folder / "folder-unlisted.json").write_text(json.dumps(remote_manifest("folder-unlisted", "http://127.0.0.1:9")))
    env = {"IRIS_MODELS_REMOTE_ALLOW": mlserver, "IRIS_MODELS_DIR": str(folder), "IRIS_ANALYSIS_AUTO_MODELS": ""}
    listed = subprocess.run([IRIS_BIN, "models", "list", "--data", str(workdir / "data")], capture_output=True, text=True,
                            env=dict(os.environ, **env), timeout=60)
    assert listed.returncode == 1, listed.stdout + listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert lines["folder-remote"].endswith(f"remote {mlserver}: ready"), listed.stdout
    assert "UNAVAILABLE" in lines["folder-wrong"] and "does not give" in lines["folder-wrong"], listed.stdout
    assert "UNAVAILABLE" in lines["folder-unlisted"] and "models.remote_allow" in lines["folder-unlisted"], listed.stdout
    server = IrisServer(workdir / "data", "").start(env)
    try:
        listed = names(server)
        assert listed["folder-remote"]["available"] and not listed["folder-remote"]["registered"]
        assert not listed["folder-wrong"]["available"] and "does not give" in listed["folder-wrong"]["problem"]
        assert not listed["folder-unlisted"]["available"] and "models.remote_allow" in listed["folder-unlisted"]["problem"]
        # Other users see that a remote model cannot be used, not where its server is.
        made = iris("user", "create", "plain", "--password-stdin", stdin="plain-password-1\n", data_dir=workdir / "data")
        assert made.returncode == 0, made.stderr
        created = iris("token", "create", "--user", "plain", "--name", "t", "--scopes", "read", data_dir=workdir / "data")
        token = created.stdout.strip().splitlines()[-1]
        seen = requests.get(server.url("/api/v1/models"), headers={"Authorization": "Bearer " + token}, timeout=10)
        assert seen.status_code == 200 and "127.0.0.1:9" not in seen.text and mlserver not in seen.text, seen.text
        plain = {item["name"]: item for item in seen.json()["items"]}
        assert plain["folder-unlisted"]["problem"] == "the remote model cannot be used (administrators see why)"
        project = server.create_project("Folder")
        sha256, _ = analyse(server, project, ["folder-remote"])
        labels = wait_for(server, sha256, ["folder-remote"])["folder-remote"]["result"]["labels"]
        assert "cat" in labels[0]["label"] or "tabby" in labels[0]["label"], labels
    finally:
        server.stop()


def test_the_command_line_registers_lists_and_removes_a_remote_model(workdir, database, mlserver):
    data = workdir / "data"
    manifest = workdir / "cli-remote.json"
    manifest.write_text(json.dumps(remote_manifest("cli-remote", mlserver)))

    def run(*args, allow=mlserver):
        command = [IRIS_BIN, "models", *args, "--data", str(data)] + (["--database", database] if database else [])
        return subprocess.run(command, capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, IRIS_MODELS_REMOTE_ALLOW=allow, IRIS_LOG_LEVEL="error"))

    refused = run("register", str(manifest), allow="")
    assert refused.returncode != 0 and "models.remote_allow" in refused.stderr, refused.stderr
    registered = run("register", str(manifest))
    assert registered.returncode == 0, registered.stderr
    assert f"Registered cli-remote: mobilenet at {mlserver}, ready." in registered.stdout
    again = run("register", str(manifest))
    assert again.returncode != 0 and "exists" in again.stderr, again.stderr
    listed = run("list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert f"remote {mlserver}, registered: ready" in listed.stdout, listed.stdout
    # A server started on the same data sees it, and can run it.
    server = IrisServer(data, database).start({"IRIS_MODELS_REMOTE_ALLOW": mlserver})
    try:
        assert names(server)["cli-remote"]["registered"]
    finally:
        server.stop()
    assert run("remove", "mobilenet-v2").returncode != 0
    removed = run("remove", "cli-remote")
    assert removed.returncode == 0 and "Removed cli-remote." in removed.stdout, removed.stderr
    assert "cli-remote" not in run("list").stdout


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_an_administrator_registers_and_removes_a_remote_model_on_the_admin_page(
        workdir, database, mlserver, browser):  # noqa: F811 (the fixture imported from test_browser)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    server = IrisServer(workdir / "data", database).start({"IRIS_MODELS_REMOTE_ALLOW": mlserver})
    try:
        sign_in(server, browser)
        browser.get(server.url("/admin"))
        local = browser.find_element(By.CSS_SELECTOR, "#models tr[data-model='mobilenet-v2']").text
        assert "models folder" in local and "ready" in local
        assert not browser.find_elements(By.CSS_SELECTOR, "#models tr[data-model='mobilenet-v2'] button")

        # A manifest that is not JSON is caught in the page; nothing is sent.
        form = browser.find_element(By.ID, "register-model")
        textarea = form.find_element(By.NAME, "manifest")
        textarea.send_keys("{not json")
        form.find_element(By.TAG_NAME, "button").click()
        page_wait(browser, 15).until(lambda driver: "not valid JSON" in driver.find_element(By.ID, "toasts").text)

        # The manifest (1,000 labels) is put in the field as a user would paste it.
        manifest = json.dumps(remote_manifest("page-remote", mlserver), indent=2)
        browser.execute_script("arguments[0].value = arguments[1]", textarea, manifest)
        form.find_element(By.TAG_NAME, "button").click()
        row = page_wait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#models tr[data-model='page-remote']")))
        assert f"remote: mobilenet at {mlserver}" in row.text and "ready" in row.text, row.text
        assert "page-remote" in names(server)

        row.find_element(By.TAG_NAME, "button").click()
        assert "page-remote" in accept_confirmation(browser)
        page_wait(browser, 15).until(
            lambda driver: not driver.find_elements(By.CSS_SELECTOR, "#models tr[data-model='page-remote']"))
        assert "page-remote" not in names(server)
    finally:
        server.stop()
