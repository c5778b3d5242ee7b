"""The alembic migrations give exactly the models' schema, and downgrade cleanly."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect

from geosignal import migrate
from geosignal.devdb import create_database, drop_database
from geosignal.models import Base

#: procrastinate's tables, installed by migration 0006 from its frozen schema.
JOB_QUEUE_TABLES = {"procrastinate_events", "procrastinate_jobs", "procrastinate_periodic_defers",
                    "procrastinate_workers"}


def _diff(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_object": _include_object, "compare_type": True,
            "compare_server_default": True,
        })
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    # PostGIS's own spatial_ref_sys is not ours
    return [d for d in diff if not (d[0] == "remove_table" and d[1].name == "spatial_ref_sys")]


def _include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    """GeoAlchemy2's filter, without the job queue's tables and indexes (procrastinate's)."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    if table in JOB_QUEUE_TABLES:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    names = set(inspect(engine).get_table_names()) - {"spatial_ref_sys"}
    engine.dispose()
    return names


@contextmanager
def _scratch_database() -> Iterator[tuple[str, Any]]:
    """A fresh database (its URL and an engine on it), dropped afterwards."""
    name = f"geosignal_migr_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    engine = create_engine(url)
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_database(name)


def _zone_across_a_border(c, networks: tuple[str, ...]) -> None:  # noqa: ANN001
    """Two communes side by side (52011 west of 52012) and, for each network, two overlapping
    squares mostly in 52011 reaching into 52012 (one zone each)."""
    from sqlalchemy import text

    for nis, west in (("52011", 4.3), ("52012", 4.45)):
        c.execute(text("INSERT INTO communes (nis_code, name_fr, boundary, area_m2) VALUES (:n, :n, "
                       "ST_Multi(ST_MakeEnvelope(:w, 50.3, :w + 0.15, 50.5, 4326)), 1)"), {"n": nis, "w": west})
    for network in networks:
        for dx in (0.0, 0.0007):
            c.execute(text("INSERT INTO reports (id, geometry, commune_nis, network) VALUES (gen_random_uuid(), "
                           "ST_MakeEnvelope(4.4485 + :dx, 50.41, 4.4505 + :dx, 50.411, 4326), '52011', :n)"),
                      {"dx": dx, "n": network})


def test_upgrade_gives_models_schema_and_downgrade_removes_it() -> None:
    with _scratch_database() as (url, _engine):
        migrate.upgrade(url)
        assert _diff(url) == []
        assert _tables(url) == set(Base.metadata.tables) | {"alembic_version"} | JOB_QUEUE_TABLES
        migrate.downgrade(url, "base")
        assert _tables(url) == {"alembic_version"}
        migrate.upgrade(url)
        assert _diff(url) == []


def test_migration_0030_keeps_the_referents_choice_and_downgrades_none_to_each() -> None:
    """0030 renames ``users.submission_mail`` to ``notification_mail`` (a referent on the
    digest stays on it) and admits ``none``; on the way down ``none`` becomes ``each``, the
    only value 0029 has that still sends."""
    from sqlalchemy import text

    insert = text("INSERT INTO users (email, password_hash, role) VALUES (:e, 'x', 'referent')")
    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0029")
        with engine.begin() as c:
            c.execute(insert, {"e": "digest@igretec.com"})
            c.execute(text("UPDATE users SET submission_mail = 'digest'"))
            c.execute(insert, {"e": "each@igretec.com"})
        migrate.upgrade(url, "0030")
        with engine.begin() as c:
            assert dict(c.execute(text("SELECT email, notification_mail FROM users")).all()) == {
                "digest@igretec.com": "digest", "each@igretec.com": "each"}
            c.execute(text("UPDATE users SET notification_mail = 'none' WHERE email = 'each@igretec.com'"))
        migrate.downgrade(url, "0029")
        with engine.begin() as c:
            assert dict(c.execute(text("SELECT email, submission_mail FROM users")).all()) == {
                "digest@igretec.com": "digest", "each@igretec.com": "each"}


def test_migration_0031_adds_withdrawal_notices_and_downgrades_without_them() -> None:
    """0031 admits ``withdrawal`` rows with their ``details``; on the way down they are
    deleted (0030 cannot hold them) and the other rows stay."""
    from sqlalchemy import text

    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0031")
        with engine.begin() as c:
            c.execute(text("INSERT INTO communes (nis_code, name_fr, boundary, area_m2) VALUES ('52011', 'Charleroi', "
                           "ST_Multi(ST_MakeEnvelope(4.3, 50.3, 4.6, 50.5, 4326)), 1)"))
            c.execute(text("INSERT INTO users (email, password_hash, role) VALUES ('r@igretec.com', 'x', 'referent')"))
            rid = uuid.uuid4()
            c.execute(text("INSERT INTO reports (id, geometry, commune_nis, network, status) VALUES "
                           "(:id, ST_SetSRID(ST_MakePoint(4.44, 50.41), 4326), '52011', 'mobile', 'withdrawn')"),
                      {"id": rid})
            for kind, details in (("submission", None), ("withdrawal", '{"zone": 2, "zone_removed": true}')):
                c.execute(text("INSERT INTO notification_outbox (recipient_id, kind, report_id, to_status, details) "
                               "SELECT id, :k, :r, 'withdrawn', CAST(:d AS jsonb) FROM users"),
                          {"k": kind, "r": rid, "d": details})
        migrate.downgrade(url, "0030")
        with engine.begin() as c:
            assert c.execute(text("SELECT kind FROM notification_outbox")).scalars().all() == ["submission"]


def test_migration_0032_takes_reports_moved_to_another_network_out_of_their_decisions() -> None:
    """Before 0032 a report moved to another network stayed in its confirmed cohort (a mobile
    decision holding a fixed report), through which the mobile passes wrote fixed rows: the
    upgrade removes such memberships and leaves the others; the downgrade reinstalls 0028's SQL."""
    from sqlalchemy import text

    mismatched = text("SELECT count(*) FROM zone_decision_reports d JOIN zone_decisions k ON k.id = d.decision_id "
                      "JOIN reports r ON r.id = d.report_id WHERE k.network <> r.network")
    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0031")
        with engine.begin() as c:
            c.execute(text("INSERT INTO communes (nis_code, name_fr, boundary, area_m2) VALUES ('52011', 'Charleroi', "
                           "ST_Multi(ST_MakeEnvelope(4.3, 50.3, 4.6, 50.5, 4326)), 1)"))
            ids = [uuid.uuid4() for _ in range(3)]
            for k, rid in enumerate(ids):  # three overlapping mobile squares (~110 m, 50 m apart)
                c.execute(text("INSERT INTO reports (id, geometry, commune_nis, network) VALUES (:id, "
                               "ST_MakeEnvelope(4.44 + :dx, 50.41, 4.4415 + :dx, 50.411, 4326), '52011', 'mobile')"),
                          {"id": rid, "dx": 0.0007 * k})
            decision = c.execute(text("INSERT INTO zone_decisions (kind, network) VALUES ('confirmed', 'mobile') "
                                      "RETURNING id")).scalar_one()
            c.execute(text("INSERT INTO zone_decision_reports (report_id, decision_id) SELECT unnest(CAST(:ids AS uuid[])), :d"),
                      {"ids": ids, "d": decision})
            c.execute(text("SELECT zones_regroup(CAST(:ids AS uuid[]))"), {"ids": ids})
            c.execute(text("UPDATE reports SET network = 'fixed' WHERE id = :id"), {"id": ids[2]})
            assert c.execute(mismatched).scalar_one() == 1  # 0028's trigger leaves it in the mobile cohort
        migrate.upgrade(url)
        with engine.begin() as c:
            assert c.execute(mismatched).scalar_one() == 0
            assert c.execute(text("SELECT count(*) FROM zone_decision_reports")).scalar_one() == 2  # the others stay
            c.execute(text("UPDATE reports SET network = 'fixed' WHERE id = :id"), {"id": ids[1]})
            assert c.execute(mismatched).scalar_one() == 0  # 0032's trigger takes it out at once
        migrate.downgrade(url, "0031")
        with engine.begin() as c:
            c.execute(text("UPDATE reports SET network = 'mobile' WHERE id = :id"), {"id": ids[2]})
            c.execute(text("INSERT INTO zone_decision_reports (report_id, decision_id) VALUES (:r, :d)"),
                      {"r": ids[2], "d": decision})
            c.execute(text("UPDATE reports SET network = 'fixed' WHERE id = :id"), {"id": ids[2]})
            assert c.execute(mismatched).scalar_one() == 1  # 0028's SQL again


def test_migration_0035_measures_every_zones_home_once() -> None:
    """0035's shortcuts keep a home they do not measure, so its upgrade measures every zone's
    home once: a home that is not the rule's (stored before 0028, or before the communes were
    loaded again) becomes the rule's, and the communes' zone counts follow."""
    from sqlalchemy import text

    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0034")
        with engine.begin() as c:
            _zone_across_a_border(c, ("mobile",))
            assert c.execute(text("SELECT commune_nis FROM zones")).scalar_one() == "52011"
            c.execute(text("UPDATE zones SET commune_nis = '52012'"))  # a home that is not the rule's
            c.execute(text("SELECT zones_recount(ARRAY['52011', '52012'], ARRAY['mobile', 'mobile'])"))
            assert c.execute(text("SELECT nis_code, zones FROM zone_counts WHERE zones > 0")).all() == [("52012", 1)]
        migrate.upgrade(url, "0035")
        with engine.begin() as c:
            assert c.execute(text("SELECT commune_nis FROM zones")).scalar_one() == "52011"
            assert c.execute(text("SELECT nis_code, zones FROM zone_counts WHERE zones > 0")).all() == [("52011", 1)]
        migrate.downgrade(url, "0034")


def test_migration_0037_measures_the_homes_a_commune_load_left_stale() -> None:
    """Before 0037 a commune loaded with a new boundary left the zones' homes as they were; its
    upgrade measures every zone's home again (``zones_rehome`` over every commune), and the
    communes' zone counts follow. The downgrade puts 0036's functions back."""
    from sqlalchemy import text

    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0036")
        with engine.begin() as c:
            _zone_across_a_border(c, ("mobile", "fixed"))
            assert c.execute(text("SELECT commune_nis FROM zones")).scalars().all() == ["52011", "52011"]
            # the border moved west by a load before 0037 (52012 now holds the squares), homes kept
            c.execute(text("UPDATE communes SET boundary = ST_Multi(ST_MakeEnvelope(4.3, 50.3, 4.44, 50.5, 4326)) "
                           "WHERE nis_code = '52011'"))
            c.execute(text("UPDATE communes SET boundary = ST_Multi(ST_MakeEnvelope(4.44, 50.3, 4.6, 50.5, 4326)) "
                           "WHERE nis_code = '52012'"))
            updated = dict(c.execute(text("SELECT id, updated_at FROM zones")).all())
        migrate.upgrade(url, "0037")
        with engine.begin() as c:
            assert c.execute(text("SELECT commune_nis FROM zones")).scalars().all() == ["52012", "52012"]
            assert c.execute(text("SELECT nis_code, network, zones FROM zone_counts WHERE zones > 0 ORDER BY 2")).all() \
                == [("52012", "fixed", 1), ("52012", "mobile", 1)]
            assert all(u > updated[i] for i, u in c.execute(text("SELECT id, updated_at FROM zones")))
        migrate.downgrade(url, "0036")
        with engine.begin() as c:  # 0036's functions are back, without zones_rehome
            assert c.execute(text("SELECT count(*) FROM pg_proc WHERE proname = 'zones_rehome'")).scalar_one() == 0
            assert c.execute(text("SELECT count(*) FROM pg_proc WHERE proname = 'zones_patch'")).scalar_one() == 1


def test_migration_0038_shrinks_zones_by_eights_and_downgrades_to_0037_s_limit() -> None:
    """0038 only replaces the zone functions: the trigger takes any number of reports leaving,
    8 at a time, and a shrink splits a small part off; the downgrade puts 0037's back (up to 8 in all, else a full regrouping), and
    the upgrade again leaves the stored zones as they were."""
    from sqlalchemy import text

    def trigger(c) -> str:  # noqa: ANN001
        return c.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'reports_group_zones'")).scalar_one()

    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0038")
        with engine.begin() as c:
            _zone_across_a_border(c, ("mobile",))
            stored = c.execute(text("SELECT id, commune_nis, report_count, geometry FROM zones")).all()
            assert "LIMIT 8" in trigger(c) and "cardinality(ids) <= 8" not in trigger(c)
        migrate.downgrade(url, "0037")
        with engine.begin() as c:
            assert "cardinality(ids) <= 8" in trigger(c) and "LIMIT 8" not in trigger(c)
            assert "split_off" not in c.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'zones_shrink'")
                                                 ).scalar_one()
        migrate.upgrade(url, "0038")
        with engine.begin() as c:
            assert "LIMIT 8" in trigger(c)
            assert "zones_grow(split_off)" in c.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'zones_shrink'")
                                                        ).scalar_one()
            assert c.execute(text("SELECT id, commune_nis, report_count, geometry FROM zones")).all() == stored


