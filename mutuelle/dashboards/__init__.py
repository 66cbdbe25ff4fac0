"""Dashboards: saved charts of a dataset, pages of blocks (KPI, chart, map, table, text,
scenario, indicator) on a grid, KPIs computed live with their targets.

``schemas`` declares the shapes (the API's bodies and the services' checks alike), ``charts``
and ``boards`` are the services, ``kpi`` computes a KPI and ``targets`` says where it stands
against its target; ``point_map`` and ``sparkline`` draw what the pages show as SVG.
"""
