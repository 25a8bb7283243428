"""Iris as a Label Studio ML backend, against a real Label Studio 1.23.2 from PyPI (its own
environment: `scripts/python-env.sh labelstudio`, whose python is IRIS_TEST_LABEL_STUDIO_PYTHON).
Label Studio runs on SQLite with its data in a temporary folder; the test drives it with
label-studio-sdk as a team would: a project with an image-classification config, Iris connected
as its model (Basic authentication, the token as the password), tasks that are Iris image URLs,
predictions retrieved in Label Studio, and an annotation that becomes the photo's label in Iris."""

import json
import os
import secrets
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import requests

from conftest import IrisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT / ".cache" / "photos"
PYTHON = os.environ.get("IRIS_TEST_LABEL_STUDIO_PYTHON", "")
CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="kind" toName="image" choice="single">
    <Choice value="Cat"/><Choice value="Motorcycle"/><Choice value="Horse"/>
  </Choices>
</View>"""

pytestmark = pytest.mark.skipif(
    not PYTHON, reason="IRIS_TEST_LABEL_STUDIO_PYTHON is not set: `make test` sets it (scripts/python-env.sh labelstudio)")


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    """Label Studio on a free port, SQLite and local files in a temporary folder, one user
    whose (legacy) API token is set at start. Its own guards against local addresses (ML backends
    and webhooks) are off: Iris listens on loopback here."""
    folder = tmp_path_factory.mktemp("label-studio")
    port = free_port()
    token = secrets.token_hex(20)
    env = dict(os.environ, LABEL_STUDIO_BASE_DATA_DIR=str(folder), DJANGO_DB="sqlite", ML_BLOCK_LOCAL_IP="false",
               SSRF_PROTECTION_ENABLED="false", LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
               WEBHOOK_TIMEOUT="10", COLLECT_ANALYTICS="false", SENTRY_DSN="", FRONTEND_SENTRY_DSN="")
    env.pop("PYTHONPATH", None)
    log = open(folder / "label-studio.log", "wb")
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "label-studio"), "start", "--no-browser", "--port", str(port), "--host", "127.0.0.1",
         "--data-dir", str(folder / "data"), "--username", "iris-e2e@example.org", "--password", "iris-e2e-password",
         "--user-token", token, "--enable-legacy-api-token"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        assert process.poll() is None, (folder / "label-studio.log").read_text()[-3000:]
        try:
            if requests.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        time.sleep(1)
    else:
        raise RuntimeError("Label Studio did not answer /health in 300 s: " + (folder / "label-studio.log").read_text()[-3000:])
    yield base, token, folder
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def sdk(base, token, script, **values):
    """Runs label-studio-sdk in Label Studio's own environment: `script` reads its inputs from
    `args` and prints one JSON value, which is answered."""
    program = textwrap.dedent("""
        import json, sys
        from label_studio_sdk import LabelStudio
        args = json.loads(sys.argv[1])
        ls = LabelStudio(base_url=args["base"], api_key=args["token"])
    """) + textwrap.dedent(script)
    run = subprocess.run([PYTHON, "-c", program, json.dumps({"base": base, "token": token, **values})],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def vips(*args):
    subprocess.run(["vips", *[str(arg) for arg in args]], check=True, capture_output=True)


def test_label_studio_gets_iris_predictions_and_its_annotations_become_iris_labels(workdir, label_studio):
    ls_base, ls_token, folder = label_studio
    server = IrisServer(workdir / "data", "").start()
    try:
        # Iris: a project of three kinds, one labelled photo each (the learner's classes), and
        # four unlabelled photos of the same subjects (mirrored or smaller) for Label Studio.
        project = server.create_project("Label Studio", label_set=["cat", "motorcycle", "horse"])
        images = folder / "images"
        images.mkdir()
        tasks = {}
        for label, source in [("cat", "chelsea.png"), ("motorcycle", "motorcycle_left.png"), ("horse", "horse.png")]:
            with open(PHOTOS / source, "rb") as photo:
                response = server.http.post(server.url(f"/api/v1/projects/{project}/images"), data={"label": label},
                                            files={"file": (source, photo, "image/png")}, timeout=30)
            assert response.status_code == 201, response.text
            mirrored, smaller = images / f"{label}-mirrored.png", images / f"{label}-smaller.png"
            vips("flip", PHOTOS / source, mirrored, "horizontal")
            vips("resize", PHOTOS / source, smaller, 0.8)
            for path in ([mirrored, smaller] if label == "cat" else [mirrored]):
                with open(path, "rb") as photo:
                    response = server.http.post(server.url(f"/api/v1/projects/{project}/images"),
                                                files={"file": (path.name, photo, "image/png")}, timeout=30)
                assert response.status_code == 201, response.text
                tasks[path.stem] = response.json()["sha256"]
        for label in ["cat", "motorcycle", "horse"]:
            added = server.http.post(server.url(f"/api/v1/projects/{project}/learner/classes"), json={"name": label},
                                     timeout=120)
            assert added.status_code == 201, added.text
        token = server.http.post(server.url("/api/v1/tokens"), json={
            "name": "label studio", "scopes": ["read", "write"], "project_id": project}, timeout=10)
        assert token.status_code == 201, token.text
        iris_token = token.json()["token"]
        backend = server.url(f"/api/v1/projects/{project}/label-studio")

        # Label Studio: the project, Iris connected as its model, the tasks imported, and the
        # predictions retrieved the way the Data Manager's "Retrieve predictions" does.
        started = time.time()
        made = sdk(ls_base, ls_token, """
            project = ls.projects.create(title="Iris e2e", label_config=args["config"])
            backend = ls.ml.create(project=project.id, url=args["backend"], title="Iris", auth_method="BASIC_AUTH",
                                   basic_auth_user="label-studio", basic_auth_pass=args["iris_token"], is_interactive=False)
            # Connecting made a webhook to …/webhook without credentials: give it the token.
            hooks = [hook for hook in ls.webhooks.list(project=project.id) if hook.url.endswith("/webhook")]
            for hook in hooks:
                ls.webhooks.update(hook.id, url=hook.url, headers={"Authorization": "Bearer " + args["iris_token"]})
            ls.projects.import_tasks(project.id, request=[{"image": url} for url in args["urls"]])
            ids = {item.data["image"]: item.id for item in ls.tasks.list(project=project.id)}
            ls.actions.create(id="retrieve_tasks_predictions", project=project.id,
                              selected_items={"all": True, "excluded": []})
            predictions = {}
            for url, task in ids.items():
                found = ls.predictions.list(task=task)
                predictions[url] = [(p.model_version, p.score, p.result) for p in found]
            print(json.dumps({"project": project.id, "backend_state": ls.ml.get(backend.id).state, "hooks": len(hooks),
                              "tasks": ids, "predictions": predictions}))
        """, config=CONFIG, backend=backend, iris_token=iris_token,
            urls=[server.url(f"/api/v1/images/{sha}/original") for sha in tasks.values()])
        assert made["backend_state"] == "CO" and made["hooks"] == 1, made
        expected = {"cat-mirrored": "Cat", "cat-smaller": "Cat", "motorcycle-mirrored": "Motorcycle",
                    "horse-mirrored": "Horse"}
        for name, sha in tasks.items():
            found = made["predictions"][server.url(f"/api/v1/images/{sha}/original")]
            assert len(found) == 1, (name, found)
            version, score, result = found[0]
            assert version.startswith("iris-learner-") and 0 < score <= 1, found
            assert result[0]["from_name"] == "kind" and result[0]["to_name"] == "image", result
            assert result[0]["value"]["choices"] == [expected[name]], (name, result)

        # An annotation made in Label Studio becomes the photo's label in Iris, and the learner
        # takes the photo into that class; changing the annotation moves it.
        def learner_counts():
            learner = server.http.get(server.url(f"/api/v1/projects/{project}/learner"), timeout=10).json()
            return {item["name"]: item["count"] for item in learner["classes"]}

        def iris_labels(sha):
            response = server.http.get(server.url(f"/api/v1/projects/{project}/images/{sha}/labels"), timeout=10)
            return [label["name"] for label in response.json()["labels"]]

        def wait_for_labels(sha, labels):
            deadline = time.time() + 20
            while iris_labels(sha) != labels:
                assert time.time() < deadline, f"Iris's labels are {iris_labels(sha)}, not {labels}"
                time.sleep(0.3)

        before = learner_counts()
        cat = tasks["cat-smaller"]
        annotated = sdk(ls_base, ls_token, """
            annotation = ls.annotations.create(args["task"], result=[{
                "from_name": "kind", "to_name": "image", "type": "choices", "value": {"choices": ["Cat"]}}])
            print(json.dumps(annotation.id))
        """, task=made["tasks"][server.url(f"/api/v1/images/{cat}/original")])
        wait_for_labels(cat, ["cat"])
        assert learner_counts() == {**before, "cat": before["cat"] + 1}
        sdk(ls_base, ls_token, """
            ls.annotations.update(args["annotation"], result=[{
                "from_name": "kind", "to_name": "image", "type": "choices", "value": {"choices": ["Horse"]}}])
            print("null")
        """, annotation=annotated)
        wait_for_labels(cat, ["horse"])
        assert learner_counts() == {**before, "horse": before["horse"] + 1}
        history = server.http.get(server.url(f"/api/v1/projects/{project}/images/{cat}/labels"), timeout=10).json()
        assert [step["added"] for step in history["history"]][-2:] == [["cat"], ["horse"]], history
        print(f"Label Studio flow (after start-up): {time.time() - started:.1f} s")
    finally:
        server.stop()
