"""The web app's files (`todo_api/web/`): read once, fingerprinted, compressed, and its page.

Every asset is served under `app/<version>/<name>`, where the version is a digest of all the
files together: relative imports between the ES modules keep working, each URL names exactly
one content (so it is cached for a year, `immutable`), and a release with any change is a new
URL. The page itself (`index.html`) is small and revalidated on every load.

The Content-Security-Policy the page needs is `CONTENT_SECURITY_POLICY`, here and nowhere
else: scripts and styles only from this origin, no inline script or style, no framing.
"""

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

ASSETS_PACKAGE = "todo_api"
ASSETS_DIRECTORY = "web"
PAGE = "index.html"
ASSET_PREFIX = "app"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The page's policy. No 'unsafe-inline' anywhere: the page has no inline script or style, and
# user text is only ever set as text, so nothing a user typed can become markup or code.
# img-src data: is for the empty favicon (it spares the browser a request for /favicon.ico).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Below this, gzip's header costs more than it saves.
_COMPRESS_FROM_BYTES = 256
_GZIP_LEVEL = 9


@dataclass(frozen=True, slots=True)
class Asset:
    """One file as served: its body, its gzip form (when that is smaller) and media type."""

    body: bytes
    gzipped: bytes | None
    media_type: str

    @classmethod
    def of(cls, name: str, body: bytes) -> "Asset":
        gzipped = gzip.compress(body, _GZIP_LEVEL, mtime=0)
        smaller = len(body) >= _COMPRESS_FROM_BYTES and len(gzipped) < len(body)
        suffix = name[name.rfind(".") :]
        return cls(body, gzipped if smaller else None, MEDIA_TYPES[suffix])


@dataclass(frozen=True, slots=True)
class WebAssets:
    """The app's files and its rendered page, for one configuration of the service."""

    version: str
    assets: dict[str, Asset]
    page: Asset

    @classmethod
    def load(cls, *, auth: str, registration: str) -> "WebAssets":
        """Read every file of `web/` and render the page for this `auth` and `registration`
        (fixed words from the settings: the page never holds request data)."""
        directory = resources.files(ASSETS_PACKAGE) / ASSETS_DIRECTORY
        files = {
            entry.name: entry.read_bytes()
            for entry in directory.iterdir()
            if entry.is_file() and entry.name[entry.name.rfind(".") :] in MEDIA_TYPES
        }
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + files[name] + b"\0")
        version = digest.hexdigest()[:16]
        template = files.pop(PAGE).decode()
        page = (
            template.replace("{{assets}}", f"{ASSET_PREFIX}/{version}")
            .replace("{{auth}}", auth)
            .replace("{{registration}}", registration)
        )
        assets = {name: Asset.of(name, body) for name, body in files.items()}
        return cls(version, assets, Asset.of(PAGE, page.encode()))

    def asset(self, version: str, name: str) -> Asset | None:
        """The asset at `app/<version>/<name>`; None for another version (an older release's
        URL must not be cached for a year with this release's content)."""
        return self.assets.get(name) if version == self.version else None

    @property
    def first_load_bytes(self) -> int:
        """What a first visit transfers compressed: the page and every asset."""
        return sum(len(asset.gzipped or asset.body) for asset in (self.page, *self.assets.values()))


def prefers_html(accept: str) -> bool:
    """Whether an `Accept` header ranks `text/html` above `application/json` (RFC 9110 §12.5.1).

    A tie goes to JSON: `*/*` or no header at all (curl, httpx, every API client written before
    the app) keeps the JSON index; a browser asks for text/html by name and gets the app.
    """
    return _quality(accept, "text", "html") > _quality(accept, "application", "json")


def _quality(accept: str, kind: str, subtype: str) -> float:
    """The q of the most specific range in `accept` that matches `kind/subtype` (1 when absent)."""
    if not accept.strip():
        return 1.0
    best_specificity, best_q = -1, 0.0
    for part in accept.split(","):
        media_range, *parameters = (piece.strip() for piece in part.split(";"))
        range_kind, _, range_subtype = media_range.lower().partition("/")
        if (range_kind, range_subtype) == (kind, subtype):
            specificity = 2
        elif (range_kind, range_subtype) == (kind, "*"):
            specificity = 1
        elif (range_kind, range_subtype) == ("*", "*"):
            specificity = 0
        else:
            continue
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        if specificity > best_specificity:
            best_specificity, best_q = specificity, q
    return best_q
