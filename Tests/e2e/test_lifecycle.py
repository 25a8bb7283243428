"""Graceful shutdown on SIGTERM and SIGINT, and the `iris import` command."""

import signal
import stat
import subprocess
import time
import zipfile

import requests

import re

from conftest import IRIS_BIN, IrisServer, variant


def test_sigterm_and_sigint_stop_gracefully(server):
    # act
    code = server.stop(signal.SIGTERM)
    # check
    assert code == 0
    assert '"msg":"stopped"' in server.logs()
    server.start()
    assert server.stop(signal.SIGINT) == 0


def test_sigterm_ends_open_event_streams_at_once(server):
    # setup: an event stream that would otherwise stay open for 300 s
    stream = requests.get(server.url("/api/v1/events"), headers={**server.auth, "Accept": "text/event-stream"},
                          stream=True, timeout=30)
    assert stream.status_code == 200
    assert next(stream.iter_lines()) == b"retry: 2000"
    # act
    started = time.time()
    code = server.stop(signal.SIGTERM)
    # check: the stream ended and the server stopped cleanly, well before the stream's timeout
    assert code == 0
    assert time.time() - started < 10, time.time() - started
    assert '"msg":"stopped"' in server.logs()
    stream.close()


def test_cli_imports_a_folder_with_labels_from_folders(workdir, database, base_jpeg):
    # setup: cats/ and dogs/ folders, plus a stray text file
    root = workdir / "dataset"
    for index, label in enumerate(["cats", "cats", "dogs"]):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{index}.jpg").write_bytes(variant(base_jpeg, index))
    (root / "dogs" / "readme.txt").write_text("not an image")
    args = [IRIS_BIN, "import", str(root), "--project", "Pets", "--label-from-folders", "--data", str(workdir / "data")]
    if database:
        args += ["--database", database]
    # act
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    # check
    assert result.returncode == 0, result.stderr
    assert "3 imported" in result.stdout and "1 skipped" in result.stdout
    assert "3/3" in result.stderr or "4/4" in result.stderr  # the progress bar
    server = IrisServer(workdir / "data", database).start()
    try:
        projects = server.http.get(server.url("/api/v1/projects"), timeout=10).json()["items"]
        pets = next(p for p in projects if p["name"] == "Pets")
        cats = server.http.get(server.url(f"/api/v1/projects/{pets['id']}/images"), params={"label": "cats"}, timeout=10).json()
        assert len(cats["items"]) == 2
    finally:
        server.stop()


def test_cli_imports_a_zip_and_refuses_zip_slip(workdir, database, base_jpeg):
    good = workdir / "good.zip"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("birds/robin.jpg", variant(base_jpeg, 1))
    evil = workdir / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../../escape.jpg", variant(base_jpeg, 2))
    common = (["--project", "Birds", "--label-from-folders", "--data", str(workdir / "data")]
              + (["--database", database] if database else []))
    ok = subprocess.run([IRIS_BIN, "import", str(good)] + common, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "1 imported" in ok.stdout
    bad = subprocess.run([IRIS_BIN, "import", str(evil)] + common, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "zip slip" in bad.stderr
    assert not (workdir / "escape.jpg").exists() and not (workdir.parent / "escape.jpg").exists()


def test_bad_configuration_is_reported_clearly(workdir):
    result = subprocess.run([IRIS_BIN, "serve", "--data", str(workdir), "--database", "mysql://x"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "db.url must start with sqlite:// or postgres://" in result.stderr


def test_first_start_writes_the_admin_password_to_a_private_file(workdir, database):
    # act: a fresh data folder, no users
    server = IrisServer(workdir / "data", database, provision=False).start()
    try:
        time.sleep(0.2)
        printed = server.logs()
        # check: the password is in a file only its owner reads, and is printed nowhere
        file = workdir / "data" / "initial-admin-password"
        assert file.exists(), printed[-2000:]
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        password = file.read_text().strip()
        assert len(password) >= 10
        assert password not in printed
        assert "initial-admin-password" in printed  # the output says where it is
        mentions = printed.count("initial-admin-password")
        browser = requests.Session()
        page = browser.get(server.url("/login"), timeout=10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        signed_in = browser.post(server.url("/login"), data={"username": "admin", "password": password, "csrf_token": csrf, "next": "/"},
                                 allow_redirects=False, timeout=10)
        assert signed_in.status_code == 303
        assert "iris_session" in browser.cookies
        assert browser.get(server.url("/api/v1/me"), timeout=10).json()["user"]["username"] == "admin"
        # A second start creates nobody, writes no new password and says nothing more of it.
        server.restart()
        assert server.logs().count("initial-admin-password") == mentions
        assert file.read_text().strip() == password
    finally:
        server.stop()
