import { Suspense, useState } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router-dom";
import { clientPath, useClient } from "../client";
import { FiringBadge } from "../alerts/FiringBadge";
import { useSession } from "../session";
import { SavedViewsMenu } from "./SavedViews";
import { PageBoundary, Spinner } from "./ui";

const NAV = [
  { to: "/overview", label: "Overview" },
  { to: "/logs", label: "Logs" },
  { to: "/issues", label: "Issues" },
  { to: "/versions", label: "Versions" },
  { to: "/latency", label: "Latency & cost" },
  { to: "/categories", label: "Categories" },
  { to: "/alerts", label: "Alerts" },
];

// Pages that show one object of a client: switching client goes to that page's list instead.
const LIST_OF = [
  [/^\/logs\/.+/, "/logs"],
  [/^\/issues\/.+/, "/issues"],
  [/^\/compare/, "/logs"],
  [/^\/alerts\/.+/, "/alerts"],
] as const;

/** The same page of another client (what the switcher opens). */
export function samePageOf(slug: string, pathname: string, search: string): string {
  const page = pathname.replace(/^\/[^/]+/, "") || "/overview";
  const list = LIST_OF.find(([pattern]) => pattern.test(page));
  return clientPath(slug, list ? list[1] : page + search);
}

export function Layout() {
  const { session, signOut } = useSession();
  const client = useClient();
  const navigate = useNavigate();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  if (!session) return null;
  const memberships = session.memberships;

  return (
    <div className="min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:text-indigo-900">
        Skip to the content
      </a>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-5 gap-y-2 px-4 py-3">
          <div className="flex items-center gap-3">
            <span className="text-base font-bold text-indigo-800">Central Logger</span>
            <button
              type="button"
              className="rounded border border-slate-300 px-2 py-1 text-sm lg:hidden"
              aria-expanded={menuOpen}
              aria-controls="main-nav"
              onClick={() => setMenuOpen((open) => !open)}
            >
              Menu
            </button>
          </div>
          <nav id="main-nav" aria-label="Main" className={`${menuOpen ? "flex" : "hidden"} w-full flex-col gap-1 lg:flex lg:w-auto lg:flex-row lg:items-center`}>
            {NAV.map((item) => (
              <NavLink
                key={item.to}
                to={client.path(item.to)}
                onClick={() => setMenuOpen(false)}
                className={({ isActive }) =>
                  `rounded px-3 py-1.5 text-sm font-medium ${isActive ? "bg-indigo-50 text-indigo-800" : "text-slate-700 hover:bg-slate-100"}`
                }
              >
                {item.label}
              </NavLink>
            ))}
            <SavedViewsMenu onNavigate={() => setMenuOpen(false)} />
          </nav>
          <div className="ml-auto flex min-w-0 flex-wrap items-center gap-3 text-sm">
            <FiringBadge />
            {memberships.length > 1 ? (
              <label className="flex min-w-0 items-center gap-2">
                <span className="text-slate-600">Client</span>
                <select
                  aria-label="Client"
                  value={client.slug}
                  onChange={(event) => navigate(samePageOf(event.target.value, location.pathname, location.search))}
                  className="max-w-[12rem] truncate rounded border border-slate-300 bg-white px-2 py-1"
                >
                  {memberships.map((m) => (
                    <option key={m.slug} value={m.slug}>
                      {m.name}
                    </option>
                  ))}
                </select>
              </label>
            ) : (
              <span className="max-w-[12rem] truncate text-slate-700" data-testid="client-name" title={client.name}>
                {client.name}
              </span>
            )}
            <span className="max-w-[10rem] truncate text-slate-600" title={session.user.email}>
              {session.user.username}
            </span>
            <button
              type="button"
              onClick={async () => {
                await signOut();
                navigate("/login");
              }}
              className="rounded border border-slate-300 px-2 py-1 text-slate-800 hover:bg-slate-100"
            >
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" className="mx-auto max-w-7xl px-4 py-6">
        <PageBoundary resetKey={location.pathname}>
          <Suspense fallback={<Spinner />}>
            <Outlet />
          </Suspense>
        </PageBoundary>
      </main>
    </div>
  );
}
