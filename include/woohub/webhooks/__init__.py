"""Webhooks: WooCommerce and HubSpot tell the package a record changed, and the matching sync runs for just
those records within a minute (the schedules stay as the safety net).

The path: a delivery reaches the ``/woohub/webhooks/...`` routes of the plugin app (signature checked) →
one ``webhook_event`` row per changed record (:mod:`.events`, deduplicated by delivery id) → an Airflow Asset
event on the source system's changes asset (:data:`WOOCOMMERCE_CHANGES`, :data:`HUBSPOT_CHANGES`), emitted
once per burst → the sync DAG scheduled on that asset runs, takes the pending events and re-reads those records.
"""

from __future__ import annotations

WOOCOMMERCE, HUBSPOT = "woocommerce", "hubspot"

#: the Asset whose events wake ``woocommerce_to_hubspot``: changes in the WooCommerce store
WOOCOMMERCE_CHANGES = "woohub://woocommerce/changes"
#: the Asset whose events wake ``hubspot_to_woocommerce``: changes in the HubSpot portal
HUBSPOT_CHANGES = "woohub://hubspot/changes"
#: source system -> its changes asset's URI
CHANGES_ASSET = {WOOCOMMERCE: WOOCOMMERCE_CHANGES, HUBSPOT: HUBSPOT_CHANGES}
#: source system -> the staged streams its webhooks name
SOURCE_STREAMS = {
    WOOCOMMERCE: ("woocommerce.orders", "woocommerce.customers", "woocommerce.products"),
    HUBSPOT: ("hubspot.deals", "hubspot.contacts"),
}
