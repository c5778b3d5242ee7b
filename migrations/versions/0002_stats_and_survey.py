"""stats and survey: stored per-commune aggregates, survey editions, responses, published figures

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 21:24:57.579415
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('survey_editions',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('source', sa.Text(), server_default='', nullable=False),
    sa.Column('published_only', sa.Boolean(), server_default='false', nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_geospatial_table('commune_stats',
    sa.Column('nis_code', sa.String(length=5), nullable=False),
    sa.Column('report_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('point_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('line_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('zone_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('households_declared', sa.Integer(), server_default='0', nullable=False),
    sa.Column('white_zone_m2', sa.Float(), server_default='0', nullable=False),
    sa.Column('line_length_m', sa.Float(), server_default='0', nullable=False),
    sa.Column('breakdown', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('white_zone', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('line_union', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['nis_code'], ['communes.nis_code'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('nis_code')
    )
    op.create_table('survey_published_indicators',
    sa.Column('edition_year', sa.Integer(), nullable=False),
    sa.Column('indicator', sa.String(length=60), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('denominator', sa.Integer(), nullable=True),
    sa.Column('source', sa.Text(), server_default='', nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.CheckConstraint("unit IN ('score/10', 'share')", name='unit_known'),
    sa.ForeignKeyConstraint(['edition_year'], ['survey_editions.year'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('edition_year', 'indicator')
    )
    op.create_table('survey_responses',
    sa.Column('edition_year', sa.Integer(), nullable=False),
    sa.Column('nis_code', sa.String(length=5), nullable=False),
    sa.Column('smart_score', sa.Integer(), nullable=True),
    sa.Column('reasons', postgresql.ARRAY(sa.String(length=40)), server_default='{}', nullable=False),
    sa.Column('priorities', postgresql.ARRAY(sa.String(length=40)), server_default='{}', nullable=False),
    sa.Column('citizens_informed_score', sa.Integer(), nullable=True),
    sa.Column('smart_actions_in_pst', sa.Boolean(), nullable=True),
    sa.Column('intends_to_answer_call', sa.Boolean(), nullable=True),
    sa.Column('citizens_involved', sa.Boolean(), nullable=True),
    sa.Column('public_procurement_done', sa.Boolean(), nullable=True),
    sa.Column('central_purchasing_interest', sa.String(length=20), nullable=True),
    sa.Column('cyber_ready', sa.Boolean(), nullable=True),
    sa.Column('source_row', sa.Integer(), nullable=True),
    sa.CheckConstraint("central_purchasing_interest IN ('strongly', 'yes_not_priority', 'no')", name='central_purchasing_known'),
    sa.CheckConstraint("priorities <@ ARRAY['quality_of_life', 'citizens', 'environment_energy', 'mobility', 'governance', 'economy']::varchar[]", name='priorities_known'),
    sa.CheckConstraint("reasons <@ ARRAY['lack_of_staff', 'lack_of_budget', 'lack_of_expertise', 'insufficient_connectivity', 'no_strategy', 'projects_under_way', 'other']::varchar[]", name='reasons_known'),
    sa.CheckConstraint('citizens_informed_score BETWEEN 1 AND 10', name='citizens_informed_1_10'),
    sa.CheckConstraint('smart_score BETWEEN 1 AND 10', name='smart_score_1_10'),
    sa.ForeignKeyConstraint(['edition_year'], ['survey_editions.year'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['nis_code'], ['communes.nis_code'], ),
    sa.PrimaryKeyConstraint('edition_year', 'nis_code')
    )
    # Reports deleted outside the services (clean-ups, SQL) leave no stale stored figures: the
    # rows of the communes they touched are dropped, and read as "not computed" (live) until
    # the next refresh recomputes them.
    op.execute("""
        CREATE FUNCTION commune_stats_forget_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          DELETE FROM commune_stats s USING communes c, old_reports o
          WHERE s.nis_code = c.nis_code
            AND (c.nis_code = o.commune_nis OR ST_Intersects(c.boundary, o.geometry));
          RETURN NULL;
        END $$;
        CREATE TRIGGER reports_deleted_forget_stats AFTER DELETE ON reports
          REFERENCING OLD TABLE AS old_reports FOR EACH STATEMENT
          EXECUTE FUNCTION commune_stats_forget_deleted();
        CREATE FUNCTION commune_stats_forget_all() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          DELETE FROM commune_stats;
          RETURN NULL;
        END $$;
        CREATE TRIGGER reports_truncated_forget_stats AFTER TRUNCATE ON reports
          FOR EACH STATEMENT EXECUTE FUNCTION commune_stats_forget_all();
    """)


def downgrade() -> None:
    op.execute("""
        DROP TRIGGER reports_truncated_forget_stats ON reports;
        DROP TRIGGER reports_deleted_forget_stats ON reports;
        DROP FUNCTION commune_stats_forget_all();
        DROP FUNCTION commune_stats_forget_deleted();
    """)
    op.drop_table('survey_responses')
    op.drop_table('survey_published_indicators')
    op.drop_geospatial_table('commune_stats')
    op.drop_table('survey_editions')
