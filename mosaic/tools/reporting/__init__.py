"""The run report: the tables it shows, its inline SVG plots, and the Markdown and HTML
renderers."""
