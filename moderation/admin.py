"""A first moderation queue in the admin: list, inspect, approve or reject.

The moderation issue turns this into the full workspace (claiming, previews,
highlighted hits, bulk decisions with reasons, dashboard).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from moderation.models import ModerationDecision, ModerationItem
from moderation.services import AlreadyDecided, do_decide


class ModerationDecisionInline(admin.TabularInline):
    model = ModerationDecision
    extra = 0
    can_delete = False
    fields = ["created_at", "moderator", "status", "reason_code", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModerationItem)
class ModerationItemAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "kind",
        "status",
        "risk_score",
        "facility",
        "summary",
        "created_at",
        "decided_by",
    ]
    list_filter = ["status", "kind", "facility"]
    list_select_related = ["facility", "decided_by", "content_type"]
    search_fields = ["summary"]
    readonly_fields = [
        "kind", "content_type", "object_id", "facility", "status", "risk_score", "flags", "summary",
        "claimed_by", "claimed_until", "decided_by", "decided_at", "reason_code", "note", "created_at",
    ]  # fmt: skip
    inlines = [ModerationDecisionInline]
    actions = ["approve_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Approve selected items", permissions=["change"])
    def approve_selected(self, request, queryset) -> None:
        approved = 0
        for item_id in queryset.pending().values_list("pk", flat=True):
            try:
                do_decide(item_id, request.user, approve=True)
                approved += 1
            except (AlreadyDecided, ValidationError) as exc:
                self.message_user(request, f"Item {item_id}: {exc}", messages.WARNING)
        self.message_user(request, f"Approved {approved} item(s).", messages.SUCCESS)
