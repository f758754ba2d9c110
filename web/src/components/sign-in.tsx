import { useState, type FormEvent } from "react";
import { api, ApiError, setAdminKey } from "../api.ts";

/** Asks for the admin key and checks it against the admin API before keeping it (session storage only). */
export function SignIn(props: { onSignedIn: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setAdminKey(key.trim());
    try {
      await api("/v1/organization/projects?limit=1");
      props.onSignedIn();
    } catch (err) {
      setAdminKey(null);
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <form onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Modelport admin</h1>
        <p className="muted">Sign in with an admin key (sk-admin-…). It is kept in this tab's session storage only.</p>
        <label htmlFor="admin-key">Admin key</label>
        <input id="admin-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} required />
        {error !== null && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || key.trim() === ""}>
          Sign in
        </button>
      </form>
    </main>
  );
}
