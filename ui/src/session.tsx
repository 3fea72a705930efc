import { createContext, useContext } from 'react';
import type { Me } from './types';

export interface Session {
  me: Me;
  logout: () => Promise<void>;
  switchTeam: (teamId: string) => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a logged-in page');
  return s;
}

// A hint that a session cookie may exist (the cookie itself is HttpOnly), so a
// fresh visit shows the login form without a request that must fail.
const hintKey = 'warren.session';
export const sessionHint = {
  get: () => localStorage.getItem(hintKey) === '1',
  set: () => localStorage.setItem(hintKey, '1'),
  clear: () => localStorage.removeItem(hintKey),
};
const teamKey = 'warren.team';
export const teamHint = {
  get: () => localStorage.getItem(teamKey) ?? '',
  set: (id: string) => (id ? localStorage.setItem(teamKey, id) : localStorage.removeItem(teamKey)),
};
