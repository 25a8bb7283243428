"""`iris repair` from the command line: the built-in methods, patches from a project's most
similar photos (`--project`, read from the data folder while nothing serves), and refusals."""

import pathlib
import struct
import zlib

from conftest import iris

PHOTOS = pathlib.Path(__file__).resolve().parents[2] / ".cache" / "photos"


def ellipse_mask(path, width, height):
    """A grey PNG, white inside an ellipse a fifth of the photo wide, black elsewhere."""
    rows = b""
    for y in range(height):
        row = bytes(255 if ((x - width * 0.45) / (width * 0.1)) ** 2 + ((y - height * 0.5) / (height * 0.1)) ** 2 <= 1
                    else 0 for x in range(width))
        rows += b"\x00" + row
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    path.write_bytes(png)
    return path


def test_cli_repairs_with_each_method_and_with_a_projects_similar_photos(workdir, database):
    data = workdir / "data"
    photo = workdir / "left.png"
    photo.write_bytes((PHOTOS / "motorcycle_left.png").read_bytes())
    mask = ellipse_mask(workdir / "mask.png", 741, 500)

    # The two built-in methods, no data folder needed: different results of the same size.
    outputs = {}
    for method in ["exemplar", "exemplar-smooth"]:
        out = workdir / f"{method}.png"
        done = iris("repair", str(photo), "--mask", str(mask), "--method", method, "--out", str(out),
                    database_url=database, data_dir=data)
        assert done.returncode == 0, done.stderr
        assert "741×500" in done.stdout and "repaired in 1 region" in done.stdout, done.stdout
        outputs[method] = out.read_bytes()
    assert outputs["exemplar"] != outputs["exemplar-smooth"]

    # A project holding the other photograph of the scene (its embedding made by add-class).
    folder = workdir / "scene"
    folder.mkdir()
    (folder / "right.png").write_bytes((PHOTOS / "motorcycle_right.png").read_bytes())
    added = iris("learn", "add-class", "--project", "Bikes", "--name", "motorcycle", str(folder),
                 database_url=database, data_dir=data)
    assert added.returncode == 0, added.stderr
    helped = iris("repair", str(photo), "--mask", str(mask), "--project", "Bikes", "--out", str(workdir / "p.png"),
                  database_url=database, data_dir=data)
    assert helped.returncode == 0, helped.stderr
    assert "with 1 domain photo)" in helped.stdout, helped.stdout

    # Refusals name what is wrong and write nothing.
    for args, words in [
        (["--method", "lama"], "--method must be one of exemplar, exemplar-smooth"),
        (["--project", "Nowhere"], "no project is named or numbered Nowhere"),
        (["--project", "Bikes", "--domain", str(folder)], "give --domain or --project, not both"),
        (["--method", "lama", "--project", "Bikes"], "are for the built-in methods"),
    ]:
        refused = iris("repair", str(photo), "--mask", str(mask), "--out", str(workdir / "refused.png"), *args,
                       database_url=database, data_dir=data)
        assert refused.returncode != 0 and words in refused.stderr, (args, refused.stderr)
        assert not (workdir / "refused.png").exists()
