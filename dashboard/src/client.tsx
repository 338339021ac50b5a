// The client of the page lives in the URL: /dashboard/<client-slug>/<page>. Every API request of
// the page names it (X-Dashboard-Client), so a link is shareable, two tabs on two clients never
// leak into each other, and opening a link of another of your clients simply shows that client.
import { createContext, useContext, useEffect, type ReactNode } from "react";
import { Link, Navigate, useLocation, useParams } from "react-router-dom";
import { setRequestClient } from "./api/client";
import type { SessionClient } from "./api/types";
import { useSession } from "./session";

export interface ClientValue {
  slug: string;
  name: string;
  role: string;
  /** A dashboard path of this client: path("/logs?status=FAILED") → "/<slug>/logs?status=FAILED". */
  path: (to: string) => string;
}

const ClientContext = createContext<ClientValue | null>(null);

export function clientPath(slug: string, to: string): string {
  return `/${encodeURIComponent(slug)}${to.startsWith("/") ? to : `/${to}`}`;
}

export function clientValue(membership: SessionClient): ClientValue {
  return { slug: membership.slug, name: membership.name, role: membership.role, path: (to) => clientPath(membership.slug, to) };
}

export function useClient(): ClientValue {
  const value = useContext(ClientContext);
  if (!value) throw new Error("useClient outside a client's pages");
  return value;
}

/** Provides a client (tests and the client's pages). */
export function ClientProvider({ value, children }: { value: ClientValue; children: ReactNode }) {
  // Set before the pages below render and fetch (their effects run after this render).
  setRequestClient(value.slug);
  return <ClientContext.Provider value={value}>{children}</ClientContext.Provider>;
}

/** The `:client` segment of the URL → the membership, or a page saying it is not yours. */
export function ClientScope({ children }: { children: ReactNode }) {
  const { client = "" } = useParams();
  const { session, rememberClient } = useSession();
  const membership = session?.memberships.find((m) => m.slug === client);
  const current = session?.current_client?.slug;
  useEffect(() => {
    // Remember the last client opened, for /dashboard/ (fire and forget; the URL decides).
    if (membership && current !== membership.slug) rememberClient(membership.slug);
  }, [membership, current, rememberClient]);
  if (!membership) return <NotYourClient slug={client} />;
  return <ClientProvider value={clientValue(membership)}>{children}</ClientProvider>;
}

function NotYourClient({ slug }: { slug: string }) {
  const { session } = useSession();
  return (
    <main className="mx-auto max-w-xl px-4 py-16">
      <h1 className="text-xl font-bold text-slate-900">No access to “{slug}”</h1>
      <p className="mt-2 text-slate-700">This client does not exist, or you are not one of its members. Your clients:</p>
      <ul className="mt-3 list-inside list-disc">
        {session?.memberships.map((m) => (
          <li key={m.slug}>
            <Link className="text-indigo-800 underline" to={clientPath(m.slug, "/overview")}>
              {m.name}
            </Link>
          </li>
        ))}
      </ul>
    </main>
  );
}

const LEGACY_PAGES = new Set(["overview", "logs", "categories"]);

/** Links from before the client was in the URL (/dashboard/logs?…): the same page of the
 * current client. */
export function LegacyRedirect() {
  const { session } = useSession();
  const location = useLocation();
  const slug = session?.current_client?.slug ?? session?.memberships[0]?.slug;
  if (!slug) return <Navigate to="/login" replace />;
  const first = location.pathname.split("/")[1] ?? "";
  const rest = LEGACY_PAGES.has(first) ? location.pathname : "/overview";
  return <Navigate to={clientPath(slug, rest) + location.search} replace />;
}
