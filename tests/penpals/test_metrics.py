"""/metrics: who may scrape it, what the service's gauges say, the worker's
timings read back through Redis, and a scrape that survives Redis away.

Requests come from the test client (REMOTE_ADDR 127.0.0.1 unless a test says
otherwise); the worker test runs a real `celery worker`; Redis is the suite's
own, or a closed port standing for Redis stopped.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from messaging.metrics import SCREENING
from messaging.models import Letter, Notification
from moderation.models import ModerationItem
from penpals import metrics
from penpals.metrics import Timing
from profiles.models import ProfilePhoto
from tests.factories import (
    CorrespondenceFactory,
    FacilityFactory,
    InmateProfileFactory,
    LetterFactory,
    PenPalFactory,
    ProfilePhotoFactory,
    image_bytes,
    write_letter,
)
from tests.utils import closed_port

TOKEN = "a-long-random-metrics-token-0123456789abcdef"  # noqa: S105
OUTSIDE = "203.0.113.5"  # TEST-NET-3: never an allowed address


def samples(response) -> dict[tuple, float]:
    """Every sample of a scrape: (name, ((label, value), ...)) -> value."""
    assert response.status_code == 200, response.content[:500]
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def scrape(client, **extra) -> dict[tuple, float]:
    return samples(client.get("/metrics", **extra))


def names(scraped: dict[tuple, float]) -> set[str]:
    return {name for name, _labels in scraped}


def assert_refused(response) -> None:
    assert response.status_code == 403
    body = response.content.decode()
    assert "penpals_" not in body
    assert "django_http" not in body


@pytest.fixture
def empty_broker():
    """This test process's broker database, emptied: no tasks, no timings."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.close()


# --- Who may scrape ----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_serves_loopback_by_default(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-cache" in response["Cache-Control"]
    scraped = samples(response)
    assert "penpals_moderation_pending_items" in names(scraped)


@pytest.mark.django_db
def test_it_reports_request_latency_by_view(client):
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    key = (latency, (("method", "GET"), ("view", "about")))
    before = scrape(client).get(key, 0)
    assert client.get("/about/").status_code == 200
    assert client.get("/about/").status_code == 200
    assert scrape(client)[key] == before + 2


def test_it_allows_only_loopback_unless_configured():
    assert settings.METRICS_ALLOWED_IPS == ["127.0.0.1/32", "::1/128"]


def test_it_trusts_no_address_behind_an_uncounted_proxy_and_refuses_bad_networks():
    from tests.penpals.test_settings import run_python

    code = "from django.conf import settings; print(settings.METRICS_ALLOWED_IPS)"
    behind = run_python(code, DJANGO_DEBUG="true", DJANGO_BEHIND_PROXY="true")
    assert behind.stdout.strip() == "[]", behind.stderr
    counted = run_python(
        code, DJANGO_DEBUG="true", DJANGO_BEHIND_PROXY="true", ALLAUTH_TRUSTED_PROXY_COUNT="1"
    )
    assert counted.stdout.strip() == "['127.0.0.1/32', '::1/128']", counted.stderr
    malformed = run_python(code, DJANGO_DEBUG="true", METRICS_ALLOWED_IPS="10.0.0.0/8,10.0.0.300")
    assert malformed.returncode != 0
    assert "METRICS_ALLOWED_IPS must list IP addresses or networks, not '10.0.0.300'" in (
        malformed.stderr
    )
    missing = run_python(code, DJANGO_DEBUG="true", PROMETHEUS_MULTIPROC_DIR="/nonexistent/x")
    assert missing.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR must be an existing folder" in missing.stderr


@pytest.mark.django_db
def test_it_refuses_an_address_outside_the_allowed_networks(client):
    assert_refused(client.get("/metrics", REMOTE_ADDR=OUTSIDE))
    assert_refused(client.get("/metrics", REMOTE_ADDR="::2"))


@pytest.mark.django_db
def test_it_serves_the_configured_networks_and_no_others(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "2001:db8::/32"]
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::7").status_code == 200
    # A dual-stack socket reports an IPv4 client this way.
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.1.1.1").status_code == 200
    assert_refused(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))
    assert_refused(client.get("/metrics", REMOTE_ADDR="11.0.0.1"))


