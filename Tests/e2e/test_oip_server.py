"""Iris as an Open Inference Protocol v2 server (`/v2`), driven by NVIDIA's own client
(`tritonclient[http]` from PyPI): a photo's top label as `/api/v1/analyses` gives it, a
project's learner answering as `/learner/classify` does, Triton-style errors for a wrong
shape, datatype or batch, and no way to a project's learner without access to the project."""

import base64
import io
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from conftest import iris

ROOT = Path(__file__).resolve().parents[2]
CAT = ROOT / ".cache" / "photos" / "chelsea.png"
EVALSET = ROOT / ".cache" / "evalset"


def client(server):
    return triton.InferenceServerClient(url=server.base.removeprefix("http://"), network_timeout=120)


def images(*photos):
    """A BYTES tensor of encoded photos, one per element (sent as binary data by default)."""
    data = np.array([photo for photo in photos], dtype=np.object_)
    tensor = triton.InferInput("encoded_image", [len(photos)], "BYTES")
    tensor.set_data_from_numpy(data)
    return tensor


def text(element):
    """A BYTES element as text: bytes when it came as binary data, str when it came in JSON."""
    return element.decode() if isinstance(element, bytes) else element


def analysis_labels(server, project, photo, name):
    """The labels `POST /api/v1/analyses` gives a photo with MobileNetV2, once its job is done."""
    created = server.http.post(server.url("/api/v1/analyses"), data={"models": "mobilenet-v2", "project_id": str(project)},
                               files={"file": (name, photo, "application/octet-stream")}, timeout=60)
    assert created.status_code == 202, created.text
    sha256 = created.json()["items"][0]["sha256"]
    deadline = time.time() + 120
    while time.time() < deadline:
        status = server.http.get(server.url(f"/api/v1/analyses/{sha256}"), timeout=10).json()
        result = status["models"].get("mobilenet-v2", {}).get("result")
        if result:
            return result["labels"]
        time.sleep(0.3)
    raise AssertionError(f"no analysis within 120 s: {status}")


def class_zip(folder, count):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir())[:count]:
            archive.write(path, path.name)
    return buffer.getvalue()


def test_a_triton_client_gets_the_analysis_labels_and_triton_errors(server):
    # setup: the cat photo analysed as an upload would be
    photo = CAT.read_bytes()
    project = server.create_project("OIP")
    expected = analysis_labels(server, project, photo, "chelsea.png")
    oip = client(server)
    # A copy for every call: tritonclient writes Inference-Header-Content-Length into the dict it is
    # given, and a stale one would cut the next request's JSON short.
    headers = server.auth

    # act + check: the server and the model describe themselves
    assert oip.is_server_live() and oip.is_server_ready()
    assert "binary_tensor_data" in oip.get_server_metadata()["extensions"]
    assert oip.is_model_ready("mobilenet-v2", headers=dict(headers))
    metadata = oip.get_model_metadata("mobilenet-v2", headers=dict(headers))
    inputs = {tensor["name"]: tensor for tensor in metadata["inputs"]}
    assert inputs["image"] == {"name": "image", "datatype": "FP32", "shape": [-1, 3, 224, 224]}
    assert inputs["encoded_image"]["datatype"] == "BYTES"
    outputs = {tensor["name"]: tensor["shape"] for tensor in metadata["outputs"]}
    assert outputs["logits"] == [-1, 1000] and outputs["probabilities"] == [-1, 1000] and outputs["labels"] == [-1, 5]

    # act: the photo's bytes (binary, tritonclient's default), its top 3 by Triton's classification
    result = oip.infer("mobilenet-v2", [images(photo)], headers=dict(headers), outputs=[
        triton.InferRequestedOutput("labels"), triton.InferRequestedOutput("probabilities", class_count=3)])
    # check: the same top label and score as the analysis
    labels = [text(label) for label in result.as_numpy("labels")[0]]
    assert labels == [entry["label"] for entry in expected]
    score, index, label = text(result.as_numpy("probabilities")[0][0]).split(":", 2)
    assert label == expected[0]["label"] and int(index) >= 0
    assert float(score) == pytest.approx(expected[0]["score"], abs=1e-4)

    # act: the same photo as base64 in JSON (binary_data=False), twice in one batch
    encoded = triton.InferInput("encoded_image", [2], "BYTES")
    encoded.set_data_from_numpy(np.array([base64.b64encode(photo)] * 2, dtype=np.object_), binary_data=False)
    both = oip.infer("mobilenet-v2", [encoded], headers=dict(headers),
                     outputs=[triton.InferRequestedOutput("labels", binary_data=False)])
    # check: both rows name the cat
    assert [text(row[0]) for row in both.as_numpy("labels")] == [labels[0]] * 2

    # act + check: a wrong shape, a wrong datatype, an oversize batch are 400s with Triton's error JSON
    wrong_shape = triton.InferInput("image", [1, 3, 224, 225], "FP32")
    wrong_shape.set_data_from_numpy(np.zeros((1, 3, 224, 225), dtype=np.float32))
    with pytest.raises(InferenceServerException) as refused:
        oip.infer("mobilenet-v2", [wrong_shape], headers=dict(headers))
    assert refused.value.status() == "400" and "shape [1, 3, 224, 225]" in refused.value.message()
    wrong_type = triton.InferInput("image", [1, 3, 224, 224], "INT32")
    wrong_type.set_data_from_numpy(np.zeros((1, 3, 224, 224), dtype=np.int32))
    with pytest.raises(InferenceServerException) as refused:
        oip.infer("mobilenet-v2", [wrong_type], headers=dict(headers))
    assert refused.value.status() == "400" and "INT32" in refused.value.message()
    with pytest.raises(InferenceServerException) as refused:
        oip.infer("mobilenet-v2", [images(*[photo] * 9)], headers=dict(headers))
    assert refused.value.status() == "400" and "encoded_image" in refused.value.message()
    assert "at most 8" in refused.value.message()
    raw = requests.post(server.url("/v2/models/mobilenet-v2/infer"), headers=dict(headers), timeout=30, json={
        "inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 3, 224, 224], "data": [0.5] * 10}]})
    assert raw.status_code == 400 and raw.headers["Content-Type"] == "application/json"
    assert set(raw.json()) == {"error"} and "150528 elements but 10" in raw.json()["error"]
    garbage = requests.post(server.url("/v2/models/mobilenet-v2/infer"), headers=dict(headers), data=b"\x00" * 64, timeout=30)
    assert garbage.status_code == 400 and "error" in garbage.json()
    unknown = requests.get(server.url("/v2/models/no-such-model"), headers=dict(headers), timeout=30)
    assert unknown.status_code == 404 and "no-such-model" in unknown.json()["error"]
    anonymous = requests.get(server.url("/v2/models/mobilenet-v2"), timeout=30)
    assert anonymous.status_code == 401 and "error" in anonymous.json()

    # act: the model's own tensor, prepared by hand as the manifest says (FP32, binary)
    tensor = triton.InferInput("image", [1, 3, 224, 224], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 3, 224, 224), dtype=np.float32))
    plain = oip.infer("mobilenet-v2", [tensor], headers=dict(headers), outputs=[triton.InferRequestedOutput("logits")])
    # check: the graph's logits come back whole
    assert plain.as_numpy("logits").shape == (1, 1000)


