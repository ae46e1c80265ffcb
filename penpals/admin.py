from allauth.account.models import EmailAddress

# Imported for its registration of Authenticator, which is replaced below.
from allauth.mfa.admin import AuthenticatorAdmin as AllauthAuthenticatorAdmin
from allauth.mfa.models import Authenticator
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    AdminUserCreationForm,
    SetUnusablePasswordMixin,
    UserChangeForm,
)
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _

from penpals.admin_privacy import PrivateFieldsMixin, declare_private_fields
from penpals.models import User, WorkerHeartbeat

# Only superusers see or test these in the admin: a pen pal's or a staff
# member's email (and what proves who they are) is not a moderator's to read,
# here or through a relation (`?user__email__startswith=` from any list).
declare_private_fields(User, "email", "password")
declare_private_fields(EmailAddress, "email")
declare_private_fields(Authenticator, "data")


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class UserPasswordAdminForm(AdminPasswordChangeForm):
    # Django's own help text glues its translated first sentence to an English
    # warning when its module is imported, so neither is translated: the same
    # text, put together when it is shown. The list's id is the one Django's
    # script (unusable_password_field.js) shows and hides. The stubs type it
    # str: a lazy string is one, once shown.
    usable_password_help_text = format_lazy(  # type: ignore[assignment]
        '{}<ul id="id_unusable_warning" class="messagelist"><li class="warning">{}</li></ul>',
        SetUnusablePasswordMixin.usable_password_help_text,
        _("If disabled, the current password for this user will be lost."),
    )


@admin.register(User)
class UserAdmin(PrivateFieldsMixin, DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    change_password_form = UserPasswordAdminForm
    ordering = ["-date_joined", "-pk"]
    list_display = ["email", "display_name", "is_staff", "is_active", "date_joined", "deleted_at"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "display_name"]
    readonly_fields = ["date_joined", "last_login", "deleted_at"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("display_name",)}),
        (
            _("Notifications"),
            {"fields": ("has_letter_status_emails", "has_reply_emails", "has_digest_emails")},
        ),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined", "deleted_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = ["worker", "seen_at"]
    readonly_fields = ["worker", "seen_at"]


# --- allauth's authenticators -------------------------------------------------------------

# allauth's Authenticator names neither itself nor its fields, so the admin
# would make up English names from the class and field names. Its admin is
# replaced by one that says each name in the reader's language. The model's
# own names are set on its Options, not through Meta (original_attrs), which
# would need a migration in allauth's app: Django builds the migration state
# from original_attrs, and permissions from the untranslated verbose_name_raw.
Authenticator._meta.verbose_name = _("authenticator")
Authenticator._meta.verbose_name_plural = _("authenticators")

AUTHENTICATOR_LABELS = {
    "user": _("user"),
    "type": _("type"),
    "data": _("data"),
    "created_at": _("created at"),
    "last_used_at": _("last used at"),
}


def titled(filter_class: type[admin.FieldListFilter], title):
    """`filter_class` titled `title` instead of its field's (English) name."""

    def __init__(self, *args, **kwargs) -> None:
        filter_class.__init__(self, *args, **kwargs)
        self.title = title

    return type(f"Titled{filter_class.__name__}", (filter_class,), {"__init__": __init__})


class AuthenticatorAdminForm(forms.ModelForm):
    class Meta:
        model = Authenticator
        fields = list(AUTHENTICATOR_LABELS)
        # As Django labels a model's fields: capitalised, when shown.
        labels = {name: capfirst(label) for name, label in AUTHENTICATOR_LABELS.items()}


admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(AllauthAuthenticatorAdmin):
    form = AuthenticatorAdminForm
    list_display = ("owner", "kind", "created", "last_used")
    list_filter = (
        ("type", titled(admin.ChoicesFieldListFilter, AUTHENTICATOR_LABELS["type"])),
        ("created_at", titled(admin.DateFieldListFilter, AUTHENTICATOR_LABELS["created_at"])),
        ("last_used_at", titled(admin.DateFieldListFilter, AUTHENTICATOR_LABELS["last_used_at"])),
    )

    @admin.display(description=AUTHENTICATOR_LABELS["user"], ordering="user")
    def owner(self, authenticator: Authenticator):
        return authenticator.user

    @admin.display(description=AUTHENTICATOR_LABELS["type"], ordering="type")
    def kind(self, authenticator: Authenticator) -> str:
        return authenticator.get_type_display()

    @admin.display(description=AUTHENTICATOR_LABELS["created_at"], ordering="created_at")
    def created(self, authenticator: Authenticator):
        return authenticator.created_at

    @admin.display(description=AUTHENTICATOR_LABELS["last_used_at"], ordering="last_used_at")
    def last_used(self, authenticator: Authenticator):
        return authenticator.last_used_at
