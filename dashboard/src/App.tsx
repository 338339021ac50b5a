import { lazy, Suspense } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { ClientScope, LegacyRedirect, clientPath } from "./client";
import { Layout } from "./components/Layout";
import { SavedViewsProvider } from "./components/SavedViews";
import { Spinner } from "./components/ui";
import { LoginPage } from "./pages/Login";
import { LogsPage } from "./pages/Logs";
import { useSession } from "./session";

// The chart pages (Recharts), the trace viewer and the investigation pages load on demand, so
// the logs list — the page people open most, and deep links to it — doesn't wait for them.
const OverviewPage = lazy(() => import("./pages/Overview").then((m) => ({ default: m.OverviewPage })));
const CategoriesPage = lazy(() => import("./pages/Categories").then((m) => ({ default: m.CategoriesPage })));
const LogDetailPage = lazy(() => import("./pages/LogDetail").then((m) => ({ default: m.LogDetailPage })));
const ComparePage = lazy(() => import("./pages/Compare").then((m) => ({ default: m.ComparePage })));
const IssuesPage = lazy(() => import("./pages/Issues").then((m) => ({ default: m.IssuesPage })));
const IssuePage = lazy(() => import("./pages/Issue").then((m) => ({ default: m.IssuePage })));
const VersionsPage = lazy(() => import("./pages/Versions").then((m) => ({ default: m.VersionsPage })));
const LatencyPage = lazy(() => import("./pages/Latency").then((m) => ({ default: m.LatencyPage })));
// Alerts: a self-contained feature folder (src/alerts/), loaded on demand.
const AlertsPage = lazy(() => import("./alerts/AlertsPage").then((m) => ({ default: m.AlertsPage })));
const RuleFormPage = lazy(() => import("./alerts/RuleForm").then((m) => ({ default: m.RuleFormPage })));

function RequireSession({ children }: { children: React.ReactNode }) {
  const { session, checking } = useSession();
  const location = useLocation();
  if (checking) return <Spinner label="Checking your session…" />;
  if (!session) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <Suspense fallback={<Spinner />}>{children}</Suspense>;
}

function Home() {
  const { session } = useSession();
  const slug = session?.current_client?.slug ?? session?.memberships[0]?.slug;
  return <Navigate to={slug ? clientPath(slug, "/overview") : "/login"} replace />;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/" element={<RequireSession><Home /></RequireSession>} />
      {/* Links from before the client was part of the URL. */}
      {["/overview", "/logs", "/logs/:id", "/categories"].map((path) => (
        <Route key={path} path={path} element={<RequireSession><LegacyRedirect /></RequireSession>} />
      ))}
      <Route
        path="/:client"
        element={
          <RequireSession>
            <ClientScope>
              <SavedViewsProvider>
                <Layout />
              </SavedViewsProvider>
            </ClientScope>
          </RequireSession>
        }
      >
        <Route index element={<Navigate to="overview" replace />} />
        <Route path="overview" element={<OverviewPage />} />
        <Route path="logs" element={<LogsPage />} />
        <Route path="logs/:id" element={<LogDetailPage />} />
        <Route path="compare" element={<ComparePage />} />
        <Route path="issues" element={<IssuesPage />} />
        <Route path="issues/:fingerprint" element={<IssuePage />} />
        <Route path="versions" element={<VersionsPage />} />
        <Route path="latency" element={<LatencyPage />} />
        <Route path="categories" element={<CategoriesPage />} />
        <Route path="alerts" element={<AlertsPage />} />
        <Route path="alerts/new" element={<RuleFormPage />} />
        <Route path="alerts/:id/edit" element={<RuleFormPage />} />
        <Route path="*" element={<p className="text-slate-700">This page does not exist.</p>} />
      </Route>
    </Routes>
  );
}
