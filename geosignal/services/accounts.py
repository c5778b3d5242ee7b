"""Account lifecycle: password policy, invitations, password change and reset, deactivation.

Flask-free: functions take a session (the caller commits) and return plain data or models.

- **Password policy** (:func:`check_password_policy`): at least :data:`MIN_PASSWORD_LENGTH`
  characters, and not guessable: zxcvbn (a maintained estimator whose dictionaries include
  the most common passwords, names and keyboard patterns) must score it at least
  :data:`MIN_ZXCVBN_SCORE` (≥ 10⁸ guesses), taking the account's own words (e-mail) and the
  names of every commune into account; and it may not contain any of those words, nor
  :data:`SERVICE_WORDS`, once both are normalised (:func:`normalised_letters`: case, accents,
  hyphens, spaces and digits aside), so ``sivryrance2024`` is refused as ``Sivry-Rance``.
  The same rule holds everywhere a password is set (CLI, invitation, change, reset).
- **Single-use links** (:class:`~geosignal.models.AccountToken`): an invitation is valid
  72 h, a reset 1 h; only the SHA-256 of the secret is stored; a new link of the same
  purpose voids the previous ones; using a link ends it.
- **Deactivation**: accounts are never deleted. A deactivated account cannot sign in, its
  sessions end and its API tokens stop working (an admin, or the operator at the terminal,
  reactivates it: :func:`reactivate`, a new invitation link); the unused links it made for others
  (invitations, resets) stop working too, as do those of a maker whose role no longer makes
  them (:func:`giver_may_still_give`).
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from geosignal import policy
from geosignal.errors import GeosignalError
from geosignal.models import AccountToken, ApiToken, Commune, User
from geosignal.models.user import ACCOUNT_TOKEN_HOURS, hash_token
from geosignal.services import audit
from geosignal.vocab import LANGUAGES, ROLES

MIN_PASSWORD_LENGTH = 12
MIN_ZXCVBN_SCORE = 3
#: The example passphrases the password fields' help shows, in French, Dutch and English
#: (``templates/_password_fields.html`` and its translations: a test checks each language's is
#: here): everybody reads them, so they are refused like the service's words.
SHOWN_EXAMPLES = ("tartine vélo orage lampion", "boterham fiets onweer lampion", "toast bicycle storm lantern")
#: Words of the service itself, refused inside a password like the account's own words.
SERVICE_WORDS = ("geosignal", "igretec", "Smart Region", "Charleroi Métropole", *SHOWN_EXAMPLES)
#: A word shorter than this once normalised (a name like ``Ham``, ``Gent`` or ``Mons``) is not looked for inside a
#: password: too many unrelated words contain it ("agent", "demons": with the 581 Belgian communes).
MIN_WORD_LETTERS = 5


def normalised_letters(text: str) -> str:
    """Return the letters of ``text`` only, case-folded and without accents: ``Sivry-Rance``,
    ``SIVRY_rance!!2024`` and ``sivry rance`` all give ``sivryrance...``, ``Châtelet`` gives
    ``chatelet`` (NFKD decomposition; every non-letter removed)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if c.isalpha())


