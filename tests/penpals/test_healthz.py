"""/healthz names each dependency's state and answers 503 when one is down."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.utils import closed_port


@pytest.mark.django_db
def test_it_reports_every_dependency_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "redis": "ok", "storage": "ok"}
    assert body["down"] == []
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_it_answers_503_naming_redis_when_redis_is_down(client):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_it_answers_503_naming_storage_when_it_cannot_write(client, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the media folder should be")
    broken = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(blocker / "media")},
    }
    from django.conf import settings

    with override_settings(STORAGES={**settings.STORAGES, "private": broken}):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["storage"]


@pytest.mark.django_db
def test_it_reports_the_worker_heartbeat(client):
    from django.utils import timezone

    from penpals.models import WorkerHeartbeat

    assert client.get("/healthz").json()["worker"] == "no heartbeat yet"
    WorkerHeartbeat.objects.create(worker="w1", seen_at=timezone.now())
    assert client.get("/healthz").json()["worker"] == "ok"
    WorkerHeartbeat.objects.filter(worker="w1").update(
        seen_at=timezone.now() - timezone.timedelta(hours=1)
    )
    assert client.get("/healthz").json()["worker"] == "stale"
