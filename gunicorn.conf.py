"""gunicorn's settings for every way Penpals is served (gunicorn reads this
file from the working folder: `make run` and the Docker image both start there).

Request metrics (penpals.metrics) must add up across gunicorn's processes, so
each process keeps its counts in files in PROMETHEUS_MULTIPROC_DIR. When the
environment names no folder, a fresh one is made here, before any process
starts, and removed when gunicorn stops: counts never mix across restarts.
"""

import os
import shutil
import tempfile

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _metrics_folder = tempfile.mkdtemp(prefix="penpals-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_folder
else:
    _metrics_folder = ""


def on_starting(server) -> None:
    server.log.info(
        "Request metrics of all processes in %s", os.environ["PROMETHEUS_MULTIPROC_DIR"]
    )


def child_exit(server, worker) -> None:
    # A process that ended leaves its counters (kept) and its live gauges
    # (dropped here) in the folder.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _metrics_folder:
        shutil.rmtree(_metrics_folder, ignore_errors=True)
