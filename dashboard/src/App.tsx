import { lazy, Suspense } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { Layout } from "./components/Layout";
import { Spinner } from "./components/ui";
import { LoginPage } from "./pages/Login";
import { LogsPage } from "./pages/Logs";
import { useSession } from "./session";

// The chart pages (Recharts) and the trace viewer load on demand, so the logs list — the page
// people open most, and deep links to it — doesn't wait for chart code.
const OverviewPage = lazy(() => import("./pages/Overview").then((m) => ({ default: m.OverviewPage })));
const CategoriesPage = lazy(() => import("./pages/Categories").then((m) => ({ default: m.CategoriesPage })));
const LogDetailPage = lazy(() => import("./pages/LogDetail").then((m) => ({ default: m.LogDetailPage })));
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

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireSession>
            <Layout />
          </RequireSession>
        }
      >
        <Route path="/" element={<Navigate to="/overview" replace />} />
        <Route path="/overview" element={<OverviewPage />} />
        <Route path="/logs" element={<LogsPage />} />
        <Route path="/logs/:id" element={<LogDetailPage />} />
        <Route path="/categories" element={<CategoriesPage />} />
        <Route path="/alerts" element={<AlertsPage />} />
        <Route path="/alerts/new" element={<RuleFormPage />} />
        <Route path="/alerts/:id/edit" element={<RuleFormPage />} />
        <Route path="*" element={<p className="text-slate-700">This page does not exist.</p>} />
      </Route>
    </Routes>
  );
}
