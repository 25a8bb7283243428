"""Shared fixtures for the end-to-end tests: the real `iris` binary, started on a free
loopback port with its own data folder, on SQLite or on a fresh PostgreSQL database."""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

IRIS_BIN = os.environ.get("IRIS_BIN", str(Path(__file__).resolve().parents[2] / ".build/debug/iris"))
POSTGRES_URL = os.environ.get("IRIS_TEST_POSTGRES_URL", "")


def databases():
    kinds = ["sqlite"]
    if POSTGRES_URL or os.environ.get("IRIS_TEST_REQUIRE_POSTGRES") == "1":
        kinds.append("postgres")
    return kinds


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ADMIN = "e2e-admin"
ADMIN_PASSWORD = "e2e-admin-password"


def iris(*args, database_url="", data_dir, stdin=None):
    """Runs an `iris` subcommand on the given data folder and database."""
    command = [IRIS_BIN, *args, "--data", str(data_dir)] + (["--database", database_url] if database_url else [])
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120)


class IrisServer:
    """One `iris serve` process. `restart()` keeps its data folder and database.
    Unless `provision` is false, an administrator and an API token are made with the
    `iris user` and `iris token` commands before the first start; `auth` holds the header."""

    def __init__(self, data_dir, database_url, provision=True):
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log_path = self.data_dir.parent / f"serve-{self.port}.log"
        self.provision = provision
        self.auth = {}
        self.http = requests.Session()
        self.extra_env = {}

    def provision_admin(self):
        users = iris("user", "list", data_dir=self.data_dir, database_url=self.database_url)
        if ADMIN not in users.stdout:
            created = iris("user", "create", ADMIN, "--admin", "--password-stdin", stdin=ADMIN_PASSWORD + "\n",
                           data_dir=self.data_dir, database_url=self.database_url)
            assert created.returncode == 0, created.stderr
        token = iris("token", "create", "--user", ADMIN, "--name", "e2e", "--scopes", "read,write,admin",
                     data_dir=self.data_dir, database_url=self.database_url)
        assert token.returncode == 0, token.stderr
        self.auth = {"Authorization": "Bearer " + token.stdout.strip().splitlines()[-1]}
        self.http.headers.update(self.auth)

    def start(self, extra_env=None):
        """Starts the server; `extra_env` is kept for later restarts."""
        if self.provision and not self.auth:
            self.provision_admin()
        if extra_env is not None:
            self.extra_env = extra_env
        env = dict(os.environ, IRIS_LOG_FORMAT="json", IRIS_AUTH_BCRYPT_COST="10", **self.extra_env)
        args = [IRIS_BIN, "serve", "--port", str(self.port), "--data", str(self.data_dir)]
        if self.database_url:
            args += ["--database", self.database_url]
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"iris exited with {self.process.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("iris did not become ready in 30 s")

    def kill(self):
        """kill -9: no chance to clean up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else None

    def restart(self):
        self.stop()
        return self.start()

    def url(self, path):
        return self.base + path

    def create_project(self, name, **extra):
        response = self.http.post(self.url("/api/v1/projects"), json={"name": name, **extra}, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def logs(self):
        return self.log_path.read_text(errors="replace")


def postgres_database():
    """A fresh database on the test server; returns (url, drop)."""
    if not POSTGRES_URL:
        raise RuntimeError("IRIS_TEST_POSTGRES_URL is not set; run `make test`")
    name = "iris_e2e_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", POSTGRES_URL, "-qc", f"CREATE DATABASE {name}"], check=True)
    parts = urlsplit(POSTGRES_URL)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))

    def drop():
        subprocess.run(["psql", POSTGRES_URL, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)

    return url, drop


@pytest.fixture(params=databases())
def database(request):
    """A database URL (empty for the default SQLite file in the data folder)."""
    if request.param == "sqlite":
        yield ""
    else:
        url, drop = postgres_database()
        yield url
        drop()


@pytest.fixture
def workdir():
    folder = Path(tempfile.mkdtemp(prefix="iris-e2e-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(workdir, database):
    instance = IrisServer(workdir / "data", database).start()
    yield instance
    instance.stop()


# Images, made with libvips's command-line tools.

def make_jpeg(path, width=1200, height=800):
    path = Path(path)
    raw = path.with_suffix(".v")
    subprocess.run(["vips", "xyz", str(raw), str(width), str(height)], check=True)
    subprocess.run(["vips", "cast", str(raw), str(path) + "[Q=85]", "uchar"], check=True)
    raw.unlink()
    return path.read_bytes()


def variant(jpeg, index):
    """The same picture with a distinct JPEG comment segment: distinct bytes, still valid."""
    comment = f"iris variant {index}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return jpeg[:2] + segment + jpeg[2:]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="session")
def base_jpeg(tmp_path_factory):
    return make_jpeg(tmp_path_factory.mktemp("img") / "base.jpg")
