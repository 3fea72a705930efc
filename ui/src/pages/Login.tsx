import { useState, type FormEvent } from 'react';
import { errorMessage, post } from '../api';
import type { LoginResponse } from '../types';
import { ErrorText } from '../components/Dialog';
import { ThemeToggle } from '../components/ThemeToggle';

/** Login asks for email and password; onLoggedIn gets the session's CSRF token. */
export function Login({ onLoggedIn }: { onLoggedIn: (r: LoginResponse) => Promise<void> | void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await post<LoginResponse>('/v1/auth/login', { email, password });
      await onLoggedIn(r);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <main className="login" id="main">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to Warren</h1>
        <label>
          Email
          <input type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
        </label>
        <label>
          Password
          <input type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <ErrorText message={error} />}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <div className="login-foot">
          <ThemeToggle />
        </div>
      </form>
    </main>
  );
}
