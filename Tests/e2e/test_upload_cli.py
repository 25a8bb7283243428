"""`iris upload` against a real `iris serve`: folders, labels from folders, a zip, refusals in
the server's words, the server killed and restarted mid-upload, the uploader itself killed
and run again; every photo ends in the project exactly once."""

import os
import re
import signal
import subprocess
import time
import zipfile


from conftest import IRIS_BIN, IrisServer, make_jpeg, variant


def upload_command(server, paths, state, *extra):
    token = server.auth["Authorization"].split(" ", 1)[1]
    command = [IRIS_BIN, "upload", *map(str, paths), "--server", server.base, "--project", "Field survey",
               "--state", str(state), *extra]
    return command, dict(os.environ, IRIS_TOKEN=token)


def images(server, project):
    found, cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = server.http.get(server.url(f"/api/v1/projects/{project}/images"), params=params, timeout=10).json()
        found += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def wait_for(condition, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_upload_survives_the_server_and_itself_being_killed(workdir):
    server = IrisServer(workdir / "data", "").start()
    try:
        project = server.create_project("Field survey", label_set=["oak", "plane", "birch"])
        base = make_jpeg(workdir / "base.jpg", 1200, 800)
        photos = workdir / "photos"
        expected = {}
        for index in range(40):
            label = ["oak", "plane"][index % 2]
            path = photos / label / f"IMG_{index:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(variant(base, index))
            expected[path.name] = label
        with zipfile.ZipFile(workdir / "birches.zip", "w") as archive:
            for index in range(40, 45):
                archive.writestr(f"survey/birch/IMG_{index:04d}.jpg", variant(base, index))
                expected[f"IMG_{index:04d}.jpg"] = "birch"
            archive.writestr("survey/notes.txt", "not a photo")
        (photos / "oak" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
        (photos / "README.txt").write_text("field notes")

        state = workdir / "state"
        command, env = upload_command(server, [photos, workdir / "birches.zip"], state, "--label-from-folders",
                                      "--concurrency", "2", "--retry-for", "60")
        uploader = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The server dies (kill -9) once a few photos are in, and comes back 2 s later on the same port.
        wait_for(lambda: len(images(server, project)) >= 8)
        server.kill()
        time.sleep(2)
        server.start()
        out, err = uploader.communicate(timeout=180)
        # One photo is refused (not an image), so the command says so and exits 1.
        assert uploader.returncode == 1, out + err
        assert "refused broken.jpg: the file is not an image Iris accepts" in out and "HTTP 415" in out, out
        # A photo the server stored just before it died is "already there" when sent again.
        counts = re.match(r"(\d+) uploaded, (\d+) already there, 1 refused", out)
        assert counts and int(counts[1]) + int(counts[2]) == 45, out
        assert "could not reach the server" in err, err[-2000:]
        assert "2 files skipped: not images by their names" in out, out
        stored = images(server, project)
        names = sorted(image["original_name"] for image in stored)
        assert names == sorted(expected), names
        for image in stored:
            assert [label["name"] for label in image["labels"]] == [expected[image["original_name"]]], image

        # The uploader itself killed mid-way through a second folder, then run again.
        more = workdir / "more"
        more.mkdir()
        for index in range(45, 85):
            (more / f"IMG_{index:04d}.jpg").write_bytes(variant(base, index))
        command, env = upload_command(server, [more], workdir / "state-more", "--label", "plane")
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: len(images(server, project)) >= 45 + 5)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        partly = len(images(server, project))
        assert partly < 85, "the uploader finished before it was killed"
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "done by an earlier run" in again.stdout or "already there" in again.stdout, again.stdout
        stored = images(server, project)
        assert len(stored) == 85 and len({image["sha256"] for image in stored}) == 85
        # Each photo was stored once: one upload event per photo of the second folder.
        events = server.http.get(server.url("/api/v1/events"), params={"limit": 500}, timeout=10).json()["items"]
        uploads = [e for e in events if e["action"] == "image.uploaded" and e["detail"].get("duplicate") == "false"]
        assert len({e["subject"] for e in uploads}) == len(uploads) == 85, len(uploads)

        # A third run has nothing to send and says so quickly.
        started = time.time()
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert rerun.returncode == 0 and rerun.stdout.startswith("0 uploaded, 0 already there, 0 refused"), rerun.stdout
        assert "40 done by an earlier run" in rerun.stdout, rerun.stdout
        assert time.time() - started < 10

        # Refusals as one-line errors.
        for args, message in [(["--project", "Nowhere"], 'no project named "Nowhere"'),
                              (["--server", "ftp://x"], "--server must be an http:// or https:// address")]:
            bad, env = upload_command(server, [more], workdir / "state-bad")
            bad = [part for part in bad if part not in ("--project", "Field survey")] + args
            if "--server" in args:
                bad = [IRIS_BIN, "upload", str(more), "--project", "Field survey", *args]
            refused = subprocess.run(bad, env=env, capture_output=True, text=True, timeout=60)
            assert refused.returncode != 0 and message in refused.stderr, refused.stderr
    finally:
        server.stop()