def test_migration_0039_dates_a_rewrite_and_downgrades_to_0007_s_function() -> None:
    from sqlalchemy import text

    def rewrite(c) -> str:  # noqa: ANN001
        return c.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'reports_rewrite_feature'")).scalar_one()

    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0039")
        with engine.begin() as c:
            assert rewrite(c).count("updated_at = now()") == 2
        migrate.downgrade(url, "0038")
        with engine.begin() as c:
            assert "updated_at" not in rewrite(c) and "commune_nis = commune_nis" in rewrite(c)


def test_migration_0040_counts_a_stretch_on_a_shared_border_once_and_back() -> None:
    """Before 0040 a road stretch on the border of two communes (52011 west of 52012, along
    4.45° E) was in the line pieces of both; 0040's upgrade recomputes the cells of every line
    report: 52011 alone holds it. The downgrade puts 0016's functions back, and their figures."""
    from decimal import Decimal

    from sqlalchemy import text

    def lengths(c) -> dict:  # noqa: ANN001
        return dict(c.execute(text("SELECT nis_code, round(sum(line_m)::numeric, 2) FROM commune_cells "
                                   "GROUP BY 1 ORDER BY 1")).all())

    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0039")
        with engine.begin() as c:
            _zone_across_a_border(c, ())
            c.execute(text("INSERT INTO reports (id, geometry, commune_nis, network) VALUES (gen_random_uuid(), "
                           "ST_MakeLine(ST_Point(4.45, 50.40, 4326), ST_Point(4.45, 50.41, 4326)), '52011', 'mobile')"))
            metres = c.execute(text("SELECT round(ST_Length(ST_Transform(geometry, 31370))::numeric, 2) "
                                    "FROM reports")).scalar_one()
            assert 1100 < metres < 1125
            before = lengths(c)
            assert before["52011"] + before["52012"] > metres  # counted twice, in part at least
        migrate.upgrade(url, "0040")
        with engine.begin() as c:
            after = lengths(c)
            assert after["52012"] == 0 and abs(after["52011"] - metres) <= Decimal("0.02")  # the 1 cm grid
        migrate.downgrade(url, "0039")
        with engine.begin() as c:
            assert lengths(c) == before


