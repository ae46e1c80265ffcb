from __future__ import annotations

from django.core import mail
from django.test import override_settings


def test_it_writes_development_email_to_a_folder_and_the_console(tmp_path, capsys):
    with override_settings(
        EMAIL_BACKEND="penpals.email.ConsoleAndFileEmailBackend", EMAIL_FILE_PATH=str(tmp_path)
    ):
        sent = mail.send_mail(
            "Welcome to Penpals", "Confirm your address", None, ["alice@example.org"]
        )
    assert sent == 1
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert "Subject: Welcome to Penpals" in files[0].read_text()
    assert "Subject: Welcome to Penpals" in capsys.readouterr().out
