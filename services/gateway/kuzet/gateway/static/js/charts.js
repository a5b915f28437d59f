// Charts of the traffic view, drawn with the vendored uPlot (served from here: no internet needed).
import uPlot from "../vendor/uplot/uPlot.esm.js";

export const PALETTE = ["#3b82f6", "#22c55e", "#f97316", "#eab308", "#a855f7", "#ec4899", "#14b8a6", "#ef4444"];
export const AXIS = { stroke: "#8b98a5", grid: { stroke: "#2a3440", width: 1 }, ticks: { stroke: "#2a3440", width: 1 } };
const HEIGHT = 240;
// Vehicles are whole: no tick at half a vehicle.
const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];

// One chart per container: a redraw replaces the previous one.
const drawn = new Map();

export function draw(el, opts, data) {
  const old = drawn.get(el);
  if (old) old.destroy();
  const chart = new uPlot({ width: Math.max(320, el.clientWidth || 560), height: HEIGHT, ...opts }, data, el);
  drawn.set(el, chart);
  return chart;
}

// Intervals with no vehicle are not in the answer: they are drawn as 0, over the whole range, so
// that a quiet hour shows as one and not as a line drawn across it.
export function laneSeries(counts, sinceS, untilS, intervalS) {
  const xs = [];
  for (let t = Math.floor(sinceS / intervalS) * intervalS; t <= untilS; t += intervalS) xs.push(t);
  const at = new Map(xs.map((t, i) => [t, i]));
  const lines = new Map();
  for (const c of counts) {
    if (!lines.has(c.line_id)) lines.set(c.line_id, { lane: c.lane || c.line_id, line: c.line_id, values: xs.map(() => 0), total: 0 });
    const series = lines.get(c.line_id);
    const i = at.get(Math.round(Date.parse(c.interval_start) / 1000));
    const n = Number(c.vehicles) || 0;
    if (i !== undefined) series.values[i] += n;
    series.total += n;
  }
  return { xs, lines: [...lines.values()].sort((a, b) => a.lane.localeCompare(b.lane) || a.line.localeCompare(b.line)) };
}

export function drawCounts(el, { xs, lines }) {
  return draw(el, {
    series: [{}, ...lines.map((s, i) => ({
      label: `lane ${s.lane} (${s.line})`, stroke: PALETTE[i % PALETTE.length], width: 2, points: { show: xs.length <= 48 },
    }))],
    axes: [{ ...AXIS }, { ...AXIS, label: "vehicles", incrs: WHOLE }],
    scales: { y: { range: (u, min, max) => [0, Math.max(1, max)] } },
  }, [xs, ...lines.map((s) => s.values)]);
}

export function drawSpeeds(el, bins, binKmh) {
  const lows = bins.map((b) => Number(b.low_kmh));
  const xs = lows.map((low) => low + binKmh / 2);
  const lo = lows.length ? Math.min(...lows) : 0;
  const hi = lows.length ? Math.max(...lows) + binKmh : 100;
  return draw(el, {
    series: [{ label: "km/h" }, {
      label: "vehicles", stroke: PALETTE[0], fill: "rgba(59, 130, 246, 0.5)", width: 1,
      paths: uPlot.paths.bars({ size: [0.9, Infinity], align: 0 }), points: { show: false },
    }],
    axes: [{ ...AXIS, label: "km/h" }, { ...AXIS, label: "vehicles", incrs: WHOLE }],
    scales: { x: { time: false, range: () => [lo, hi] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
  }, [xs, bins.map((b) => Number(b.vehicles) || 0)]);
}