@pytest.mark.django_db
def test_it_serves_no_address_when_the_list_is_empty(client, settings):
    settings.METRICS_ALLOWED_IPS = []
    assert_refused(client.get("/metrics"))


@pytest.mark.django_db
def test_it_ignores_x_forwarded_for_without_a_trusted_proxy(client):
    assert_refused(client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR="127.0.0.1"))


@pytest.mark.django_db
def test_it_reads_the_address_the_trusted_proxy_saw(client, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.0.0.9", **proxy).status_code == 200
    assert_refused(client.get("/metrics", HTTP_X_FORWARDED_FOR=OUTSIDE, **proxy))
    # The client wrote the first entry; the proxy appended what it saw.
    assert_refused(client.get("/metrics", HTTP_X_FORWARDED_FOR=f"10.0.0.9, {OUTSIDE}", **proxy))
    # Not through the proxy: the loopback address alone proves nothing.
    assert_refused(client.get("/metrics", **proxy))


@pytest.mark.django_db
def test_it_serves_the_right_token_from_anywhere(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "penpals_outbox_backlog" in names(samples(response))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}", TOKEN],
)
def test_it_refuses_a_wrong_token_even_from_an_allowed_address(client, settings, header):
    settings.METRICS_TOKEN = TOKEN
    assert_refused(client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=header))
    assert_refused(client.get("/metrics", HTTP_AUTHORIZATION=header))


