"""The documentation pages, /docs (Swagger UI) and /redoc, served without a request off the host.

FastAPI's own pages load Swagger UI and ReDoc from a public CDN, its favicon from its website and
ReDoc's fonts from Google, so they are blank wherever those cannot be reached. These pages take
their scripts, style sheet and icon from the ``fastapi-offline`` package (MIT; it ships Swagger UI
5 and ReDoc 2.5, each under its own MIT licence), served under :data:`ASSETS_URL`. Their
Content-Security-Policy lets the browser fetch from this origin only: ReDoc's sidebar would
otherwise ask a CDN for Redocly's logo.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = f"{DOCS_URL}/oauth2-redirect"
ASSETS_URL = f"{DOCS_URL}/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
# Inline scripts and styles are the pages' own (FastAPI's page and ReDoc's styled components);
# ReDoc's search runs in a worker made from a blob, and Swagger UI draws its icons from data: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def install_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc for ``app`` (built with ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI over the OpenAPI document."""
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            # Swagger UI would send the document to its public validator for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )
        return confined(page)

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        """Where an OAuth2 sign-in in Swagger UI returns."""
        return confined(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        """ReDoc over the OpenAPI document."""
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return confined(page)


def confined(page: HTMLResponse) -> HTMLResponse:
    """``page`` with a policy that lets the browser load nothing from another origin."""
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
