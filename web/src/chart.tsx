/** A small uPlot line chart: x is time (seconds), one line per series. */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  color: string;
}

const CHART_HEIGHT_PX = 180;

export function Chart(props: {
  title: string;
  series: Series[];
  /** [times, ...values], one array per series, all the same length. */
  data: number[][];
  format(value: number): string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { series, format } = props;

  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    const options: uPlot.Options = {
      width: element.clientWidth,
      height: CHART_HEIGHT_PX,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, min, max) => [0, Math.max(1, max, min)] } },
      axes: [
        { stroke: "#667085", grid: { stroke: "#eef0f3" } },
        {
          stroke: "#667085",
          grid: { stroke: "#eef0f3" },
          size: 60,
          values: (_u, ticks) => ticks.map(format),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: `${s.color}1a`,
          value: (_u: uPlot, v: number | null) => (v === null ? "—" : format(v)),
        })),
      ],
    };
    const created = new uPlot(options, [[], ...series.map(() => [])], element);
    plot.current = created;
    const resize = new ResizeObserver(() => {
      created.setSize({ width: element.clientWidth, height: CHART_HEIGHT_PX });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      created.destroy();
      plot.current = null;
    };
  }, [series, format]);

  useEffect(() => {
    plot.current?.setData(props.data as uPlot.AlignedData);
  }, [props.data]);

  return (
    <div class="card chart">
      <h2>{props.title}</h2>
      <div ref={box} />
    </div>
  );
}