def test_migration_0041_homes_a_border_stretch_where_its_length_counts() -> None:
    """Before 0041 a road stretch 3 mm inside 52012, along its border with 52011 (4.45° E), was
    52012's report while the figures counted its length in 52011 (the smaller NIS code). The
    upgrade gives it the home its length counts in, journalled; a line well inside 52012 stays."""
    from sqlalchemy import text

    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0040")
        with engine.begin() as c:
            _zone_across_a_border(c, ())
            ids = [c.execute(text(
                "INSERT INTO reports (id, geometry, commune_nis, network) VALUES (gen_random_uuid(), "
                "ST_MakeLine(ST_Point(:x, 50.40, 4326), ST_Point(:x, 50.41, 4326)), '52012', 'mobile') RETURNING id"),
                {"x": x}).scalar_one() for x in (4.45 + 4e-8, 4.46)]  # 3 mm and 720 m inside 52012
        migrate.upgrade(url, "0041")
        with engine.begin() as c:
            homes = dict(c.execute(text("SELECT id, commune_nis FROM reports WHERE id = ANY(:i)"), {"i": ids}).all())
            assert [homes[i] for i in ids] == ["52011", "52012"]
            journal = c.execute(text("SELECT report_id, action, before, after, details FROM audit_events")).all()
            assert journal == [(ids[0], "edit", {"commune_nis": "52012"}, {"commune_nis": "52011"},
                                {"home_rule": "border_lines"})]
        migrate.downgrade(url, "0040")
        with engine.begin() as c:  # the reports keep their home; 0038's zone functions are back
            assert c.execute(text("SELECT count(*) FROM reports WHERE commune_nis = '52011'")).scalar_one() == 1


