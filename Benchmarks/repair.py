"""The repair benchmark (`make bench`): quality and speed of `iris repair` against OpenCV's
Telea and Navier–Stokes inpainting and PyPatchMatch, all measured in the same run.

Quality: Iris's two built-in methods (`exemplar`, and `exemplar-smooth`, its texture faded
deep in the hole) on real photos (Debian's KDE wallpapers and scikit-image's samples), each at about
0.3 MP, with three seeded masks (an ellipse blob of about 5% of the area, four brush strokes,
a box of about 8%). PSNR inside the hole, SSIM (grey, Gaussian window) over the hole's
bounding box grown by 8 px. Every method gets the same photo and mask.

Domain exemplars: two photographs of one scene (scikit-image's stereo pair) repair each
other, blobs and boxes, from the photo alone and then with the other photograph; and crops of
one photograph (the learning crop set): each target's blob from itself alone, then with 8
other crops of the same photograph.

Speed: a 1 MP photo with a 5% blob, and a 12 MP photo (a wallpaper scaled up) with a 5%
blob in a corner, end to end through the CLI (median of 3), and the other methods on the
same pixels.

Usage: repair.py IRIS PHOTOS_DIR SAMPLES_DIR CROPS_DIR WORK_DIR [PICTURES_DIR]
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

try:
    import patchmatch

    HAVE_PATCHMATCH = bool(patchmatch.patchmatch_available)
except Exception:  # not installable here: its rows are left out and the output says so
    HAVE_PATCHMATCH = False


def masks(height, width, seed):
    """The three seeded masks of one photo, 255 = hole."""
    rng = np.random.default_rng(seed)
    out = {}
    blob = np.zeros((height, width), np.uint8)
    radius = np.sqrt(0.05 * height * width / np.pi)
    ratio = rng.uniform(0.6, 1.6)
    centre = (int(rng.uniform(0.25, 0.75) * width), int(rng.uniform(0.25, 0.75) * height))
    axes = (int(radius * np.sqrt(ratio)), int(radius / np.sqrt(ratio)))
    cv2.ellipse(blob, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    out["blob"] = blob
    strokes = np.zeros((height, width), np.uint8)
    for _ in range(4):
        points = [(int(rng.uniform(0.1, 0.9) * width), int(rng.uniform(0.1, 0.9) * height)) for _ in range(3)]
        cv2.polylines(strokes, [np.array(points)], False, 255, max(3, int(0.02 * min(height, width))))
    out["strokes"] = strokes
    box = np.zeros((height, width), np.uint8)
    box_width = int(np.sqrt(0.08 * height * width) * rng.uniform(0.8, 1.25))
    box_height = int(0.08 * height * width / box_width)
    x = int(rng.uniform(0.05, 0.95 - box_width / width) * width)
    y = int(rng.uniform(0.05, 0.95 - box_height / height) * height)
    box[y:y + box_height, x:x + box_width] = 255
    out["box"] = box
    return out


def psnr(result, original, mask):
    diff = (result.astype(float) - original.astype(float))[mask > 0]
    return 10 * np.log10(255 ** 2 / max((diff ** 2).mean(), 1e-9))


def ssim(result, original, mask):
    ys, xs = np.where(mask > 0)
    y0, y1 = max(ys.min() - 8, 0), min(ys.max() + 9, mask.shape[0])
    x0, x1 = max(xs.min() - 8, 0), min(xs.max() + 9, mask.shape[1])
    a = cv2.cvtColor(result[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(float)
    b = cv2.cvtColor(original[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(float)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    def blur(z):
        return cv2.GaussianBlur(z, (11, 11), 1.5)
    ma, mb = blur(a), blur(b)
    va, vb, cab = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    return float((((2 * ma * mb + c1) * (2 * cab + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))).mean())


class Iris:
    def __init__(self, binary, work):
        self.binary, self.work = binary, work

    def repair(self, image, mask, domain=None, name="case", jpeg=False, method=None):
        """Lossless PNG in and out for scoring; JPEG (quality 92) like a phone photo for speed."""
        suffix = ".jpg" if jpeg else ".png"
        source, mask_path = self.work / f"{name}{suffix}", self.work / f"{name}-mask.png"
        out = self.work / f"{name}-out{suffix}"
        cv2.imwrite(str(source), image, [cv2.IMWRITE_JPEG_QUALITY, 92] if jpeg else [])
        cv2.imwrite(str(mask_path), mask)
        command = [self.binary, "repair", str(source), "--mask", str(mask_path), "--out", str(out), "--quiet"]
        if domain:
            command += ["--domain", str(domain)]
        if method:
            command += ["--method", method]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        seconds = time.perf_counter() - started
        return cv2.imread(str(out)), seconds


def telea(image, mask):
    return cv2.inpaint(image, mask, 3, cv2.INPAINT_TELEA)


def navier_stokes(image, mask):
    return cv2.inpaint(image, mask, 3, cv2.INPAINT_NS)


def pypatchmatch(image, mask):
    patchmatch.set_random_seed(1)
    return patchmatch.inpaint(image, mask, patch_size=3)


def load(path, pixels):
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    scale = min(1.0, (pixels / (height * width)) ** 0.5)
    if scale < 1:
        image = cv2.resize(image, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA)
    return image


def quality(iris, photos, pictures):
    methods = {"telea": telea, "navier-stokes": navier_stokes}
    if HAVE_PATCHMATCH:
        methods["pypatchmatch"] = pypatchmatch
    scores = {}
    shown = []
    for index, path in enumerate(photos):
        image = load(path, 640 * 480)
        for kind, mask in masks(*image.shape[:2], seed=index).items():
            results = {"iris": iris.repair(image, mask, name=f"q{index}{kind}")[0],
                       "iris-smooth": iris.repair(image, mask, name=f"q{index}{kind}s", method="exemplar-smooth")[0]}
            for name, method in methods.items():
                results[name] = method(image, mask)
            for name, result in results.items():
                scores.setdefault((name, kind), []).append((psnr(result, image, mask), ssim(result, image, mask)))
            if kind in ("blob", "box") and len(shown) < 6 and index % 2 == 0:
                shown.append((path.stem, kind, image, mask, results["telea"], results["iris"], results["iris-smooth"]))
    print(f"== repair quality: {len(photos)} photos × 3 masks, PSNR (dB) inside the hole / SSIM over its box (+8 px)")
    names = ["iris", "iris-smooth", "telea", "navier-stokes"] + (["pypatchmatch"] if HAVE_PATCHMATCH else [])
    print(f"{'method':<14}" + "".join(f"{kind:>18}" for kind in ["blob", "strokes", "box", "all"]))
    table = {}
    for name in names:
        cells = []
        for kind in ["blob", "strokes", "box", "all"]:
            values = [v for k in (["blob", "strokes", "box"] if kind == "all" else [kind]) for v in scores[(name, k)]]
            p, s = statistics.mean(v[0] for v in values), statistics.mean(v[1] for v in values)
            table[f"{name}/{kind}"] = {"psnr": round(p, 2), "ssim": round(s, 4)}
            cells.append(f"{p:>10.2f} / {s:.3f}")
        print(f"{name:<14}" + "".join(cells))
    if not HAVE_PATCHMATCH:
        print("(pypatchmatch is not available here: its row is left out)")
    if pictures:
        pictures.mkdir(parents=True, exist_ok=True)
        for stem, kind, image, mask, tel, ours, smooth in shown:
            ys, xs = np.where(mask > 0)
            y0, y1 = max(ys.min() - 48, 0), min(ys.max() + 48, image.shape[0])
            x0, x1 = max(xs.min() - 48, 0), min(xs.max() + 48, image.shape[1])
            marked = image.copy()
            marked[mask > 0] = (214, 43, 255)
            tiles = [marked, tel, ours, smooth, image]
            row = np.hstack([cv2.resize(t[y0:y1, x0:x1], (320, int(320 * (y1 - y0) / (x1 - x0)))) for t in tiles])
            cv2.imwrite(str(pictures / f"repair-{stem.lower()}-{kind}.jpg"), row, [cv2.IMWRITE_JPEG_QUALITY, 85])
        print(f"side-by-side pictures (mask, Telea, Iris, Iris smooth, original) in {pictures}")
    return table


def scene(iris, samples, work):
    """Two photographs of one scene (scikit-image's stereo pair): each one's blobs and boxes
    repaired from itself alone, then with the other photograph as a domain photo."""
    rows = []
    for name, other in [("left", "right"), ("right", "left")]:
        image = cv2.imread(str(samples / f"motorcycle_{name}.png"))
        exemplars = work / f"scene-{other}"
        exemplars.mkdir(exist_ok=True)
        (exemplars / f"motorcycle_{other}.png").write_bytes((samples / f"motorcycle_{other}.png").read_bytes())
        for seed in range(4):
            for kind in ("blob", "box"):
                mask = masks(*image.shape[:2], seed=200 + seed)[kind]
                alone = iris.repair(image, mask, name=f"s{name}{seed}{kind}")[0]
                helped = iris.repair(image, mask, domain=exemplars, name=f"s{name}{seed}{kind}x")[0]
                rows.append((kind, psnr(alone, image, mask), psnr(helped, image, mask),
                             ssim(alone, image, mask), ssim(helped, image, mask)))
    print("== repair with domain exemplars: two photographs of one scene (a stereo pair), each repaired alone vs with the other")
    for kind in ("blob", "box"):
        mine = [r for r in rows if r[0] == kind]
        print(f"{kind:<12} PSNR {statistics.mean(r[1] for r in mine):6.2f} → {statistics.mean(r[2] for r in mine):6.2f} dB   "
              f"SSIM {statistics.mean(r[3] for r in mine):.3f} → {statistics.mean(r[4] for r in mine):.3f}")
    gain_psnr = statistics.mean(r[2] - r[1] for r in rows)
    gain_ssim = statistics.mean(r[4] - r[3] for r in rows)
    better = sum(1 for r in rows if r[2] > r[1])
    print(f"{'all':<12} gain {gain_psnr:+.2f} dB PSNR, {gain_ssim:+.3f} SSIM; better in {better} of {len(rows)} repairs")
    return {"psnr_gain": round(gain_psnr, 2), "ssim_gain": round(gain_ssim, 4), "repairs": len(rows), "better": better}


def domain(iris, crops, work):
    """Each crop's blob repaired from itself, then also from 8 other crops of its photograph."""
    rows = []
    for folder in sorted(p for p in crops.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.jpg"))
        if len(files) < 14:
            continue
        exemplars = work / f"domain-{folder.name}"
        exemplars.mkdir(exist_ok=True)
        for index, path in enumerate(files[8:13]):
            image = cv2.imread(str(path))
            mask = masks(*image.shape[:2], seed=100 + index)["blob"]
            alone = iris.repair(image, mask, name=f"d{folder.name}{index}")[0]
            for old in exemplars.iterdir():
                old.unlink()
            for exemplar in files[:8]:
                (exemplars / exemplar.name).write_bytes(exemplar.read_bytes())
            helped = iris.repair(image, mask, domain=exemplars, name=f"d{folder.name}{index}x")[0]
            rows.append((folder.name, psnr(alone, image, mask), psnr(helped, image, mask),
                         ssim(alone, image, mask), ssim(helped, image, mask)))
    print("== repair with domain exemplars: blobs in crops of one photograph, from the crop alone vs with 8 other crops")
    for name in sorted(set(r[0] for r in rows)):
        mine = [r for r in rows if r[0] == name]
        print(f"{name:<12} PSNR {statistics.mean(r[1] for r in mine):6.2f} → {statistics.mean(r[2] for r in mine):6.2f} dB   "
              f"SSIM {statistics.mean(r[3] for r in mine):.3f} → {statistics.mean(r[4] for r in mine):.3f}")
    gain_psnr = statistics.mean(r[2] - r[1] for r in rows)
    gain_ssim = statistics.mean(r[4] - r[3] for r in rows)
    print(f"{'all':<12} gain {gain_psnr:+.2f} dB PSNR, {gain_ssim:+.3f} SSIM over {len(rows)} repairs")
    return {"psnr_gain": round(gain_psnr, 2), "ssim_gain": round(gain_ssim, 4), "repairs": len(rows)}


def speed(iris, photo, work):
    base = cv2.imread(str(photo))
    cases = []
    one = cv2.resize(base, (1280, 800), interpolation=cv2.INTER_AREA)
    cases.append(("1 MP, 5% blob in the middle", one, masks(800, 1280, seed=7)["blob"]))
    twelve = cv2.resize(base, (4240, 2832), interpolation=cv2.INTER_CUBIC)
    corner = np.zeros(twelve.shape[:2], np.uint8)
    area = 0.05 * 4240 * 2832
    axes = (int(np.sqrt(area / np.pi) * 1.2), int(np.sqrt(area / np.pi) / 1.2))
    cv2.ellipse(corner, (4240 - axes[0] - 60, 2832 - axes[1] - 60), axes, 0, 0, 360, 255, -1)
    cases.append(("12 MP, 5% blob in a corner", twelve, corner))
    print("== repair speed (median of 3; Iris end to end through the CLI on a JPEG: decode, repair, encode; the others on decoded pixels)")
    table = {}
    for label, image, mask in cases:
        hole = int((mask > 0).sum())
        ours = statistics.median(iris.repair(image, mask, name="speed", jpeg=True)[1] for _ in range(3))
        timed = {"iris": ours}
        for name, method in [("telea", telea), ("navier-stokes", navier_stokes)] + (
                [("pypatchmatch", pypatchmatch)] if HAVE_PATCHMATCH else []):
            started = time.perf_counter()
            method(image, mask)
            timed[name] = time.perf_counter() - started
        line = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timed.items())
        print(f"{label}: hole {hole / 1e6:.2f} MP; {line}; Iris {ours / (hole / 1e6):.2f} s per MP of hole")
        table[label] = {k: round(v, 3) for k, v in timed.items()} | {"hole_mp": round(hole / 1e6, 3)}
    return table


def main():
    iris_binary, photos_dir, samples_dir, crops_dir, work = (Path(a) for a in sys.argv[1:6])
    pictures = Path(sys.argv[6]) if len(sys.argv) > 6 else None
    work.mkdir(parents=True, exist_ok=True)
    iris = Iris(str(iris_binary), work)
    photos = sorted(photos_dir.glob("*.jpg")) + [samples_dir / n for n in [
        "chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "motorcycle_left.png", "brick.png", "grass.png",
        "gravel.png"]]
    report = {"quality": quality(iris, photos, pictures), "scene": scene(iris, samples_dir, work),
              "domain": domain(iris, crops_dir, work),
              "speed": speed(iris, sorted(photos_dir.glob("*.jpg"))[-1], work)}
    (work / "repair.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
