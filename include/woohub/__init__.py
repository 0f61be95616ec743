"""woohub: keep a WooCommerce store and a HubSpot CRM portal in sync, both ways, with Airflow."""

__version__ = "0.1.0"
