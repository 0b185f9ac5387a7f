/**
 * A small line chart as inline SVG: the last values of one series, scaled to its own range (or
 * to `max`), with the latest value in words for screen readers. Hand-written on purpose: a
 * charting library would be most of the bundle for a 40-line picture.
 */
export interface SparklineProps {
  values: Array<number | null>;
  label: string;
  /** The top of the scale; the largest value when absent. */
  max?: number;
  /** The latest value as the reader should hear it. */
  latest: string;
}

const WIDTH = 160;
const HEIGHT = 36;

/** The polyline's points: gaps (null) break nothing, they are skipped. Exported for its test. */
export function sparkPoints(values: Array<number | null>, max?: number): string {
  const top = Math.max(max ?? 0, ...values.map((v) => v ?? 0), Number.MIN_VALUE);
  const step = values.length > 1 ? WIDTH / (values.length - 1) : 0;
  return values
    .map((v, i) =>
      v === null ? null : `${(i * step).toFixed(1)},${(HEIGHT - (v / top) * HEIGHT).toFixed(1)}`,
    )
    .filter((p): p is string => p !== null)
    .join(" ");
}

export function Sparkline({ values, label, max, latest }: SparklineProps) {
  return (
    <figure class="spark" data-testid="sparkline">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${label}: ${latest} (${values.length} samples)`}
      >
        <polyline points={sparkPoints(values, max)} fill="none" stroke="currentColor" />
      </svg>
      <figcaption>
        {label}: {latest}
      </figcaption>
    </figure>
  );
}
