"""Browser sessions: log in (POST /session sets the cookie), log out (DELETE /session).

The cookie is HttpOnly and SameSite=Lax, Secure when the request came over https (behind a
proxy named in TODO_FORWARDED_ALLOW_IPS, as the proxy says). Unsafe requests made with it need
the CSRF token this route returns, in X-CSRF-Token (docs/security.md says why).
"""

import datetime as dt

from fastapi import APIRouter, Request, Response

from todo_api import accounts, credentials
from todo_api.deps import database_of, password_attempts_of, settings_of
from todo_api.repository import browser_sessions as repository
from todo_api.routes.openapi import INVALID, LOGIN
from todo_api.schemas import Login, SessionRead

router = APIRouter(prefix="/session", tags=["accounts"])


@router.post("", status_code=201, responses={**INVALID, **LOGIN})
async def log_in(request: Request, login: Login, response: Response) -> SessionRead:
    """Log in: sets the session cookie and returns the CSRF token that goes with it."""
    settings = settings_of(request)
    database = database_of(request)
    password_attempts_of(request).count(login.username)
    user = await accounts.log_in(database, login.username, login.password)
    lifetime = dt.timedelta(hours=settings.session_max_hours)
    opened = await accounts.open_session(database, user, lifetime)
    response.set_cookie(
        credentials.SESSION_COOKIE,
        opened.session_secret,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return SessionRead(
        username=user.username, csrf_token=opened.csrf_token, expires_at=opened.expires_at
    )


@router.delete("", status_code=204)
async def log_out(request: Request) -> Response:
    """Log out: ends the session (if any) and clears the cookie."""
    secret = request.cookies.get(credentials.SESSION_COOKIE)
    if secret:
        await database_of(request).write(
            lambda connection: repository.delete_session(
                connection, credentials.secret_hash(secret)
            )
        )
    response = Response(status_code=204)
    response.delete_cookie(credentials.SESSION_COOKIE, httponly=True, samesite="lax")
    return response
