"""The committed OpenAPI document is the one the service serves."""

from __future__ import annotations

import json

from fastapi import FastAPI

from app.cli import render_openapi
from app.core.migrations import PROJECT_ROOT

DOCUMENT = PROJECT_ROOT / "openapi" / "openapi.json"


def test_committed_openapi_document_is_current(app: FastAPI) -> None:
    committed = DOCUMENT.read_text(encoding="utf-8")
    served = render_openapi(app.openapi())
    assert json.loads(committed) == json.loads(served), "run `make openapi` and commit the result"
    assert committed == served


def test_every_error_response_is_documented_as_problem_details(app: FastAPI) -> None:
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            errors = {s: r for s, r in operation["responses"].items() if s.startswith(("4", "5"))}
            if path.startswith("/api/"):
                assert "503" in errors, f"{method} {path}: every API operation reads the database"
            for status, response in errors.items():
                assert "application/problem+json" in response["content"], (
                    f"{method} {path} {status}"
                )
