"""PNG plots and markdown reports shared by the demo, the robustness tools and the transfer study.

Everything is written atomically (temporary file beside the target, then rename), and plots use
matplotlib's Agg canvas directly, so no display and no pyplot global state are needed.
"""

from assembled_cnn.report.markdown import Section, markdown_table, render_markdown, write_markdown
from assembled_cnn.report.metrics_log import MetricsLogError, read_metrics_jsonl
from assembled_cnn.report.plots import DEFAULT_CURVE_KEYS, bar_chart, plot_curves

__all__ = ["DEFAULT_CURVE_KEYS", "MetricsLogError", "Section", "bar_chart", "markdown_table",
           "plot_curves", "read_metrics_jsonl", "render_markdown", "write_markdown"]
