from allauth.account.adapter import DefaultAccountAdapter
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
