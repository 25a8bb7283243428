"""Standalone `iris worker` processes against one database: kill -9 one in the middle of
jobs and every job still finishes exactly once; several never run the same job at once;
SIGTERM leaves no job running."""

import os
import signal
import subprocess
import time

import pytest

from conftest import IRIS_BIN, IrisServer, POSTGRES_URL

WORKER_ENV = {
    "IRIS_LOG_FORMAT": "json",
    "IRIS_JOBS_LEASE_SECONDS": "2",
    "IRIS_JOBS_POLL_SECONDS": "0.2",
    "IRIS_JOBS_SHUTDOWN_GRACE_SECONDS": "1",
}


class Worker:
    def __init__(self, server, name, concurrency=2):
        args = [IRIS_BIN, "worker", "--data", str(server.data_dir), "--queues", "default", "--concurrency", str(concurrency)]
        if server.database_url:
            args += ["--database", server.database_url]
        self.log_path = server.data_dir.parent / f"worker-{name}.log"
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, **WORKER_ENV))

    @property
    def tag(self):
        """Worker names are host-PID-random/slot: this process's runs contain this."""
        return f"-{self.process.pid}-"

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=timeout)
        return self.process.returncode


@pytest.fixture
def queue_server(workdir, database):
    """A server that runs no jobs itself: only the worker processes do."""
    instance = IrisServer(workdir / "data", database)
    instance.start(extra_env={"IRIS_JOBS_QUEUES": ""})
    yield instance
    instance.stop()


def enqueue(server, count, seconds):
    ids = []
    for _ in range(count):
        response = server.http.post(server.url("/api/v1/jobs"), json={"kind": "diagnostic", "payload": {"seconds": seconds}}, timeout=10)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def job(server, job_id):
    response = server.http.get(server.url(f"/api/v1/jobs/{job_id}"), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def all_finished(server, ids):
    return all(job(server, job_id)["state"] in ("succeeded", "dead", "failed", "cancelled") for job_id in ids)


def test_kill_9_a_worker_and_every_job_finishes_exactly_once(queue_server):
    server = queue_server
    ids = enqueue(server, 24, 0.5)
    doomed, survivor = Worker(server, "doomed"), Worker(server, "survivor")
    try:
        # Kill the doomed worker while it is running a job.
        def doomed_is_running():
            running = server.http.get(server.url("/api/v1/jobs"), params={"state": "running"}, timeout=10).json()["items"]
            return any(run["worker"].find(doomed.tag) >= 0 and run["outcome"] == "running"
                       for item in running for run in job(server, item["id"]).get("runs", []))
        wait_until(doomed_is_running, 30, "the doomed worker to run a job")
        doomed.stop(signal.SIGKILL)
        wait_until(lambda: all_finished(server, ids), 90, "every job to finish")
    finally:
        survivor.stop()
    lost = 0
    for job_id in ids:
        record = job(server, job_id)
        assert record["state"] == "succeeded", record
        succeeded = [run for run in record["runs"] if run["outcome"] == "succeeded"]
        assert len(succeeded) == 1, record
        # The result names the one attempt that counted.
        assert record["result"]["worker"] == succeeded[0]["worker"]
        assert record["result"]["attempt"] == succeeded[0]["attempt"]
        lost += sum(1 for run in record["runs"] if run["outcome"] == "lost")
        assert all(doomed.tag in run["worker"] for run in record["runs"] if run["outcome"] == "lost")
    assert lost >= 1, "the killed worker's job should have been taken back after its lease expired"


@pytest.mark.skipif(not POSTGRES_URL and os.environ.get("IRIS_TEST_REQUIRE_POSTGRES") != "1",
                    reason="PostgreSQL only (several workers claim with FOR UPDATE SKIP LOCKED): IRIS_TEST_POSTGRES_URL is not set")
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_workers_never_run_the_same_job_at_once(queue_server):
    server = queue_server
    ids = enqueue(server, 60, 0.2)
    workers = [Worker(server, f"w{index}") for index in range(3)]
    try:
        wait_until(lambda: all_finished(server, ids), 120, "every job to finish")
    finally:
        for worker in workers:
            assert worker.stop() == 0
    processes = set()
    for job_id in ids:
        record = job(server, job_id)
        assert record["state"] == "succeeded", record
        # Every start is recorded as a run: one start per job, so no job ran twice, let alone at once.
        assert [run["outcome"] for run in record["runs"]] == ["succeeded"], record
        processes.add(record["runs"][0]["worker"].split("/")[0])
    assert len(processes) == 3, f"all three workers should have taken jobs: {processes}"


def test_sigterm_gives_running_jobs_back(queue_server):
    server = queue_server
    ids = enqueue(server, 2, 60)
    worker = Worker(server, "stopping")
    wait_until(lambda: all(job(server, job_id)["state"] == "running" for job_id in ids), 30, "both jobs to run")
    started = time.time()
    assert worker.stop() == 0
    assert time.time() - started < 15
    for job_id in ids:
        record = job(server, job_id)
        assert record["state"] == "queued" and record["attempts"] == 0, record
        assert [run["outcome"] for run in record["runs"]] == ["released"], record
    running = server.http.get(server.url("/api/v1/jobs"), params={"state": "running"}, timeout=10).json()["items"]
    assert running == []
