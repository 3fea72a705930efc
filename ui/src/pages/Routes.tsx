import { useEffect } from 'react';
import { match, navigate, useLocation, Link } from '../router';
import { useSession } from '../session';
import { SandboxesPage } from './Sandboxes';
import { SandboxDetail } from './SandboxDetail';
import { TemplatesPage } from './Templates';
import { AdminLayout } from './admin/AdminLayout';
import { Empty } from '../components/States';

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

export function Routes() {
  const { path } = useLocation();
  const { me } = useSession();
  if (path === '/' || path === '/login') return <Redirect to="/sandboxes" />;
  if (path === '/sandboxes') return <SandboxesPage />;
  const sb = match('/sandboxes/:id', path);
  if (sb) return <SandboxDetail id={sb.id} />;
  if (path === '/templates') return <TemplatesPage />;
  if (path === '/admin' || path.startsWith('/admin/')) {
    if (!me.admin) return <Empty>The admin pages need an admin account.</Empty>;
    if (path === '/admin') return <Redirect to="/admin/templates" />;
    return <AdminLayout path={path} />;
  }
  return (
    <Empty>
      No page at <code>{path}</code>. <Link to="/sandboxes">Go to sandboxes</Link>.
    </Empty>
  );
}
