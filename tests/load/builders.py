"""Builders of the mapping layer's frames and readers of the sandbox's state, for the load tests."""

from __future__ import annotations

from typing import Any

import pandas as pd


def product_frame(ids: range, *, price: str = "9.5") -> pd.DataFrame:
    """Products ``p<id>`` to upsert."""
    return pd.DataFrame(
        [
            {
                "source_key": str(i),
                "action": "upsert",
                "properties": {
                    "woo_product_id": str(i),
                    "name": f"Product {i}",
                    "hs_sku": f"SKU-{i}",
                    "price": price,
                    "description": None,
                },
            }
            for i in ids
        ]
    )


def customer(customer_id: int, email: str, first: str = "Ann") -> dict[str, Any]:
    """A registered customer's contact row."""
    return {
        "source_key": f"customer:{customer_id}",
        "email": email,
        "properties": {
            "email": email,
            "firstname": first,
            "lastname": f"C{customer_id}",
            "woo_customer_id": str(customer_id),
        },
    }


def guest(email: str, first: str = "Gus") -> dict[str, Any]:
    """A guest buyer's contact row."""
    return {
        "source_key": f"guest:{email.lower()}",
        "email": email,
        "properties": {"email": email, "firstname": first, "lastname": "Guest"},
    }


def deal(
    order_id: int, contact_key: str | None, *, stage: str = "closedwon", amount: str = "19"
) -> dict[str, Any]:
    """An order's deal row."""
    return {
        "source_key": str(order_id),
        "contact_source_key": contact_key,
        "properties": {
            "dealname": f"Order #{order_id}",
            "amount": amount,
            "pipeline": "default",
            "dealstage": stage,
            "closedate": "2024-05-01T10:00:00Z",
            "deal_currency_code": "USD",
            "woo_order_id": str(order_id),
        },
    }


def line_item(item_id: int, order_id: int, product_id: int | None, quantity: int = 1) -> dict[str, Any]:
    """An order line item row."""
    return {
        "source_key": str(item_id),
        "deal_source_key": str(order_id),
        "product_source_key": None if product_id is None else str(product_id),
        "properties": {
            "name": f"Item {item_id}",
            "quantity": str(quantity),
            "price": "9.5",
            "hs_sku": f"SKU-{product_id}",
            "hs_line_item_currency_code": "USD",
            "woo_line_item_id": str(item_id),
            "woo_order_id": str(order_id),
        },
    }


def records(hubspot: Any, object_type: str) -> list[dict[str, Any]]:
    """The live records of ``object_type`` in the sandbox's state."""
    return [r for r in hubspot.state()["portal"]["records"][object_type] if not r["archived"]]


def associations(hubspot: Any, from_type: str, to_type: str) -> set[tuple[int, int, int]]:
    """``(from id, to id, type id)`` of the sandbox's associations between two types."""
    return {
        (fid, tid, type_id)
        for ft, fid, tt, tid, types in hubspot.state()["portal"]["associations"]
        if (ft, tt) == (from_type, to_type)
        for type_id in types
    }


def write_calls(hook: Any) -> int:
    """The hook's calls that write (everything but GETs and batch reads)."""
    return sum(
        n for route, n in hook.api_calls.items() if not route.startswith("GET") and "/read" not in route
    )
