"""Search quality: the queries of Benchmarks/search-queries.tsv over real photographs, each
marked relevant or not by hand, ranked by `iris search` with each kind of evidence alone and
all together.

    python search_quality.py IRIS QUERIES WORK PHOTOS...

PHOTOS are folders of photos in an ImageFolder layout (folder/name.jpg), or single files (named
skimage/<stem>). Every third photo of each folder, by name, is imported with a human label (the
folder's name, as a person sorting photos into folders would give it); the rest with none. The
models of `analysis.auto_models` analyse every photo (`iris worker`), then each query is run
with `--using words`, `labels`, `text`, `meaning`, `hierarchy` and with everything.

Recall@k is capped: the relevant photos in the top k over min(k, relevant photos), so a query
with 60 relevant photos can reach 1 at k = 5. nDCG@10 is binary; MRR is over the whole ranking.
"""
import hashlib
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import time

# Folder names as a person would label them.
LABELS = {
    "bovid": "bovid", "marine": "sea creature", "music": "musical instrument", "dishes": "dishes",
    "household": "household", "insects": "insect", "reptiles": "reptile", "nuts": "nut", "medical": "medical",
    "town": "street", "space": "space", "mushrooms": "mushroom", "trees": "tree",
}
PARTS = ["words", "labels", "text", "meaning", "hierarchy", "all"]


