// A bar chart in plain SVG: one bar per hour or day. The figure's caption names it, the SVG carries a
// text summary for screen readers, and each bar has a <title> with its exact value (hover tooltip).
import { useLanguage } from "../lib/i18n.js";
import { bucketLabel } from "./format.js";
import { tr } from "./tr.js";

const WIDTH = 560;
const HEIGHT = 180;
const PAD = { top: 12, right: 8, bottom: 28, left: 44 };
// Enough labels to read the axis without crowding it.
const MAX_LABELS = 8;

export function BarChart({ id, title, points, bucket, format, max, min }) {
  useLanguage();
  const values = points.map((p) => p.value);
  const known = values.filter((v) => v !== null && v !== undefined);
  const top = max ?? Math.max(1, ...known);
  // A scale that goes below zero (a recommendation score) draws its bars up or down from the zero line.
  const bottom = Math.min(0, min ?? 0);
  const inner = { w: WIDTH - PAD.left - PAD.right, h: HEIGHT - PAD.top - PAD.bottom };
  const y = (v) => PAD.top + (top === bottom ? inner.h : ((top - v) / (top - bottom)) * inner.h);
  const step = points.length ? inner.w / points.length : inner.w;
  const every = Math.max(1, Math.ceil(points.length / MAX_LABELS));
  const highest = known.length ? points.find((p) => p.value === Math.max(...known)) : null;
  const summary = highest
    ? tr.t("chart.summary", { title, max: format(highest.value), at: bucketLabel(highest.start, bucket) })
    : tr.t("chart.empty", { title });
  return (
    <figure class="chart" id={id}>
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} preserveAspectRatio="xMidYMid meet">
        <line class="axis" x1={PAD.left} y1={y(0)} x2={WIDTH - PAD.right} y2={y(0)} />
        <text class="tick" x={PAD.left - 6} y={PAD.top + 4} text-anchor="end">{format(top)}</text>
        <text class="tick" x={PAD.left - 6} y={y(0)} text-anchor="end">{format(0)}</text>
        {bottom < 0 ? <text class="tick" x={PAD.left - 6} y={PAD.top + inner.h} text-anchor="end">{format(bottom)}</text> : null}
        {points.map((p, i) => {
          const value = p.value ?? 0;
          const h = Math.abs(y(value) - y(0));
          const x = PAD.left + i * step + step * 0.15;
          return (
            <g key={p.start}>
              <rect class={p.value === null || p.value === undefined ? "bar empty" : "bar"} x={x} y={Math.min(y(value), y(0))}
                width={Math.max(1, step * 0.7)} height={Math.max(0, h)}>
                <title>{bucketLabel(p.start, bucket) + ": " + (p.value === null || p.value === undefined ? "—" : format(p.value))}</title>
              </rect>
              {i % every === 0 ? (
                <text class="tick" x={x + step * 0.35} y={HEIGHT - 8} text-anchor="middle">{bucketLabel(p.start, bucket)}</text>
              ) : null}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
