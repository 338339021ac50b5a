import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { Layout } from "./components/Layout";
import { Spinner } from "./components/ui";
import { CategoriesPage } from "./pages/Categories";
import { LogDetailPage } from "./pages/LogDetail";
import { LoginPage } from "./pages/Login";
import { LogsPage } from "./pages/Logs";
import { OverviewPage } from "./pages/Overview";
import { useSession } from "./session";

function RequireSession({ children }: { children: React.ReactNode }) {
  const { session, checking } = useSession();
  const location = useLocation();
  if (checking) return <Spinner label="Checking your session…" />;
  if (!session) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
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
        <Route path="*" element={<p className="text-slate-700">This page does not exist.</p>} />
      </Route>
    </Routes>
  );
}
