"""Builds Iris's second photo evaluation set: classes of different photographs, none from Tux Paint.

The photographs come from GCompris's data (Debian package gcompris-qt-data, GPL-3+ as a whole;
most of these photos are Wikimedia Commons pictures under CC BY or CC BY-SA, credited in each
activity's ActivityInfo.qml). GCompris keeps each activity's files in a Qt resource bundle,
usr/share/gcompris-qt/rcc/<activity>.rcc, which this script reads itself. A class is a list of
(activity folder, file stems) below; a folder given with no stems counts whole, less SKIPPED:

    bird       erase's birds, explore_world_animals' macaw, explore_farm_animals' chicken, duck, owl
    mammal     land mammals of those three (no bovids and no sea mammals, as in the first set)
    marine     categorization's fishes, erase's crab and dolphin, explore_world_animals' narwhal
    tool       categorization's tools (less the spray bottle)
    household  categorization's "others" (less the balls and the igloo) and the spray bottle
    landmark   explore_monuments, the photographs among details' backgrounds, categorization's
               monuments
    windmill   categorization's windmills (less a modern wind turbine) and details' Fano windmill

Left out as drawings or paintings: lang's word pictures, clickgame's fish sprites, paintings,
babyshapes, and details' painted backgrounds. Each photo is scaled to at most 448 px on its
longer side and saved as a JPEG in an ImageFolder layout, DEST/<class>/<stem>.jpg, with
DEST/MANIFEST.tsv naming the class, the file, the bundle and path it came from and its licence.

No two photos of a class may come from one photograph, and GCompris reuses photographs across
activities: a photo is left out when its subject (the file stem, lower-cased, through SAME_SUBJECT:
toureiffel is eiffeltower) is already in its class, or when its 8 x 8 gradient hash, either way
round, is within 4 bits of one already taken.

    python photoset2.py ROOT DEST     (ROOT: the unpacked gcompris-qt-data package)
"""
import io
import os
import struct
import sys
import zlib

from PIL import Image, ImageOps

PACKAGE = "gcompris-qt-data"
BUNDLES = "usr/share/gcompris-qt/rcc"
ACTIVITIES = "/gcompris/src/activities/"
LICENCE = "GPL-3+ (GCompris, per Debian's copyright file)"
LICENCES = {
    "erase": "CC BY-SA 4.0, CC BY 3.0 or CC BY 2.0 (Wikimedia Commons; credits in erase/ActivityInfo.qml)",
    "details": "CC BY-SA 2.0-4.0 or CC BY 3.0 (Wikimedia Commons; credits in details/ActivityInfo.qml)",
    "explore_monuments": "GPL-3+ (GCompris); photos from Wikipedia, credits in explore_monuments/ActivityInfo.qml",
}
WORLD = "explore_world_animals/resource/animals"
FARM = "explore_farm_animals/resource/animals"
CATEGORIES = "categorization/resource/images"
DETAILS_PHOTOS = {
    f"{name}_background"
    for name in [
        "Chenonceau", "EgeskovSlotSpejling", "EilanDonanCastle", "GizahPyramids", "Louvre_2007_02_24_c", "NDP",
        "Nagoya", "Neuschwanstein", "OperaSidney", "TajMahal", "TourEiffel", "TowerBridgeLondon",
    ]
}
CLASSES = {
    "bird": [
        ("erase/resource", {"gosling", "heron", "kingfisher", "northern_harrier", "penguin", "spoonbills", "swans", "toucan"}),
        (WORLD, {"scarlet_macaw"}),
        (FARM, {"chicken", "duck", "owl"}),
    ],
    "mammal": [
        ("erase/resource", {
            "alpaca", "camels", "cheetah", "flying_fox", "gibbon", "giraffe", "gorilla", "horse", "kitten",
            "long_nosed_monkey", "macaque", "meerkats", "pika", "red_panda", "rhinoceros", "squirrel",
        }),
        (WORLD, {"giraffe", "hedgehog", "jaguar", "kangaroo", "koala", "lemur", "moose", "panda", "polar_bear"}),
        (FARM, {"cat", "dog", "horse", "pig"}),
    ],
    "marine": [(f"{CATEGORIES}/fishes", None), ("erase/resource", {"crab", "dolphin"}), (WORLD, {"narwhal"})],
    "tool": [(f"{CATEGORIES}/tools", None)],
    "household": [(f"{CATEGORIES}/others", None), (f"{CATEGORIES}/tools", {"spray"})],
    "landmark": [
        ("explore_monuments/resource", None),
        ("details/resource/image", DETAILS_PHOTOS),
        (f"{CATEGORIES}/monuments", None),
    ],
    "windmill": [
        ("details/resource/image", {"FanoeWindmill_background"}),
        (f"{CATEGORIES}/renewable", {f"windmill{n}" for n in ["", 1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 15]}),
    ],
}
# Files of whole folders that are no photo of their class: a modern wind turbine is windmill6 (named
# in no list), balls and an igloo are among "others", landscapes and a cave among the monuments.
SKIPPED = {"spray", "baseball", "volleyball", "igloo", "canyondeChelly", "navajo", "ajantaCave"}
SAME_SUBJECT = {
    "greatpyramidofgiza": "greatpyramid", "gizahpyramids": "greatpyramid", "toureiffel": "eiffeltower",
    "chateaudechenonceau": "chenonceau", "neuschwansteincastle": "neuschwanstein", "operasidney": "operahouse",
    "greatwallofchina": "greatwall", "qutubminar": "kutubminar", "louvre_2007_02_24_c": "lemusee",
}
SIDE = 448
MIN_PER_CLASS = 12
DIRECTORY, ZLIB, ZSTD = 0x02, 0x01, 0x04


