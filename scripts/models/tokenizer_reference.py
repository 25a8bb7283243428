"""Writes what the reference WordPiece tokenizer (HuggingFace `tokenizers`, from the
sentence model's own tokenizer.json) makes of ~1,400 strings, for the Swift tokenizer's test
(Tests/IrisMLTests/TokenizerTests.swift): every ImageNet class name, the WordNet gloss of the
first 300 classes, and strings chosen to be hard (accents, CJK, punctuation, emoji, control
characters, long words, other scripts).

It also writes each sentence model's embedding of 24 of them, run here by onnxruntime (mean
of the token vectors, unit length), for the Swift encoder's test, keyed by the model file's
stem (minilm-l3, minilm-l6).

Usage: tokenizer_reference.py TOKENIZER_JSON IMAGENET_LABELS WNIDS WORDNET_DATA_NOUN OUT_JSON MODEL_ONNX...
"""

import json
import os
import sys

import numpy
import onnxruntime
from tokenizers import Tokenizer
from reference_strings import labels_and_glosses

HARD = [
    "", " ", "a", "A dog.", "Hello, World!", "naïve café résumé", "Crème brûlée à la carte", "ÅNGSTRÖM",
    "東京タワーの夜景", "北京 and 上海", "한국어 문장", "Ελληνικά γράμματα", "Русский текст", "עברית", "العربية",
    "हिन्दी", "emoji 🐶🐱 pets", "tab\tand\nnewline\rreturn", "nul\x00byte", "bell\x07char", "zero\u200bwidth",
    "soft\u00adhyphen", "don't stop", "state-of-the-art", "e-mail@example.com", "C++ / C# & F#", "50% off!!!",
    "(parentheses) [brackets] {braces}", "«quotes» “curly” ‘single’", "em—dash – en", "1,234.56 $ € £ ¥",
    "supercalifragilisticexpialidocious", "x" * 120, "pneumonoultramicroscopicsilicovolcanoconiosis is long",
    "İstanbul ıi", "straße", "ﬁne ligature", "Ⅻ roman", "½ ¾ fractions", "second² area m³",
    "a place of worship", "something to eat", "a boat on the water", "musical instrument", "flying a kite",
    "EXIT", "No Parking", "Region-based segmentation", "   leading and trailing   ", "ALL CAPS SENTENCE",
    "MiXeD CaSe WoRdS", "numbers 0123456789", "under_score words", "back\\slash", "pipe|char", "tilde~wave",
    "caret^up", "grave`accent", "semi;colon:colon", "ellipsis… end", "non\u00a0breaking space",
]


def embeddings(tokenizer, model, texts):
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    tokens = next(o.name for o in session.get_outputs() if len(o.shape) == 3)
    found = []
    for text in texts:
        ids = numpy.array([tokenizer.encode(text).ids], dtype=numpy.int64)
        vectors = session.run([tokens], {"input_ids": ids, "attention_mask": numpy.ones_like(ids)})[0][0]
        mean = vectors.mean(axis=0)
        found.append({"text": text, "vector": (mean / numpy.linalg.norm(mean)).astype(float).tolist()})
    return found


def main(tokenizer_json, labels_path, wnids_path, data_noun, out, *models):
    tokenizer = Tokenizer.from_file(tokenizer_json)
    tokenizer.no_padding()
    labels, glosses = labels_and_glosses(labels_path, wnids_path, data_noun)
    strings = HARD + labels + glosses
    cases = [{"text": text, "ids": tokenizer.encode(text).ids} for text in strings]
    texts = HARD[3:15] + HARD[40:46] + labels[:6]
    embedded = {os.path.basename(model).removesuffix(".onnx"): embeddings(tokenizer, model, texts) for model in models}
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"tokens": cases, "embeddings": embedded}, handle, ensure_ascii=False)
    print(f"wrote {len(cases)} tokenizer cases to {out}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
