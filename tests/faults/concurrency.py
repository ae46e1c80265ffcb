"""Helpers for the double-submit and race tests: requests released together
from threads, and the letters they fight over."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from messaging.models import Letter
from moderation.models import ModerationItem
from moderation.services import submit_for_review
from tests.factories import CorrespondenceFactory, LetterFactory

Post = Callable[[Client], HttpResponse]


def at_once(*requests: tuple[object, Post]) -> list[HttpResponse]:
    """Run each (user, post) in its own thread, with its own logged-in client and
    database connection, all released by one barrier. Exceptions are re-raised here."""
    barrier = threading.Barrier(len(requests), timeout=20)
    responses: list[HttpResponse | None] = [None] * len(requests)
    errors: list[BaseException] = []

    def run(index: int, user, post: Post) -> None:
        client = Client()
        client.force_login(user)
        try:
            barrier.wait()
            responses[index] = post(client)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, user, post))
        for index, (user, post) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    if errors:
        raise errors[0]
    return [response for response in responses if response is not None]


def submit_twice(mode: str, user, post: Post) -> list[HttpResponse]:
    """POST twice as `user`: "replayed" (one client, one after the other) or
    "concurrent" (two clients at once)."""
    if mode == "replayed":
        client = Client()
        client.force_login(user)
        return [post(client), post(client)]
    return at_once((user, post), (user, post))


def messages_of(response: HttpResponse) -> list[str]:
    """The messages this request added (a replay's session still holds the first's)."""
    return [str(message) for message in response.wsgi_request._messages._queued_messages]


def approved_letters(pen_pal, profile, count: int) -> list[Letter]:
    correspondence = CorrespondenceFactory(pen_pal=pen_pal, profile=profile)
    return LetterFactory.create_batch(
        count,
        correspondence=correspondence,
        status=Letter.Status.APPROVED,
        approved_at=timezone.now(),
    )


def letters_in_review(pen_pal, profile, count: int = 1) -> list[tuple[Letter, ModerationItem]]:
    """`count` letters of one correspondence, each with its pending moderation item."""
    correspondence = CorrespondenceFactory(pen_pal=pen_pal, profile=profile)
    letters = LetterFactory.create_batch(
        count, correspondence=correspondence, status=Letter.Status.IN_REVIEW
    )
    return [
        (
            letter,
            submit_for_review(letter, ModerationItem.Kind.LETTER_OUT, facility=profile.facility),
        )
        for letter in letters
    ]
