import { useState, type FormEvent } from "react";
import { Navigate, useLocation, useNavigate } from "react-router-dom";
import { ApiError } from "../api/client";
import { errorMessage } from "../components/ui";
import { useSession } from "../session";

export function LoginPage() {
  const { session, signIn } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? "/overview";

  if (session) return <Navigate to={from} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username, password);
      navigate(from, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) {
        setError(`Too many failed attempts. Try again in ${Math.ceil((err.retryAfter ?? 60) / 60)} min.`);
      } else {
        setError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="flex min-h-screen items-center justify-center px-4">
      <form onSubmit={submit} className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="login-title">
        <h1 id="login-title" className="text-xl font-bold text-indigo-800">
          Central Logger
        </h1>
        <p className="mb-5 mt-1 text-sm text-slate-600">Sign in to see your workflow runs.</p>
        <label className="block text-sm font-medium text-slate-800" htmlFor="username">
          Username
        </label>
        <input
          id="username"
          name="username"
          autoComplete="username"
          required
          autoFocus
          value={username}
          onChange={(event) => setUsername(event.target.value)}
          className="mb-4 mt-1 w-full rounded border border-slate-300 px-3 py-2"
        />
        <label className="block text-sm font-medium text-slate-800" htmlFor="password">
          Password
        </label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          className="mb-4 mt-1 w-full rounded border border-slate-300 px-3 py-2"
        />
        {error ? (
          <p role="alert" className="mb-4 rounded bg-red-50 px-3 py-2 text-sm text-red-900">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy} className="w-full rounded bg-indigo-700 px-3 py-2 font-medium text-white hover:bg-indigo-800 disabled:opacity-60">
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
