import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { Login } from '../pages/Login';
import { apiError, mockFetch } from './fetchMock';

function fill(email: string, password: string) {
  fireEvent.change(screen.getByLabelText('Email'), { target: { value: email } });
  fireEvent.change(screen.getByLabelText('Password'), { target: { value: password } });
  fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
}

describe('Login', () => {
  it('shows the API error message exactly as sent', async () => {
    const { calls } = mockFetch({ 'POST /v1/auth/login': apiError(401, 'unauthenticated', 'wrong email or password') });
    const onLoggedIn = vi.fn();
    render(<Login onLoggedIn={onLoggedIn} />);
    fill('admin@warren.local', 'nope');
    expect(await screen.findByRole('alert')).toHaveProperty('textContent', 'wrong email or password');
    expect(calls[0].body).toEqual({ email: 'admin@warren.local', password: 'nope' });
    expect(onLoggedIn).not.toHaveBeenCalled();
    expect(screen.getByRole('button', { name: 'Sign in' })).toHaveProperty('disabled', false);
  });

  it('shows a rate-limit message as sent', async () => {
    mockFetch({ 'POST /v1/auth/login': apiError(429, 'rate_limited', 'too many failed logins; try again later') });
    render(<Login onLoggedIn={vi.fn()} />);
    fill('a@b.c', 'x');
    expect((await screen.findByRole('alert')).textContent).toBe('too many failed logins; try again later');
  });

  it('hands the CSRF token over on success', async () => {
    const resp = { user: { id: 'usr-1', email: 'a@b.c', is_admin: true, disabled: false, created_at: '' }, csrf_token: 'csrf-1', expires_at: '' };
    mockFetch({ 'POST /v1/auth/login': { json: resp } });
    const onLoggedIn = vi.fn();
    render(<Login onLoggedIn={onLoggedIn} />);
    fill('a@b.c', 'right');
    await waitFor(() => expect(onLoggedIn).toHaveBeenCalledWith(resp));
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('says so when the server is unreachable', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => { throw new TypeError('Failed to fetch'); }));
    render(<Login onLoggedIn={vi.fn()} />);
    fill('a@b.c', 'x');
    expect((await screen.findByRole('alert')).textContent).toBe('cannot reach the server: Failed to fetch');
  });
});
