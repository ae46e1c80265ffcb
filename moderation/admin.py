"""A first moderation queue in the admin: list, inspect, approve or reject.

The moderation issue turns this into the full workspace (claiming, previews,
highlighted hits, bulk decisions with reasons, dashboard).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import path

from moderation.forms import TryRulesForm
from moderation.models import ModerationDecision, ModerationItem, ScreeningRule
from moderation.screening import highlight_segments, screen_text
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


@admin.register(ScreeningRule)
class ScreeningRuleAdmin(admin.ModelAdmin):
    """Screening rules, for admins only.

    A rule changes what every letter is held for, so moderators (who work the
    queue) cannot see or edit rules; superusers can. The model's clean()
    compiles the pattern with RE2, so the form refuses a pattern RE2 cannot
    compile and shows RE2's reason beside the field.
    """

    list_display = ["name", "category", "pattern_type", "action", "scope", "facility", "is_active", "updated_at"]  # fmt: skip
    list_filter = ["category", "action", "scope", "pattern_type", "is_active", "facility"]
    list_select_related = ["facility"]
    search_fields = ["name", "pattern"]
    readonly_fields = ["created_at", "updated_at"]
    fields = [
        "name", "category", "pattern_type", "pattern", "action", "scope", "facility", "is_active",
        "created_at", "updated_at",
    ]  # fmt: skip

    def _is_admin(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)

    def has_add_permission(self, request) -> bool:
        return self._is_admin(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)

    def get_urls(self):
        # Before the default URLs: their "<path:object_id>/" would catch "try/".
        try_rules = path(
            "try/",
            self.admin_site.admin_view(self.try_rules_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_try",
        )
        return [try_rules, *super().get_urls()]

    def try_rules_view(self, request):
        """Screen pasted text against the active database rules, as
        `screen --rules db` does, and show the hits. Changes nothing, so
        anyone who may view the rules may use it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TryRulesForm(request.POST if request.method == "POST" else None)
        result = segments = None
        if form.is_valid():
            text = form.cleaned_data["text"]
            facility = form.cleaned_data["facility"]
            result = screen_text(
                text,
                scope=form.cleaned_data["scope"],
                facility_id=facility.pk if facility else None,
            )
            segments = highlight_segments(text, result.hits)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Try the screening rules",
            "form": form,
            "result": result,
            "segments": segments,
        }
        return TemplateResponse(request, "admin/moderation/screeningrule/try_rules.html", context)
