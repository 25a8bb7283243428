"""Imports: `iris import` of a 5,000-photo COCO zip against the ImageFolder zip of the same
photos, in photos per second. The photos are distinct files (one small JPEG with a different
comment segment each, so no two share a SHA-256 and nothing is skipped as a duplicate), in four
classes; both zips are stored (JPEG does not compress). Each run imports into a fresh data
folder; runs alternate ImageFolder, COCO, ImageFolder, … and the ratio is the median of the
pairs with its range, as the other paired benchmarks report.

    python imports.py IRIS WORK PHOTO.jpg [PAIRS] [COUNT]
"""
import json
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

CLASSES = ["oak", "plane", "birch", "elm"]


def variant(data, tag):
    comment = f"iris import bench {tag}".encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def make_zips(work, photo, count):
    base = Path(photo).read_bytes()
    folder_zip, coco_zip = work / "imagefolder.zip", work / "coco.zip"
    images, annotations = [], []
    with zipfile.ZipFile(folder_zip, "w", zipfile.ZIP_STORED) as folders, \
            zipfile.ZipFile(coco_zip, "w", zipfile.ZIP_STORED) as coco:
        for index in range(count):
            data = variant(base, index)
            label = index % len(CLASSES)
            folders.writestr(f"{CLASSES[label]}/IMG_{index:05d}.jpg", data)
            coco.writestr(f"images/IMG_{index:05d}.jpg", data)
            images.append({"id": index + 1, "file_name": f"images/IMG_{index:05d}.jpg"})
            annotations.append({"id": index + 1, "image_id": index + 1, "category_id": label + 1})
        document = {"images": images, "annotations": annotations,
                    "categories": [{"id": i + 1, "name": name} for i, name in enumerate(CLASSES)]}
        coco.writestr("annotations.json", json.dumps(document))
    return folder_zip, coco_zip


def run(iris, work, zip_path, name, flags, count, round_):
    data = work / f"data-{name}-{round_}"
    started = time.perf_counter()
    done = subprocess.run([iris, "import", str(zip_path), "--project", "Trees", *flags, "--data", str(data),
                           "--log-level", "warning"], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    assert f"{count} imported" in done.stdout, done.stdout
    for label in CLASSES:
        assert f"  {label}: {count // len(CLASSES)}" in done.stdout, done.stdout
    shutil.rmtree(data)
    return count / seconds


def main(iris, work, photo, pairs="3", count="5000"):
    pairs, count = int(pairs), int(count)
    work = Path(work) / "import-bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    folder_zip, coco_zip = make_zips(work, photo, count)
    print(f"== import (iris import of {count:,} distinct photos in 4 classes: a COCO zip against the ImageFolder "
          f"zip of the same photos; {pairs} interleaved pairs, fresh data folder each)")
    folder_rates, coco_rates = [], []
    for round_ in range(pairs):
        folder_rates.append(run(iris, work, folder_zip, "imagefolder", ["--label-from-folders"], count, round_))
        coco_rates.append(run(iris, work, coco_zip, "coco", [], count, round_))
        print(f"   pair {round_ + 1}: imagefolder {folder_rates[-1]:6.1f} photos/s, coco {coco_rates[-1]:6.1f} photos/s")
    ratios = [coco / folder for coco, folder in zip(coco_rates, folder_rates)]
    print(f"   imagefolder {statistics.median(folder_rates):.1f} photos/s, coco {statistics.median(coco_rates):.1f} "
          f"photos/s (medians); coco/imagefolder {statistics.median(ratios):.3f} (range {min(ratios):.3f}–"
          f"{max(ratios):.3f})")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
