"""Builds Iris's labelled evaluation set for the learner from photographs scikit-image ships.

Each class is one real photograph (a texture, a scene or a specimen; two for the motorcycle);
its examples are distinct random crops of it, from 15% to 60% of its side, turned, mirrored,
blurred and with their brightness and contrast changed, saved as 224 px JPEGs in an
ImageFolder layout: DEST/<class>/<n>.jpg. Deterministic (fixed seed) and idempotent. Crops of
one photograph are easier to tell apart than independent photographs of a class; the closing
notes say so next to the figures.

    python evalset.py PHOTOS DEST
"""
import os
import random
import sys

from PIL import Image, ImageEnhance, ImageFilter

CLASSES = {
    "brick": "brick.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "coins": "coins.png",
    "galaxies": "hubble_deep_field.jpg",
    "tissue": "ihc.png",
    "retina": "retina.jpg",
    "coffee": "coffee.png",
    "cat": "chelsea.png",
    "astronaut": "astronaut.png",
    "rocket": "rocket.jpg",
    "motorcycle": "motorcycle_left.png motorcycle_right.png",
}
PER_CLASS = 30
SIZE = 224


def main(photos, dest):
    marker = os.path.join(dest, ".complete-v2")
    if os.path.exists(marker):
        return
    rng = random.Random(2026)
    for label, name in CLASSES.items():
        sources = [Image.open(os.path.join(photos, part)).convert("RGB") for part in name.split()]
        folder = os.path.join(dest, label)
        os.makedirs(folder, exist_ok=True)
        for index in range(PER_CLASS):
            image = sources[index % len(sources)]
            width, height = image.size
            side = int(min(width, height) * rng.uniform(0.15, 0.6))
            left = rng.randint(0, width - side)
            top = rng.randint(0, height - side)
            crop = image.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.BILINEAR)
            if rng.random() < 0.5:
                crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
            crop = crop.rotate(rng.choice([0, 0, 90, 180, 270]))
            crop = ImageEnhance.Brightness(crop).enhance(rng.uniform(0.7, 1.3))
            crop = ImageEnhance.Contrast(crop).enhance(rng.uniform(0.7, 1.3))
            if rng.random() < 0.3:
                crop = crop.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
            crop.save(os.path.join(folder, f"{index:02d}.jpg"), quality=90)
    open(marker, "w").close()
    print(f"Wrote {len(CLASSES)} classes x {PER_CLASS} crops to {dest}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
