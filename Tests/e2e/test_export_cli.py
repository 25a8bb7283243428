"""`iris export` and `iris import`: an ImageFolder export, split or not, imports back as the
same images with the same labels; the other formats are readable zips."""

import csv
import io
import json
import zipfile

from conftest import iris, make_jpeg, variant


def labels_by_hash(data, database, project):
    """sha256 → sorted labels, read back through a CSV export."""
    out = data.parent / f"{project}.zip"
    exported = iris("export", "--project", project, "--format", "csv", "--out", str(out), database_url=database,
                    data_dir=data)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    return {row["sha256"]: sorted(filter(None, row["labels"].split(";"))) for row in rows}


def test_an_export_imports_back_with_the_same_labels(workdir, database):
    data = workdir / "data"
    base = make_jpeg(workdir / "base.jpg", 320, 240)
    for index in range(30):
        label = ["oak", "plane", "birch"][index % 3]
        folder = workdir / "photos" / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{index:03d}.jpg").write_bytes(variant(base, index))
    imported = iris("import", str(workdir / "photos"), "--project", "Trees", "--label-from-folders",
                    database_url=database, data_dir=data)
    assert imported.returncode == 0, imported.stderr
    original = labels_by_hash(data, database, "Trees")
    assert len(original) == 30

    for flags, copy in [([], "Copy"), (["--split"], "Split copy")]:
        out = workdir / f"{copy}.zip"
        exported = iris("export", "--project", "Trees", "--format", "imagefolder", "--out", str(out), *flags,
                        database_url=database, data_dir=data)
        assert exported.returncode == 0, exported.stderr
        assert "30 images in 3 classes" in exported.stdout, exported.stdout
        if flags:
            names = zipfile.ZipFile(out).namelist()
            # 10 a class: 7 train, 1 val (rank 0.75), 2 test.
            for label in ["oak", "plane", "birch"]:
                counts = [sum(name.startswith(f"{split}/{label}/") for name in names) for split in ["train", "val", "test"]]
                assert counts == [7, 1, 2], (label, counts)
        back = iris("import", str(out), "--project", copy, "--label-from-folders", database_url=database, data_dir=data)
        assert back.returncode == 0, back.stderr
        assert labels_by_hash(data, database, copy) == original

    for form, member in [("coco", "annotations.json"), ("labelstudio", "tasks.json"), ("yolo", None)]:
        out = workdir / f"{form}.zip"
        exported = iris("export", "--project", "Trees", "--format", form, "--out", str(out), database_url=database,
                        data_dir=data)
        assert exported.returncode == 0, exported.stderr
        with zipfile.ZipFile(out) as archive:
            assert archive.testzip() is None
            if form == "coco":
                document = json.loads(archive.read(member))
                assert [c["name"] for c in document["categories"]] == ["birch", "oak", "plane"]
                assert len(document["images"]) == 30 and len(document["annotations"]) == 30
            elif form == "labelstudio":
                tasks = json.loads(archive.read(member))
                assert len(tasks) == 30
                assert tasks[0]["annotations"][0]["result"][0]["value"]["choices"][0] in {"oak", "plane", "birch"}
            else:
                assert {name.split("/")[0] for name in archive.namelist()} == {"train", "val", "test"}

    for args, message in [(["--format", "tar"], "--format must be one of"),
                          (["--format", "csv", "--project", "Nowhere"], "no project is named or numbered Nowhere"),
                          (["--format", "csv", "--model-confidence", "3"], "--model-confidence must be from 0 to 1")]:
        project = [] if "--project" in args else ["--project", "Trees"]
        refused = iris("export", *project, *args, "--out", str(workdir / "bad.zip"), database_url=database,
                       data_dir=data)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
        assert not (workdir / "bad.zip").exists()


def test_every_format_imports_back_with_iris_import(workdir, database):
    """Each of the five exports, imported with `iris import` (the format read from the zip),
    gives the same photos with the same labels; a bad CSV row is refused with its line number
    and nothing stored."""
    data = workdir / "data"
    base = make_jpeg(workdir / "base.jpg", 160, 120)
    photos = workdir / "photos"
    for index in range(12):
        label = ["oak", "plane", "birch"][index % 3]
        (photos / label).mkdir(parents=True, exist_ok=True)
        (photos / label / f"IMG_{index:03d}.jpg").write_bytes(variant(base, index))
    imported = iris("import", str(photos), "--project", "Trees", "--label-from-folders", database_url=database,
                    data_dir=data)
    assert imported.returncode == 0, imported.stderr
    original = labels_by_hash(data, database, "Trees")
    assert len(original) == 12

    for form in ["imagefolder", "yolo", "csv", "coco", "labelstudio"]:
        out = workdir / f"{form}.zip"
        exported = iris("export", "--project", "Trees", "--format", form, "--out", str(out), database_url=database,
                        data_dir=data)
        assert exported.returncode == 0, exported.stderr
        flags = ["--label-from-folders"] if form in ("imagefolder", "yolo") else []
        back = iris("import", str(out), "--project", f"Copy {form}", *flags, database_url=database, data_dir=data)
        assert back.returncode == 0, back.stderr
        assert f"read as {form}: 12 imported" in back.stdout, back.stdout
        assert labels_by_hash(data, database, f"Copy {form}") == original, form

    # A CSV whose third line escapes the archive: refused, naming the line; the project stays empty.
    bad = workdir / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("a.jpg", variant(base, 100))
        archive.writestr("list.csv", "a.jpg,oak\n../../etc/passwd,oak\n")
    refused = iris("import", str(bad), "--project", "Bad", database_url=database, data_dir=data)
    assert refused.returncode != 0
    assert 'list.csv line 2: "../../etc/passwd" points outside the archive' in refused.stderr, refused.stderr
    assert labels_by_hash(data, database, "Bad") == {}
    unknown = iris("import", str(bad), "--project", "Bad", "--format", "tar", database_url=database, data_dir=data)
    assert unknown.returncode != 0 and "--format must be" in unknown.stderr, unknown.stderr
