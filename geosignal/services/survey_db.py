"""The survey in PostGIS: store an edition's responses and published figures, read them back.

Rows map 1:1 the dataclasses of :mod:`geosignal.services.survey`
(:class:`~geosignal.services.survey.SurveyEdition`, ``SurveyResponse``, ``PublishedIndicator``)
to the tables of :mod:`geosignal.models.survey`. Flask-free; the caller commits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geosignal import formparse, models
from geosignal.errors import GeosignalError
from geosignal.services import survey


@dataclass(frozen=True)
class ImportSummary:
    """What :func:`import_edition` stored: the edition, its responses and published figures."""

    edition_year: int
    responses: int
    replaced: int
    published: int


def save_edition(session: Session, edition: survey.SurveyEdition) -> None:
    """Insert or update an edition (keyed by year)."""
    values = asdict(edition)
    stmt = insert(models.SurveyEdition).values(values)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["year"], set_={k: stmt.excluded[k] for k in values if k != "year"}))


def save_published(session: Session, indicators: list[survey.PublishedIndicator]) -> int:
    """Insert or update published aggregates (keyed by edition and indicator); returns the count.
    Their editions must exist."""
    for p in indicators:
        values = asdict(p)
        stmt = insert(models.PublishedIndicator).values(values)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["edition_year", "indicator"],
            set_={k: stmt.excluded[k] for k in values if k not in ("edition_year", "indicator")}))
    return len(indicators)


#: The first year an edition may have.
FIRST_EDITION = 2000


def latest_possible_edition() -> int:
    """This year in Brussels: an edition is a survey already held. (A year to come — 2099 typed
    for 2024 — became the latest edition of every page, and no page removes one.)"""
    return datetime.now(ZoneInfo("Europe/Brussels")).year


def check_edition(year: int | None) -> None:
    """Refuse (400 ``invalid_request``, ``where`` ``edition``, ``kind`` ``survey_edition``) a
    year that is none, before :data:`FIRST_EDITION` or to come."""
    if year is None or not FIRST_EDITION <= year <= latest_possible_edition():
        raise GeosignalError("invalid_request", f"edition must be the survey's year, from {FIRST_EDITION} to "
                             f"{latest_possible_edition()}", where="edition", kind="survey_edition")


def default_edition(session: Session) -> int:
    """The edition the import form proposes: the latest with imported answers, else this year."""
    return session.scalar(select(func.max(models.SurveyResponse.edition_year))) or latest_possible_edition()


def delete_edition(session: Session, edition_year: int) -> int:
    """Remove the imported answers of ``edition_year`` and the edition itself when it has no
    published figures (the caller commits); return how many answers went. Raises
    ``not_found`` (404) when the edition has no imported answers."""
    removed = session.execute(
        delete(models.SurveyResponse).where(models.SurveyResponse.edition_year == edition_year)).rowcount or 0
    if not removed:
        raise GeosignalError("not_found", f"no answers are imported for the edition {edition_year}")
    if not session.scalar(select(func.count()).select_from(models.PublishedIndicator)
                          .where(models.PublishedIndicator.edition_year == edition_year)):
        session.execute(delete(models.SurveyEdition).where(models.SurveyEdition.year == edition_year))
    else:  # its published figures alone are left
        session.execute(update(models.SurveyEdition).where(models.SurveyEdition.year == edition_year)
                        .values(published_only=True))
    return removed


def import_survey_upload(session: Session, files: list[Any], editions: list[str]) -> dict[str, Any]:
    """Import an uploaded questionnaire export: ``files`` the multipart ``file`` fields (one,
    with a name; werkzeug ``FileStorage``), ``editions`` the ``edition`` fields (one year in
    ASCII digits, from :data:`FIRST_EDITION` to this year). Returns ``{edition, responses, replaced, published}`` (the caller commits).

    Raises 400 ``invalid_request`` (``where`` ``file`` or ``edition``; ``kind``
    ``no_survey_file`` or ``survey_edition``) for a missing or repeated field or a year that
    is not one, 413 ``payload_too_large`` beyond
    :data:`~geosignal.services.survey.MAX_SURVEY_BYTES`, and what :func:`import_edition` raises.
    """
    if len(files) != 1 or not files[0].filename:
        raise GeosignalError("invalid_request", "send one file (CSV or XLSX) as multipart field 'file'", where="file",
                             kind="no_survey_file")
    year = formparse.whole_number(editions[0]) if len(editions) == 1 else None
    check_edition(year)
    data = files[0].read(survey.MAX_SURVEY_BYTES + 1)
    if len(data) > survey.MAX_SURVEY_BYTES:
        raise GeosignalError("payload_too_large", f"The file has more than {survey.MAX_SURVEY_BYTES:,} bytes; a "
                             "survey export is far smaller.", limit=survey.MAX_SURVEY_BYTES)
    summary = import_edition(session, data, files[0].filename, year)
    return {"edition": summary.edition_year, "responses": summary.responses, "replaced": summary.replaced,
            "published": summary.published}


def import_edition(session: Session, data: bytes, filename: str, edition_year: int) -> ImportSummary:
    """Import a questionnaire export (CSV/XLSX) as the responses of one edition.

    The file is read by :func:`geosignal.services.survey.read_survey_export` (column mapping
    ``data/survey_mapping.json``; the communes a row may name are the loaded communes). The
    edition's previous responses are replaced; its published figures (when recorded in
    :mod:`geosignal.services.survey`) are stored beside them, and so is the 2019 edition
    (published aggregates only). Unknown years get a generic edition title.

    The communes are read under the communes lock (:func:`~geosignal.services.communes.hold_communes`,
    shared): a load of communes under way ends first, and a row naming a commune it removed is
    refused as any unknown NIS code (``invalid_attribute``, ``reason`` ``unknown_commune``,
    naming the row) — its answers were stored against the removed commune's row, a foreign
    key violation (500).

    Raises the :class:`GeosignalError` of ``read_survey_export`` (nothing is stored then) and
    ``invalid_request`` for a year before 2000 or to come.
    """
    from geosignal.services.communes import hold_communes

    check_edition(edition_year)
    hold_communes(session)
    known = set(session.scalars(select(models.Commune.nis_code)))
    responses = survey.read_survey_export(data, filename, edition_year=edition_year, known_nis=known)
    answered = {edition_year, *session.scalars(select(models.SurveyResponse.edition_year).distinct())}
    for year, edition in survey.EDITIONS.items():
        if edition.published_only or year == edition_year:  # (an edition with answers is not published only)
            save_edition(session, replace(edition, published_only=edition.published_only and year not in answered))
    if edition_year not in survey.EDITIONS:
        save_edition(session, survey.SurveyEdition(
            edition_year, f"Territoire intelligent : où en est votre commune ? Édition {edition_year}",
            filename, False))
    published = 0
    for year, edition in survey.EDITIONS.items():
        if edition.published_only or year == edition_year:
            published += save_published(session, survey.published_indicators(year))
    replaced = session.execute(
        delete(models.SurveyResponse).where(models.SurveyResponse.edition_year == edition_year)).rowcount
    session.add_all(models.SurveyResponse(**asdict(r)) for r in responses)
    session.flush()
    return ImportSummary(edition_year, len(responses), replaced or 0, published)


def load_responses(session: Session, edition_year: int) -> list[survey.SurveyResponse]:
    """Return an edition's stored responses as dataclasses (by NIS code)."""
    names = [f.name for f in fields(survey.SurveyResponse)]
    rows = session.scalars(select(models.SurveyResponse)
                           .where(models.SurveyResponse.edition_year == edition_year)
                           .order_by(models.SurveyResponse.nis_code))
    return [survey.SurveyResponse(**{n: _plain(getattr(r, n)) for n in names}) for r in rows]


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def load_published(session: Session, edition_year: int) -> list[survey.PublishedIndicator]:
    """Return an edition's stored published aggregates as dataclasses."""
    names = [f.name for f in fields(survey.PublishedIndicator)]
    rows = session.scalars(select(models.PublishedIndicator)
                           .where(models.PublishedIndicator.edition_year == edition_year)
                           .order_by(models.PublishedIndicator.indicator))
    return [survey.PublishedIndicator(**{n: getattr(r, n) for n in names}) for r in rows]