def test_migration_0043_groups_dense_points_alike_and_downgrades_to_0041_s_pairs() -> None:
    """0043 only replaces the zone functions (components of points and lines by DBSCAN, their
    neighbours looked up by cell): a grid of points 5 m apart filed under 0041 and again
    beside it under 0043 makes zones of the same members; the downgrade (to 0042, the outbox leases) puts 0041's functions
    back, and the upgrade again leaves the stored zones as they were."""
    from sqlalchemy import text

    def source(c, name: str) -> str:  # noqa: ANN001
        return c.execute(text("SELECT prosrc FROM pg_proc WHERE proname = :n"), {"n": name}).scalar_one()

    def file_grid(c, x0: float) -> None:  # noqa: ANN001
        # 10 × 5 points 5 m apart (EPSG:31370), in one statement, and one point 300 m north
        c.execute(text(
            "INSERT INTO reports (id, geometry, commune_nis, network) "
            "SELECT gen_random_uuid(), ST_Transform(ST_Point(:x + 5 * i, 122000 + 5 * j, 31370), 4326), '52011', "
            "'mobile' FROM generate_series(0, 9) i, generate_series(0, 4) j "
            "UNION ALL SELECT gen_random_uuid(), ST_Transform(ST_Point(:x, 122300, 31370), 4326), '52011', 'mobile'"),
            {"x": x0})

    def zones(c) -> list:  # noqa: ANN001
        return c.execute(text("SELECT id, report_count, geometry FROM zones ORDER BY id")).all()

    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0041")
        with engine.begin() as c:
            _zone_across_a_border(c, ())  # (the two communes)
            file_grid(c, 150000)
            assert "ST_ClusterDBSCAN" not in source(c, "zones_grow")
        migrate.upgrade(url, "0043")
        with engine.begin() as c:
            assert "ST_ClusterDBSCAN" in source(c, "zones_grow") and "ST_ClusterDBSCAN" in source(c, "zones_regroup")
            file_grid(c, 151000)
            stored = zones(c)
            assert [r[1] for r in stored] == [50, 50]
            c.execute(text("SELECT zones_lock(ARRAY['mobile']::varchar[]), zones_regroup(ARRAY(SELECT id FROM reports))"))
            assert [r[:2] for r in zones(c)] == [r[:2] for r in stored]
        migrate.downgrade(url, "0042")
        with engine.begin() as c:
            assert "ST_ClusterDBSCAN" not in source(c, "zones_grow") + source(c, "zones_regroup")
        migrate.upgrade(url, "0043")
        with engine.begin() as c:
            assert "ST_ClusterDBSCAN" in source(c, "zones_regroup")
            assert [r[:2] for r in zones(c)] == [r[:2] for r in stored]


