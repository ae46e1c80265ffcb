"""A first moderation queue in the admin: list, inspect, approve or reject.

The moderation issue turns this into the full workspace (claiming, previews,
highlighted hits, bulk decisions with reasons, dashboard).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from moderation.forms import DecisionForm, TryRulesForm
from moderation.models import ModerationDecision, ModerationItem, ScreeningRule
from moderation.screening import Hit, highlight_segments, screen_text
from moderation.services import AlreadyDecided, do_decide


def method_decorator_require_post(view):
    from django.utils.decorators import method_decorator

    return method_decorator(require_POST)(view)


def review_context(item: ModerationItem) -> dict:
    """What the item page shows of the object under review: a letter's text with
    every screening hit highlighted, its scans, and the letters before it."""
    target = item.content_object
    if target is None or target._meta.label != "messaging.Letter":
        return {"review_object": target}
    screening = target.screening or {}
    hits = [
        Hit(h["category"], h["rule"], "", h["start"], h["end"], h["match"])
        for h in screening.get("hits", [])
    ]
    earlier = (
        type(target)
        .objects.filter(
            correspondence_id=target.correspondence_id, created_at__lt=target.created_at
        )
        .order_by("-created_at")[:5]
    )
    return {
        "review_object": target,
        "letter": target,
        "segments": highlight_segments(target.body, hits),
        "screening": screening,
        "scans": list(target.scans.all()),
        "earlier_letters": list(reversed(earlier)),
    }


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

    def get_urls(self):
        decide = path(
            "<int:item_id>/decide/",
            self.admin_site.admin_view(self.decide_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_decide",
        )
        return [decide, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        item = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if item is not None:
            extra_context.update(review_context(item))
            if item.status == ModerationItem.Status.PENDING and self.has_change_permission(
                request, item
            ):
                extra_context["decision_form"] = DecisionForm()
        return super().change_view(request, object_id, form_url, extra_context)

    @method_decorator_require_post
    def decide_view(self, request, item_id: int):
        item = get_object_or_404(ModerationItem, pk=item_id)
        if not self.has_change_permission(request, item):
            raise PermissionDenied
        change_url = reverse("admin:moderation_moderationitem_change", args=[item.pk])
        form = DecisionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    self.message_user(request, error, messages.ERROR)
            return redirect(change_url)
        approve = form.cleaned_data["decision"] == "approve"
        try:
            do_decide(
                item.pk,
                request.user,
                approve=approve,
                reason_code="" if approve else form.cleaned_data["reason_code"],
                note="" if approve else form.cleaned_data["note"],
            )
        except (AlreadyDecided, ValidationError) as exc:
            self.message_user(
                request, " ".join(getattr(exc, "messages", [str(exc)])), messages.ERROR
            )
            return redirect(change_url)
        self.message_user(
            request, f"{item} {'approved' if approve else 'rejected'}.", messages.SUCCESS
        )
        return redirect(reverse("admin:moderation_moderationitem_changelist"))

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
