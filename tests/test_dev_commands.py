"""The developer commands the README documents exist and do what it says:
`make manage` runs manage.py against `make run`'s data (running or not), and
the README's description of `make run`'s gunicorn matches scripts/run.sh.
No database from pytest-django: `make manage` starts its own servers."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
RUN_SCRIPT = ROOT / "scripts" / "run.sh"


@pytest.fixture
def data_dir():
    """A data folder the `postgres` user can reach (pytest's data_dir is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="penpals-manage-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def readme() -> str:
    return README.read_text()


def make_manage(args: str, data_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PENPALS_DATA_DIR": str(data_dir)}
    # Not pytest's database or settings: the script's own, as for a developer.
    for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG"):
        environment.pop(name, None)
    return subprocess.run(  # noqa: S603 - a fixed command
        ["make", "--no-print-directory", "manage", f"ARGS={args}"],  # noqa: S607
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_readme_runs_manage_py_only_through_make_manage():
    commands = [
        command
        for command in re.findall(r"(?<!`)`([^`\n]*manage\.py [^`\n]+)`(?!`)", readme())
        if command != "python manage.py ..."  # what `make manage` stands for
    ]
    # Only production's container runs manage.py by hand.
    assert all(command.startswith("docker compose ") for command in commands), commands
    assert 'make manage ARGS="seed_demo --print-totp-code"' in readme()
    assert 'make manage ARGS="seed_demo --print-totp-code"' in RUN_SCRIPT.read_text()


def test_the_makefile_has_the_manage_target_the_readme_documents():
    makefile = MAKEFILE.read_text()
    assert re.search(r"^manage:\n\t@bash scripts/manage\.sh \$\(ARGS\)$", makefile, re.M)
    assert "manage" in re.search(r"^\.PHONY:(.*)$", makefile, re.M)[1].split()


def test_make_manage_works_with_make_run_stopped(data_dir):
    """It starts the data folder's PostgreSQL and Redis, runs the command with
    `make run`'s settings, and stops them again."""
    result = make_manage("seed_demo --print-totp-code", data_dir)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d{6}\n", result.stdout)
    # A command that needs the database reaches it.
    result = make_manage("showmigrations penpals", data_dir)
    assert result.returncode == 0, result.stderr
    assert "[ ] 0001_initial" in result.stdout
    assert not (data_dir / "postgres" / "data" / "postmaster.pid").exists()


def test_make_manage_uses_the_servers_of_a_running_make_run(data_dir):
    """While `make run` runs, the command joins its servers and leaves them running."""
    script = f"""
        source scripts/lib.sh
        start_postgres {data_dir}/postgres
        start_redis {data_dir}/redis
        trap 'stop_redis; stop_postgres' EXIT
        PENPALS_DATA_DIR={data_dir} make --no-print-directory manage ARGS="showmigrations penpals"
        test -f {data_dir}/postgres/data/postmaster.pid && echo "still running"
    """
    result = subprocess.run(  # noqa: S603 - a fixed script
        ["bash", "-c", script],  # noqa: S607
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "[ ] 0001_initial" in result.stdout
    assert "still running" in result.stdout
    # It started no second PostgreSQL.
    assert result.stderr.count("starting PostgreSQL") == 1


def test_make_run_starts_as_many_gunicorn_workers_as_the_readme_says():
    run = RUN_SCRIPT.read_text()
    workers = int(re.search(r"gunicorn .*--workers (\d+)", run, re.S)[1])
    threads = re.search(r"gunicorn [^&]*--threads (\d+)", run)
    assert threads is None or threads[1] == "1"  # sync workers
    text = " ".join(readme().split())
    assert (
        f"gunicorn runs {workers} single-threaded (sync) workers, in the load run and in `make run`"
        in text
    )
    assert f"gunicorn ({workers} single-threaded workers)" in text


def test_ctrl_c_stops_make_run_calmly(data_dir):
    """Ctrl-C in the terminal (SIGINT to the whole foreground process group)
    stops every process `make run` started, says so calmly and exits 0."""
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "PENPALS_DATA_DIR": str(data_dir),
        "PORT": str(port),
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    environment.pop("DJANGO_DEBUG", None)
    log = data_dir / "make-run.log"
    with log.open("w") as output:
        run = subprocess.Popen(  # noqa: S603 - a fixed command
            ["make", "--no-print-directory", "run"],  # noqa: S607
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's job
        )
        try:
            deadline = time.monotonic() + 400
            while "Press Ctrl-C to stop" not in log.read_text():
                assert run.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(1)
            os.killpg(run.pid, signal.SIGINT)
            status = run.wait(timeout=120)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
    printed = log.read_text()
    # make itself got the Ctrl-C too and ends by it, quietly, as after any
    # interrupted command; the script under it ends calmly (exit 0), so make
    # reports no error.
    assert status in (0, -signal.SIGINT), printed
    assert "Penpals stopped" in printed
    assert "exited by itself" not in printed
    assert "Error" not in printed
    assert not (data_dir / "postgres" / "data" / "postmaster.pid").exists()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing serves the port