@pytest.mark.django_db
def test_it_refuses_no_token_from_outside(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert_refused(client.get("/metrics", REMOTE_ADDR=OUTSIDE))


@pytest.mark.django_db
def test_it_refuses_any_token_while_none_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    assert_refused(client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer "))
    assert_refused(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))


@pytest.mark.django_db
def test_it_answers_only_get(client):
    assert client.post("/metrics").status_code == 405


@pytest.mark.django_db
def test_it_stays_on_plain_http_when_the_rest_redirects(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", SCRIPT_NAME="/penpals").status_code == 200
    assert client.get("/about/").status_code == 301


# --- The service's gauges ----------------------------------------------------------------


def pending_item(kind: str, age: timedelta, status: str = "pending") -> ModerationItem:
    # Any object will do: the gauges count items, not what they point at.
    facility = FacilityFactory()
    item = ModerationItem.objects.create(kind=kind, status=status, content_object=facility)
    ModerationItem.objects.filter(pk=item.pk).update(created_at=timezone.now() - age)
    return item


@pytest.mark.django_db
def test_it_counts_pending_moderation_items_by_kind_and_their_oldest_age(client):
    pending_item("photo", timedelta(hours=2))
    pending_item("photo", timedelta(minutes=5))
    pending_item("letter_out", timedelta(hours=30))
    pending_item("photo", timedelta(days=9), status="approved")
    pending_item("report", timedelta(days=9), status="escalated")

    scraped = scrape(client)

    def pending(kind):
        return scraped[("penpals_moderation_pending_items", (("kind", kind),))]

    def oldest(kind):
        return scraped.get(("penpals_moderation_oldest_pending_age_seconds", (("kind", kind),)))

    assert (pending("photo"), pending("letter_out"), pending("report")) == (2, 1, 0)
    assert {pending(kind) for kind in ("profile", "profile_change", "letter_in")} == {0}
    assert oldest("photo") == pytest.approx(2 * 3600, abs=30)
    assert oldest("letter_out") == pytest.approx(30 * 3600, abs=30)
    assert oldest("report") is None


def approved_letter(correspondence, waited: timedelta, **fields) -> Letter:
    return LetterFactory(
        correspondence=correspondence,
        status=fields.pop("status", "approved"),
        approved_at=timezone.now() - waited,
        **fields,
    )


@pytest.mark.django_db
def test_it_counts_letters_waiting_to_print_per_facility_as_the_print_queue_does(client):
    north, south = FacilityFactory(slug="north"), FacilityFactory(slug="south")
    empty = FacilityFactory(slug="quiet")
    at_north = CorrespondenceFactory(profile=InmateProfileFactory.published(facility=north))
    other_at_north = CorrespondenceFactory(profile=InmateProfileFactory.published(facility=north))
    at_south = CorrespondenceFactory(profile=InmateProfileFactory.published(facility=south))
    closed = CorrespondenceFactory(
        profile=InmateProfileFactory.published(facility=south), closed_at=timezone.now()
    )
    blocked = CorrespondenceFactory(
        profile=InmateProfileFactory.published(facility=south),
        blocked_by_inmate_at=timezone.now(),
    )
    approved_letter(at_north, timedelta(days=4))
    approved_letter(at_north, timedelta(hours=1))
    approved_letter(other_at_north, timedelta(days=1))
    approved_letter(at_south, timedelta(minutes=10))
    # Not waiting for the printer: printed already, not approved, a reply,
    # or held back by a closed or blocked correspondence.
    approved_letter(at_south, timedelta(days=8), status="printed")
    approved_letter(at_south, timedelta(days=8), status="in_review")
    approved_letter(at_south, timedelta(days=8), direction="in")
    approved_letter(closed, timedelta(days=8))
    approved_letter(blocked, timedelta(days=8))

    scraped = scrape(client)

    for facility in (north, south, empty):
        expected = Letter.objects.print_queue(facility).count()
        key = ("penpals_letters_to_print", (("facility", facility.slug),))
        assert scraped.get(key, 0) == expected
    assert scraped[("penpals_letters_to_print", (("facility", "north"),))] == 3
    assert scraped[("penpals_letters_to_print", (("facility", "south"),))] == 1
    age = "penpals_letters_to_print_oldest_age_seconds"
    assert scraped[(age, (("facility", "north"),))] == pytest.approx(4 * 86400, abs=30)
    assert scraped[(age, (("facility", "south"),))] == pytest.approx(600, abs=30)
    assert (age, (("facility", "quiet"),)) not in scraped


def notification(state: str, *, created_ago=timedelta(0), attempted_ago=None, attempts=0):
    row = Notification.objects.create(
        recipient=PenPalFactory(),
        kind=Notification.Kind.LETTER_APPROVED,
        key=f"test:{Notification.objects.count()}:{state}",
        state=state,
        attempts=attempts,
        attempted_at=None if attempted_ago is None else timezone.now() - attempted_ago,
    )
    Notification.objects.filter(pk=row.pk).update(created_at=timezone.now() - created_ago)
    return row


@pytest.mark.django_db
def test_it_reports_the_outbox_backlog_and_failures(client):
    notification("pending", created_ago=timedelta(minutes=40))
    notification(
        "pending", created_ago=timedelta(minutes=5), attempts=2, attempted_ago=timedelta(minutes=1)
    )
    notification(
        "sending", created_ago=timedelta(minutes=1), attempts=1, attempted_ago=timedelta(0)
    )
    notification("sent", created_ago=timedelta(days=3), attempts=1, attempted_ago=timedelta(days=3))
    notification("cancelled", created_ago=timedelta(days=3))
    notification(
        "failed", created_ago=timedelta(days=5), attempts=8, attempted_ago=timedelta(days=2)
    )
    notification(
        "failed", created_ago=timedelta(hours=9), attempts=8, attempted_ago=timedelta(hours=1)
    )

    scraped = scrape(client)

    assert scraped[("penpals_outbox_backlog", ())] == 3
    assert scraped[("penpals_outbox_retrying", ())] == 2
    assert scraped[("penpals_outbox_oldest_age_seconds", ())] == pytest.approx(2400, abs=30)
    assert scraped[("penpals_outbox_failed", ())] == 2
    assert scraped[("penpals_outbox_failed_last_day", ())] == 1


@pytest.mark.django_db
def test_it_reports_an_empty_outbox_and_queue_as_zeros(client):
    scraped = scrape(client)
    assert scraped[("penpals_outbox_backlog", ())] == 0
    assert scraped[("penpals_outbox_oldest_age_seconds", ())] == 0
    assert scraped[("penpals_outbox_failed", ())] == 0
    assert scraped[("penpals_moderation_pending_items", (("kind", "letter_in"),))] == 0


@pytest.mark.django_db
def test_the_scrape_makes_a_few_queries_however_much_is_waiting(
    client, django_assert_max_num_queries
):
    # One query for the moderation queue, three for letters and the outbox.
    with django_assert_max_num_queries(4):
        scrape(client)
    for kind in ("photo", "profile", "letter_out", "letter_in", "report"):
        pending_item(kind, timedelta(hours=1))
    for facility in FacilityFactory.create_batch(3):
        correspondence = CorrespondenceFactory(
            profile=InmateProfileFactory.published(facility=facility)
        )
        approved_letter(correspondence, timedelta(days=1))
    for state in ("pending", "sending", "failed", "failed"):
        notification(state, attempted_ago=timedelta(hours=1))
    with django_assert_max_num_queries(4):
        scraped = scrape(client)
    assert scraped[("penpals_outbox_failed", ())] == 2


# --- Redis: queues and the worker's timings ------------------------------------------------


@pytest.mark.django_db
def test_it_reports_the_celery_queue_length(client, empty_broker):
    from penpals.tasks import record_worker_heartbeat

    for _ in range(3):
        record_worker_heartbeat.delay()
    scraped = scrape(client)
    assert scraped[("penpals_celery_queue_length", (("queue", "celery"),))] == 3
    assert scraped[("penpals_metrics_source_up", (("source", "redis"),))] == 1


@pytest.mark.django_db
def test_it_exports_recorded_timings_as_cumulative_histograms(client, empty_broker):
    for seconds in (0.03, 0.2, 0.2, 100.0):
        SCREENING.observe(seconds)
    scraped = scrape(client)

    def bucket(bound):
        return scraped[("penpals_letter_screening_seconds_bucket", (("le", bound),))]

    assert (bucket("0.01"), bucket("0.05"), bucket("0.25"), bucket("30.0"), bucket("+Inf")) == (
        0,
        1,
        3,
        3,
        4,
    )
    assert scraped[("penpals_letter_screening_seconds_count", ())] == 4
    assert scraped[("penpals_letter_screening_seconds_sum", ())] == pytest.approx(100.43)


@pytest.mark.django_db
def test_it_exports_every_timing_before_anything_was_recorded(client, empty_broker):
    scraped = scrape(client)
    for name in (
        "penpals_letter_screening_seconds",
        "penpals_photo_processing_seconds",
        "penpals_scan_run_processing_seconds",
        "penpals_reply_reading_seconds",
    ):
        assert scraped[(f"{name}_count", ())] == 0


def test_a_timed_block_that_raises_is_still_timed(empty_broker):
    timing = Timing("penpals_test_failing_seconds", "A test timing.", buckets=(1,))
    with pytest.raises(ValueError, match="boom"):
        with timing.time():
            raise ValueError("boom")
    assert int(empty_broker.hget(timing.key, "count")) == 1
    metrics._timings.pop(timing.name)


def test_a_timing_is_dropped_not_raised_while_redis_is_away(settings, caplog):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    started = time.monotonic()
    with SCREENING.time():
        pass
    assert time.monotonic() - started < 1
    assert "timing not recorded" in caplog.text


@pytest.mark.django_db
def test_the_scrape_answers_without_redis_and_without_its_metrics(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    pending_item("photo", timedelta(minutes=3))
    started = time.monotonic()
    scraped = scrape(client)
    assert time.monotonic() - started < 2
    assert not {
        "penpals_celery_queue_length",
        "penpals_letter_screening_seconds_count",
        "penpals_photo_processing_seconds_count",
    } & names(scraped)
    assert scraped[("penpals_metrics_source_up", (("source", "redis"),))] == 0
    # The database's gauges are still there.
    assert scraped[("penpals_moderation_pending_items", (("kind", "photo"),))] == 1
    assert scraped[("penpals_metrics_source_up", (("source", "moderation"),))] == 1


@pytest.mark.django_db
def test_a_failing_source_leaves_only_its_own_metrics_out(client):
    def broken():
        raise RuntimeError("this source is broken")

    metrics.register_collector("broken", broken)
    try:
        scraped = scrape(client)
    finally:
        metrics._collectors.pop("broken")
    assert scraped[("penpals_metrics_source_up", (("source", "broken"),))] == 0
    assert scraped[("penpals_metrics_source_up", (("source", "messaging"),))] == 1
    assert "penpals_outbox_backlog" in names(scraped)


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_s_screening_and_photo_timings_reach_the_scrape(
    celery_worker_process, client, alice, default_screening_rules
):
    before = scrape(client)
    assert before[("penpals_letter_screening_seconds_count", ())] == 0
    assert before[("penpals_photo_processing_seconds_count", ())] == 0

    letter = write_letter(alice, InmateProfileFactory.published())
    photo = ProfilePhotoFactory(original__data=image_bytes(size=(640, 480)))
    from profiles.tasks import process_photo

    process_photo.delay(photo.pk)

    deadline = time.monotonic() + 60
    while True:
        letter.refresh_from_db()
        photo.refresh_from_db()
        if letter.status != Letter.Status.SUBMITTED and photo.status == ProfilePhoto.Status.READY:
            break
        assert time.monotonic() < deadline, "the worker did not screen the letter and the photo"
        assert celery_worker_process.poll() is None, "the worker died"
        time.sleep(0.2)
    # The worker records the timing just after the task body returns.
    while True:
        after = scrape(client)
        if (
            after[("penpals_photo_processing_seconds_count", ())]
            and after[("penpals_letter_screening_seconds_count", ())]
        ):
            break
        assert time.monotonic() < deadline, "the timings did not reach Redis"
        time.sleep(0.2)
    assert after[("penpals_letter_screening_seconds_count", ())] == 1
    assert after[("penpals_photo_processing_seconds_count", ())] == 1
    assert after[("penpals_photo_processing_seconds_sum", ())] > 0
    assert after[("penpals_letter_screening_seconds_bucket", (("le", "+Inf"),))] == 1


@pytest.mark.django_db
def test_every_scrape_query_can_use_its_index(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as scrape_queries:
        scrape(client)
    plans = []
    with connection.cursor() as cursor:
        # The test tables are tiny, where a sequential scan is cheaper: forbid
        # it, so the plan shows which index the query can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in scrape_queries.captured_queries:
            cursor.execute(f"EXPLAIN {query['sql']}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    expected = [
        "moderation_pending_",  # the kind's partial index, or the age one
        "messaging_letter_print_queue",
        "messaging_outbox_unsent",
        "messaging_outbox_failed",
    ]
    assert len(plans) == len(expected), plans
    # Each query on its own index (the sources' order is the apps').
    assert sorted(index for plan in plans for index in expected if index in plan) == sorted(
        expected
    ), plans
    for plan in plans:
        assert "Seq Scan on moderation_moderationitem" not in plan
        assert "Seq Scan on messaging_letter" not in plan
        assert "Seq Scan on messaging_notification" not in plan


# --- Several gunicorn processes ----------------------------------------------------------


def get(url: str) -> bytes:
    from urllib.request import urlopen

    with urlopen(url, timeout=10) as response:  # noqa: S310 (a local http:// URL)
        return response.read()


@pytest.mark.django_db(transaction=True)
def test_gunicorn_processes_add_up_their_requests_in_multiprocess_mode(
    _celery_worker_env, tmp_path
):
    import subprocess
    import sys

    from tests.conftest import ROOT

    _log, env = _celery_worker_env
    # No folder named: gunicorn.conf.py (read from the working folder, as
    # `make run` and the Docker image start gunicorn) makes one.
    env = {name: value for name, value in env.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    port = closed_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as out:
        # Each process serves 5 requests, then gunicorn replaces it: 20
        # requests pass through at least 4 processes, most of them gone by
        # the time of the scrape.
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "penpals.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", "2", "--max-requests", "5"],
            cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(f"{base}/healthz")
                break
            except OSError:
                assert gunicorn.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        for _ in range(20):
            get(f"{base}/about/")
        for _ in range(3):
            text = get(f"{base}/metrics").decode()
            scraped = {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
            }
            key = (
                "django_http_requests_latency_seconds_by_view_method_count",
                (("method", "GET"), ("view", "about")),
            )
            assert scraped[key] == 20
        # The counts of processes that ended are kept in their files.
        named = re.search(r"Request metrics of all processes in (\S+)", log.read_text())
        assert named, log.read_text()
        folder = Path(named.group(1))
        pids = {path.stem.rsplit("_", 1)[-1] for path in folder.glob("*.db")}
        assert len(pids) >= 4, sorted(pids)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=20)
    # gunicorn removes the folder it made when it stops.
    assert not folder.exists()
