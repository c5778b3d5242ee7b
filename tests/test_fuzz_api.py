"""Fuzzing of every documented route with schemathesis: cases generated from our own OpenAPI
document (valid ones and, in negative mode, ones that break it), sent in-process to the app backed by a real PostGIS, as
the referent, a representative and anonymously: no answer is a 5xx, and each answer's status and
content type are ones the document declares.

(schemathesis's pytest plugin does not load under pytest 9, so the operations are enumerated
here and each is driven with its hypothesis strategy.)"""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    status_code_conformance,
)

from geosignal import create_app

EXAMPLES = 8


def _labels() -> list[str]:
    app = create_app({"TESTING": True, "ENV": "testing", "SECRET_KEY": "collection-only"})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok().label for result in schema.get_all_operations()]


LABELS = _labels()


def test_every_api_route_is_fuzzed(app) -> None:  # noqa: ANN001
    """Every /api/v1 and /ogc route of the app (but the OpenAPI document itself) is documented,
    hence fuzzed below."""
    def openapi_path(rule: str) -> str:
        return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule).rstrip("/") or "/"

    rules = {f"{m} {openapi_path(r.rule)}" for r in app.url_map.iter_rules()
             for m in r.methods - {"HEAD", "OPTIONS"}
             if r.rule.startswith(("/api/v1/", "/ogc")) and r.rule != "/api/v1/openapi.json"}
    assert rules == set(LABELS)


@pytest.mark.parametrize("who", ["referent", "representative", "anonymous"])
@pytest.mark.parametrize("label", LABELS)
def test_no_server_error(app, db, request, label: str, who: str) -> None:  # noqa: ANN001
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)
    headers = {} if who == "anonymous" else request.getfixturevalue(who).headers

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE)))
    def run(case) -> None:  # noqa: ANN001
        case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance])

    run()
