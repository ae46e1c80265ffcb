"""Queue benchmarks: the moderation admin at 50,000 pending and 1,000,000 decided items.

Each page is timed through the whole Django request cycle (middleware with
MFA, admin, queries, template) with django.test.Client as a moderator,
rotating through the queue's filters and through real letter items:

- queue: the changelist, unfiltered (pending) and with each filter
- item:  item pages of flagged letters (text highlighted, earlier letters)

Target: every p95 under 150 ms, with a small constant number of queries.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devtools.benchmarks.pages import percentile
from devtools.demo.profiles import seed_scale_facilities
from messaging.models import Correspondence, Letter
from moderation.models import ModerationItem, Report
from penpals.models import MODERATORS_GROUP
from profiles.models import InmateProfile, ProfilePhoto

Figure = tuple[str, float | int, str]

PENDING = 50_000
DECIDED = 1_000_000
LETTERS = 200  # real flagged letters at the top of the queue, for the item pages
MODERATORS = 5
REQUESTS_PER_CASE = 200
BENCH_EMAIL = "queue-bench-moderator@example.org"

QUEUE = "/admin/moderation/moderationitem/"
QUEUE_CASES = [
    QUEUE,
    f"{QUEUE}?kind__exact=letter_in",
    f"{QUEUE}?flag=money",
    f"{QUEUE}?age=72h",
    f"{QUEUE}?claimed=no",
    f"{QUEUE}?status=approved",
    f"{QUEUE}?kind__exact=photo&flag=threat",
    f"{QUEUE}?p=20",
]

LETTER_BODY = (
    "Dear friend,\nThanks for your last letter. Things are slow here but I am reading a lot.\n"
    "If you could send me your cash app I would pay you back when I am out.\n"
    "Also my cousin says hi, his number is 555 123 4567.\nTake care,\nM."
)


def _say(log, message: str) -> None:
    if log:
        log(message)


def seed_queue_scale(pending: int = PENDING, decided: int = DECIDED, *, log=None) -> float:
    """Add `pending` pending and `decided` decided moderation items (with their
    decisions) plus LETTERS real flagged letters at the top of the queue.

    Rows are generated in the database (INSERT ... SELECT generate_series),
    so nothing crosses the wire row by row. Most items point at object ids
    that do not exist: the list never loads the objects. Returns the seconds taken.
    """

    started = time.monotonic()
    facilities = seed_scale_facilities()
    moderators = _moderators()
    content_types = ContentType.objects.get_for_models(InmateProfile, ProfilePhoto, Letter, Report)
    # Same order as the kinds array in the SQL below.
    kind_types = [
        content_types[InmateProfile].pk,
        content_types[ProfilePhoto].pk,
        content_types[Letter].pk,
        content_types[Letter].pk,
        content_types[Report].pk,
    ]
    facility_ids = [facility.pk for facility in facilities]
    moderator_ids = [moderator.pk for moderator in moderators]

    with transaction.atomic(), connection.cursor() as cursor:
        _say(log, f"Inserting {pending:,} pending items...")
        cursor.execute(
            """
            INSERT INTO moderation_moderationitem
              (kind, content_type_id, object_id, facility_id, status, risk_score, flags,
               summary, reason_code, note, created_at)
            SELECT (ARRAY['profile','photo','letter_out','letter_in','report'])[1 + i %% 5],
                   (%(kind_types)s::bigint[])[1 + i %% 5],
                   1000000000::bigint + i,
                   (%(facility_ids)s::bigint[])[1 + i %% cardinality(%(facility_ids)s::bigint[])],
                   'pending',
                   (i::bigint * 7919) %% 90,
                   CASE i %% 7 WHEN 0 THEN '["money"]'::jsonb
                               WHEN 1 THEN '["contact", "threat"]'::jsonb
                               WHEN 2 THEN '["explicit"]'::jsonb
                               ELSE '[]'::jsonb END,
                   'Queued item ' || i || E'\nSecond line of the summary',
                   '', '',
                   now() - (i %% 20000) * interval '20 seconds'
            FROM generate_series(1, %(count)s) AS i
            """,
            {"kind_types": kind_types, "facility_ids": facility_ids, "count": pending},
        )
        _say(log, f"Inserting {decided:,} decided items...")
        cursor.execute(
            """
            INSERT INTO moderation_moderationitem
              (kind, content_type_id, object_id, facility_id, status, risk_score, flags,
               summary, decided_by_id, decided_at, reason_code, note, created_at)
            SELECT (ARRAY['profile','photo','letter_out','letter_in','report'])[1 + i %% 5],
                   (%(kind_types)s::bigint[])[1 + i %% 5],
                   2000000000::bigint + i,
                   (%(facility_ids)s::bigint[])[1 + i %% cardinality(%(facility_ids)s::bigint[])],
                   CASE WHEN i %% 10 = 0 THEN 'rejected' ELSE 'approved' END,
                   (i::bigint * 7919) %% 90,
                   CASE WHEN i %% 10 = 0 THEN '["money"]'::jsonb ELSE '[]'::jsonb END,
                   'Decided item ' || i,
                   (%(moderator_ids)s::bigint[])[1 + i %% cardinality(%(moderator_ids)s::bigint[])],
                   now() - i * interval '30 seconds' + interval '5 minutes',
                   CASE WHEN i %% 10 = 0 THEN 'money' ELSE '' END,
                   '',
                   now() - i * interval '30 seconds'
            FROM generate_series(1, %(count)s) AS i
            """,
            {
                "kind_types": kind_types,
                "facility_ids": facility_ids,
                "moderator_ids": moderator_ids,
                "count": decided,
            },
        )
        _say(log, "Inserting their decisions...")
        cursor.execute(
            """
            INSERT INTO moderation_moderationdecision
              (item_id, moderator_id, status, reason_code, note, created_at)
            SELECT id, decided_by_id, status, reason_code, '', decided_at
            FROM moderation_moderationitem
            WHERE object_id > 2000000000 AND status IN ('approved', 'rejected')
            """
        )
        _seed_letter_items(facilities[0], moderators[0])
    _say(log, "Analyzing...")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE moderation_moderationitem")
        cursor.execute("VACUUM ANALYZE moderation_moderationdecision")
    return time.monotonic() - started


def _moderators():

    group = Group.objects.get(name=MODERATORS_GROUP)
    users = []
    for number in range(MODERATORS):
        email = BENCH_EMAIL if number == 0 else f"queue-bench-{number}@example.org"
        user, created = get_user_model().objects.get_or_create(
            email=email, defaults={"display_name": f"Moderator {number}", "is_staff": True}
        )
        if created:
            user.groups.add(group)
        users.append(user)
    return users


def _seed_letter_items(facility, pen_pal) -> None:
    """LETTERS flagged outbound letters in one correspondence, queued above the rest."""

    profile = InmateProfile.objects.create(
        facility=facility,
        inmate_number=f"QB{uuid.uuid4().hex[:8]}",
        legal_name="Queue Bench",
        display_name="Marcus",
        date_of_birth=date(1980, 1, 1),
        gender="male",
        status=InmateProfile.Status.PUBLISHED,
        published_at=timezone.now(),
        public_updated_at=timezone.now(),
    )
    correspondence = Correspondence.objects.create(pen_pal=pen_pal, profile=profile)
    start = LETTER_BODY.index("cash app")
    screening = {
        "risk": 95,
        "categories": ["money", "contact"],
        "alerts": [],
        "hits": [
            {"category": "money", "rule": "Money apps", "start": start, "end": start + 8,
             "match": "cash app"},
        ],
    }  # fmt: skip
    now = timezone.now()
    letters = Letter.objects.bulk_create(
        Letter(
            correspondence=correspondence,
            direction=Letter.Direction.OUTBOUND,
            body=LETTER_BODY,
            status=Letter.Status.IN_REVIEW,
            created_by=pen_pal,
            idempotency_key=uuid.uuid4(),
            screening=screening,
            created_at=now - timedelta(minutes=LETTERS - number),
        )
        for number in range(LETTERS)
    )
    letter_type = ContentType.objects.get_for_model(Letter)
    ModerationItem.objects.bulk_create(
        ModerationItem(
            kind=ModerationItem.Kind.LETTER_OUT,
            content_type=letter_type,
            object_id=letter.pk,
            facility=facility,
            risk_score=95,
            flags=["money", "contact"],
            summary="Dear friend, thanks for your last letter. Things are slow here",
        )
        for letter in letters
    )


def _get(client: Client, path: str, marker: bytes) -> float:
    start = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200 or marker not in response.content:
        raise RuntimeError(f"{path} answered {response.status_code} without {marker!r}")
    return elapsed


def bench_admin_queue() -> Iterator[Figure]:

    pending = ModerationItem.objects.pending().count()
    if pending < PENDING:
        yield "admin.seed_queue_scale.seconds", seed_queue_scale(), "s"
        pending = ModerationItem.objects.pending().count()
    yield "admin.queue.pending_items", pending, "items"

    moderator = get_user_model().objects.get(email=BENCH_EMAIL)
    if not Authenticator.objects.filter(user=moderator, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(moderator, generate_totp_secret())  # the admin requires MFA
    client = Client(SERVER_NAME="localhost")
    client.force_login(moderator)

    letter_items = list(
        ModerationItem.objects.pending()
        .filter(content_type=ContentType.objects.get_for_model(Letter))
        .values_list("pk", flat=True)[:REQUESTS_PER_CASE]
    )
    random.Random(1).shuffle(letter_items)  # noqa: S311 - order of pages only
    cases = {
        "queue": (QUEUE_CASES, b'id="result_list"'),
        "item": ([f"{QUEUE}{pk}/change/" for pk in letter_items], b"screening-hit"),
    }
    for case, (paths, marker) in cases.items():
        for path in paths[:5]:  # warm caches, connections and plans
            _get(client, path, marker)
        timings = [
            _get(client, paths[number % len(paths)], marker) for number in range(REQUESTS_PER_CASE)
        ]
        with CaptureQueriesContext(connection) as queries:
            _get(client, paths[0], marker)
        yield f"admin.{case}.p50_ms", statistics.median(timings), "ms"
        yield f"admin.{case}.p95_ms", percentile(timings, 0.95), "ms"
        yield f"admin.{case}.queries", len(queries), "queries"
