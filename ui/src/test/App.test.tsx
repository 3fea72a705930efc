import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { App } from '../App';
import { mockFetch } from './fetchMock';

const me = {
  team: { id: 'team-1', name: 'default', disabled: false, created_at: '' },
  admin: true,
  user: { id: 'usr-1', email: 'admin@warren.local', is_admin: true, disabled: false, created_at: '' },
  teams: [{ id: 'team-1', name: 'default', disabled: false, role: 'owner', created_at: '' }],
  csrf_token: 'csrf-me',
};

describe('App', () => {
  beforeEach(() => {
    localStorage.clear();
    window.history.replaceState(null, '', '/');
  });

  it('asks a fresh visitor to log in without calling the API, then lands on sandboxes', async () => {
    const { calls } = mockFetch({
      'POST /v1/auth/login': { json: { user: me.user, csrf_token: 'csrf-login', expires_at: '' } },
      'GET /v1/me': { json: me },
      'GET /v1/sandboxes': { json: { items: [] } },
      'GET /v1/templates': { json: { items: [] } },
      'POST /v1/auth/logout': { status: 204 },
    });
    render(<App />);
    expect(screen.getByRole('heading', { name: 'Sign in to Warren' })).toBeTruthy();
    expect(calls).toHaveLength(0);
    fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'admin@warren.local' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'pw' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText(/No sandboxes yet/)).toBeTruthy();
    expect(window.location.pathname).toBe('/sandboxes');
    expect(screen.getByRole('link', { name: 'Admin' })).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Log out' }));
    await screen.findByRole('heading', { name: 'Sign in to Warren' });
    const logout = calls.find((c) => c.url === '/v1/auth/logout')!;
    expect(logout.headers['X-CSRF-Token']).toBe('csrf-me');
  });

  it('resumes a session and shows the 404 page for unknown paths', async () => {
    localStorage.setItem('warren.session', '1');
    window.history.replaceState(null, '', '/nowhere');
    mockFetch({ 'GET /v1/me': { json: { ...me, admin: false } } });
    render(<App />);
    expect(await screen.findByText(/No page at/)).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Admin' })).toBeNull();
  });

  it('keeps non-admins out of the admin pages and redirects /admin to its first page', async () => {
    localStorage.setItem('warren.session', '1');
    window.history.replaceState(null, '', '/admin/nodes');
    mockFetch({ 'GET /v1/me': { json: { ...me, admin: false } } });
    const { unmount } = render(<App />);
    expect(await screen.findByText('The admin pages need an admin account.')).toBeTruthy();
    unmount();
    window.history.replaceState(null, '', '/admin');
    mockFetch({ 'GET /v1/me': { json: me }, 'GET /v1/admin/templates': { json: { items: [] } }, 'GET /v1/admin/builds': { json: { items: [] } } });
    render(<App />);
    expect(await screen.findByText(/No templates yet/)).toBeTruthy();
    expect(window.location.pathname).toBe('/admin/templates');
    expect(screen.getByRole('link', { name: 'Templates', current: 'page' })).toBeTruthy();
  });

  it('drops an expired session back to the login form', async () => {
    localStorage.setItem('warren.session', '1');
    mockFetch({ 'GET /v1/me': { status: 401, json: { error: { code: 'unauthenticated', message: 'missing or invalid credentials' } } } });
    render(<App />);
    await screen.findByRole('heading', { name: 'Sign in to Warren' });
    await waitFor(() => expect(localStorage.getItem('warren.session')).toBeNull());
  });
});
