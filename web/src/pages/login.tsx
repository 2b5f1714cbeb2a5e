/** Login: user name and password for a token (kept in sessionStorage for this tab). */
import { useState } from "preact/hooks";
import { ApiError, login } from "../api.ts";

export function Login(props: { reason: string | null; onLoggedIn(): void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      await login(String(form.get("username")), String(form.get("password")));
      props.onLoggedIn();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError("Wrong user name or password.");
      else if (err instanceof ApiError && err.status === 0) setError(err.message);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="card" onSubmit={submit}>
        <h1>
          <span class="logo">◆</span> RobustMQ
        </h1>
        <p class="muted">Log in with the admin user of this node.</p>
        {props.reason !== null && error === null && (
          <div class="banner notice" role="status">
            {props.reason}
          </div>
        )}
        {error !== null && (
          <div class="banner error" role="alert">
            {error}
          </div>
        )}
        <label>
          User name
          <input name="username" autocomplete="username" value="admin" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </main>
  );
}
