"""What a misbehaving client does at the connection level: a body shorter than its
Content-Length is the client's fault (400), and clients that stall — in their headers or
in their body — are disconnected after `http.header_timeout` / `http.idle_timeout`, leaving
no partial upload behind, while a slow but steady upload still succeeds."""

import socket
import time

import pytest

from conftest import IrisServer

TIMEOUTS = {"IRIS_HTTP_IDLE_TIMEOUT": "2", "IRIS_HTTP_HEADER_TIMEOUT": "2"}


@pytest.fixture
def strict_server(workdir):
    instance = IrisServer(workdir / "data", "")
    instance.start(extra_env=TIMEOUTS)
    yield instance
    instance.stop()


def connect(server):
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def closed_within(sock, seconds):
    """Seconds until the server closed the connection, or None if it was still open."""
    started = time.time()
    sock.settimeout(0.2)
    while time.time() - started < seconds:
        try:
            if sock.recv(65536) == b"":
                return time.time() - started
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.time() - started
    return None


def multipart_head(server, project, length, boundary="b0undary"):
    return (f"POST /api/v1/projects/{project}/images HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {server.auth['Authorization']}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n").encode()


def test_a_body_shorter_than_its_length_then_a_half_close_is_400(strict_server):
    project = strict_server.create_project("short")
    sock = connect(strict_server)
    sock.sendall(multipart_head(strict_server, project, 100_000)
                 + b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n"
                 + b"\xff\xd8" * 500)
    sock.shutdown(socket.SHUT_WR)
    answer = b""
    sock.settimeout(10)
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"application/problem+json" in head
    assert b"Content-Length" in body, body
    # The server keeps serving, wrote nothing, and logged the client's fault below error level.
    assert strict_server.http.get(strict_server.url("/healthz"), timeout=5).status_code == 200
    assert list((strict_server.data_dir / "tmp").iterdir()) == []
    errors = [line for line in strict_server.logs().splitlines() if '"level":"error"' in line]
    assert errors == [], errors[-3:]


def test_a_stalled_upload_is_disconnected_and_its_partial_file_removed(strict_server):
    project = strict_server.create_project("stalled")
    sock = connect(strict_server)
    sock.sendall(multipart_head(strict_server, project, 1_000_000)
                 + b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n"
                 + b"\xff\xd8" * 5000)
    # Then nothing: the server must not wait for ever.
    waited = closed_within(sock, 15)
    sock.close()
    assert waited is not None, "a stalled upload kept its connection for 15 s"
    assert waited < 8, waited
    time.sleep(0.5)
    assert list((strict_server.data_dir / "tmp").iterdir()) == []
    assert strict_server.http.get(strict_server.url("/healthz"), timeout=5).status_code == 200


def test_headers_sent_a_byte_at_a_time_are_cut_off(strict_server):
    sock = connect(strict_server)
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    started = time.time()
    closed = None
    for byte in request:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed = time.time() - started
            break
        if closed_within(sock, 0.5) is not None:
            closed = time.time() - started
            break
    sock.close()
    assert closed is not None, "a client trickling its headers kept the connection"
    assert closed < 8, closed


def test_a_slow_but_steady_upload_still_succeeds(strict_server, base_jpeg):
    project = strict_server.create_project("steady")
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + base_jpeg + f"\r\n--{boundary}--\r\n".encode()
    sock = connect(strict_server)
    sock.sendall(multipart_head(strict_server, project, len(body), boundary))
    # Longer in all than both timeouts, but never silent for as long as one.
    pieces = 8
    size = len(body) // pieces + 1
    for index in range(pieces):
        sock.sendall(body[index * size:(index + 1) * size])
        time.sleep(0.6)
    sock.settimeout(20)
    answer = sock.recv(65536)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
