import { Link } from '../../router';
import { Empty } from '../../components/States';
import { AdminTemplates } from './AdminTemplates';
import { AdminSandboxes } from './AdminSandboxes';
import { NodesPage } from './Nodes';
import { TeamsPage } from './Teams';
import { UsersPage } from './Users';
import { ApiKeysPage } from './ApiKeys';

const sections = [
  { path: '/admin/templates', label: 'Templates', page: AdminTemplates },
  { path: '/admin/sandboxes', label: 'Sandboxes', page: AdminSandboxes },
  { path: '/admin/nodes', label: 'Nodes', page: NodesPage },
  { path: '/admin/teams', label: 'Teams', page: TeamsPage },
  { path: '/admin/users', label: 'Users', page: UsersPage },
  { path: '/admin/api-keys', label: 'API keys', page: ApiKeysPage },
];

export function AdminLayout({ path }: { path: string }) {
  const current = sections.find((s) => s.path === path);
  const Page = current?.page;
  return (
    <div className="admin">
      <nav className="sidebar" aria-label="Admin">
        <h2 className="small muted">Admin</h2>
        <ul>
          {sections.map((s) => (
            <li key={s.path}>
              <Link to={s.path} aria-current={s === current ? 'page' : undefined} className={s === current ? 'active' : undefined}>
                {s.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="admin-body">{Page ? <Page /> : <Empty>No admin page at <code>{path}</code>.</Empty>}</div>
    </div>
  );
}
