import { lazy, Suspense, useState } from 'react';
import type { Sandbox } from '../types';
import { Tabs } from '../components/Tabs';
import { useQueryParams } from '../searchParams';
import { ExecConsole } from './ExecConsole';
import { FileBrowser } from './FileBrowser';
import { SandboxMetrics } from './SandboxMetrics';
import { Loading } from '../components/States';

// xterm.js is most of the bundle: it loads when a terminal is first opened.
const TerminalView = lazy(() => import('./Terminal').then((m) => ({ default: m.TerminalView })));

const tabs = [
  { id: 'metrics', label: 'Metrics' },
  { id: 'terminal', label: 'Terminal' },
  { id: 'console', label: 'Console' },
  { id: 'files', label: 'Files' },
];

/**
 * SandboxTabs are the sandbox page's tabs (?tab=). A tab is mounted when first
 * shown and kept while the sandbox runs, so a terminal session survives a look
 * at the files.
 */
export function SandboxTabs({ sandbox: s, metricsLive }: { sandbox: Sandbox; metricsLive: boolean }) {
  const [query, setQuery] = useQueryParams();
  const asked = query.get('tab') ?? '';
  const tab = tabs.some((t) => t.id === asked) ? asked : 'metrics';
  const [seen, setSeen] = useState(() => new Set([tab]));
  if (!seen.has(tab)) setSeen(new Set([...seen, tab]));
  const running = s.status === 'running';
  const live = metricsLive && (running || s.status === 'paused');

  const panel = (id: string) => {
    if (id === 'metrics') return <SandboxMetrics sandboxId={s.id} live={live} />;
    if (!running) return <p className="muted">The {id} is available while the sandbox is running.</p>;
    if (id === 'terminal') return <Suspense fallback={<Loading what="the terminal" />}><TerminalView sandboxId={s.id} /></Suspense>;
    if (id === 'console') return <ExecConsole sandboxId={s.id} />;
    return <FileBrowser sandboxId={s.id} />;
  };
  return (
    <div className="sandbox-tabs">
      <Tabs label="Sandbox" current={tab} tabs={tabs} onChange={(id) => setQuery({ tab: id === 'metrics' ? '' : id })} />
      {tabs.filter((t) => seen.has(t.id)).map((t) => (
        <div key={t.id} role="tabpanel" id={`panel-${t.id}`} aria-labelledby={`tab-${t.id}`} hidden={t.id !== tab}>
          {panel(t.id)}
        </div>
      ))}
    </div>
  );
}
