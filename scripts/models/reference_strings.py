"""The strings both tokenizer references (tokenizer_reference.py, clip_tokenizer_reference.py) are
made from, beside their own hard cases: every ImageNet class name and the WordNet gloss of the
first 300 classes."""


def labels_and_glosses(labels_path, wnids_path, data_noun, classes=300):
    labels = open(labels_path, encoding="utf-8").read().splitlines()
    wnids = open(wnids_path, encoding="utf-8").read().splitlines()
    wanted = {wnid[1:] for wnid in wnids[:classes]}
    glosses = []
    with open(data_noun, encoding="utf-8") as data:
        for line in data:
            if line[:8] in wanted and "|" in line:
                glosses.append(line.split("|", 1)[1].strip())
    return labels, glosses
