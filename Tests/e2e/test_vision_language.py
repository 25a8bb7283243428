"""A vision–language pair dropped into the models folder, end to end, with the tiny CLIP-shaped
pair set-up builds (scripts/models/test_clip.py: RANDOM weights, so only the plumbing is
checked, never quality): the pair is listed, a manifest whose pair is missing is reported, the
photos stored before the pair came are embedded by a backfill job with progress, a new photo by
its own analysis, and text search and similar photos answer in the order of the cosines that
onnxruntime gives in Python on the same inputs (solid-colour photos, so every resize and crop
gives the same pixels; the tokenizer's ids from the reference the Swift tokenizer is tested on)."""

import json
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from conftest import IrisServer

ROOT = Path(__file__).resolve().parents[2]
PAIR = ROOT / ".cache/test-models/clip"
REFERENCE = ROOT / ".cache/clip-tokenizer-reference.json"
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
COLOURS = [(200, 30, 90), (20, 180, 60), (40, 60, 220), (240, 220, 30), (128, 128, 128), (250, 250, 250)]
QUERIES = ["a photo of a dog", "A PHOTO OF A CAT", "Hello, World!", "naïve café résumé"]

pytestmark = pytest.mark.skipif(
    not (PAIR / "tiny-clip-text.onnx").exists() or not REFERENCE.exists(),
    reason="no tiny CLIP-shaped pair or tokenizer reference in .cache: run scripts/prepare-models.sh")


def png(rgb, width=300, height=260):
    """A solid-colour RGB PNG, written here (no encoder needed)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def unit(vector):
    return vector / np.linalg.norm(vector)


def image_vector(rgb):
    """The tiny image model's embedding of a solid colour, normalised as the manifest says."""
    session = onnxruntime.InferenceSession(str(PAIR / "tiny-clip-image.onnx"), providers=["CPUExecutionProvider"])
    pixels = np.empty((1, 3, 224, 224), np.float32)
    for channel in range(3):
        pixels[0, channel] = (rgb[channel] / 255 - CLIP_MEAN[channel]) / CLIP_STD[channel]
    return unit(session.run(["image_embeds"], {"pixel_values": pixels})[0][0])


def text_vector(ids):
    session = onnxruntime.InferenceSession(str(PAIR / "tiny-clip-text.onnx"), providers=["CPUExecutionProvider"])
    return unit(session.run(["text_embeds"], {"input_ids": np.array([ids], np.int64)})[0][0])


def same_order(got, cosines):
    """`got` (keys, best first) is the order of `cosines` (key → cosine), where two cosines
    within 1e-4 may come either way (Iris works in float32 on the same numbers)."""
    assert sorted(got) == sorted(cosines), (got, cosines)
    for earlier, later in zip(got, got[1:]):
        assert cosines[earlier] >= cosines[later] - 1e-4, (got, cosines)


