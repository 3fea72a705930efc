import { useCallback, useEffect, useMemo, useState } from 'react';
import { QueryClientProvider, useQueryClient } from '@tanstack/react-query';
import { BrowserRouter, useLocation, useNavigate } from 'react-router';
import { get, post, setCsrfToken, setTeam, setUnauthenticatedHandler, errorMessage } from './api';
import { newQueryClient } from './query';
import type { LoginResponse, Me } from './types';
import { SessionContext, sessionHint, teamHint, type Session } from './session';
import { Login } from './pages/Login';
import { Layout } from './pages/Layout';
import { Routes } from './pages/Routes';
import { ErrorBox, Loading } from './components/States';

type State = { kind: 'loading' } | { kind: 'anonymous' } | { kind: 'error'; message: string } | { kind: 'in'; me: Me };

async function fetchMe(): Promise<Me> {
  const me = await get<Me>('/v1/me');
  if (me.csrf_token) setCsrfToken(me.csrf_token);
  return me;
}

/** App is the root: the query cache, the router and the signed-in shell. */
export function App() {
  const [client] = useState(newQueryClient);
  return (
    <QueryClientProvider client={client}>
      <BrowserRouter>
        <Shell />
      </BrowserRouter>
    </QueryClientProvider>
  );
}

function Shell() {
  const [state, setState] = useState<State>(() => (sessionHint.get() ? { kind: 'loading' } : { kind: 'anonymous' }));
  const { pathname: path } = useLocation();
  const navigate = useNavigate();
  const client = useQueryClient();

  const signedOut = useCallback(() => {
    sessionHint.clear();
    setCsrfToken('');
    client.clear();
    setState({ kind: 'anonymous' });
  }, [client]);

  const load = useCallback(async () => {
    try {
      setState({ kind: 'in', me: await fetchMe() });
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 401) signedOut();
      else setState({ kind: 'error', message: errorMessage(e) });
    }
  }, [signedOut]);

  useEffect(() => {
    setTeam(teamHint.get());
    setUnauthenticatedHandler(signedOut);
    if (sessionHint.get()) void load();
    return () => setUnauthenticatedHandler(null);
  }, [load, signedOut]);

  const onLoggedIn = async (r: LoginResponse) => {
    setCsrfToken(r.csrf_token);
    sessionHint.set();
    await load();
    if (path === '/login' || path === '/') navigate('/sandboxes', { replace: true });
  };

  const session: Session | null = useMemo(() => {
    if (state.kind !== 'in') return null;
    return {
      me: state.me,
      logout: async () => {
        try {
          await post('/v1/auth/logout');
        } finally {
          signedOut();
          navigate('/login');
        }
      },
      switchTeam: async (teamId: string) => {
        teamHint.set(teamId);
        setTeam(teamId);
        await load();
        await client.resetQueries();
      },
    };
  }, [state, load, signedOut, navigate, client]);

  if (state.kind === 'anonymous') return <Login onLoggedIn={onLoggedIn} />;
  if (state.kind === 'loading') return <main id="main" className="center"><Loading what="your session" /></main>;
  if (state.kind === 'error') {
    return (
      <main id="main" className="center">
        <ErrorBox message={state.message} onRetry={() => void load()} />
      </main>
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Layout>
        <Routes />
      </Layout>
    </SessionContext.Provider>
  );
}
