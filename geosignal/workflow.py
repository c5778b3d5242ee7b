"""The report workflow: every allowed move between statuses, declared once.

:data:`TRANSITIONS` is the one table. The service (:mod:`geosignal.services.workflow`)
enforces it, the policy (:func:`geosignal.policy.may_transition`) derives the rights from it,
the pages render its actions as buttons, the OpenAPI document lists its targets, and the
tests enumerate it (status × target × role). Nothing here imports Flask or the database.

Roles in the table:

- ``representative``: the representative of the report's commune (never another commune's);
- ``referent``: the Smart Region referent;
- ``admin``: administrators, who act as the referent and as any commune's representative.

``text`` names the text a transition requires (sent as ``reason`` in the API): ``reason``
(why it is rejected), ``question`` (what the referent asks), ``answer`` (the representative's
answer when resubmitting), ``note`` (the operator's answer, for resolved / not resolved); None
when no text is needed (an optional ``reason`` is still recorded).
"""

from __future__ import annotations

from dataclasses import dataclass

from geosignal.vocab import STATUS_TYPES, STATUSES

#: Roles a transition may name.
TRANSITION_ROLES: tuple[str, ...] = ("representative", "referent", "admin")

#: Kinds of text a transition may require (all sent as ``reason``).
TEXT_KINDS: tuple[str, ...] = ("reason", "question", "answer", "note")

#: Statuses in which a report's geometry and attributes may still be edited.
EDITABLE_STATUSES: tuple[str, ...] = ("draft", "submitted", "needs_info")

#: Statuses a report may be created in (representatives file a draft or submit at once).
INITIAL_STATUSES: tuple[str, ...] = ("draft", "submitted")

#: Statuses from which the commune may still withdraw its report (not yet transmitted).
WITHDRAWABLE_STATUSES: tuple[str, ...] = ("draft", "submitted", "needs_info", "validated")


@dataclass(frozen=True)
class Transition:
    """One allowed move: ``source`` → ``target`` by one of ``roles``, named ``action``;
    ``text`` the kind of text required (:data:`TEXT_KINDS`) or None; ``confirm`` whether the
    pages ask for a confirmation first. Its French button text is :attr:`label`
    (:data:`ACTION_LABELS_FR`)."""

    source: str
    target: str
    action: str
    roles: tuple[str, ...]
    text: str | None = None
    confirm: bool = False

    @property
    def label(self) -> str:
        """The French button text of the action (:data:`ACTION_LABELS_FR`)."""
        return ACTION_LABELS_FR[self.action]


#: French label of each action of the table (buttons, history, journal): the one place they
#: are named; translated where shown (:func:`geosignal.ui_text.action_label`).
ACTION_LABELS_FR: dict[str, str] = {
    "submit": "Soumettre",
    "validate": "Valider",
    "reject": "Rejeter",
    "ask": "Poser une question",
    "answer": "Répondre et soumettre à nouveau",
    "transmit": "Marquer comme transmis",
    "resolve": "Marquer comme résolu",
    "mark_not_resolved": "Marquer comme non résolu",
    "withdraw": "Retirer",
}

#: French name of each action once done, as a report's history and the journal say it
#: (« Retiré : Soumis → Retiré », not the button's « Retirer »).
DONE_LABELS_FR: dict[str, str] = {
    "submit": "Soumis",
    "validate": "Validé",
    "reject": "Rejeté",
    "ask": "Question posée",
    "answer": "Répondu et soumis à nouveau",
    "transmit": "Marqué comme transmis",
    "resolve": "Marqué comme résolu",
    "mark_not_resolved": "Marqué comme non résolu",
    "withdraw": "Retiré",
}

#: French label of the journal's events that are not moves of the table (report created or
#: edited, export, zones merged or split): :data:`geosignal.services.audit.AUDIT_ACTIONS`.
EVENT_LABELS_FR: dict[str, str] = {
    "create": "Signalement créé",
    "edit": "Forme ou informations modifiées",
    "export": "Inclus dans un export DWconnect",
    "merge": "Regroupé dans une zone",
    "split": "Séparé d'une zone",
    "copy": "Signalé à nouveau",
}

#: French label of the text field each kind of required text gets (:data:`TEXT_KINDS`).
TEXT_LABELS_FR: dict[str, str] = {
    "reason": "Motif (obligatoire)",
    "question": "Question à la commune (obligatoire)",
    "answer": "Votre réponse (obligatoire)",
    "note": "Note de l'opérateur (obligatoire)",
}

_REP = ("representative", "admin")
_REF = ("referent", "admin")

#: Every allowed transition. A pair (source, target) appears at most once.
TRANSITIONS: tuple[Transition, ...] = (
    Transition("draft", "submitted", "submit", _REP),
    Transition("submitted", "validated", "validate", _REF),
    Transition("submitted", "rejected", "reject", _REF, text="reason", confirm=True),
    Transition("submitted", "needs_info", "ask", _REF, text="question"),
    Transition("needs_info", "submitted", "answer", _REP, text="answer"),
    Transition("needs_info", "rejected", "reject", _REF, text="reason", confirm=True),
    Transition("validated", "transmitted", "transmit", _REF),
    Transition("transmitted", "resolved", "resolve", _REF, text="note"),
    Transition("transmitted", "not_resolved", "mark_not_resolved", _REF, text="note"),
    Transition("not_resolved", "resolved", "resolve", _REF, text="note"),
    *(Transition(s, "withdrawn", "withdraw", _REP, confirm=True) for s in WITHDRAWABLE_STATUSES),
)