def editions(session: Session) -> list[dict[str, Any]]:
    """Return the stored editions, oldest first, each with its territory indicators.

    Each: ``year``, ``title``, ``source``, ``published_only``, ``responses`` (count),
    ``smart_score`` / ``citizens_informed`` (mean /10: computed from the responses when there
    are any, else the published figure; None when unknown) and ``indicators``
    (``{name: {value, count, denominator, unit}}`` computed from the responses).
    """
    out = []
    for ed in session.scalars(select(models.SurveyEdition).order_by(models.SurveyEdition.year)):
        responses = load_responses(session, ed.year)
        computed = survey.compute_indicators(responses) if responses else {}
        published = {p.indicator: p for p in load_published(session, ed.year)}

        def value(name: str, computed: dict = computed, published: dict = published) -> float | None:
            ind = computed.get(name)
            if ind is not None and ind.value is not None:
                return ind.value
            return published[name].value if name in published else None

        out.append({
            "year": ed.year, "title": ed.title, "source": ed.source, "published_only": ed.published_only,
            "responses": len(responses), "smart_score": value("smart_score"),
            "citizens_informed": value("citizens_informed"),
            "indicators": {k: asdict(v) for k, v in computed.items()},
        })
    return out


def answers_by_commune(session: Session) -> dict[str, dict[str, Any]]:
    """Return, per NIS code, the commune's answers to the latest edition it answered.

    Each: ``edition``, ``smart_score``, ``connectivity_cited`` (True when "insufficient
    connectivity" is among its reasons, False when it gave other reasons, None when it gave
    none), ``citizens_informed_score`` and ``trend``: ``[{edition, smart_score}]`` over every
    edition it answered, oldest first.
    """
    rows = session.scalars(select(models.SurveyResponse)
                           .order_by(models.SurveyResponse.nis_code, models.SurveyResponse.edition_year))
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        previous = out.get(r.nis_code, {}).get("trend", [])
        out[r.nis_code] = {
            "edition": r.edition_year,
            "smart_score": r.smart_score,
            "connectivity_cited": ("insufficient_connectivity" in r.reasons) if r.reasons else None,
            "citizens_informed_score": r.citizens_informed_score,
            "trend": [*previous, {"edition": r.edition_year, "smart_score": r.smart_score}],
        }
    return out
