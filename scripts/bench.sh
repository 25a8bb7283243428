#!/usr/bin/env bash
# `make bench`: builds Iris in release mode, fetches real photos from Debian's
# plasma-workspace-wallpapers package (unpacked into .bench-cache, not installed),
# and runs Benchmarks/ingest.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh bench
swift build -c release --product iris
cache="$PWD/.bench-cache"
photos="$cache/photos"
if [ ! -d "$photos" ] || [ -z "$(ls -A "$photos" 2>/dev/null)" ]; then
  mkdir -p "$cache/deb" "$photos"
  (cd "$cache/deb" && apt-get download plasma-workspace-wallpapers >/dev/null 2>&1)
  dpkg-deb -x "$cache"/deb/plasma-workspace-wallpapers_*.deb "$cache/unpacked"
  # The photographs among the wallpapers, at 2560×1600 (4 MP).
  for name in Autumn ColdRipple EveningGlow FallenLeaf OneStandsOut Path; do
    cp "$cache/unpacked/usr/share/wallpapers/$name/contents/images/2560x1600.jpg" "$photos/$name.jpg"
  done
  rm -rf "$cache/unpacked" "$cache/deb"
fi
work=$(mktemp -d /tmp/iris-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 Benchmarks/ingest.py "$PWD/.build/release/iris" "$photos" "$work"

# Storage: Iris on S3 (moto on loopback) against Iris on disk, and `iris storage migrate`
# against a plain boto3 upload of the same files.
s3_settings=$(scripts/s3-test-server.sh start)
# shellcheck disable=SC2163 # each line is NAME=value, and export sets it
while IFS= read -r line; do export "$line"; done <<<"$s3_settings"
"$(scripts/python-env.sh s3)/bin/python" Benchmarks/storage.py "$PWD/.build/release/iris" "$photos" "$work"
scripts/s3-test-server.sh stop

# The job queue: no-op jobs against bare transactions, on SQLite and on PostgreSQL.
echo "== job queue (2 producers, 2 workers, 1000 no-op jobs against 1000 one-row transactions from 2 writers; 5 interleaved pairs)"
mkdir -p "$work/jobs-sqlite"
"$PWD/.build/release/iris" jobs bench --data "$work/jobs-sqlite" --count 1000 --rounds 5 --log-level warning
# Label correction: a bulk relabel of 10,000 photos and its undo, and how long another writer's
# one-row writes took meanwhile against the same writes alone.
echo "== bulk relabel (10,000 photos, then undo; another writer appending events throughout)"
"$PWD/.build/release/iris" label-bench --data "$work/labels-sqlite" --photos 10000 --log-level warning
if command -v psql >/dev/null && [ -d /usr/lib/postgresql ]; then
  pg=$(scripts/postgres-test-server.sh start)
  psql "$pg" -qc "CREATE DATABASE iris_jobs_bench"
  "$PWD/.build/release/iris" jobs bench --data "$work/jobs-pg" --database "${pg%/postgres}/iris_jobs_bench" --count 1000 --rounds 5 --log-level warning
  psql "$pg" -qc "CREATE DATABASE iris_labels_bench"
  "$PWD/.build/release/iris" label-bench --data "$work/labels-pg" --database "${pg%/postgres}/iris_labels_bench" --photos 10000 --log-level warning
  scripts/postgres-test-server.sh stop
fi

# Inference: classify + embed on the same photos (wallpapers and scikit-image's samples), 2 threads.
echo "== inference (MobileNetV2 classify + embed; Iris end to end vs bare ONNX Runtime vs the Python pipeline)"
scripts/prepare-models.sh
inputs=("$photos"/*.jpg .cache/photos/chelsea.png .cache/photos/coffee.png .cache/photos/rocket.jpg .cache/photos/astronaut.png)
# Iris (which also times bare ONNX Runtime in the same process) and the Python pipeline,
# alternately: 5 pairs, the median ratio and its range.
IRIS_ML_THREADS=2 python3 Benchmarks/paired.py 5 Iris 'Iris \(decode.*?= ([0-9.]+) images/s' Python '= ([0-9.]+) images/s' \
  -- "$PWD/.build/release/iris" models bench --data "$work/models-{n}" --log-level warning --rounds 2 --concurrency 2 "${inputs[@]}" \
  -- .venv-models/bin/python Benchmarks/python_pipeline.py models 2 2 "${inputs[@]}"

# Iris as an Open Inference Protocol server: tritonclient sending MobileNetV2 batches of 8 photos
# from 2 clients, against POST /api/v1/analyses and MLServer serving the same ONNX file.
"$(scripts/python-env.sh)/bin/python" Benchmarks/oip.py "$PWD/.build/release/iris" "$(scripts/python-env.sh oip)/bin/python" \
  "$work/oip" "$photos"/*.jpg .cache/photos/chelsea.png .cache/photos/rocket.jpg

# Learning: quality on the photo evaluation set (different photographs per class: Tux Paint's
# stamps from Debian, unpacked into .bench-cache, never installed) and, as a second row, on the
# crops of one photograph per class; then the three speed figures.
photoset="$cache/photoset"
if [ ! -f "$photoset/.complete-v1" ]; then
  mkdir -p "$cache/deb"
  (cd "$cache/deb" && apt-get download tuxpaint-stamps-default >/dev/null 2>&1)
  dpkg-deb -x "$cache"/deb/tuxpaint-stamps-default_*.deb "$cache/stamps"
  .venv-models/bin/python scripts/models/photoset.py "$cache/stamps/usr/share/tuxpaint/stamps" "$photoset"
  rm -rf "$cache/stamps" "$cache/deb"
fi
for model in mobilenet-v2 efficientnet-lite0; do
  echo "== learning quality, photo set, $model (different photographs of each class; 20 random splits)"
  "$PWD/.build/release/iris" learn quality --model "$model" --data "$work/learning" --log-level warning "$photoset"
  echo "== learning quality, crop set, $model (crops of one photograph per class: an upper bound; 20 random splits)"
  "$PWD/.build/release/iris" learn quality --model "$model" --data "$work/learning" --log-level warning .cache/evalset
done
# Label quality: wrong labels found among random flips, label-next curves against random order,
# and the map layout's neighbour preservation against PCA's, on the photo set and on a second
# set of different photographs (GCompris's, from Debian's gcompris-qt-data, never installed).
photoset2="$cache/photoset2"
if [ ! -f "$photoset2/.complete-v1" ]; then
  mkdir -p "$cache/deb"
  (cd "$cache/deb" && apt-get download gcompris-qt-data >/dev/null 2>&1)
  dpkg-deb -x "$cache"/deb/gcompris-qt-data_*.deb "$cache/gcompris"
  .venv-models/bin/python scripts/models/photoset2.py "$cache/gcompris" "$photoset2"
  rm -rf "$cache/gcompris" "$cache/deb"
fi
echo "== feature study: embeddings, WordNet-hierarchy features and both (photo set, second set, crop set; 20 splits each)"
"$PWD/.build/release/iris" learn feature-study --data "$work/learning" --log-level warning "$photoset" "$photoset2" .cache/evalset
# Over the learner's default model (the label check and label next use the project's learner
# model); MobileNetV2's plain embedding as well, the model of the first figures in docs/LEARNING.md.
for model in mobilenet-v2-wordnet mobilenet-v2; do
  for set in "$photoset" "$photoset2"; do
    echo "== label quality, $(basename "$set") ($model; 20 seeds of flipped labels, 10 seeds of label-next rounds, 50 of the learning curve)"
    "$PWD/.build/release/iris" learn label-quality --model "$model" --data "$work/learning" --log-level warning "$set"
  done
done
echo "== map layout (50,000 synthetic 1,280-d points in 100 clusters; and the photo set)"
"$PWD/.build/release/iris" learn map-bench --data "$work/learning" --log-level warning --points 50000 "$photoset"
# The map's and the label check's jobs on one project of 50,000 photos (seeded directly: synthetic
# embeddings in 100 clusters, 5% of labels wrong), then the check page drawing its map in headless
# Chromium (the issue's targets: laid out in under a minute, the page in under 2 s).
echo "== map and label check jobs (a project of 50,000 photos, synthetic 1,280-d embeddings in 100 clusters)"
"$PWD/.build/release/iris" map-bench-project --data "$work/map-project" --log-level warning --photos 50000
"$(scripts/python-env.sh)/bin/python" Benchmarks/map_page.py "$PWD/.build/release/iris" "$work/map-project"
# The project page of 1,000 photos (uploaded, analysed by mobilenet-v2) in headless Chromium at 1280×900
# and 390×844: DOMContentLoaded and interactive (first photo loaded, project.js run) against a 10-photo project's.
"$(scripts/python-env.sh)/bin/python" Benchmarks/project_page.py "$PWD/.build/release/iris" "$work"
# Review: a simulated crowd (the photo set through a link, 15% of labels wrong) and a reviewer who
# looks at 30% of it, in the suspect order and in the newest order.
python3 Benchmarks/review_crowd.py "$PWD/.build/release/iris" "$work" "$photoset"
echo "== learning speed (100-image class; 1,000 classes; 10,000 × 50 training set)"
IRIS_ML_THREADS=2 "$PWD/.build/release/iris" learn bench --data "$work/learning" --log-level warning .cache/evalset

# Exports stream: the peak memory of exporting 1,000 and 10,000 images.
birds=("$cache/photoset"/bird/*.jpg)
python3 Benchmarks/export.py "$PWD/.build/release/iris" "$work" "${birds[0]}"
# Imports: a 5,000-photo COCO zip against the ImageFolder zip of the same photos (photos/s).
python3 Benchmarks/imports.py "$PWD/.build/release/iris" "$work" "${birds[0]}"

# Label Studio's /predict: a batch of 16 tasks answered by a project's learner.
python3 Benchmarks/label_studio.py "$PWD/.build/release/iris" "$work" "$photoset"

# Uploading from another machine: `iris upload` against curl one file at a time, and the
# re-run of a finished folder of 1,000 photos.
python3 Benchmarks/upload.py "$PWD/.build/release/iris" "$work" "$photos" "$cache/photoset"

# Search quality: 59 queries marked by hand over 311 photographs (the photo set above, Tux
# Paint's other photo stamps, and scikit-image's samples), each kind of evidence alone and all
# together.
searchset="$cache/searchset"
if [ ! -f "$searchset/.complete-v1" ]; then
  mkdir -p "$cache/deb"
  (cd "$cache/deb" && apt-get download tuxpaint-stamps-default >/dev/null 2>&1)
  dpkg-deb -x "$cache"/deb/tuxpaint-stamps-default_*.deb "$cache/stamps"
  .venv-models/bin/python scripts/models/photoset.py "$cache/stamps/usr/share/tuxpaint/stamps" "$searchset" search
  rm -rf "$cache/stamps" "$cache/deb"
fi
samples=()
for name in astronaut.png chelsea.png coffee.png motorcycle_left.png motorcycle_right.png rocket.jpg page.png text.png \
  coins.png brick.png grass.png gravel.png hubble_deep_field.jpg retina.jpg ihc.png; do
  samples+=(".cache/photos/$name")
done
python3 Benchmarks/search_quality.py "$PWD/.build/release/iris" Benchmarks/search-queries.tsv "$work" "$photoset" \
  "$searchset" "${samples[@]}"
# Search speed: the vector index on a million synthetic vectors shaped like that set's real
# embeddings, against FAISS's flat and HNSW indexes on the same vectors; then HTTP end to end.
"$(scripts/python-env.sh bench)/bin/python" Benchmarks/search_speed.py "$PWD/.build/release/iris" "$work/search-data" \
  "$work/search-speed"

# Repair: quality against OpenCV's Telea and Navier–Stokes and PyPatchMatch on the same photos
# and seeded masks, the gain from domain exemplars, and speed (1 MP and 12 MP photos).
bench_venv=$(scripts/python-env.sh bench)
"$bench_venv/bin/python" Benchmarks/repair.py "$PWD/.build/release/iris" "$photos" .cache/photos .cache/evalset \
  "$work/repair" "$PWD/docs/repair"
