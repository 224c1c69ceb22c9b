"""`/docs` (Swagger UI) and `/redoc`, with their scripts and styles served by this service.

FastAPI's own pages load them from a CDN, so they break air-gapped and leak each visit to a
third party. The assets come from the `fastapi-offline` package; their URLs carry its version,
so they can be cached for a year and still change on upgrade.
"""

from functools import cache
from importlib import metadata, resources

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

ASSETS_PACKAGE = "fastapi_offline"
ASSETS_DISTRIBUTION = "fastapi-offline"
ASSET_MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
IMMUTABLE = "public, max-age=31536000, immutable"
OPENAPI_PATH = "/openapi.json"


def assets_path() -> str:
    """Where the assets are served: versioned, so a new release is a new URL."""
    return f"/docs/assets/{metadata.version(ASSETS_DISTRIBUTION)}"


@cache
def _asset(name: str) -> bytes:
    return (resources.files(ASSETS_PACKAGE) / "static" / name).read_bytes()


def docs_router(title: str) -> APIRouter:
    """The two documentation pages and their assets, for an app called `title`."""
    router = APIRouter(include_in_schema=False)
    assets = assets_path()

    @router.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{OPENAPI_PATH}",
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets}/favicon.png",
            oauth2_redirect_url=None,
            # Swagger UI's default validator badge is an image from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @router.get("/redoc")
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{OPENAPI_PATH}",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{assets}/favicon.png",
            with_google_fonts=False,
        )

    @router.get(assets + "/{name}")
    async def asset(name: str) -> Response:
        media_type = ASSET_MEDIA_TYPES.get(name)
        if media_type is None:
            raise HTTPException(404)
        return Response(_asset(name), media_type=media_type, headers={"Cache-Control": IMMUTABLE})

    return router
