"""Start-up checks: a kind of moderation item nobody handles would wait in the
queue for ever, and a decision on it would fail; refuse to start instead."""

from __future__ import annotations

from django.core import checks

from moderation import registry
from moderation.models import ModerationItem


@checks.register()
def registrations_complete(app_configs, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"No app registered {gap}.",
            hint="Register it in the app's AppConfig.ready() (see moderation.registry).",
            id="moderation.E001",
        )
        for gap in registry.missing(ModerationItem.Kind)
    ]
