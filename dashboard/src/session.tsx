import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api, onUnauthorized, unwrap } from "./api/client";
import type { SessionState } from "./api/types";

interface SessionContextValue {
  session: SessionState | null;
  checking: boolean;
  signIn: (username: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
  /** Remember the client last opened (where /dashboard/ leads next time). The pages' client is
   * the one in their URL (src/client.tsx), whatever is remembered. */
  rememberClient: (slug: string) => void;
}

export const SessionContext = createContext<SessionContextValue | null>(null);

export async function ensureCsrf(): Promise<void> {
  unwrap(await api.GET("/api/v1/session/csrf"));
}

/** The session state Django inlined into index.html (saves a round trip on the first screen). */
export function bootstrapSession(): SessionState | null {
  const element = typeof document === "undefined" ? null : document.getElementById("session-state");
  if (!element?.textContent) return null;
  try {
    return JSON.parse(element.textContent) as SessionState;
  } catch {
    return null;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [initial] = useState(bootstrapSession);
  const [session, setSession] = useState<SessionState | null>(initial);
  const [checking, setChecking] = useState(initial === null);

  useEffect(() => {
    if (initial) return; // already known; any 401 later still signs the user out (below)
    let cancelled = false;
    api
      .GET("/api/v1/session")
      .then((result) => {
        if (!cancelled) setSession(result.response.ok ? (result.data as SessionState) : null);
      })
      .catch(() => !cancelled && setSession(null))
      .finally(() => !cancelled && setChecking(false));
    return () => {
      cancelled = true;
    };
  }, [initial]);

  // Any 401 from the API means the session ended (expiry, sign-out in another tab).
  useEffect(() => onUnauthorized(() => setSession(null)), []);

  const signIn = useCallback(async (username: string, password: string) => {
    await ensureCsrf();
    const state = unwrap(await api.POST("/api/v1/session/login", { body: { username, password } })) as SessionState;
    setSession(state);
  }, []);

  const signOut = useCallback(async () => {
    await ensureCsrf();
    await api.POST("/api/v1/session/logout");
    setSession(null);
  }, []);

  const rememberClient = useCallback((slug: string) => {
    ensureCsrf()
      .then(() => api.POST("/api/v1/session/client", { body: { client: slug } }))
      .then((result) => {
        if (result.response.ok && result.data) setSession(result.data as SessionState);
      })
      .catch(() => undefined); // only a preference: the page works without it
  }, []);

  const value: SessionContextValue = { session, checking, signIn, signOut, rememberClient };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}
