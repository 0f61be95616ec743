"""The nightly reconciliation of WooCommerce and HubSpot: a full read of both systems into staging
(:mod:`woohub.reconciliation.snapshot`, table ``reconciliation_snapshot``), compared there, never both sides
whole in memory."""

#: the two sides of a snapshot row (``reconciliation_snapshot.system``)
WOOCOMMERCE, HUBSPOT = "woocommerce", "hubspot"
#: the compared objects, as the id map names them (``reconciliation_snapshot.object_type``)
DEAL, CONTACT, PRODUCT, LINE_ITEM = "deal", "contact", "product", "line_item"
