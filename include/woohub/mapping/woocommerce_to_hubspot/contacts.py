"""WooCommerce customers and guest orders -> HubSpot contacts, and the contact key scheme deals use.

Keys: ``customer:<id>`` for a registered customer, ``guest:<email>`` (stripped, lower-cased billing email)
for a guest (an order with ``customer_id`` 0). A guest order without an email cannot become a contact:
it gets the key ``guest-order:<order id>`` and an ``error`` so the caller quarantines it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from woohub.mapping.frame import extract, map_properties, property_values
from woohub.mapping.transforms import as_optional_str, email, nones, woo_id
from woohub.mapping.woocommerce_to_hubspot.config import ContactSettings, MappingConfig

CONTACT_COLUMNS = ["source_key", "email", "properties", "error"]
ADDRESS_FIELDS = ("address_1", "address_2", "city", "state", "postcode", "country")
ADDRESS_PRESENCE = ("address_1", "city", "postcode", "country")
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MISSING_EMAIL = "missing email"
INVALID_EMAIL = "invalid email"


def map_contacts(
    customers: Sequence[Mapping[str, Any]], guest_orders: Sequence[Mapping[str, Any]], config: MappingConfig
) -> pd.DataFrame:
    """Map registered customers and guest orders to HubSpot contacts.

    Returns columns ``source_key``, ``email`` (stripped, lower-cased; ``None`` when missing),
    ``properties`` and ``error`` (``None`` for a good row, else ``"missing email"`` or
    ``"invalid email"``: quarantine those rows, HubSpot cannot key a contact without an email).
    Guests: only orders with ``customer_id`` 0 count; one row per distinct email, from the most recently
    modified order (then highest order id); a guest whose email is a customer's in the same input is
    dropped (the customer row covers it, see ``guest_aliases``). Customers come first, then guests."""
    settings = config.contacts
    paths = _paths(settings)
    registered = extract(customers, paths)
    registered["source_key"] = "customer:" + woo_id(registered["id"]).fillna("")
    frame = pd.concat([registered, _guests(guest_orders, paths)], ignore_index=True)
    frame = _with_address(frame, settings.address_sources)
    email_spec = next(s for s in settings.mapping.properties if s.name == "email")
    frame["_email"] = property_values(frame, email_spec)
    frame = _dedupe_guests(frame)
    result = pd.DataFrame(
        {
            "source_key": frame["source_key"],
            "email": frame["_email"],
            "properties": map_properties(frame, settings.mapping),
            "error": email_errors(frame["_email"]),
        },
        columns=CONTACT_COLUMNS,
    )
    return result.reset_index(drop=True)


def order_contact_keys(customer_id: pd.Series, billing_email: pd.Series) -> pd.Series:
    """The contact ``source_key`` of each order: ``customer:<id>`` when ``customer_id`` > 0, else
    ``guest:<email>``, or ``None`` for a guest without an email."""
    customer = woo_id(customer_id)
    guest_email = email(billing_email)
    guest = ("guest:" + guest_email.where(guest_email.notna(), "")).where(guest_email.notna(), None)
    return as_optional_str(("customer:" + customer.fillna("")).where(customer.notna(), guest))


def guest_aliases(contacts: pd.DataFrame) -> dict[str, str]:
    """``guest:<email>`` -> ``customer:<id>`` for every customer row of ``map_contacts`` output with an
    email: apply it to a deal's ``contact_source_key`` when the guest row was dropped for the customer."""
    rows = contacts[contacts["source_key"].str.startswith("customer:") & contacts["email"].notna()]
    return dict(zip("guest:" + rows["email"], rows["source_key"], strict=True))


def email_errors(emails: pd.Series) -> pd.Series:
    """``None`` for a usable email, else ``"missing email"`` or ``"invalid email"``."""
    text = emails.astype("string")
    valid = text.str.match(EMAIL_PATTERN).fillna(False).to_numpy(dtype=bool)
    missing = emails.isna().to_numpy()
    errors = np.where(missing, MISSING_EMAIL, np.where(valid, "", INVALID_EMAIL))
    return as_optional_str(pd.Series(errors, index=emails.index, dtype=object))


def _paths(settings: ContactSettings) -> set[str]:
    """The payload paths a contact row needs: the mapping's, the address blocks', and the keys'."""
    blocks = {f"{block}.{field}" for block in ("billing", "shipping") for field in ADDRESS_FIELDS}
    keys = {"id", "email", "first_name", "last_name", "billing.email", "billing.first_name",
            "billing.last_name", "customer_id", "date_modified_gmt"}  # fmt: skip
    return set(settings.mapping.paths()) | blocks | keys


def _guests(orders: Sequence[Mapping[str, Any]], paths: set[str]) -> pd.DataFrame:
    """Guest orders (``customer_id`` 0) shaped like customers: email and names from billing, no id."""
    frame = extract(orders, paths)
    customer = pd.to_numeric(frame["customer_id"], errors="coerce").fillna(0).to_numpy()
    frame = frame[customer <= 0].copy()
    guest_email = email(frame["billing.email"])
    order_id = woo_id(frame["id"]).fillna("")
    frame["source_key"] = ("guest:" + guest_email.fillna("")).where(
        guest_email.notna(), "guest-order:" + order_id
    )
    frame["_order_id"] = pd.to_numeric(frame["id"], errors="coerce")
    frame["email"] = frame["billing.email"]
    frame["first_name"] = frame["billing.first_name"]
    frame["last_name"] = frame["billing.last_name"]
    frame["id"] = nones(frame.index)
    return frame


def _dedupe_guests(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep every customer row; of guests with an email, the newest order per email, and none whose
    email belongs to a customer. Guests without an email all stay (each is an error row)."""
    is_guest = frame["source_key"].str.startswith("guest").to_numpy()
    customers, guests = frame[~is_guest], frame[is_guest]
    customer_emails = set(customers["_email"].dropna())
    with_email = guests[guests["_email"].notna() & ~guests["_email"].isin(customer_emails)]
    newest = with_email.sort_values(["date_modified_gmt", "_order_id"], ascending=False, na_position="last")
    newest = newest.drop_duplicates("_email", keep="first").sort_values("_order_id")
    return pd.concat([customers, newest, guests[guests["_email"].isna()]])


def _with_address(frame: pd.DataFrame, sources: Sequence[str]) -> pd.DataFrame:
    """Add ``@address.<field>`` columns from the first of ``sources`` (billing, shipping) that has any
    street, city, postcode or country; blocks are never mixed field by field."""
    present = [
        np.logical_or.reduce(
            [as_optional_str(frame[f"{b}.{f}"]).notna().to_numpy() for f in ADDRESS_PRESENCE]
        )
        for b in sources
    ]
    chosen = np.select(present, list(range(len(sources))), default=0)
    for field in ADDRESS_FIELDS:
        options = np.stack([frame[f"{b}.{field}"].to_numpy(dtype=object) for b in sources])
        frame[f"@address.{field}"] = pd.Series(
            options[chosen, np.arange(len(frame))], index=frame.index, dtype=object
        )
    return frame
