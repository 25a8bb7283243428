"""Builds Iris's photo evaluation set for the learner: classes of different photographs.

The photographs are Tux Paint's stamps (Debian package tuxpaint-stamps-default, GPL-2, by Bill
Kendrick and contributors): real photographs of single subjects, cut out, one subject per file,
sorted by the package into folders such as animals/birds or food/fruit. Each class below is
one or more of those folders (never their cartoon subfolders). Every photo is flattened on
white, scaled to at most 448 px on its longer side and saved as a JPEG in an ImageFolder
layout, DEST/<class>/<stamp>.jpg, with DEST/MANIFEST.tsv naming the class, the file, the stamp
it came from and its licence.

No two photos of a class may come from one photograph: a stamp whose name is another's plus a
variant suffix (pig_golden2 beside pig_golden) is left out, and so is a stamp whose silhouette
(the alpha mask at 16 x 16, either way round) matches one already taken.

    python photoset.py STAMPS DEST     (STAMPS: the unpacked usr/share/tuxpaint/stamps)

With a third argument `search`, it writes the other subjects the search benchmark adds to
these (music, dishes, household things, sports, hats, insects and so on), one folder per
stamp folder and with no least number per folder.
"""
import os
import re
import sys

from PIL import Image

PACKAGE = "tuxpaint-stamps-default"
LICENCE = "GPL-2 (Tux Paint stamps, Bill Kendrick and contributors)"
CLASSES = {
    "bird": ["animals/birds"],
    "fruit": ["food/fruit"],
    "flower": ["plants/flowers"],
    "vegetable": ["food/vegetables"],
    "bovid": ["animals/mammals/bovines"],
    "mammal": ["animals/mammals"],
    "marine": ["animals/fish", "animals/shellfish", "animals/mammals/aquatic"],
    "vehicle": ["vehicles", "military/vehicles"],
    "tool": ["household/tools", "household/arttools"],
}
# The search benchmark's other subjects (photoset.py STAMPS DEST search).
SEARCH_CLASSES = {
    "music": ["hobbies/music"],
    "dishes": ["household/dishes"],
    "household": ["household"],
    "sports": ["sports"],
    "insects": ["animals/insects"],
    "reptiles": ["animals/lizards", "animals/amphibians"],
    "nuts": ["food/nuts"],
    "medical": ["medical"],
    "town": ["town"],
    "space": ["space"],
    "mushrooms": ["plants/mushrooms"],
    "trees": ["plants/trees"],
}
# Stamps of those folders that are drawings, not photographs.
SEARCH_DRAWINGS = {
    "blue_fedora", "feathered_hat", "green_fedora", "propeller_hat", "sombrero", "tophat", "tooth", "0_sun",
    "key",
}
# Of the town folder (mostly drawn signs and flags), only these: photographs, and the drawn signs
# with words on them.
SEARCH_TOWN = {
    "give_way_sign", "inukshuk-photo", "railroad_crossing", "school_sign", "stop", "traffic_cone", "uk_post_box",
    "usps_mailbox", "xing_school", "yield",
}
# Folders inside a class's folders that belong elsewhere or are not photographs.
EXCLUDED = {"cartoon", "plastic", "bovines", "aquatic", "toys", "tools", "arttools", "dishes", "electronics"}
SIDE = 448
MIN_PER_CLASS = 15


def stamps(root, folders):
    for folder in folders:
        for directory, subdirectories, files in os.walk(os.path.join(root, folder)):
            subdirectories[:] = sorted(d for d in subdirectories if d not in EXCLUDED)
            for name in sorted(files):
                if name.endswith(".png"):
                    yield os.path.join(directory, name)


def silhouette(image):
    mask = image.getchannel("A").resize((16, 16), Image.BILINEAR)
    bits = [value > 127 for value in mask.tobytes()]
    mirrored = [bits[row * 16 + 15 - column] for row in range(16) for column in range(16)]
    return bits, mirrored


def same_silhouette(a, b):
    return min(sum(x != y for x, y in zip(a[0], b[0])), sum(x != y for x, y in zip(a[0], b[1]))) <= 6


def main(root, dest, mode="learning"):
    classes, least = (SEARCH_CLASSES, 1) if mode == "search" else (CLASSES, MIN_PER_CLASS)
    marker = os.path.join(dest, ".complete-v1")
    if os.path.exists(marker):
        return
    rows = ["class\tfile\tsource\tpackage\tlicence"]
    for label, folders in classes.items():
        folder = os.path.join(dest, label)
        os.makedirs(folder, exist_ok=True)
        taken = []
        stems = set()
        for path in stamps(root, folders):
            stem = os.path.splitext(os.path.basename(path))[0]
            if mode == "search" and (stem in SEARCH_DRAWINGS or (label == "town" and stem not in SEARCH_TOWN)):
                continue
            base = re.sub(r"(_?\d+|_(left|right|side|front|back|2))$", "", stem)
            if base != stem and base in stems:
                continue
            image = Image.open(path).convert("RGBA")
            shape = silhouette(image)
            if any(same_silhouette(shape, other) for other in taken):
                continue
            taken.append(shape)
            stems.add(stem)
            flat = Image.new("RGBA", image.size, (255, 255, 255, 255))
            flat.alpha_composite(image)
            flat = flat.convert("RGB")
            flat.thumbnail((SIDE, SIDE), Image.LANCZOS)
            name = f"{stem}.jpg"
            flat.save(os.path.join(folder, name), quality=90)
            rows.append(f"{label}\t{label}/{name}\t{os.path.relpath(path, root)}\t{PACKAGE}\t{LICENCE}")
        if len(taken) < least:
            sys.exit(f"photoset: {label} has {len(taken)} photos, fewer than {least}")
    with open(os.path.join(dest, "MANIFEST.tsv"), "w") as manifest:
        manifest.write("\n".join(rows) + "\n")
    open(marker, "w").close()
    print(f"Wrote {len(rows) - 1} photos in {len(classes)} classes to {dest}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:4])
