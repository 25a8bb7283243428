"""Exports stream: `iris export` of 1,000 and of 10,000 images (small distinct JPEGs imported
with `iris import`), with the peak resident memory of each (`/usr/bin/time -v`) and the time.
A flat peak between the two is what streaming means; the zips are checked with Python's zipfile.

    python export.py IRIS WORK PHOTO.jpg
"""
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path


def variant(data, tag):
    comment = f"iris export bench {tag}".encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def main(iris, work, photo):
    work = Path(work) / "export-bench"
    shutil.rmtree(work, ignore_errors=True)
    base = Path(photo).read_bytes()
    env_args = ["--log-level", "warning"]
    print("== export (iris export, imagefolder with a split and csv; peak RSS from /usr/bin/time -v)")
    for count in (1000, 10000):
        data, photos = work / f"data-{count}", work / f"photos-{count}"
        for index in range(count):
            folder = photos / ["oak", "plane", "birch", "elm"][index % 4]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"IMG_{index:05d}.jpg").write_bytes(variant(base, index))
        started = time.time()
        subprocess.run([iris, "import", str(photos), "--project", "Trees", "--label-from-folders", "--data", str(data),
                        *env_args], check=True, capture_output=True)
        imported = time.time() - started
        for form, extra in (("imagefolder", ["--split"]), ("csv", [])):
            out = work / f"{form}-{count}.zip"
            started = time.time()
            run = subprocess.run(["/usr/bin/time", "-v", iris, "export", "--project", "Trees", "--format", form,
                                  "--out", str(out), "--data", str(data), *extra, *env_args],
                                 check=True, capture_output=True, text=True)
            seconds = time.time() - started
            peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)[1]) / 1024
            with zipfile.ZipFile(out) as archive:
                assert archive.testzip() is None
                entries = len(archive.namelist())
            print(f"   {count:>6} images, {form:<11}: {out.stat().st_size / 1e6:7.1f} MB, {entries} entries, "
                  f"{seconds:5.1f} s, peak RSS {peak:6.1f} MB (imported in {imported:.0f} s)")
        shutil.rmtree(photos)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