def _own_words(user: User | None, email: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    words = list(extra)
    address = email or (user.email if user else "")
    if address:
        local, _, domain = address.partition("@")
        words += [address, local, domain.split(".")[0]]
    return [w for w in words if w]


def guessable_words(session: Session, user: User | None = None, email: str | None = None) -> list[str]:
    """Return the words a password of ``user`` (or of the account of ``email``) may not
    contain: its e-mail address and parts, and the French and Dutch names of every commune."""
    names = [name for row in session.execute(select(Commune.name_fr, Commune.name_nl)) for name in row if name]
    return _own_words(user, email, extra=names)


def contained_word(password: str, words: Sequence[str]) -> str | None:
    """Return the first of ``words`` (or of :data:`SERVICE_WORDS`) that ``password`` contains
    once both are normalised (:func:`normalised_letters`), or None. Words of fewer than
    :data:`MIN_WORD_LETTERS` letters are not looked for."""
    letters = normalised_letters(password)
    for word in (*words, *SERVICE_WORDS):
        wanted = normalised_letters(word)
        if len(wanted) >= MIN_WORD_LETTERS and wanted in letters:
            return word
    return None


def _what_is_left(password: str, words: Sequence[str]) -> str:
    """Return ``password``'s letters and digits (case-folded, without accents) once every word
    of ``words`` and :data:`SERVICE_WORDS` of at least :data:`MIN_WORD_LETTERS` letters is
    taken out of them (``Châtelet 2024 !`` gives ``2024``; ``purple-elephant-manage-tonight``
    without ``Manage`` gives ``purpleelephanttonight``)."""
    left = "".join(c for c in unicodedata.normalize("NFKD", password.casefold()) if c.isalnum())
    for word in (*words, *SERVICE_WORDS):
        wanted = normalised_letters(word)
        if len(wanted) >= MIN_WORD_LETTERS:
            left = left.replace(wanted, "")
    return left


#: The longest text zxcvbn judges (its ``max_length``: longer raises ``ValueError``).
ZXCVBN_MAX_LENGTH = 72


def password_problem(password: str, own_words: Sequence[str] = ()) -> str | None:
    """Return why ``password`` is refused (a French sentence saying what to do), or None.

    zxcvbn estimates it with ``own_words`` (:func:`guessable_words`) and :data:`SERVICE_WORDS`
    as known inputs. A password containing one of those words (:func:`contained_word`) must
    stand without it: what is left once they are taken out must itself be at least
    :data:`MIN_PASSWORD_LENGTH` letters and digits that zxcvbn finds hard to guess — so
    « Châtelet 2024 ! » is refused, and a passphrase that happens to hold a commune's name as
    one of its words (« purple elephant manage tonight ») is not."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (f"Mot de passe trop court ({len(password)} caractères) : choisissez-en un d'au moins "
                f"{MIN_PASSWORD_LENGTH}, par exemple une phrase de quatre mots.")
    from zxcvbn import zxcvbn

    inputs = [*own_words, *SERVICE_WORDS]
    # zxcvbn judges the first ZXCVBN_MAX_LENGTH characters (it raises beyond: a long passphrase
    # was a 500); more length only adds strength
    weak = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=inputs)["score"] < MIN_ZXCVBN_SCORE
    if not weak and contained_word(password, own_words) is not None:
        left = _what_is_left(password, own_words)
        weak = len(left) < MIN_PASSWORD_LENGTH or zxcvbn(
            left[:ZXCVBN_MAX_LENGTH], user_inputs=inputs)["score"] < MIN_ZXCVBN_SCORE
    if weak:
        return ("Mot de passe trop facile à deviner (mot courant, suite de clavier, nom de la commune "
                "ou de l'adresse) : choisissez une phrase de plusieurs mots sans lien avec vous.")
    return None


def check_password_policy(password: str, own_words: Sequence[str] = ()) -> None:
    """Raise ``weak_password`` (422) when :func:`password_problem` finds one."""
    problem = password_problem(password, own_words)
    if problem:
        short = {"length": len(password), "minimum": MIN_PASSWORD_LENGTH} if len(password) < MIN_PASSWORD_LENGTH else {}
        if not password:  # left empty: said as such, not as "too short (0 characters)"
            short["kind"] = "missing"
        raise GeosignalError("weak_password", problem, where="password", **(short or {"kind": "guessable"}))


def set_new_password(session: Session, user: User, password: str) -> None:
    """Check the policy, store ``password``, end the user's other sessions and every unused
    single-use link of the account (a reset asked for before, an invitation: a link lying in
    a mailbox must not set another password once the owner chose one). The caller commits.

    A save of the user's under way is waited for first (its lock,
    :func:`geosignal.services.imports.lock_saves`, as a deactivation does): it checked the
    password it was asked under before this one was set (stored before it), or it starts once
    this one is committed and reads it (``password_changed``: stores nothing). Set between a
    save's check and its commit, a reset let a job queued from a stolen session store after it.

    Raises ``weak_password`` (422).
    """
    check_password_policy(password, guessable_words(session, user))
    if user.id is not None:
        from geosignal.services.imports import lock_saves

        lock_saves(session, user.id)
    user.set_password(password)
    user.must_change_password = False
    if user.id is not None:
        session.execute(update(AccountToken).where(AccountToken.user_id == user.id, AccountToken.used_at.is_(None))
                        .values(used_at=datetime.now(UTC)))


def change_password(session: Session, user: User, current: str, new: str, *, revoke_tokens: bool = False) -> int:
    """Change a signed-in user's password after checking the current one; with
    ``revoke_tokens``, also revoke the user's API tokens (a password changed because it may be
    known: a token made meanwhile would outlive it). Journalled (``password_set``). Returns the
    number of tokens revoked.

    Raises ``wrong_password`` (422; ``kind`` ``missing`` when ``current`` is empty) or
    ``weak_password`` (422).
    """
    check_current_password(user, current)
    if new == current:
        raise GeosignalError("weak_password", "Choisissez un mot de passe différent de l'actuel.",
                             where="password", kind="same")
    set_new_password(session, user, new)
    revoked = revoke_api_tokens(session, user) if revoke_tokens else 0
    audit.record_account(session, "password_set", user, user, how="change", tokens_revoked=revoked)
    return revoked


def check_current_password(user: User, current: str) -> None:
    """Check that ``current`` is ``user``'s password (asked again before a change that outlives
    the session: a new password, an API token).

    Raises ``wrong_password`` (422, ``where`` ``current_password``; ``kind`` ``missing`` when
    ``current`` is empty).
    """
    if not current:
        raise GeosignalError("wrong_password", "Indiquez le mot de passe actuel.", where="current_password",
                             kind="missing")
    if not user.check_password(current):
        raise GeosignalError("wrong_password", "Le mot de passe actuel n'est pas le bon.",
                             where="current_password")


def revoke_api_tokens(session: Session, user: User) -> int:
    """Revoke every API token of ``user`` still in force; return how many (caller commits)."""
    return session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                           .values(revoked_at=datetime.now(UTC))).rowcount


def active_token_count(session: Session, user: User) -> int:
    """How many API tokens of ``user`` still work (neither revoked nor expired)."""
    return session.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.in_force())) or 0


def issue_link(session: Session, user: User, purpose: str, created_by: User | None = None) -> str:
    """Create a single-use link secret for ``user`` (``purpose``: ``invite`` or ``reset``) and
    return it (43 URL-safe characters; only its hash is stored). Earlier unused links of the
    same purpose stop working."""
    now = datetime.now(UTC)
    end_links(session, user, purpose)
    secret = secrets.token_urlsafe(32)
    session.add(AccountToken(user_id=user.id, purpose=purpose, token_hash=hash_token(secret), created_at=now,
                             expires_at=now + timedelta(hours=ACCOUNT_TOKEN_HOURS[purpose]),
                             created_by_id=created_by.id if created_by else None))
    session.flush()
    return secret


def invitations_pending(session: Session, user_id: int | None = None) -> dict[int, dict[str, object]]:
    """Return the accounts (``user_id``'s alone when given) whose invitation has not been
    accepted, ``{user_id: {"expired": bool, "expires_at": datetime}}``: those whose latest
    invitation link is unused (accepting it, or choosing a password by a reset link, which
    ends every unused link of the account, leaves none). A reset link merely asked for
    changes nothing: anyone may ask one for any address, and "the latest link is an unused
    invitation" made a pending invitation look accepted (and refused the referent a link to
    hand over, as if the owner had chosen a password). One statement."""
    latest = select(AccountToken.user_id, AccountToken.purpose, AccountToken.used_at,
                    AccountToken.expires_at).where(AccountToken.purpose == "invite")
    if user_id is not None:
        latest = latest.where(AccountToken.user_id == user_id)
    latest = (latest.ext(distinct_on(AccountToken.user_id))
              .order_by(AccountToken.user_id, AccountToken.id.desc()).subquery())
    now = datetime.now(UTC)
    rows = session.execute(select(latest.c.user_id, latest.c.expires_at)
                           .where(latest.c.purpose == "invite", latest.c.used_at.is_(None))).all()
    return {user_id: {"expired": expires_at <= now, "expires_at": expires_at} for user_id, expires_at in rows}


def find_link(session: Session, secret: str, purpose: str, *, lock: bool = False) -> AccountToken:
    """Return the unused, unexpired link of ``purpose`` for ``secret``; with ``lock``, its row
    locked to the end of the transaction and read afresh (a request using the same link at the
    same time waits, then finds it used).

    Raises ``invalid_link`` (410) when it never existed, was used, expired, belongs to an
    account deactivated since, or was made by a referent or administrator who may not make it
    any more (:func:`giver_may_still_give`).
    """
    query = select(AccountToken).where(AccountToken.token_hash == hash_token(secret or ""),
                                       AccountToken.purpose == purpose)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    link = session.scalar(query)
    if (link is None or link.used_at is not None or link.expires_at <= datetime.now(UTC)
            or link.user.deactivated_at is not None or not giver_may_still_give(session, link)):
        raise GeosignalError("invalid_link", "Ce lien a expiré, a déjà servi ou n'existe pas : "
                             "demandez-en un nouveau.")
    return link


def giver_may_still_give(session: Session, link: AccountToken) -> bool:
    """Whether the referent or administrator who made ``link`` (``created_by_id``; None: asked
    for by the account's owner, « Mot de passe oublié ? », or made at the terminal) may still
    make it: in force (:attr:`User.in_force`), and still of a role that invites that account's
    role (:func:`geosignal.policy.may_invite`) or gives it a reset link
    (:func:`geosignal.policy.may_send_reset_link`). A link shown to its maker to hand over (no
    mail server) stays in her hands: deactivated, or made a representative since, she set the
    account's password through it and signed in as its owner. Read when the link is used, so
    that a role changed in the database counts as a deactivation does."""
    if link.created_by_id is None:
        return True
    giver = session.get(User, link.created_by_id)
    if giver is None or not giver.in_force:
        return False
    if link.purpose == "invite":
        return policy.may_invite(giver, link.user.role)
    return policy.may_send_reset_link(giver, link.user)


def complete_link(session: Session, secret: str, purpose: str, password: str) -> User:
    """Set the password of the account a link names, and end the link (caller commits). A
    reset (``purpose="reset"``: a password lost, or taken) also revokes the account's API
    tokens, as its sessions end; a password changed knowing the old one keeps them.

    Raises ``invalid_link`` (410) or ``weak_password`` (422); on error the link still works.
    Two requests using one link at once set one password: the link's row is locked.
    """
    from geosignal.services.imports import lock_saves

    # the account's save lock before the link's row, the order a deactivation takes them in
    # (it holds the lock, then ends the links): taken the other way round, the two deadlocked
    lock_saves(session, find_link(session, secret, purpose).user_id)
    link = find_link(session, secret, purpose, lock=True)
    set_new_password(session, link.user, password)
    link.used_at = datetime.now(UTC)
    link.user.active = True
    revoked = 0
    if purpose == "reset":  # the password was lost, or taken: whoever held it may have made tokens
        revoked = revoke_api_tokens(session, link.user)
    giver = session.get(User, link.created_by_id) if link.created_by_id else None
    audit.record_account(session, "password_set", link.user, link.user,
                         how="reset" if purpose == "reset" else "invitation",
                         link_by=giver.email if giver else None, tokens_revoked=revoked)
    return link.user


def may_invite(inviter: User, role: str) -> bool:
    """Admins invite any role; the referent invites representatives (:func:`geosignal.policy.may_invite`)."""
    return policy.may_invite(inviter, role)


def invite(session: Session, inviter: User, email: str, role: str, commune_nis: str | None,
           locale: str | None = None) -> tuple[User, str]:
    """Create an account that its owner completes through an invitation link; return (the
    user, the link secret). The account has no usable password until then. ``locale``
    (``fr``, ``nl`` or ``en``), when given, is the invited person's language: of the
    invitation, of the page that accepts it, and of their pages and e-mails until they
    choose another (``User.locale``).

    Raises ``forbidden`` (403) when ``inviter`` may not invite this role, ``invalid_request``
    (bad address, role or language, commune missing or given to a non-representative,
    address taken), ``unknown_commune`` (422).
    """
    from geosignal.services.users import create_user

    if role not in ROLES:
        raise GeosignalError("invalid_request", f"role must be one of {', '.join(ROLES)}", where="role")
    if locale is not None and locale not in LANGUAGES:
        raise GeosignalError("invalid_request", f"locale must be one of {', '.join(LANGUAGES)}", where="locale")
    if not may_invite(inviter, role):
        raise GeosignalError("forbidden", "Seul un administrateur invite un référent ou un administrateur.")
    user = create_user(session, email, role, commune_nis or None, secrets.token_urlsafe(32))
    user.locale = locale
    secret = issue_link(session, user, "invite", created_by=inviter)
    audit.record_account(session, "invite", inviter, user)
    return user, secret


def mail_language(user: User) -> str:
    """The language to write to ``user`` in (``fr``, ``nl`` or ``en``): the one they chose,
    else the one their pages last spoke, else French."""
    for lang in (user.locale, user.page_locale):
        if lang in LANGUAGES:
            return lang
    return LANGUAGES[0]


def request_reset(session: Session, email: str) -> tuple[User, str] | None:
    """Return (the user, a reset link secret) for an active account, else None (the caller
    answers the same either way, so that nobody learns which addresses exist)."""
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.in_force:
        return None
    return user, issue_link(session, user, "reset")


def issue_reset_link(session: Session, actor: User | None, user: User) -> str:
    """Issue ``user`` a password reset link on behalf of ``actor`` (who manages the account,
    :func:`geosignal.policy.may_send_reset_link`) and return its secret (the caller commits,
    then mails it or shows it to ``actor``). Earlier unused reset links stop working.

    Raises ``not_found`` (404) for an account ``actor`` does not manage, as for an id that is
    no account (:data:`NO_SUCH_ACCOUNT`: nobody learns which ids are accounts), and
    ``invalid_request`` (409) for a deactivated one.
    """
    if not policy.may_send_reset_link(actor, user):
        raise GeosignalError("not_found", NO_SUCH_ACCOUNT)
    if not user.in_force:
        raise GeosignalError("invalid_request", "Ce compte est désactivé.", status=409)
    return issue_link(session, user, "reset", created_by=actor)


def password_chosen_by_owner(session: Session, user: User) -> bool:
    """Whether ``user``'s password is one its owner chose: neither a one-time password
    (``must_change_password``) nor a pending invitation. A link to choose another then goes to
    the owner alone, by e-mail: handed to the referent or administrator who asked, it would let
    them sign in, and act, as the owner."""
    return not user.must_change_password and not invitations_pending(session, user.id)


def end_links(session: Session, user: User, purpose: str) -> None:
    """End ``user``'s unused single-use links of ``purpose`` (``invite`` or ``reset``); the
    caller commits."""
    session.execute(update(AccountToken).where(
        AccountToken.user_id == user.id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None),
    ).values(used_at=datetime.now(UTC)))


#: The detail of ``not_found`` for an account id someone may not act on, existing or not:
#: the answer is the same either way (a representative told ids of accounts from unused ones).
NO_SUCH_ACCOUNT = "Aucun compte de ce numéro."


def may_deactivate(actor: User | None, user: User) -> bool:
    """The operator at the terminal (``actor`` None) and admins deactivate anybody but
    themselves; the referent deactivates representatives."""
    return policy.may_deactivate(actor, user)


def deactivate(session: Session, actor: User | None, user: User) -> int:
    """Deactivate ``user`` (never deleted): sign-in refused, sessions ended, API tokens and
    pending links revoked (its own; those it made for others expire, so that a reactivation
    does not bring them back), import jobs still queued failed at once (``forbidden``); return how
    many jobs were failed (caller commits); see :func:`may_deactivate`. A save of the user's
    under way is waited for (its lock, :func:`geosignal.services.imports.lock_saves`): it
    stored while the account was active; one that starts later reads the account deactivated
    and stores nothing.

    Raises ``not_found`` (404) for an account ``actor`` may not deactivate, as for an id that
    is no account (:data:`NO_SUCH_ACCOUNT`); ``invalid_request`` (409, ``already_deactivated``)
    for an account deactivated already (nothing changed: its time and journal are the first).
    """
    if not may_deactivate(actor, user):
        raise GeosignalError("not_found", NO_SUCH_ACCOUNT)
    from geosignal.services.imports import fail_queued_imports, lock_saves

    lock_saves(session, user.id)  # (a deactivation of the same account at once waits here too)
    session.refresh(user)
    if not user.active:  # done already (a double click, two managers): its time and journal kept
        raise GeosignalError("invalid_request", f"{user.email} is deactivated already: nothing changed",
                             status=409, kind="already_deactivated")
    user.active = False
    user.deactivated_at = datetime.now(UTC)
    user.end_sessions()
    revoke_api_tokens(session, user)
    now = datetime.now(UTC)
    session.execute(update(AccountToken).where(AccountToken.user_id == user.id,
                                               AccountToken.used_at.is_(None)).values(used_at=now))
    # the links it made for others (shown to it, to hand over): refused while it is deactivated
    # (giver_may_still_give), they came back with a reactivation. Expired, not used: an
    # invitation stays pending (its link expired), and a manager gives a new one
    session.execute(update(AccountToken).where(AccountToken.created_by_id == user.id, AccountToken.used_at.is_(None),
                                               AccountToken.expires_at > now).values(expires_at=now))
    audit.record_account(session, "deactivate", actor, user)
    return fail_queued_imports(session, user)


def may_reactivate(actor: User | None, user: User) -> bool:
    """The operator at the terminal (``actor`` None) and admins reactivate anybody but
    themselves (:func:`geosignal.policy.may_reactivate`)."""
    return policy.may_reactivate(actor, user)


def reactivate(session: Session, actor: User | None, user: User) -> str:
    """Reactivate a deactivated account (the way back from :func:`deactivate`; the caller
    commits) and return the secret of a new invitation link (72 h) where its owner chooses a
    new password, as an invited person does: the password it had is replaced by a random one
    (the account may have been deactivated because it was taken), its API tokens stay revoked,
    its role, commune and language are kept. Journalled (``reactivate``) as done by ``actor``
    (None: the operator at the terminal), who is the link's maker.

    Raises ``not_found`` (404) for an account ``actor`` may not reactivate, as for an id that
    is no account (:data:`NO_SUCH_ACCOUNT`); ``invalid_request`` (409, ``not_deactivated``)
    for an account in force (nothing changed).
    """
    if not may_reactivate(actor, user):
        raise GeosignalError("not_found", NO_SUCH_ACCOUNT)
    from geosignal.services.imports import lock_saves

    lock_saves(session, user.id)  # (a deactivation of the same account at once waits here, or this waits)
    session.refresh(user)
    if user.in_force:
        raise GeosignalError("invalid_request", f"{user.email} is not deactivated: nothing changed",
                             status=409, kind="not_deactivated")
    user.active = True
    user.deactivated_at = None
    user.set_password(secrets.token_urlsafe(32))  # (ends any session left, too)
    user.must_change_password = False
    secret = issue_link(session, user, "invite", created_by=actor)
    audit.record_account(session, "reactivate", actor, user)
    return secret