def read_queries(path, photos):
    queries = []
    for line in open(path, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        columns = line.rstrip("\n").split("\t")
        text, kind = columns[0], columns[1]
        relevant = set()
        for item in (columns[2].split() if len(columns) > 2 else []):
            remove = item.startswith("-")
            item = item.lstrip("-")
            if item.endswith("/*"):
                matched = {key for key in photos if key.startswith(item[:-1])}
            else:
                matched = {item}
            if not matched or not matched <= set(photos):
                sys.exit(f"search-queries.tsv: {item} (query {text!r}) names no photo of the set")
            relevant = relevant - matched if remove else relevant | matched
        queries.append((text, kind, relevant))
    return queries


def gather(sources):
    """key (folder/stem) → path."""
    photos = {}
    for source in sources:
        if os.path.isdir(source):
            for folder in sorted(os.listdir(source)):
                directory = os.path.join(source, folder)
                if not os.path.isdir(directory):
                    continue
                for name in sorted(os.listdir(directory)):
                    if name.lower().endswith((".jpg", ".jpeg", ".png")):
                        photos[f"{folder}/{os.path.splitext(name)[0]}"] = os.path.join(directory, name)
        else:
            photos[f"skimage/{os.path.splitext(os.path.basename(source))[0]}"] = source
    return photos


def import_photos(iris, photos, work, data):
    labelled, unlabelled = os.path.join(work, "labelled"), os.path.join(work, "unlabelled")
    by_folder = {}
    for key in sorted(photos):
        by_folder.setdefault(key.split("/")[0], []).append(key)
    count = 0
    for folder, keys in by_folder.items():
        for index, key in enumerate(keys):
            stem = key.split("/")[1]
            extension = os.path.splitext(photos[key])[1]
            if folder != "skimage" and index % 3 == 0:
                target = os.path.join(labelled, LABELS.get(folder, folder), stem + extension)
                count += 1
            else:
                target = os.path.join(unlabelled, "all", f"{folder}-{stem}{extension}")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(photos[key], target)
    for folder, flags in [(labelled, ["--label-from-folders"]), (unlabelled, [])]:
        subprocess.run([iris, "import", folder, "--project", "Search", "--data", data, "--log-level", "warning",
                        *flags], check=True, stdout=subprocess.DEVNULL)
    return count


def analyse(iris, data):
    """Runs a worker until no job is waiting or running; returns the seconds it took."""
    started = time.time()
    worker = subprocess.Popen([iris, "worker", "--data", data, "--log-level", "warning",
                               "--concurrency", "2"])
    try:
        database = os.path.join(data, "iris.sqlite")
        while True:
            time.sleep(2)
            with sqlite3.connect(database, timeout=30) as db:
                (waiting,) = db.execute("SELECT count(*) FROM jobs WHERE state IN ('queued','running')").fetchone()
                (failed,) = db.execute("SELECT count(*) FROM jobs WHERE state IN ('failed','dead')").fetchone()
                (queued,) = db.execute("SELECT count(*) FROM jobs").fetchone()
            # The worker queues the imported photos' analyses once it has started (loading the
            # models takes a while on a debug build): until then there is nothing to wait for yet.
            if not queued and time.time() - started < 300:
                continue
            if failed:
                sys.exit(f"search quality: {failed} analysis jobs failed")
            if not waiting:
                return time.time() - started
            if time.time() - started > 1800:
                sys.exit("search quality: the analyses took more than 30 minutes")
    finally:
        worker.terminate()
        worker.wait()


def metrics(ranking, relevant):
    top = ranking[:10]
    found = [key in relevant for key in top]
    recall = {k: sum(found[:k]) / min(k, len(relevant)) for k in (5, 10)}
    dcg = sum(1 / math.log2(position + 2) for position, hit in enumerate(found) if hit)
    ideal = sum(1 / math.log2(position + 2) for position in range(min(10, len(relevant))))
    first = next((position for position, key in enumerate(ranking) if key in relevant), None)
    return recall[5], recall[10], dcg / ideal, 0 if first is None else 1 / (first + 1)


def main(iris, queries_path, work, *sources):
    photos = gather(sources)
    queries = read_queries(queries_path, photos)
    by_hash = {hashlib.sha256(open(path, "rb").read()).hexdigest(): key for key, path in photos.items()}
    data = os.path.join(work, "search-data")
    if os.environ.get("SEARCH_QUALITY_REUSE") and os.path.exists(os.path.join(data, "iris.sqlite")):
        # Only the searches again, over the photos already imported and analysed (for trying settings).
        labelled, seconds = sum(1 for key in photos if key.split("/")[0] != "skimage" and
                                sorted(k for k in photos if k.split("/")[0] == key.split("/")[0]).index(key) % 3 == 0), 0
    else:
        shutil.rmtree(data, ignore_errors=True)
        labelled = import_photos(iris, photos, work, data)
        seconds = analyse(iris, data)
    with_relevant = [q for q in queries if q[2]]
    print(f"== search quality ({len(photos)} photos, {labelled} with a human label, {len(by_hash)} distinct; "
          f"{len(queries)} queries, {len(with_relevant)} with relevant photos; analysed in {seconds:.0f} s)")
    query_file = os.path.join(work, "queries.txt")
    with open(query_file, "w", encoding="utf-8") as out:
        out.write("\n".join(q[0] for q in queries) + "\n")
    rankings = {}
    for part in PARTS:
        command = [iris, "search", "--queries", query_file, "--project", "Search", "--data", data, "--json",
                   "--limit", "1000", "--log-level", "warning"]
        if part != "all":
            command += ["--using", part]
        started = time.time()
        lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()
        elapsed = time.time() - started
        answers = [json.loads(line) for line in lines]
        if len(answers) != len(queries):
            sys.exit(f"search quality: {len(answers)} answers for {len(queries)} queries")
        rankings[part] = [[(by_hash.get(hit["sha256"], "?"), hit["score"]) for hit in answer["hits"]]
                          for answer in answers]
        with open(os.path.join(work, f"rankings-{part}.json"), "w") as saved:
            json.dump({"queries": [q[0] for q in queries], "rankings": rankings[part]}, saved)
        print(f"   {part}: {len(queries)} queries in {elapsed:.1f} s (one process, models loaded once)")
    kinds = sorted({q[1] for q in with_relevant}, key=["noun", "category", "phrase", "text"].index)
    print(f"{'evidence':<9} {'queries':<9} {'recall@5':>8} {'recall@10':>9} {'nDCG@10':>8} {'MRR':>6}")
    for part in PARTS:
        for kind in kinds + ["every"]:
            rows = [metrics([key for key, _ in rankings[part][index]], relevant)
                    for index, (text, query_kind, relevant) in enumerate(queries)
                    if relevant and (kind == "every" or kind == query_kind)]
            means = [sum(column) / len(rows) for column in zip(*rows)]
            print(f"{part:<9} {kind + f' ({len(rows)})':<9} {means[0]:>8.3f} {means[1]:>9.3f} {means[2]:>8.3f} "
                  f"{means[3]:>6.3f}")
    # The thresholds of the meaning part were chosen on the odd-numbered queries with relevant
    # photos; the even-numbered ones were held out.
    numbered = [(index, relevant) for index, (_, _, relevant) in enumerate(queries) if relevant]
    for name, half in [("odd (chosen on)", numbered[0::2]), ("even (held out)", numbered[1::2])]:
        rows = [metrics([key for key, _ in rankings["all"][index]], relevant) for index, relevant in half]
        means = [sum(column) / len(rows) for column in zip(*rows)]
        print(f"all, {name} ({len(rows)}): recall@5 {means[0]:.3f}, recall@10 {means[1]:.3f}, "
              f"nDCG@10 {means[2]:.3f}, MRR {means[3]:.3f}")
    # Scores, for a cut-off: the best score of a query with nothing relevant, against the
    # score of the first relevant photo of the others.
    print("queries with no relevant photo, their top score (all evidence):")
    tops = []
    for index, (text, kind, relevant) in enumerate(queries):
        if not relevant:
            ranking = rankings["all"][index]
            top = ranking[0][1] if ranking else 0
            tops.append(top)
            print(f"   {text!r}: {top:.3f}" + (f" ({ranking[0][0]})" if ranking else " (no result)"))
    firsts = sorted(next((score for key, score in rankings["all"][index] if key in relevant), 0)
                    for index, (text, kind, relevant) in enumerate(queries) if relevant)
    above = sum(score > max(tops, default=0) for score in firsts)
    print(f"first relevant photo's score: median {firsts[len(firsts) // 2]:.3f}, lowest {firsts[0]:.3f}; "
          f"{above} of {len(firsts)} above the best no-match score {max(tops, default=0):.3f}")
    misses = []
    for index, (text, kind, relevant) in enumerate(queries):
        if relevant:
            recall5 = metrics([key for key, _ in rankings["all"][index]], relevant)[0]
            if recall5 < 0.8:
                top = ", ".join(key for key, _ in rankings["all"][index][:5]) or "nothing"
                misses.append(f"   {text!r} ({recall5:.1f}): {top}")
    if misses:
        print("queries below recall@5 0.8 with all evidence, and their top 5:")
        print("\n".join(misses))


if __name__ == "__main__":
    main(*sys.argv[1:])
