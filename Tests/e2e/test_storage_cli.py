"""`iris storage migrate` and `iris storage verify` on a real data folder and a real S3 API
server (moto with signatures checked, started by `make test`): a folder moved to the bucket
and back, every copy checked, a second run finding everything already there, and a missing
blob reported."""

import json
import os
import uuid

import pytest

from conftest import iris, make_jpeg, variant

S3 = os.environ.get("IRIS_TEST_S3_URL")


@pytest.mark.skipif(not S3 and os.environ.get("IRIS_TEST_REQUIRE_S3") != "1", reason="no S3 test server")
def test_storage_moves_to_s3_and_back_and_verify_finds_a_missing_blob(workdir, database):
    data = workdir / "data"
    photos = workdir / "photos"
    photos.mkdir()
    base = make_jpeg(workdir / "base.jpg", 640, 480)
    for index in range(3):
        (photos / f"{index}.jpg").write_bytes(variant(base, index))
    imported = iris("import", str(photos), "--project", "Moving", database_url=database, data_dir=data)
    assert imported.returncode == 0, imported.stderr
    config = workdir / "iris.json"
    config.write_text(json.dumps({"storage": {
        "backend": "disk",
        "s3": {"endpoint": S3, "bucket": os.environ["IRIS_TEST_S3_BUCKET"], "prefix": f"move-{uuid.uuid4().hex[:8]}",
               "access_key": os.environ["IRIS_TEST_S3_ACCESS_KEY"], "secret_key": os.environ["IRIS_TEST_S3_SECRET_KEY"]},
    }}))

    def storage(*args):
        return iris("storage", *args, "--config", str(config), database_url=database, data_dir=data)

    # To S3: every blob copied and checked there, then the setting switched in the config file.
    moved = storage("migrate", "--to", "s3")
    assert moved.returncode == 0, moved.stderr
    blobs = int(moved.stdout.split(" blobs:")[0].split()[-1])
    assert blobs >= 3 and f"{blobs} blobs: {blobs} copied and checked" in moved.stdout, moved.stdout
    assert "storage.backend is now s3" in moved.stdout
    assert json.loads(config.read_text())["storage"]["backend"] == "s3"
    checked = storage("verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "3 images" in checked.stdout and "in s3 storage" in checked.stdout and "Every row has its blob" in checked.stdout
    again = storage("migrate", "--to", "s3")
    assert again.returncode != 0 and "already on s3" in again.stderr

    # Back to disk into an empty blobs folder; then to S3 again finds every object already there.
    for path in sorted((data / "blobs").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    back = storage("migrate", "--to", "disk")
    assert back.returncode == 0, back.stderr
    assert f": {blobs} copied and checked" in back.stdout, back.stdout
    assert len([p for p in (data / "blobs" / "originals").rglob("*") if p.is_file()]) == 3
    resumed = storage("migrate", "--to", "s3")
    assert resumed.returncode == 0, resumed.stderr
    assert ": 0 copied and checked" in resumed.stdout and f"{blobs} already there" in resumed.stdout, resumed.stdout
    storage("migrate", "--to", "disk")

    # A blob removed behind Iris's back is reported, and the command fails.
    original = next(p for p in (data / "blobs" / "originals").rglob("*") if p.is_file())
    original.unlink()
    broken = storage("verify")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"missing: the original of image {original.name}" in broken.stdout and "1 rows have no blob" in broken.stdout


def test_a_public_url_with_a_path_is_refused_naming_the_setting(workdir, database):
    config = workdir / "iris.json"
    config.write_text(json.dumps({"storage": {"backend": "s3", "s3": {
        "endpoint": "http://127.0.0.1:9", "bucket": "photos", "access_key": "a", "secret_key": "b",
        "public_url": "https://s3.example.org/photos"}}}))
    refused = iris("storage", "verify", "--config", str(config), database_url=database, data_dir=workdir / "data")
    assert refused.returncode != 0
    assert "storage.s3.public_url must be an http or https address with no path" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr and "Fatal error" not in refused.stderr
