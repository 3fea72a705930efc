/** Capacity is a labelled meter of used out of total. */
export function Capacity({ label, used, total, unit }: { label: string; used: number; total: number; unit: (n: number) => string }) {
  const pct = total > 0 ? Math.round((used / total) * 100) : 0;
  return (
    <div className="capacity">
      <div className="small"><span>{label}</span> <span className="muted">{unit(used)} / {unit(total)} used</span></div>
      <meter min={0} max={total || 1} value={used} low={(total || 1) * 0.7} high={(total || 1) * 0.9} optimum={0} aria-label={`${label} used: ${pct}%`} />
    </div>
  );
}
