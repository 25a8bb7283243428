"""Where "similar" ends on the photo page: the cosine of an embedding model above which a
photo's neighbour is more often of its own kind than not (the manifest's `similar_above`).

    python similar_cutoff.py IRIS WORK PHOTOSET [MODEL]

PHOTOSET is a photo evaluation set (one folder of different photographs per class, e.g.
photoset2). Every photo is uploaded to one project, analysed, and asked for its 200 nearest
photos; each neighbour counts as the same kind when it comes from the same folder. Printed: the
share of same-kind neighbours (precision) and of all same-kind pairs kept (recall) at each
cut-off, for the model named (default: the first embedding model).
"""
import shutil
import sys
from pathlib import Path

from review_crowd import Server, sha256


def main(iris, work, photoset, model=None):
    work, photoset = Path(work), Path(photoset)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server = Server(iris, work / "data", None)
    try:
        kinds = sorted(folder.name for folder in photoset.iterdir() if folder.is_dir())
        project = server.call("POST", "/api/v1/projects", {"name": "cut-off"})["id"]
        kind_of = {}
        for kind in kinds:
            for photo in sorted((photoset / kind).iterdir()):
                server.upload(photo, kind, project=project)
                kind_of[sha256(photo)] = kind
        server.settle()
        same, other = [], []
        query = "?limit=200" + (f"&model={model}" if model else "")
        for photo, kind in kind_of.items():
            answer = server.call("GET", f"/api/v1/images/{photo}/similar{query}")
            for item in answer["items"]:
                (same if kind_of.get(item["sha256"]) == kind else other).append(item["similarity"])
        print(f"{answer['model']}: {len(kind_of)} photos of {len(kinds)} kinds, {len(same)} same-kind and {len(other)} other pairs")
        for cut in [x / 100 for x in range(40, 80, 5)]:
            kept_same = sum(value >= cut for value in same)
            kept_other = sum(value >= cut for value in other)
            precision = kept_same / max(1, kept_same + kept_other)
            print(f"  cosine ≥ {cut:.2f}: precision {precision:.3f}, recall {kept_same / max(1, len(same)):.3f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
