"""A view and a task that fail on purpose, for the error-report tests only.

Never in the project's URLs or task modules: tests/penpals/failing_settings.py
mounts the view (beside the real URLs) and imports the task, in a server or
worker process a test starts; tests in this process use the view through
`pytest.mark.urls`.
"""

from __future__ import annotations

from celery import shared_task
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


class LetterServiceDown(RuntimeError):
    pass


@csrf_exempt
def write_and_fail(request: HttpRequest) -> HttpResponse:
    """Fails while private values sit in its locals, as a letter view's would."""
    letter_text = request.POST.get("body", "")
    legal_name = request.POST.get("legal_name", "")
    raise LetterServiceDown(
        f"could not deliver {len(letter_text)} characters for {len(legal_name)}-letter "
        f"name; reply to {request.POST.get('email', '')}"
    )


urlpatterns = [
    path("failing/write/", write_and_fail),
    path("", include("penpals.urls")),
]

# Fails with a transient error (retried) until its retries run out; a fast
# version of what PenpalsTask does with a database that stays down.
ATTEMPTS = 3


@shared_task(bind=True, max_retries=ATTEMPTS - 1, retry_backoff=False, default_retry_delay=0)
def fail_for_good(
    self, letter_id: int, legal_name: str = "", body: str = "", email: str = ""
) -> None:
    letter_text = body
    raise ConnectionError(
        f"attempt {self.request.retries + 1} for letter {letter_id} "
        f"({len(letter_text)} characters, {len(legal_name)}-letter name) lost the "
        f"database; reply to {email}"
    )
