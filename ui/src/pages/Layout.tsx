import type { ReactNode } from 'react';
import { Link, NavLink } from 'react-router';
import { useSession } from '../session';
import { ThemeToggle } from '../components/ThemeToggle';

export function Layout({ children }: { children: ReactNode }) {
  const { me, logout, switchTeam } = useSession();
  const teams = me.teams ?? [];
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <Link to="/sandboxes" className="brand" aria-label="Warren home">
          Warren
        </Link>
        <nav aria-label="Main">
          <NavLink to="/sandboxes">Sandboxes</NavLink>
          <NavLink to="/templates">Templates</NavLink>
          {me.admin && <NavLink to="/admin">Admin</NavLink>}
        </nav>
        <div className="spacer" />
        {teams.length > 1 ? (
          <label className="inline">
            <span className="small">Team</span>
            <select aria-label="Team" value={me.team.id} onChange={(e) => void switchTeam(e.target.value)}>
              {teams.map((t) => (
                <option key={t.id} value={t.id}>{t.name}</option>
              ))}
            </select>
          </label>
        ) : (
          <span className="small muted" title={me.team.id}>team {me.team.name}</span>
        )}
        <span className="small" data-testid="whoami">{me.user?.email ?? me.api_key?.name}</span>
        <ThemeToggle />
        <button type="button" className="ghost" onClick={() => void logout()} aria-label="Log out">
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
    </>
  );
}
