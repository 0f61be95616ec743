"""The woohub report page in the Airflow UI: a FastAPI app mounted at ``/woohub`` in Airflow's API server,
with an entry in the Airflow navigation. The app lives in :mod:`woohub.report_ui`; this file only plugs it in.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from woohub.report_ui.app import MountRootRedirect, create_app

URL_PREFIX = "/woohub"


class WoohubReportPlugin(AirflowPlugin):
    name = "woohub_report"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "woohub report"}]
    fastapi_root_middlewares = [{"middleware": MountRootRedirect, "args": [], "kwargs": {"prefix": URL_PREFIX},
                                 "name": "woohub report: /woohub -> /woohub/"}]
    external_views = [{
        "name": "woohub report",
        "href": f"{URL_PREFIX}/",
        "destination": "nav",
        "nav_top_level": True,  # its own button in the navigation bar, not under "Plugins"
        "url_route": "woohub",  # shown inside the Airflow UI (at /plugin/woohub), not in a new tab
    }]
