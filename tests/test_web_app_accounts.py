"""The web app with accounts (TODO_AUTH=required) in a real Chromium: sign up, sign in, sign out,
change the password; the CSRF token the session needs, and a change refused without it; axe
on the sign-in screens. (test_web_app.py covers the todos themselves, with auth disabled.)"""

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2 as httpx
import pytest

from browser_support import axe_violations, chromium, expect
from support import ServerProcess, todo_api_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "an even longer passphrase, changed"


def accounts_server(directory: Path, registration: str) -> AbstractContextManager[ServerProcess]:
    return todo_api_server(
        directory,
        auth="required",
        registration=registration,
        password_rate_limit="1000/minute",
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("accounts")
    with accounts_server(directory, "open") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: "Browser", server: ServerProcess) -> Iterator["Page"]:
    context = browser.new_context()
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.goto(f"{server.base_url}/")
    try:
        yield opened
    finally:
        context.close()
    assert problems == []


def register(server: ServerProcess, username: str, password: str = PASSWORD) -> None:
    response = httpx.post(
        f"{server.base_url}/users", json={"username": username, "password": password}
    )
    assert response.status_code == 201, response.text


def sign_in(page: "Page", username: str, password: str = PASSWORD) -> None:
    form = page.locator(".sign-in-form")
    expect(form).to_be_visible()
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def todos_of(server: ServerProcess, username: str, password: str = PASSWORD) -> list[str]:
    with httpx.Client(base_url=server.base_url) as client:
        token = client.post("/tokens", json={"username": username, "password": password})
        assert token.status_code == 201, token.text
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        response = client.get("/todos", params={"sort": "created_at"}, headers=headers)
        assert response.status_code == 200
        return [todo["title"] for todo in response.json()]


def test_sign_up_then_the_todos_are_the_new_account_s(page: "Page", server: ServerProcess) -> None:
    expect(page.locator(".app")).to_be_hidden()
    page.get_by_role("button", name="Create an account").click()
    form = page.locator(".sign-up-form")
    expect(form.get_by_label("Username")).to_be_focused()
    form.get_by_label("Username").fill("grace")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Create account").click()
    expect(page.locator(".signed-in-as")).to_have_text("Signed in as grace")
    expect(page.locator(".new-todo")).to_be_focused()
    page.locator(".new-todo").fill("made by grace")
    page.locator(".new-todo").press("Enter")
    expect(page.locator(".todo-list li")).to_have_count(1)
    assert todos_of(server, "grace") == ["made by grace"]
    # The session outlives a reload: the cookie, and the CSRF token kept by the page.
    page.reload()
    expect(page.locator(".todo-list li label")).to_have_text(["made by grace"])
    page.locator(".todo-list li .toggle").check()
    expect(page.locator(".todo-count")).to_have_text("0 items left")


def test_sign_in_refuses_a_wrong_password_then_signs_in_and_out(
    page: "Page", server: ServerProcess
) -> None:
    register(server, "ada")
    sign_in(page, "ada", "not the password at all")
    expect(page.locator(".sign-in-form .form-error")).to_have_text("Wrong username or password.")
    expect(page.locator(".app")).to_be_hidden()
    sign_in(page, "ada")
    expect(page.locator(".signed-in-as")).to_have_text("Signed in as ada")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".sign-in-form")).to_be_visible()
    expect(page.locator(".app")).to_be_hidden()
    page.reload()
    expect(page.locator(".sign-in-form")).to_be_visible()  # the session is gone for good
    assert page.evaluate("localStorage.getItem('todo-api.csrf-token')") is None


def test_a_session_ended_elsewhere_shows_the_sign_in_screen(
    page: "Page", server: ServerProcess
) -> None:
    """The session ends while the page only listens (signed out with a copy of the cookie, as
    another tab or a password change would): the server ends the page's change feed, its
    EventSource hears 401 on reconnecting, and the page goes to the sign-in screen without
    the person doing anything."""
    register(server, "ellen")
    sign_in(page, "ellen")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    (session,) = [c["value"] for c in page.context.cookies() if c["name"] == "todo_session"]
    ended = httpx.delete(f"{server.base_url}/session", cookies={"todo_session": session})
    assert ended.status_code == 204
    # The stream's next credential check (1 s), EventSource's reconnection (1 s), one answer.
    expect(page.locator(".sign-in-form")).to_be_visible(timeout=5000)
    expect(page.locator(".app")).to_be_hidden()


def test_change_password(page: "Page", server: ServerProcess) -> None:
    register(server, "linus")
    sign_in(page, "linus")
    page.get_by_role("button", name="Change password").click()
    dialog = page.locator("dialog.change-password")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Current password").fill(PASSWORD)
    dialog.get_by_label("New password").fill(NEW_PASSWORD)
    dialog.get_by_role("button", name="Change password").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".status")).to_have_text("Your password has been changed.")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "linus", NEW_PASSWORD)
    expect(page.locator(".signed-in-as")).to_have_text("Signed in as linus")


def test_a_change_without_the_csrf_token_is_refused(page: "Page", server: ServerProcess) -> None:
    register(server, "mallory")
    sign_in(page, "mallory")
    expect(page.locator(".signed-in-as")).to_have_text("Signed in as mallory")
    attempt = """async (withToken) => {
        const headers = {"Content-Type": "application/json"};
        if (withToken) headers["X-CSRF-Token"] = localStorage.getItem("todo-api.csrf-token");
        const response = await fetch("todos", {method: "POST", headers, body: '{"title": "x"}'});
        return response.status;
    }"""
    assert page.evaluate(attempt, False) == 403  # the cookie alone is not enough
    assert page.evaluate(attempt, True) == 201
    # The page that lost its token is sent back to sign in, not left failing.
    page.evaluate("localStorage.removeItem('todo-api.csrf-token')")
    page.locator(".new-todo").fill("refused")
    page.locator(".new-todo").press("Enter")
    expect(page.locator(".sign-in-form")).to_be_visible()
    assert todos_of(server, "mallory") == ["x"]


def test_no_wcag_violations_on_the_account_screens(page: "Page", server: ServerProcess) -> None:
    expect(page.locator(".sign-in-form")).to_be_visible()
    assert axe_violations(page) == []  # sign in
    page.get_by_role("button", name="Create an account").click()
    assert axe_violations(page) == []  # sign up
    register(server, "barbara")
    page.get_by_role("button", name="Sign in").click()
    sign_in(page, "barbara")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("dialog.change-password")).to_be_visible()
    assert axe_violations(page) == []  # change password
    page.emulate_media(color_scheme="dark", reduced_motion="reduce")
    assert axe_violations(page) == []


def test_closed_registration_offers_no_sign_up(
    browser: "Browser", tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("closed")
    with accounts_server(directory, "closed") as closed:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{closed.base_url}/")
            expect(page.locator(".sign-in-form")).to_be_visible()
            expect(page.get_by_role("button", name="Create an account")).to_be_hidden()
        finally:
            context.close()