def test_a_learner_answers_over_oip_as_classify_does_and_only_to_its_members(server, workdir):
    # setup: a learner of two classes
    project = server.create_project("Textures")
    for name in ["grass", "brick"]:
        added = server.http.post(server.url(f"/api/v1/projects/{project}/learner/classes"), data={"name": name},
                                 files={"file": (f"{name}.zip", class_zip(EVALSET / name, 8), "application/zip")},
                                 timeout=300)
        assert added.status_code == 201, added.text
    photos = [(EVALSET / "grass" / "21.jpg").read_bytes(), (EVALSET / "cat" / "03.jpg").read_bytes()]
    classified = server.http.post(server.url(f"/api/v1/projects/{project}/learner/classify"),
                                  files=[("file", (f"{i}.jpg", photo, "image/jpeg")) for i, photo in enumerate(photos)],
                                  timeout=120)
    assert classified.status_code == 200, classified.text
    expected = classified.json()["items"]
    oip = client(server)
    name = f"project-{project}-learner"

    # act
    result = oip.infer(name, [images(*photos)], headers=dict(server.auth))

    # check: the same answer (unknown is ""), confidence and ranking as classify's
    assert [text(label) for label in result.as_numpy("label")[:, 0]] == [item.get("label") or "" for item in expected]
    assert result.as_numpy("confidence")[:, 0].tolist() == pytest.approx([item["confidence"] for item in expected], abs=1e-5)
    for row, item in zip(result.as_numpy("labels"), expected):
        assert [text(label) for label in row if text(label)] == [ranked["label"] for ranked in item["ranked"]][:len(row)]
    assert expected[0]["label"] == "grass"
    metadata = oip.get_model_metadata(name, headers=dict(server.auth))
    assert {tensor["name"] for tensor in metadata["outputs"]} == {"labels", "probabilities", "label", "confidence"}

    # act + check: a user who is not in the project, and a token limited to another project, reach no learner
    data = workdir / "data"
    created = iris("user", "create", "outsider", "--password-stdin", stdin="outsider-password\n", data_dir=data,
                   database_url=server.database_url)
    assert created.returncode == 0, created.stderr
    token = iris("token", "create", "--user", "outsider", "--name", "oip", "--scopes", "read,write", data_dir=data,
                 database_url=server.database_url)
    assert token.returncode == 0, token.stderr
    outsider = {"Authorization": "Bearer " + token.stdout.strip().splitlines()[-1]}
    other = server.create_project("Elsewhere")
    limited = server.http.post(server.url("/api/v1/tokens"), timeout=10,
                               json={"name": "limited", "scopes": ["read", "write"], "project_id": other})
    assert limited.status_code == 201, limited.text
    for headers in [outsider, {"Authorization": "Bearer " + limited.json()["token"]}]:
        with pytest.raises(InferenceServerException) as refused:
            oip.infer(name, [images(photos[0])], headers=dict(headers))
        assert refused.value.status() == "404", refused.value
        hidden = requests.get(server.url(f"/v2/models/{name}"), headers=dict(headers), timeout=30)
        assert hidden.status_code == 404 and hidden.json() == {"error": f"no model is named {name}"}
    # the outsider still reaches the instance's models, as with analyses
    assert oip.infer("mobilenet-v2", [images(photos[0])], headers=dict(outsider)).as_numpy("labels").shape == (1, 5)
