"""The front door: `GET /` (the web app for a browser, the JSON index for an API client) and
the app's assets under `/app/<version>/` (web_assets.py reads and fingerprints them)."""

from fastapi import APIRouter, Request, Response

from todo_api import __version__
from todo_api.errors import NotFound
from todo_api.representation import base_url
from todo_api.schemas import ServiceInfo
from todo_api.web_assets import (
    ASSET_PREFIX,
    CONTENT_SECURITY_POLICY,
    IMMUTABLE,
    REVALIDATE,
    Asset,
    WebAssets,
    prefers_html,
)

PAGE_RESPONSES = {
    200: {
        "description": "The JSON index; a browser (`Accept` ranking text/html first) gets the app",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    304: {"description": "The page has not changed (`If-None-Match` names its ETag)"},
}


def web_router(web: WebAssets) -> APIRouter:
    """`/` and the assets of `web`."""
    router = APIRouter(tags=["service"])
    page_etag = f'"{web.version}"'

    @router.get("/", response_model=ServiceInfo, responses=PAGE_RESPONSES)  # type: ignore[arg-type]
    async def service_info(request: Request) -> Response:
        """Name, version and where to go next; the web app when a browser asks for HTML."""
        if prefers_html(request.headers.get("accept", "")):
            headers = {
                "Cache-Control": REVALIDATE,
                "ETag": page_etag,
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Frame-Options": "DENY",
                "Vary": "Accept, Accept-Encoding",
            }
            if request.headers.get("if-none-match") == page_etag:
                return Response(status_code=304, headers=headers)
            return _encoded(request, web.page, headers)
        base = base_url(request)
        info = ServiceInfo(
            name="todo-api",
            version=__version__,
            links={
                "todos": f"{base}/todos",
                "docs": f"{base}/docs",
                "openapi": f"{base}/openapi.json",
                "health": f"{base}/health",
                "ready": f"{base}/ready",
            },
        )
        return Response(
            info.model_dump_json(),
            media_type="application/json",
            headers={"Vary": "Accept"},
        )

    @router.get(f"/{ASSET_PREFIX}/{{version}}/{{name}}", include_in_schema=False)
    async def asset(version: str, name: str, request: Request) -> Response:
        found = web.asset(version, name)
        if found is None:
            raise NotFound("No such file of the web app (an older release's, perhaps).")
        headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
        return _encoded(request, found, headers)

    return router


def _encoded(request: Request, asset: Asset, headers: dict[str, str]) -> Response:
    """The asset gzipped when the client takes gzip and that is smaller, else as it is."""
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers = {**headers, "Content-Encoding": "gzip"}
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