def test_migration_0044_counts_copies_millimetres_apart_as_the_live_figures_and_back() -> None:
    """Six copies of an 800 m road along the edge between two 1 km cells of 52011, 3 mm apart:
    before 0044 each cell put its cut pieces on the 1 cm grid (3.2 km stored, the live figures
    4 km); 0044's upgrade recomputes the cells of every line report from the network put on the
    grid once, the length of that network. The downgrade puts 0040's functions back, and their
    figures."""
    from decimal import Decimal

    from sqlalchemy import text

    def lengths(c) -> dict:  # noqa: ANN001
        return dict(c.execute(text("SELECT nis_code, round(sum(line_m)::numeric, 3) FROM commune_cells "
                                   "GROUP BY 1 ORDER BY 1")).all())

    with _scratch_database() as (url, engine):
        migrate.upgrade(url, "0043")
        with engine.begin() as c:
            _zone_across_a_border(c, ())
            for k in range(6):
                c.execute(text("""
                    INSERT INTO reports (id, geometry, commune_nis, network)
                    SELECT gen_random_uuid(), ST_Transform(ST_MakeLine(ST_Point(ex + 0.002 + :o, ey - 400, 31370),
                                                                       ST_Point(ex + 0.004 + :o, ey + 400, 31370)), 4326),
                           '52011', 'mobile'
                    FROM (SELECT round(ST_X(p) / 1000) * 1000 AS ex, round(ST_Y(p) / 1000) * 1000 AS ey
                          FROM ST_Transform(ST_Point(4.38, 50.40, 4326), 31370) p) q"""), {"o": 0.003 * k})
            network = c.execute(text(
                "SELECT round(ST_Length(ST_Union(ST_ReducePrecision(ST_Transform(geometry, 31370), 0.01), 0.01))"
                "::numeric, 3) FROM reports WHERE ST_Dimension(geometry) = 1")).scalar_one()
            before = lengths(c)
            assert abs(before["52011"] - network) > 100
        migrate.upgrade(url, "0044")
        with engine.begin() as c:
            after = lengths(c)
            assert after["52012"] == 0 and abs(after["52011"] - network) <= Decimal("0.01")
        migrate.downgrade(url, "0043")
        with engine.begin() as c:
            assert lengths(c) == before