def wait_for(server, kind, count, timeout=60):
    """The jobs of `kind`, once `count` of them have succeeded."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        jobs = server.http.get(server.url("/api/v1/jobs"), params={"kind": kind, "limit": 100}, timeout=10).json()
        if sum(job["state"] == "succeeded" for job in jobs["items"]) >= count:
            return jobs["items"]
        failed = [job for job in jobs["items"] if job["state"] in ("failed", "dead")]
        assert not failed, failed
        time.sleep(0.2)
    raise AssertionError(f"{count} {kind} jobs did not succeed in {timeout} s: {jobs}")


def test_a_clip_pair_in_the_models_folder_embeds_searches_and_finds_similar_photos(workdir, database):
    # setup: a models folder with the search vocabulary only; photos stored before any pair
    folder = workdir / "models"
    folder.mkdir()
    for name in ["imagenet-labels.txt", "imagenet-wnids.txt"]:
        (folder / name).symlink_to(ROOT / "models" / name)
    server = IrisServer(workdir / "data", database).start(
        {"IRIS_MODELS_DIR": str(folder), "IRIS_ANALYSIS_AUTO_MODELS": "", "IRIS_LEARNER_MODEL": "tiny-clip-image"})
    try:
        project = server.create_project("Colours")
        stored = {}
        for index, rgb in enumerate(COLOURS[:5]):
            answer = server.http.post(server.url(f"/api/v1/projects/{project}/images"),
                                      files={"file": (f"{index}.png", png(rgb), "image/png")}, timeout=30)
            assert answer.status_code == 201, answer.text
            stored[answer.json()["sha256"]] = rgb
        server.stop()

        # act: the pair arrives, with a second image model whose pair is not there
        for name in ["tiny-clip-image.onnx", "tiny-clip-text.onnx", "clip-merges.txt", "tiny-clip-image.json",
                     "tiny-clip-text.json"]:
            (folder / name).symlink_to(PAIR / name)
        lonely = json.loads((PAIR / "tiny-clip-image.json").read_text())
        lonely.update(name="lonely-clip-image", pair="no-such-text")
        (folder / "lonely-clip-image.json").write_text(json.dumps(lonely))
        server.start()

        # check: what GET /models says of each
        models = {item["name"]: item for item in server.http.get(server.url("/api/v1/models"), timeout=10).json()["items"]}
        assert models["tiny-clip-image"]["available"] and models["tiny-clip-image"]["tasks"] == ["embed-image"]
        assert models["tiny-clip-text"]["available"] and models["tiny-clip-text"]["tasks"] == ["embed-text"]
        assert "input" not in models["tiny-clip-text"]
        assert not models["lonely-clip-image"]["available"]
        assert "pair names no-such-text, which is not in the models folder" in models["lonely-clip-image"]["problem"]

        # check: the backfill embedded the five photos stored earlier (progress is sent with lease
        # renewals, which five tiny photos do not last until: only the end is seen here)
        [backfill] = wait_for(server, "embeddings.backfill", 1)
        assert backfill["result"] == {"model": "tiny-clip-image", "missing": 5, "embedded": 5, "failed": 0}
        assert backfill["progress"] == 1

        # act: a photo uploaded now is embedded by its own analysis (the image model is automatic)
        answer = server.http.post(server.url(f"/api/v1/projects/{project}/images"),
                                  files={"file": ("5.png", png(COLOURS[5]), "image/png")}, timeout=30)
        assert answer.status_code == 201, answer.text
        stored[answer.json()["sha256"]] = COLOURS[5]
        analyses = wait_for(server, "image.analyze", 1)
        assert [job["payload"]["model"] for job in analyses] == ["tiny-clip-image"]

        # check: text search ranks the photos by the cosine of the query's text embedding
        images = {sha256: image_vector(rgb) for sha256, rgb in stored.items()}
        reference = {case["text"]: case["ids"] for case in json.loads(REFERENCE.read_text())["tokens"]}
        for query in QUERIES:
            found = server.http.get(server.url("/api/v1/search"), params={"q": query, "limit": 24}, timeout=30)
            assert found.status_code == 200, found.text
            items = found.json()["items"]
            text = text_vector(reference[query])
            same_order([item["sha256"] for item in items], {sha: float(text @ vector) for sha, vector in images.items()})
            assert all(reason["kind"] == "vision_language" and reason["matched"] == "tiny-clip-image"
                       for item in items for reason in item["reasons"]), items
            assert 0 < items[-1]["score"] < items[0]["score"] <= 0.6 + 1e-9

        # check: similar photos come from the pair's image embeddings, with their cosines
        for sha256, vector in images.items():
            similar = server.http.get(server.url(f"/api/v1/images/{sha256}/similar"), timeout=30).json()
            assert similar["model"] == "tiny-clip-image"
            cosines = {other: float(vector @ theirs) for other, theirs in images.items() if other != sha256}
            same_order([item["sha256"] for item in similar["items"]], cosines)
            for item in similar["items"]:
                assert abs(item["similarity"] - cosines[item["sha256"]]) < 1e-3

        # act: two learner classes from their names alone
        classes = server.url(f"/api/v1/projects/{project}/learner/classes")
        for name in ["dog", "cat"]:
            made = server.http.post(classes, json={"name": name, "from_name": True}, timeout=30)
            assert made.status_code == 201 and made.json()["added"] == 0, made.text
        again = server.http.post(classes, json={"name": "dog", "from_name": True}, timeout=30)
        assert again.status_code == 409 and "already has a class named dog" in again.json()["detail"]
        both = server.http.post(classes, json={"name": "bird", "from_name": True, "from_label": "bird"}, timeout=30)
        assert both.status_code == 400 and both.json()["detail"] == "give from_label or from_name, not both"

        # check: each photo answers the name whose prompt embedding is nearest (the plain cosine)
        prompts = {"dog": text_vector(reference["a photo of a dog"]), "cat": text_vector(reference["A PHOTO OF A CAT"])}
        classify = server.url(f"/api/v1/projects/{project}/learner/classify")

        def answers():
            found = server.http.post(classify, json={"images": sorted(images)}, timeout=30)
            assert found.status_code == 200, found.text
            return {item["sha256"]: item for item in found.json()["items"]}

        # (confidences: the softmax of logit_scale × cosine, as CLIP's zero-shot classification)
        for sha256, item in answers().items():
            cosines = {name: float(images[sha256] @ vector) for name, vector in prompts.items()}
            assert item["label"] == max(cosines, key=cosines.get), (item, cosines)
            shares = {name: np.exp(100 * cosine) for name, cosine in cosines.items()}
            for ranked in item["ranked"]:
                assert abs(ranked["distance"] - (1 - cosines[ranked["label"]])) < 1e-3, (item, cosines)
                assert abs(ranked["confidence"] - shares[ranked["label"]] / sum(shares.values())) < 1e-2, (item, cosines)
            assert item["confidence"] == item["ranked"][0]["confidence"]

        # act: a photo labelled "dog" joins the class, whose centroid it becomes
        taught = sorted(images)[0]
        labelled = server.http.put(server.url(f"/api/v1/projects/{project}/images/{taught}/labels"),
                                   json={"labels": ["dog"]}, timeout=30)
        assert labelled.status_code == 200, labelled.text
        learner = server.http.get(server.url(f"/api/v1/projects/{project}/learner"), timeout=30).json()
        assert {item["name"]: item["count"] for item in learner["classes"]} == {"dog": 1, "cat": 0}, learner

        # check: the taught photo is at distance 0 from its class; cat still answers by its prompt
        item = answers()[taught]
        ranked = {entry["label"]: entry["distance"] for entry in item["ranked"]}
        assert item["label"] == "dog" and abs(ranked["dog"]) < 1e-4, item
        assert abs(ranked["cat"] - (1 - float(images[taught] @ prompts["cat"]))) < 1e-3, item
    finally:
        server.stop()
