import { useEffect, useState } from 'react';

type Theme = 'system' | 'light' | 'dark';
const key = 'warren.theme';
const next: Record<Theme, Theme> = { system: 'light', light: 'dark', dark: 'system' };

export function applyStoredTheme() {
  const t = (localStorage.getItem(key) as Theme | null) ?? 'system';
  if (t === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
}

/** ThemeToggle cycles the colour scheme: follow the system, light, dark. */
export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem(key) as Theme | null) ?? 'system');
  useEffect(() => {
    if (theme === 'system') localStorage.removeItem(key);
    else localStorage.setItem(key, theme);
    applyStoredTheme();
  }, [theme]);
  return (
    <button type="button" className="ghost" aria-label={`Colour theme: ${theme}; switch to ${next[theme]}`} onClick={() => setTheme(next[theme])}>
      {theme === 'dark' ? '☾' : theme === 'light' ? '☀' : '◐'} <span className="small">{theme}</span>
    </button>
  );
}