#: Action names, in table order, without repeats.
ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(t.action for t in TRANSITIONS))

_BY_PAIR: dict[tuple[str, str], Transition] = {(t.source, t.target): t for t in TRANSITIONS}


def _check_table() -> None:
    assert len(_BY_PAIR) == len(TRANSITIONS), "a (source, target) pair is declared twice"
    for t in TRANSITIONS:
        assert t.source in STATUSES and t.target in STATUSES and t.source != t.target, t
        assert t.roles and set(t.roles) <= set(TRANSITION_ROLES), t
        assert t.text is None or t.text in TEXT_KINDS, t
        assert t.action in ACTION_LABELS_FR, t
        assert STATUS_TYPES[t.source] == "open" or t.source == "not_resolved", t
    for status in STATUSES:  # every status is reachable or initial
        assert status in INITIAL_STATUSES or any(t.target == status for t in TRANSITIONS), status


_check_table()

#: Statuses entered with a text for the commune (the referent's question, a rejection's reason,
#: the operator's note), which the pages show with the report in that status.
DECISION_STATUSES: tuple[str, ...] = tuple(sorted({t.target for t in TRANSITIONS
                                                   if t.text in ("question", "reason", "note")}))

#: Statuses the referent's decisions put a report in, of which its commune is told on its list
#: (a question, ``needs_info``, is said apart: it awaits an answer).
REFERENT_DECISIONS: tuple[str, ...] = tuple(sorted({t.target for t in TRANSITIONS
                                                    if "referent" in t.roles and t.target != "needs_info"}))

assert set(ACTION_LABELS_FR) == set(ACTIONS) == set(DONE_LABELS_FR) and set(TEXT_LABELS_FR) == set(TEXT_KINDS)
assert not set(EVENT_LABELS_FR) & set(ACTIONS)


def find(source: str, target: str) -> Transition | None:
    """Return the transition ``source`` → ``target``, or None when the table has none."""
    return _BY_PAIR.get((source, target))


def from_status(source: str) -> tuple[Transition, ...]:
    """Return the transitions leaving ``source``, in table order (any role)."""
    return tuple(t for t in TRANSITIONS if t.source == source)


def onward(statuses: tuple[str, ...]) -> tuple[str, ...]:
    """Return ``statuses`` and every status a report may reach from them, in
    :data:`~geosignal.vocab.STATUSES` order (``("validated",)`` → validated, transmitted,
    resolved, not_resolved, withdrawn)."""
    reached, todo = set(statuses), list(statuses)
    while todo:
        for t in from_status(todo.pop()):
            if t.target not in reached:
                reached.add(t.target)
                todo.append(t.target)
    return tuple(s for s in STATUSES if s in reached)


def _reached_before_validation() -> set[str]:
    """The statuses a report may be in without ever having been validated: those reached from
    :data:`INITIAL_STATUSES` by moves that do not enter ``validated``."""
    reached, todo = set(INITIAL_STATUSES), list(INITIAL_STATUSES)
    while todo:
        for t in from_status(todo.pop()):
            if t.target != "validated" and t.target not in reached:
                reached.add(t.target)
                todo.append(t.target)
    return reached


#: What ``status=all`` means wherever a list of statuses is filtered (statistics, the validation
#: queue, exports): every status of a filed report, that is all but ``draft`` — a draft is its
#: author's, not filed yet; it is counted or listed only when named (``status=draft``), never
#: exported.
FILED_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s != "draft")

#: Statuses of a report the referent validated and that DWconnect is sent (the DWconnect
#: export's ``status=dwconnect``): ``validated`` and every status reached from it that a report
#: never validated cannot be in — validated, transmitted, resolved, not_resolved. A report
#: withdrawn after its validation leaves them (``withdrawn`` is reached before validation too):
#: DWconnect is told to take it down, never sent one that was not validated.
FORWARDABLE_STATUSES: tuple[str, ...] = tuple(s for s in onward(("validated",))
                                              if s not in _reached_before_validation())
assert FORWARDABLE_STATUSES[0] == "validated" and "submitted" not in FORWARDABLE_STATUSES


def sources_of(target: str) -> tuple[str, ...]:
    """Return the statuses from which a report may move to ``target`` (any role)."""
    return tuple(t.source for t in TRANSITIONS if t.target == target)


def role_in(role: str | None, *, own_commune: bool) -> str | None:
    """Return the table role a user of ``role`` plays on a report (None: none).

    A representative plays ``representative`` on their own commune's reports only.
    """
    if role in ("referent", "admin"):
        return role
    if role == "representative" and own_commune:
        return "representative"
    return None
