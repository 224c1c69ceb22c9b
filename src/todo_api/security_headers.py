"""Security headers on every response, added at the edge (pure ASGI).

- `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` everywhere;
- `Cache-Control: no-store` on answers to requests that carried a credential (a shared cache
  must never keep one user's todos), and on every answer of the account routes, which hand out
  secrets (a token, a session cookie and its CSRF token: RFC 6749 §5.1) or take a password,
  unless the route set its own;
- on HTML without a policy of its own (the web app's page brings its own, web_assets.py; the
  `/docs` and `/redoc` pages get this one): a strict `Content-Security-Policy` — scripts from
  this origin only, plus the page's own inline scripts by their SHA-256 (the documentation
  pages are made from fixed templates, never from request data, so hashing what they hold
  admits nothing a client put there); no framing (`frame-ancestors 'none'`, `X-Frame-Options`).
  Inline styles are allowed: Swagger UI and ReDoc set them at run time, and a style cannot run
  code.
"""

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_POLICY = (
    "default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
CONTENT_SECURITY_POLICY = _POLICY.format(hashes="")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
# The HTML pages the service itself renders from fixed templates (routes/docs.py).
_RENDERED_PAGES = frozenset({"/docs", "/redoc"})
_ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
_FRAMING = (b"x-frame-options", b"DENY")
_POLICY_HEADER = b"content-security-policy"
_NO_STORE = (b"cache-control", b"no-store")
_CREDENTIAL_HEADERS = frozenset({b"authorization", b"cookie"})
# The account routes: their answers (and requests) carry secrets, with or without a credential.
_ACCOUNT_PATHS = frozenset({"/users", "/me", "/tokens", "/session"})
_ACCOUNT_PREFIXES = ("/tokens/",)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        not_to_store = (
            path in _ACCOUNT_PATHS
            or path.startswith(_ACCOUNT_PREFIXES)
            or any(name in _CREDENTIAL_HEADERS for name, _ in scope["headers"])
        )

        rendered_page = path in _RENDERED_PAGES
        held: list[Message] = []  # a rendered page's start, until its body is known

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                cache_control, html = _cache_control_and_html(headers)
                headers += _ALWAYS
                if not_to_store and not cache_control:
                    headers.append(_NO_STORE)
                message["headers"] = headers
                if html:
                    if rendered_page:
                        held.append(message)
                        return
                    # A page with a policy of its own (the web app's, web_assets.py) keeps it:
                    # a second policy would only be intersected with the first.
                    if not any(name.lower() == _POLICY_HEADER for name, _ in headers):
                        headers += [_policy_header(b""), _FRAMING]
            elif held and message["type"] == "http.response.body":
                # The documentation pages are sent whole, in one body message.
                start = held.pop()
                start["headers"] = [
                    *start["headers"],
                    _policy_header(message.get("body", b"")),
                    _FRAMING,
                ]
                await send(start)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cache_control_and_html(headers: list[tuple[bytes, bytes]]) -> tuple[bool, bool]:
    """Whether the response sets Cache-Control, and whether it is HTML: one pass, no set."""
    cache_control = html = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"cache-control":
            cache_control = True
        elif lowered == b"content-type" and value.startswith(b"text/html"):
            html = True
    return cache_control, html


def _policy_header(page: bytes) -> tuple[bytes, bytes]:
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (_POLICY_HEADER, _POLICY.format(hashes=hashes).encode())
