"""The nightly reconciliation of WooCommerce and HubSpot: a full read of both systems into staging
(:mod:`woohub.reconciliation.snapshot`, table ``reconciliation_snapshot``), compared there, never both sides
whole in memory."""
