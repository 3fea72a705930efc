import { NavLink, Outlet } from 'react-router';
import { AdminTemplates } from './AdminTemplates';
import { AdminSandboxes } from './AdminSandboxes';
import { NodesPage } from './Nodes';
import { TeamsPage } from './Teams';
import { UsersPage } from './Users';
import { ApiKeysPage } from './ApiKeys';

/** adminSections are the admin pages, by path under /admin. */
export const adminSections = [
  { path: 'templates', label: 'Templates', page: AdminTemplates },
  { path: 'sandboxes', label: 'Sandboxes', page: AdminSandboxes },
  { path: 'nodes', label: 'Nodes', page: NodesPage },
  { path: 'teams', label: 'Teams', page: TeamsPage },
  { path: 'users', label: 'Users', page: UsersPage },
  { path: 'api-keys', label: 'API keys', page: ApiKeysPage },
];

export function AdminLayout() {
  return (
    <div className="admin">
      <nav className="sidebar" aria-label="Admin">
        <h2 className="small muted">Admin</h2>
        <ul>
          {adminSections.map((s) => (
            <li key={s.path}>
              <NavLink to={`/admin/${s.path}`}>{s.label}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <div className="admin-body"><Outlet /></div>
    </div>
  );
}
