from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import SignupForm
from django.contrib.auth.hashers import make_password
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request) -> str:
        """Liaisons start in their portal, staff in the admin, pen pals where they were going."""
        user = request.user
        if user.is_staff:
            return reverse("admin:index")
        if user.facility_memberships.exists():
            return reverse("liaison:dashboard")
        return super().get_login_redirect_url(request)


class EqualTimeSignupForm(SignupForm):
    """allauth's sign-up form, as slow to answer for a taken address as for a new one.

    allauth's enumeration prevention (ACCOUNT_PREVENT_ENUMERATION, on by
    default) already gives a taken address the same page as a new one and
    emails its owner "you already have an account" instead. But only a new
    account hashes its password (the deliberately slow PBKDF2, about 0.3 s),
    so the time of the answer told a stranger whether the address was taken
    (0.02 s against 0.3 s). The taken path hashes the submitted password
    with the same hasher and throws the hash away. (Rows and the email cost
    a few milliseconds on either path, within the noise of the network.)
    """

    def try_save(self, request):
        if self.account_already_exists:
            make_password(self.cleaned_data.get("password1") or "")
        return super().try_save(request)
