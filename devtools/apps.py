from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Demo data, benchmarks and their commands: development, test and bench runs only.

    Nothing in penpals, profiles, messaging or moderation imports this app, and
    the production image leaves it out (.dockerignore).
    """

    name = "devtools"
    verbose_name = "Development tools"
