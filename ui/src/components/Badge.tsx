const tone: Record<string, string> = {
  ok: 'ok',
  info: 'info',
  warn: 'warn',
  bad: 'bad',
  leader: 'info',
  platform: 'info',
  build: 'info',
  running: 'ok',
  succeeded: 'ok',
  alive: 'ok',
  ready: 'ok',
  creating: 'info',
  queued: 'info',
  paused: 'warn',
  suspect: 'warn',
  draining: 'warn',
  killed: 'muted',
  expired: 'muted',
  cancelled: 'muted',
  left: 'muted',
  revoked: 'muted',
  disabled: 'muted',
  failed: 'bad',
  lost: 'bad',
  dead: 'bad',
};

/** Badge shows a status word, coloured by its tone; the word is the label. */
export function Badge({ status, label }: { status: string; label?: string }) {
  return <span className={`badge ${tone[status] ?? 'neutral'}`} data-status={status}>{label ?? status}</span>;
}

/** ShortId shows the start of a long ID; the whole ID is its title and accessible name. */
export function ShortId({ id }: { id: string }) {
  if (!id) return <>—</>;
  const short = id.length > 16 ? `${id.slice(0, 13)}…` : id;
  return <span className="mono small nw" title={id} aria-label={id}>{short}</span>;
}
