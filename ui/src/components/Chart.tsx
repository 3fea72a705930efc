import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

const colors = ['#2f7fd8', '#d8772f', '#3aa55d', '#a55dd8'];
const height = 160;

/**
 * Chart draws time series with uPlot: times are Unix seconds, one value per
 * time in each series. data-points on the figure counts the times drawn.
 */
export function Chart({ title, times, series, format, max }: {
  title: string;
  times: number[];
  series: ChartSeries[];
  format: (v: number) => string;
  max?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data: uPlot.AlignedData = [times, ...series.map((s) => s.values)];
  const labels = series.map((s) => s.label).join('\u0000');

  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: el.clientWidth || 400,
      height,
      legend: { show: labels.includes('\u0000') }, // a legend only to tell several series apart
      // From 0, with room above the highest point (or max, when given).
      scales: { y: { range: (_u, lo, hi) => [0, max !== undefined ? Math.max(max, hi) : Math.max(hi * 1.15, lo + 1)] } },
      axes: [
        { space: 100, values: (_u, splits) => splits.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })) },
        { values: (_u, splits) => splits.map(format), size: 70 },
      ],
      series: [{}, ...labels.split('\u0000').map((label, i) => ({ label, stroke: colors[i % colors.length], width: 2, value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)) }))],
    };
    const u = new uPlot(opts, [[], ...series.map(() => [])], el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      if (el.clientWidth > 0) u.setSize({ width: el.clientWidth, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // The plot is rebuilt only when its series change; data goes through setData.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labels, max]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return (
    <figure className="chart" data-testid="chart" data-points={times.length} aria-label={title}>
      <figcaption className="small">{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}
