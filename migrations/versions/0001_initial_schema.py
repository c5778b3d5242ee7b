"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 21:19:45.451698
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table('communes',
    sa.Column('nis_code', sa.String(length=5), nullable=False),
    sa.Column('name_fr', sa.String(length=120), nullable=False),
    sa.Column('name_nl', sa.String(length=120), nullable=True),
    sa.Column('province', sa.String(length=80), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('population_year', sa.Integer(), nullable=True),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('boundary', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("nis_code ~ '^[0-9]{5}$'", name='nis_code_5_digits'),
    sa.PrimaryKeyConstraint('nis_code')
    )
    op.create_geospatial_index('idx_communes_boundary', 'communes', ['boundary'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('commune_nis', sa.String(length=5), nullable=True),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(role = 'representative') = (commune_nis IS NOT NULL)", name='representative_has_commune'),
    sa.CheckConstraint("role IN ('representative', 'referent', 'admin')", name='role_known'),
    sa.CheckConstraint('email = lower(email)', name='email_lowercase'),
    sa.ForeignKeyConstraint(['commune_nis'], ['communes.nis_code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_api_tokens_user_id'), 'api_tokens', ['user_id'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=False),
    sa.Column('response_body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('location', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'key')
    )
    op.create_geospatial_table('reports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('geometry', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('commune_nis', sa.String(length=5), nullable=False),
    sa.Column('network', sa.String(length=10), nullable=False),
    sa.Column('technologies', postgresql.ARRAY(sa.String(length=20)), server_default='{}', nullable=False),
    sa.Column('operators', postgresql.ARRAY(sa.String(length=20)), server_default='{}', nullable=False),
    sa.Column('issue', sa.String(length=20), nullable=True),
    sa.Column('setting', sa.String(length=10), nullable=True),
    sa.Column('households_affected', sa.Integer(), nullable=True),
    sa.Column('businesses_affected', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), server_default='submitted', nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("ST_GeometryType(geometry) IN ('ST_Point', 'ST_LineString', 'ST_Polygon', 'ST_MultiPoint', 'ST_MultiLineString', 'ST_MultiPolygon')", name='geometry_type_known'),
    sa.CheckConstraint("issue IS NULL OR issue IN ('no_coverage', 'weak_signal', 'no_data', 'slow_speed', 'intermittent')", name='issue_known'),
    sa.CheckConstraint("network IN ('mobile', 'fixed')", name='network_known'),
    sa.CheckConstraint("operators <@ ARRAY['Proximus', 'Orange', 'Telenet/BASE', 'DIGI', 'VOO', 'other']::varchar[]", name='operators_known'),
    sa.CheckConstraint("setting IS NULL OR setting IN ('outdoor', 'indoor', 'vehicle')", name='setting_known'),
    sa.CheckConstraint("status IN ('submitted', 'validated', 'rejected', 'withdrawn')", name='status_known'),
    sa.CheckConstraint("technologies <@ ARRAY['2G', '3G', '4G', '5G', 'DSL', 'cable', 'fibre', 'FWA', 'satellite']::varchar[]", name='technologies_known'),
    sa.CheckConstraint('NOT ST_IsEmpty(geometry)', name='geometry_not_empty'),
    sa.CheckConstraint('businesses_affected IS NULL OR businesses_affected >= 0', name='businesses_non_negative'),
    sa.CheckConstraint('households_affected IS NULL OR households_affected >= 0', name='households_non_negative'),
    sa.ForeignKeyConstraint(['commune_nis'], ['communes.nis_code'], ),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('seq')
    )
    op.create_geospatial_index('idx_reports_geometry', 'reports', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_reports_commune_nis'), 'reports', ['commune_nis'], unique=False)
    op.create_index(op.f('ix_reports_status'), 'reports', ['status'], unique=False)
    op.create_index('ix_reports_updated_at_id', 'reports', ['updated_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_reports_updated_at_id', table_name='reports')
    op.drop_index(op.f('ix_reports_status'), table_name='reports')
    op.drop_index(op.f('ix_reports_commune_nis'), table_name='reports')
    op.drop_geospatial_index('idx_reports_geometry', table_name='reports', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('reports')
    op.drop_table('idempotency_keys')
    op.drop_index(op.f('ix_api_tokens_user_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_geospatial_index('idx_communes_boundary', table_name='communes', postgresql_using='gist', column_name='boundary')
    op.drop_geospatial_table('communes')
