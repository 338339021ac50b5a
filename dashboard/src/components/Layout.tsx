import { Suspense, useState } from "react";
import { NavLink, Outlet, useNavigate } from "react-router-dom";
import { FiringBadge } from "../alerts/FiringBadge";
import { useSession } from "../session";
import { Spinner, errorMessage } from "./ui";

const NAV = [
  { to: "/overview", label: "Overview" },
  { to: "/logs", label: "Logs" },
  { to: "/categories", label: "Categories" },
  { to: "/alerts", label: "Alerts" },
];

export function Layout() {
  const { session, signOut, switchClient } = useSession();
  const navigate = useNavigate();
  const [switchError, setSwitchError] = useState<string | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  if (!session) return null;
  const memberships = session.memberships;

  const onSwitch = async (slug: string) => {
    setSwitchError(null);
    try {
      await switchClient(slug);
      // A log of the previous client would be a 404 now: go back to a list.
      if (window.location.pathname.includes("/logs/")) navigate("/logs");
    } catch (error) {
      setSwitchError(errorMessage(error));
    }
  };

  return (
    <div className="min-h-screen">
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
          <div className="flex items-center gap-3">
            <span className="text-base font-bold text-indigo-800">Central Logger</span>
            <button
              type="button"
              className="rounded border border-slate-300 px-2 py-1 text-sm sm:hidden"
              aria-expanded={menuOpen}
              aria-controls="main-nav"
              onClick={() => setMenuOpen((open) => !open)}
            >
              Menu
            </button>
          </div>
          <nav id="main-nav" aria-label="Main" className={`${menuOpen ? "flex" : "hidden"} w-full flex-col gap-1 sm:flex sm:w-auto sm:flex-row`}>
            {NAV.map((item) => (
              <NavLink
                key={item.to}
                to={item.to}
                onClick={() => setMenuOpen(false)}
                className={({ isActive }) =>
                  `rounded px-3 py-1.5 text-sm font-medium ${isActive ? "bg-indigo-50 text-indigo-800" : "text-slate-700 hover:bg-slate-100"}`
                }
              >
                {item.label}
              </NavLink>
            ))}
          </nav>
          <div className="ml-auto flex flex-wrap items-center gap-3 text-sm">
            <FiringBadge />
            {memberships.length > 1 ? (
              <label className="flex items-center gap-2">
                <span className="text-slate-600">Client</span>
                <select
                  aria-label="Client"
                  value={session.current_client?.slug ?? ""}
                  onChange={(event) => onSwitch(event.target.value)}
                  className="rounded border border-slate-300 bg-white px-2 py-1"
                >
                  {memberships.map((m) => (
                    <option key={m.slug} value={m.slug}>
                      {m.name}
                    </option>
                  ))}
                </select>
              </label>
            ) : (
              <span className="text-slate-700" data-testid="client-name">
                {session.current_client?.name}
              </span>
            )}
            <span className="text-slate-600" title={session.user.email}>
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
        {switchError ? (
          <p role="alert" className="mx-auto max-w-7xl px-4 pb-2 text-sm text-red-800">
            {switchError}
          </p>
        ) : null}
      </header>
      <main className="mx-auto max-w-7xl px-4 py-6">
        <Suspense fallback={<Spinner />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
