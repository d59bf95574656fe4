"""flashsale's monitoring, written as code: the Prometheus recording rules and alerts (`rules.py`) and the
Grafana dashboards (`sale_dashboard.py`, `operations_dashboard.py`). `python -m monitoring` writes them into
the chart's `files/` folder; `python -m monitoring --check` regenerates them and fails if the committed copies
differ by a byte. Not part of the installed package: it runs from a checkout, with the `dev` extra."""
