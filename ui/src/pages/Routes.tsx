import { Link, Navigate, Route, Routes as RouterRoutes, useLocation } from 'react-router';
import { useSession } from '../session';
import { SandboxesPage } from './Sandboxes';
import { SandboxDetail } from './SandboxDetail';
import { TemplatesPage } from './Templates';
import { AdminLayout, adminSections } from './admin/AdminLayout';
import { Empty } from '../components/States';

function NotFound() {
  const { pathname } = useLocation();
  return (
    <Empty>
      No page at <code>{pathname}</code>. <Link to="/sandboxes">Go to sandboxes</Link>.
    </Empty>
  );
}

function AdminOnly() {
  const { me } = useSession();
  if (!me.admin) return <Empty>The admin pages need an admin account.</Empty>;
  return <AdminLayout />;
}

/** Routes maps the signed-in paths to pages; unknown paths get a page saying so. */
export function Routes() {
  return (
    <RouterRoutes>
      <Route path="/" element={<Navigate to="/sandboxes" replace />} />
      <Route path="/login" element={<Navigate to="/sandboxes" replace />} />
      <Route path="/sandboxes" element={<SandboxesPage />} />
      <Route path="/sandboxes/:id" element={<SandboxDetail />} />
      <Route path="/templates" element={<TemplatesPage />} />
      <Route path="/admin" element={<AdminOnly />}>
        <Route index element={<Navigate to="/admin/templates" replace />} />
        {adminSections.map(({ path, page: Page }) => (
          <Route key={path} path={path} element={<Page />} />
        ))}
        <Route path="*" element={<NotFound />} />
      </Route>
      <Route path="*" element={<NotFound />} />
    </RouterRoutes>
  );
}
