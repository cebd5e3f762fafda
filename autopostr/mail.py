"""Invitation e-mail through the standard library's smtplib, when SMTP is configured."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from autopostr.config import Settings
from autopostr.errors import ExternalServiceError
from autopostr.identity import Actor


def send_invitation(
    settings: Settings,
    email: str,
    inviter: Actor,
    token: str,
    role: str,
    connection_url: str | None = None,
) -> None:
    host = settings.get("smtp_host") or "localhost"
    port = settings.integer("smtp_port", 25, minimum=1, maximum=65535)
    message = EmailMessage()
    message["From"] = settings.get("smtp_from") or f"autopostr <noreply@{host}>"
    message["To"] = email
    message["Subject"] = f"{inviter.name} invited you to {inviter.team_name} on autopostr"
    message.set_content(
        f"{inviter.name} <{inviter.email}> invited you to the team {inviter.team_name!r} as {role}.\n\n"
        "To join, sign in (or register with this e-mail address), run\n\n"
        "    autopostr team join\n\n"
        "and paste this invitation token when it asks:\n\n"
        f"    {token}\n\n"
        "The invitation works once and expires in 7 days.\n"
        + (
            "\nThe team's database is shared: connect to it as your own database role.\n"
            "Put this URL in AUTOPOSTR_DATABASE_URL (in your environment or config file,\n"
            "never on a command line); it is sent only this once:\n\n"
            f"    {connection_url}\n"
            if connection_url
            else ""
        )
    )
    try:
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            if settings.flag("smtp_starttls"):
                smtp.starttls()
            user = settings.get("smtp_user")
            if user:
                smtp.login(user, settings.get("smtp_password") or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise ExternalServiceError(
            f"could not e-mail the invitation through {host}:{port} ({exc}); nothing was saved — "
            "fix the SMTP settings or unset AUTOPOSTR_SMTP_HOST to print the token instead"
        ) from None