def bundle_files(path):
    """Yields (path, bytes) for every file in a Qt resource bundle (rcc's binary format)."""
    with open(path, "rb") as bundle:
        data = bundle.read()
    if data[:4] != b"qres":
        sys.exit(f"photoset2: {path} is no Qt resource bundle")
    version, tree, payload, names = struct.unpack(">4i", data[4:20])
    node_size = 14 if version == 1 else 22

    def name_at(offset):
        (length,) = struct.unpack(">H", data[names + offset:names + offset + 2])
        start = names + offset + 6
        return data[start:start + 2 * length].decode("utf-16-be")

    def visit(index, parent):
        at = tree + index * node_size
        name_offset, flags = struct.unpack(">iH", data[at:at + 6])
        path = f"{parent}/{name_at(name_offset)}" if index else ""
        if flags & DIRECTORY:
            count, first = struct.unpack(">ii", data[at + 6:at + 14])
            for child in range(first, first + count):
                yield from visit(child, path)
            return
        (offset,) = struct.unpack(">i", data[at + 10:at + 14])
        (size,) = struct.unpack(">I", data[payload + offset:payload + offset + 4])
        blob = data[payload + offset + 4:payload + offset + 4 + size]
        if flags & ZSTD:
            sys.exit(f"photoset2: {path} is zstd-compressed, which this script does not read")
        if flags & ZLIB:
            blob = zlib.decompress(blob[4:])
        yield path, blob

    yield from visit(0, "")


def photos(root, folder, stems):
    """Yields (stem, source, image) for the photos of one activity folder, in name order."""
    bundle = f"{folder.split('/')[0]}.rcc"
    prefix = f"{ACTIVITIES}{folder}/"
    found = {}
    for path, blob in bundle_files(os.path.join(root, BUNDLES, bundle)):
        if path.startswith(prefix) and path.endswith(".webp"):
            found[os.path.splitext(os.path.basename(path))[0]] = (path, blob)
    missing = sorted((stems or set()) - found.keys())
    if missing:
        sys.exit(f"photoset2: {folder} in {bundle} lacks {missing}")
    for stem, (path, blob) in sorted(found.items(), key=lambda item: item[1][0]):
        if (stem in stems) if stems is not None else (stem not in SKIPPED):
            yield stem, f"{bundle}:{path}", Image.open(io.BytesIO(blob)).convert("RGB")


def gradient_hash(image):
    small = image.convert("L").resize((9, 8), Image.BILINEAR).tobytes()
    return [small[row * 9 + column] > small[row * 9 + column + 1] for row in range(8) for column in range(8)]


def same_photograph(hashes, others):
    return any(sum(x != y for x, y in zip(mine, other)) <= 4 for mine in hashes for other in others)


def subject(stem):
    name = stem.lower().removesuffix("_background")
    return SAME_SUBJECT.get(name, name)


def main(root, dest):
    marker = os.path.join(dest, ".complete-v1")
    if os.path.exists(marker):
        return
    rows = ["class\tfile\tsource\tpackage\tlicence"]
    for label, sources in CLASSES.items():
        folder = os.path.join(dest, label)
        os.makedirs(folder, exist_ok=True)
        subjects, taken = set(), []
        for source_folder, stems in sources:
            for stem, source, image in photos(root, source_folder, stems):
                hashes = [gradient_hash(image), gradient_hash(ImageOps.mirror(image))]
                if subject(stem) in subjects or same_photograph(hashes, taken):
                    continue
                subjects.add(subject(stem))
                taken.append(hashes[0])
                image.thumbnail((SIDE, SIDE), Image.LANCZOS)
                name = f"{stem}.jpg"
                image.save(os.path.join(folder, name), quality=90)
                licence = LICENCES.get(source_folder.split("/")[0], LICENCE)
                rows.append(f"{label}\t{label}/{name}\t{source}\t{PACKAGE}\t{licence}")
        if len(taken) < MIN_PER_CLASS:
            sys.exit(f"photoset2: {label} has {len(taken)} photos, fewer than {MIN_PER_CLASS}")
    with open(os.path.join(dest, "MANIFEST.tsv"), "w") as manifest:
        manifest.write("\n".join(rows) + "\n")
    open(marker, "w").close()
    print(f"Wrote {len(rows) - 1} photos in {len(CLASSES)} classes to {dest}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:3])
