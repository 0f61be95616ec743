"""The run machinery every sync direction shares: run planning and high-water marks, the ledger of
written records, dead letters, quarantine, data-quality checks (Great Expectations), run stats and the
run report, failure alerts. Nothing here knows WooCommerce or HubSpot payloads."""
