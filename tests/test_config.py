"""Typed configuration: flags, numbers and the production secret key."""

from __future__ import annotations

import pytest

from geosignal.config import DEV_SECRET_KEY, ConfigError, load_config

STRONG = "9f1c2b7e4d6a8035b1e2c3d4f5a6978812ab34cd56ef7890aa11bb22cc33dd44"


def _load(tmp_path, **env: str):  # noqa: ANN001, ANN202
    return load_config(tmp_path, environ={f"GEOSIGNAL_{k}": v for k, v in env.items()})


@pytest.mark.parametrize(("raw", "value"), [("0", False), ("false", False), ("No", False), ("off", False),
                                            ("1", True), ("TRUE", True), ("yes", True), (" on ", True)])
def test_flags_parse_to_booleans(tmp_path, raw: str, value: bool) -> None:  # noqa: ANN001
    config = _load(tmp_path, ENV="development", TESTING=raw, CONTENT_SECURITY_POLICY=raw)
    assert config["TESTING"] is value
    assert config["CONTENT_SECURITY_POLICY"] is value


def test_testing_0_in_production_does_not_fall_back_to_the_development_key(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="GEOSIGNAL_SECRET_KEY is required"):
        _load(tmp_path, TESTING="0")
    with pytest.raises(ConfigError, match="GEOSIGNAL_SECRET_KEY is required"):
        _load(tmp_path, TESTING="1")  # testing mode alone never unlocks the fallback


def test_debug_0_is_off_and_debug_in_production_is_refused(tmp_path) -> None:  # noqa: ANN001
    assert _load(tmp_path, DEBUG="0", SECRET_KEY=STRONG)["DEBUG"] is False
    with pytest.raises(ConfigError, match="GEOSIGNAL_DEBUG must be off in production"):
        _load(tmp_path, DEBUG="1", SECRET_KEY=STRONG)


@pytest.mark.parametrize("key", ["x", DEV_SECRET_KEY, "a" * 64, "short-but-random-7f3a"])
def test_production_refuses_weak_secret_keys(tmp_path, key: str) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="at least 32 random bytes"):
        _load(tmp_path, SECRET_KEY=key)


def test_production_accepts_a_strong_key_and_development_gets_a_fallback(tmp_path) -> None:  # noqa: ANN001
    assert _load(tmp_path, SECRET_KEY=STRONG)["SECRET_KEY"] == STRONG
    assert _load(tmp_path, ENV="development")["SECRET_KEY"] == DEV_SECRET_KEY


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("TESTING", "maybe", "GEOSIGNAL_TESTING must be one of 1/0"),
    ("MAX_VERTICES", "10k", "GEOSIGNAL_MAX_VERTICES must be an integer"),
    ("MIN_AREA_M2", "nan", "GEOSIGNAL_MIN_AREA_M2 must be a finite number"),
    ("ENV", "prod", "GEOSIGNAL_ENV must be one of production, development, testing"),
    ("SECRETKEY", STRONG, "GEOSIGNAL_SECRETKEY is not a geosignal setting"),
])
def test_bad_values_stop_the_start_naming_the_variable(tmp_path, name: str, raw: str, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, **{name: raw, "SECRET_KEY": STRONG})


@pytest.mark.parametrize(("name", "raw", "message"), [
    # an operator trial: each of these started, then failed requests (500) or commands later
    ("WRITE_RATE_LIMIT", "lots", "GEOSIGNAL_WRITE_RATE_LIMIT must be a rate limit such as '300 per minute', "
                                 "not 'lots'"),
    ("SMTP_PORT", "99999", "GEOSIGNAL_SMTP_PORT must be from 1 to 65535, not 99999"),
    ("GEOCODER_TIMEOUT_S", "-1", "GEOSIGNAL_GEOCODER_TIMEOUT_S must be from 0.1 to 120, not -1.0"),
    ("ZONE_DISTANCE_M", "-10", "GEOSIGNAL_ZONE_DISTANCE_M must be at least 0, not -10.0"),
    ("MIN_AREA_M2", "1000000000", r"GEOSIGNAL_MIN_AREA_M2 \(1e\+09\) must be below GEOSIGNAL_MAX_AREA_M2 \(2e\+08\)"),
    ("MAX_UPLOAD_FEATURES", "0", "GEOSIGNAL_MAX_UPLOAD_FEATURES must be at least 1, not 0"),
    ("TRUSTED_PROXIES", "-1", "GEOSIGNAL_TRUSTED_PROXIES must be from 0 to 10, not -1"),
    ("TRUSTED_PROXIES", "yes", "GEOSIGNAL_TRUSTED_PROXIES must be an integer, not 'yes'"),
    # read by Python's int() and float() as 5000, 10000 and 1000: no number as geosignal reads one
    ("PORT", "5_000", "GEOSIGNAL_PORT must be an integer, not '5_000'"),
    ("PORT", "\u0665\u0660\u0660\u0660", "GEOSIGNAL_PORT must be an integer, not '\u0665\u0660\u0660\u0660'"),
    ("MAX_VERTICES", "1_0000", "GEOSIGNAL_MAX_VERTICES must be an integer, not '1_0000'"),
    ("SERVICE_MARGIN_M", "1_000", "GEOSIGNAL_SERVICE_MARGIN_M must be a number, not '1_000'"),
])
def test_values_out_of_range_stop_the_start(tmp_path, name: str, raw: str, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=f"^{message}$"):
        _load(tmp_path, **{name: raw, "SECRET_KEY": STRONG})


