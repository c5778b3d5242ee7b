"""E-mail: one message with a plain-text and an HTML part, in its reader's language, sent over SMTP.

Configured by ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USER`` / ``SMTP_PASSWORD``,
``SMTP_STARTTLS`` and ``MAIL_FROM`` (``GEOSIGNAL_*`` variables). With no ``SMTP_HOST`` nothing is
sent (:func:`send` returns False and logs the recipient's domain only, never the message,
since it may hold a single-use link).
"""

from __future__ import annotations

import html
import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailSettings:
    """Where and as whom to send, and the key that signs the unsubscribe links of
    notifications (the application's ``SECRET_KEY``; empty: messages carry no unsubscribe
    link, only the link to the e-mail settings)."""

    host: str = ""
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "geosignal <noreply@geosignal.local>"
    secret_key: str = field(default="", repr=False)

    @classmethod
    def from_config(cls, config: Any) -> MailSettings:
        """Read the settings from an application's configuration mapping."""
        return cls(host=config.get("SMTP_HOST") or "", port=int(config.get("SMTP_PORT") or 25),
                   user=config.get("SMTP_USER") or "", password=config.get("SMTP_PASSWORD") or "",
                   starttls=bool(config.get("SMTP_STARTTLS")),
                   sender=config.get("MAIL_FROM") or cls.sender, secret_key=config.get("SECRET_KEY") or "")


def link_base(config: Any) -> str:
    """Return the address every link of geosignal's e-mails starts with, without a trailing
    slash: ``PUBLIC_BASE_URL``, else the local address ``scripts/run`` serves
    (``http://127.0.0.1:<PORT>``). Never a request's ``Host`` header: anybody sends one, and a
    reset link asked for with ``Host: evil.example`` would carry its secret to that site."""
    return (config.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{config.get('PORT') or 5000}").rstrip("/")


#: The signature of every message (French; :func:`build_message` takes it translated).
SIGNATURE_FR = "— geosignal, zones blanches de Charleroi Métropole"


def sender_domain(settings: MailSettings) -> str:
    """The domain of ``MAIL_FROM`` (``geosignal.local`` when it has none): what ``Message-ID``
    values end with."""
    return settings.sender.rpartition("@")[2].rstrip(">").strip() or "geosignal.local"


def build_message(settings: MailSettings, to: str, subject: str, paragraphs: list[str],
                  link: tuple[str, str] | None = None, *, lang: str = "fr", signature: str = SIGNATURE_FR,
                  colon: str = " : ") -> EmailMessage:
    """Return a message to ``to``: ``paragraphs`` of plain text in ``lang`` (``fr``, ``nl`` or
    ``en``: the HTML part's ``lang``; escaped in it), an optional ``link`` (label, absolute URL)
    shown as a button in HTML and in full in text after the label and ``colon`` (the
    language's: `` : `` in French, ``: `` otherwise), and ``signature``. It carries ``Date``
    and a ``Message-ID`` of the sender's domain (RFC 5322: mail systems refuse or mark a
    message without them)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.sender, to, subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender_domain(settings))
    text = "\n\n".join(paragraphs)
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if link is not None:
        label, url = link
        text += f"\n\n{label}{colon}{url}"
        body += f'<p><a href="{html.escape(url, quote=True)}">{html.escape(label)}</a></p>'
    text += f"\n\n{signature}"
    msg.set_content(text)
    msg.add_alternative(f'<!doctype html><html lang="{html.escape(lang, quote=True)}"><body>{body}'
                        f"<p>{html.escape(signature)}</p></body></html>", subtype="html")
    return msg


def send(settings: MailSettings, message: EmailMessage) -> bool:
    """Send ``message``; return False (and send nothing) when no SMTP host is configured.

    Raises ``smtplib.SMTPException`` or ``OSError`` when the server refuses or cannot be reached.
    """
    if not settings.host:
        log.info("mail not configured: message to …@%s not sent", str(message["To"]).rpartition("@")[2])
        return False
    with smtplib.SMTP(settings.host, settings.port, timeout=10) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.user:
            smtp.login(settings.user, settings.password)
        smtp.send_message(message)
    return True
