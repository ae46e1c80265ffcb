"""/healthz names each dependency's state and answers 503 when one is down.

The public check is cheap and writes nothing; the deep check (a file written
and deleted in both storages) runs on beat's schedule and for a caller with
HEALTHZ_DEEP_TOKEN. Storage writes are counted through a real storage
subclass, and the folders are looked at afterwards.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.files.storage import FileSystemStorage
from django.test import override_settings
from django.utils import timezone

from penpals import tasks
from tests.utils import closed_port

TOKEN = "a-long-random-health-check-token-0123456789"  # noqa: S105


class CountingStorage(FileSystemStorage):
    """Local files, counting every write and delete (a PUT and DELETE on S3)."""

    writes: list[str] = []
    deletes: list[str] = []

    def _save(self, name, content):
        CountingStorage.writes.append(name)
        return super()._save(name, content)

    def delete(self, name):
        CountingStorage.deletes.append(name)
        return super().delete(name)


@pytest.fixture
def counted_storages(settings, tmp_path):
    """Both storages are CountingStorage over empty folders; yields the folders."""
    CountingStorage.writes.clear()
    CountingStorage.deletes.clear()
    folders = [tmp_path / "public", tmp_path / "private"]
    backend = f"{__name__}.CountingStorage"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": backend, "OPTIONS": {"location": str(folders[0])}},
        "private": {"BACKEND": backend, "OPTIONS": {"location": str(folders[1])}},
    }
    return folders


def everything_in(folders) -> list:
    return [path for folder in folders if folder.exists() for path in folder.rglob("*")]


def deep(client, token: str = TOKEN, scheme: str = "Bearer"):
    return client.get("/healthz", HTTP_AUTHORIZATION=f"{scheme} {token}")


@pytest.mark.django_db
def test_it_reports_every_dependency_up(client, counted_storages):
    tasks.check_storage()  # what beat runs every five minutes
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "redis": "ok", "storage": "ok"}
    assert body["down"] == []
    assert body["deep"] is False
    assert 0 <= body["storage_checked_seconds_ago"] < 60
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_it_writes_nothing_to_either_storage_for_an_anonymous_caller(client, counted_storages):
    for _ in range(20):
        response = client.get("/healthz")
        assert response.status_code == 200
    assert CountingStorage.writes == []
    assert CountingStorage.deletes == []
    assert everything_in(counted_storages) == []
    body = response.json()
    # Before beat's first round the storages' state is not known, which is not "down".
    assert body["checks"]["storage"] == "not checked yet"
    assert body["storage_checked_seconds_ago"] is None


@pytest.mark.django_db
def test_it_runs_the_deep_check_for_the_token(client, counted_storages, settings):
    settings.HEALTHZ_DEEP_TOKEN = TOKEN
    response = deep(client)
    assert response.status_code == 200
    body = response.json()
    assert body["deep"] is True
    assert body["checks"]["storage"] == "ok"
    assert body["storage_checked_seconds_ago"] == 0
    assert len(CountingStorage.writes) == 2  # one file in each storage...
    assert len(CountingStorage.deletes) == 2
    assert [path for path in everything_in(counted_storages) if path.is_file()] == []  # ...gone
    # The public check now reports that result, without writing.
    public = client.get("/healthz").json()
    assert public["checks"]["storage"] == "ok"
    assert public["storage_checked_seconds_ago"] is not None
    assert len(CountingStorage.writes) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("configured", "scheme", "presented"),
    [
        (TOKEN, "Bearer", "wrong"),
        (TOKEN, "Bearer", TOKEN[:-1]),
        (TOKEN, "Bearer", ""),
        (TOKEN, "Basic", TOKEN),
        ("", "Bearer", ""),  # no token configured: nobody gets the deep check
        ("", "Bearer", "anything"),
    ],
)
def test_it_refuses_the_deep_check_without_the_right_token(
    client, counted_storages, settings, configured, scheme, presented
):
    settings.HEALTHZ_DEEP_TOKEN = configured
    response = deep(client, token=presented, scheme=scheme)
    assert response.status_code == 403
    assert CountingStorage.writes == []
    assert everything_in(counted_storages) == []


@pytest.mark.django_db
def test_it_answers_503_naming_redis_when_redis_is_down(client):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_it_answers_503_naming_storage_when_it_cannot_write(client, tmp_path, settings):
    settings.HEALTHZ_DEEP_TOKEN = TOKEN
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the media folder should be")
    broken = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(blocker / "media")},
    }
    settings.STORAGES = {**settings.STORAGES, "private": broken}
    response = deep(client)
    assert response.status_code == 503
    assert response.json()["down"] == ["storage"]
    # The public check reports the failure the deep check found.
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["storage"]


@pytest.mark.django_db
def test_it_records_beats_storage_check_and_says_when_it_is_stale(client, counted_storages):
    tasks.check_storage()
    assert len(CountingStorage.writes) == 2
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = client.get("/healthz")
    # Beat stopped: the state is too old to speak for now, which is not "down".
    assert response.status_code == 200
    assert response.json()["checks"]["storage"] == "stale"
    assert response.json()["storage_checked_seconds_ago"] >= 16 * 60


@pytest.mark.django_db
def test_it_reports_the_worker_heartbeat(client):
    from penpals.models import WorkerHeartbeat

    assert client.get("/healthz").json()["worker"] == "no heartbeat yet"
    WorkerHeartbeat.objects.create(worker="w1", seen_at=timezone.now())
    assert client.get("/healthz").json()["worker"] == "ok"
    WorkerHeartbeat.objects.filter(worker="w1").update(
        seen_at=timezone.now() - timezone.timedelta(hours=1)
    )
    assert client.get("/healthz").json()["worker"] == "stale"