def test_the_instance_file_is_checked_like_the_environment(tmp_path) -> None:  # noqa: ANN001
    """An operator trial: ``MAX_VERTICES = "abc"`` in instance/config.py started the service,
    whose requests then failed (500); ``MAX_VERTICE = 50`` was ignored without a word."""
    config_file = tmp_path / "config.py"
    for text, message in (('MAX_VERTICES = "abc"', "MAX_VERTICES in .*config.py must be an integer, not 'abc'"),
                          ("MAX_VERTICES = 2.5", "MAX_VERTICES in .*config.py must be of type int, not float 2.5"),
                          ("SMTP_PORT = 0", "SMTP_PORT in .*config.py must be from 1 to 65535, not 0"),
                          ("MAX_VERTICE = 50", "MAX_VERTICE in .*config.py is not a geosignal setting: MAX_VERTICES\\?"),
                          ('WRITE_RATE_LIMIT = "beaucoup"', "WRITE_RATE_LIMIT in .*config.py must be a rate limit")):
        config_file.write_text(text + "\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            _load(tmp_path, SECRET_KEY=STRONG)
    config_file.write_text('MAX_VERTICES = "500"\nMIN_AREA_M2 = 250\nSESSION_COOKIE_SAMESITE = "Strict"\n', encoding="utf-8")
    config = _load(tmp_path, SECRET_KEY=STRONG)  # text parsed by type, Flask's own settings pass
    assert (config["MAX_VERTICES"], config["MIN_AREA_M2"], config["SESSION_COOKIE_SAMESITE"]) == (500, 250.0, "Strict")


@pytest.mark.parametrize("key", ["0123456789abcdef0123456789abcdef", "abc" * 12, "short"])
def test_a_weak_key_given_to_scripts_run_is_refused_too(tmp_path, key: str) -> None:  # noqa: ANN001
    # scripts/run serves in development mode: a key given there signs real sessions too
    for env in ("production", "development"):
        with pytest.raises(ConfigError, match=f"at least 32 random bytes in {env}"):
            _load(tmp_path, ENV=env, SECRET_KEY=key)
    assert _load(tmp_path, ENV="testing", SECRET_KEY=key)["SECRET_KEY"] == key
    assert _load(tmp_path, ENV="development", SECRET_KEY=STRONG)["SECRET_KEY"] == STRONG


def test_numbers_parse_to_their_type(tmp_path) -> None:  # noqa: ANN001
    config = _load(tmp_path, ENV="testing", MAX_VERTICES="500", MIN_AREA_M2="250.5")
    assert config["MAX_VERTICES"] == 500 and config["MIN_AREA_M2"] == 250.5


def test_every_connection_turns_jit_off_unless_the_url_says_otherwise(database_url: str) -> None:
    """The ``reports`` triggers keep a session's first plan of each statement; with JIT on, a
    plan made for a bulk load was compiled again for every later single report (~0.3 s each),
    so geosignal's connections turn it off themselves, whatever the role or server says."""
    from sqlalchemy import text

    from geosignal.db import Database

    def jit(url: str) -> tuple[str, str]:
        database = Database(url)
        try:
            with database.engine.connect() as connection:
                return connection.execute(text("SELECT setting, source FROM pg_settings WHERE name = 'jit'")).one()
        finally:
            database.engine.dispose()

    assert jit(database_url) == ("off", "client")
    assert jit(database_url + "?options=-c%20jit%3Don") == ("on", "client")  # the URL's own options are kept


def test_a_world_readable_secret_key_file_is_made_owner_only(tmp_path) -> None:  # noqa: ANN001
    """A key file written before scripts/run created it with mode 600 is tightened when read."""
    import stat

    key_file = tmp_path / "secret_key"
    key_file.write_text(STRONG + "\n")
    key_file.chmod(0o644)
    assert load_config(tmp_path, environ={})["SECRET_KEY"] == STRONG
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_database_follows_db_name_unless_the_url_is_given(tmp_path) -> None:  # noqa: ANN001
    # the scripts made and used geosignal_trial, while a command beside them read and wrote the
    # default database "geosignal"
    assert _load(tmp_path, ENV="development")["DATABASE_URL"] == \
        "postgresql+psycopg://geosignal:geosignal@127.0.0.1:5432/geosignal"
    assert _load(tmp_path, ENV="development", DB_NAME="geosignal_trial")["DATABASE_URL"] == \
        "postgresql+psycopg://geosignal:geosignal@127.0.0.1:5432/geosignal_trial"
    assert _load(tmp_path, ENV="development", DB_USER="gs", DB_PASSWORD="p@ss:w/rd")["DATABASE_URL"] == \
        "postgresql+psycopg://gs:p%40ss%3Aw%2Frd@127.0.0.1:5432/geosignal"
    given = "postgresql+psycopg://u:p@db.example:6543/other"
    assert _load(tmp_path, ENV="development", DB_NAME="x", DATABASE_URL=given)["DATABASE_URL"] == given


def test_trusted_proxies_default_to_none(tmp_path) -> None:  # noqa: ANN001
    assert _load(tmp_path, SECRET_KEY=STRONG)["TRUSTED_PROXIES"] == 0
    assert _load(tmp_path, SECRET_KEY=STRONG, TRUSTED_PROXIES="2")["TRUSTED_PROXIES"] == 2
