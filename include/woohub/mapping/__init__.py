"""Mapping from one system's payloads to the other's properties, one sub-package per direction
(``woocommerce_to_hubspot``: YAML + mappers), on the shared column engine (``frame``) and value
transforms (``transforms``)."""
