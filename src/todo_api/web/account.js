// Who is using the page. With TODO_AUTH=disabled nobody is asked: straight to the todos. With
// TODO_AUTH=required: sign in (POST /session: the cookie, and the CSRF token the API sends
// back on every change), sign up when registration is open (POST /users), sign out
// (DELETE /session) and change password (PATCH /me).

const $ = (selector, root = document) => root.querySelector(selector);

function problemText(error) {
  const problem = error.problem;
  if (problem && Array.isArray(problem.errors) && problem.errors.length) {
    return problem.errors.map((item) => `${item.loc[item.loc.length - 1]}: ${item.msg}`).join("; ");
  }
  return error.message;
}

export class Account {
  constructor(api, { auth, registration, onSignedIn, onSignedOut }) {
    this.api = api;
    this.required = auth === "required";
    this.registrationOpen = registration === "open";
    this.onSignedIn = onSignedIn;
    this.onSignedOut = onSignedOut;
    this.screen = $(".account");
    this.signInPanel = $(".sign-in", this.screen);
    this.signUpPanel = $(".sign-up", this.screen);
    this.menu = $(".account-menu");
    this.passwordDialog = $(".change-password");
  }

  async start() {
    if (!this.required) {
      this.onSignedIn(null);
      return;
    }
    this.api.onSignedOut = () => this.showSignIn();
    this.wire();
    try {
      this.signedIn(await this.api.me());
    } catch (error) {
      if (error.status !== 401) this.showSignIn();
    }
  }

  wire() {
    $(".switch-to-sign-up", this.screen).hidden = !this.registrationOpen;
    $(".show-sign-up", this.screen).addEventListener("click", () => this.showPanel(this.signUpPanel));
    $(".show-sign-in", this.screen).addEventListener("click", () => this.showPanel(this.signInPanel));
    this.onSubmit($(".sign-in-form"), async (form) => {
      await this.api.signIn(form.username.value, form.password.value);
      this.signedIn(await this.api.me());
    });
    this.onSubmit($(".sign-up-form"), async (form) => {
      await this.api.signUp(form.username.value, form.password.value);
      await this.api.signIn(form.username.value, form.password.value);
      this.signedIn(await this.api.me());
    });
    this.onSubmit($(".change-password-form"), async (form) => {
      await this.api.changePassword(
        form.current_password.value,
        form.new_password.value,
        form.revoke_other_credentials.checked,
      );
      this.passwordDialog.close();
      $(".status").textContent = "Your password has been changed.";
    });
    $(".show-change-password").addEventListener("click", () => {
      $(".change-password-form").reset();
      $(".form-error", this.passwordDialog).textContent = "";
      this.passwordDialog.showModal();
      $("#current-password").focus();
    });
    $(".cancel", this.passwordDialog).addEventListener("click", () => this.passwordDialog.close());
    $(".sign-out").addEventListener("click", async () => {
      try {
        await this.api.signOut();
      } finally {
        this.showSignIn();
      }
    });
  }

  onSubmit(form, action) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $(".form-error", form);
      error.textContent = "";
      const submit = $('button[type="submit"]', form);
      submit.disabled = true;
      try {
        await action(form.elements);
        form.reset();
      } catch (failure) {
        error.textContent = failure.status === 401 ? "Wrong username or password." : problemText(failure);
      } finally {
        submit.disabled = false;
      }
    });
  }

  signedIn(me) {
    this.screen.hidden = true;
    this.menu.hidden = false;
    $(".signed-in-as", this.menu).textContent = `Signed in as ${me.username}`;
    this.onSignedIn(me);
  }

  showPanel(panel) {
    this.signInPanel.hidden = panel !== this.signInPanel;
    this.signUpPanel.hidden = panel !== this.signUpPanel;
    $("input", panel).focus();
  }

  showSignIn() {
    this.api.csrfToken = null;
    this.onSignedOut();
    this.menu.hidden = true;
    this.screen.hidden = false;
    this.showPanel(this.signInPanel);
  }
}
