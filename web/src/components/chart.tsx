import { useEffect, useRef } from "react";
import uPlot from "uplot";

/** One line of a chart: its name and a value per x (null for a gap). */
export interface Series {
  label: string;
  values: (number | null)[];
}

const PALETTE = ["#2f6fdb", "#d9480f", "#2b8a3e", "#9c36b5", "#e67700", "#0b7285", "#c2255c", "#5f3dc4"];

/**
 * A time-series line chart (uPlot: small, fast, canvas). `x` is Unix seconds; the chart follows its
 * container's width. A table beside it (the caller's) carries the same numbers for screen readers.
 */
export function TimeChart(props: { title: string; x: number[]; series: Series[]; height?: number; unit?: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 220,
      legend: { show: true },
      scales: { x: { time: true } },
      axes: [
        { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.2)" } },
        {
          stroke: "currentColor",
          grid: { stroke: "rgba(128,128,128,0.2)" },
          // Three significant digits, so small amounts (fractions of a cent) do not repeat one rounded label.
          values: (_u: uPlot, ticks: number[]) => ticks.map((t) => t.toLocaleString(undefined, { maximumSignificantDigits: 3 })),
          ...(props.unit !== undefined ? { label: props.unit } : {}),
        },
      ],
      series: [{}, ...props.series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length] as string, width: 2, spanGaps: false, points: { show: props.x.length < 60 } }))],
    };
    const plot = new uPlot(opts, [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.x, props.series, props.height, props.unit]);
  return (
    <figure className="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={box} role="img" aria-label={`${props.title} chart`} />
    </figure>
  );
}
