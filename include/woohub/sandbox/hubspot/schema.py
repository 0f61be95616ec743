"""Static portal facts: object types, default properties, association types and the default deal pipeline.

Values follow HubSpot's reference data (default properties returned, association type ids, default stages).
"""

from __future__ import annotations

from typing import Any

PORTAL_ID = 24_000_042

#: object type name -> (object type id, singular name used in association type names)
OBJECT_TYPES: dict[str, tuple[str, str]] = {
    "contacts": ("0-1", "contact"),
    "deals": ("0-3", "deal"),
    "products": ("0-7", "product"),
    "line_items": ("0-8", "line_item"),
}
_ALIASES = {alias: name for name, (type_id, singular) in OBJECT_TYPES.items()
            for alias in (name, type_id, singular)}
_ALIASES.update({"lineitems": "line_items", "lineitem": "line_items"})


def object_type(raw: str) -> str | None:
    """The canonical object type for a path segment (``contacts``, ``0-1``, ``contact``), or None."""
    return _ALIASES.get(raw.lower())


DEFAULT_RETURNED: dict[str, list[str]] = {
    "contacts": ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
    "deals": ["dealname", "amount", "closedate", "pipeline", "dealstage", "createdate", "hs_lastmodifieddate",
              "hs_object_id"],
    "products": ["name", "description", "price", "createdate", "hs_lastmodifieddate", "hs_object_id"],
    "line_items": ["quantity", "amount", "price", "createdate", "hs_lastmodifieddate", "hs_object_id"],
}
LAST_MODIFIED = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate",
                 "products": "hs_lastmodifieddate", "line_items": "hs_lastmodifieddate"}
#: properties the free-text ``query`` of a search looks in
QUERY_PROPERTIES = {
    "contacts": ["firstname", "lastname", "email", "phone", "company", "hs_additional_emails"],
    "deals": ["dealname"],
    "products": ["name", "description", "hs_sku"],
    "line_items": ["name", "hs_sku"],
}
DEFAULT_GROUPS = {"contacts": [("contactinformation", "Contact information")],
                  "deals": [("dealinformation", "Deal information")],
                  "products": [("productinformation", "Product information")],
                  "line_items": [("lineiteminformation", "Line item information")]}

#: (from type, to type) -> (typeId, reverse typeId); all HUBSPOT_DEFINED
ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("deals", "contacts"): 3, ("contacts", "deals"): 4,
    ("deals", "line_items"): 19, ("line_items", "deals"): 20,
}
ASSOCIATION_BY_ID: dict[int, tuple[str, str]] = {v: k for k, v in ASSOCIATION_TYPES.items()}


def association_name(from_type: str, to_type: str) -> str:
    return f"{OBJECT_TYPES[from_type][1]}_to_{OBJECT_TYPES[to_type][1]}"


CURRENCIES = ["USD", "EUR", "GBP", "JPY", "PLN", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK", "CZK"]
CURRENCY_NAMES = {"USD": "US Dollar", "EUR": "Euro", "GBP": "British Pound", "JPY": "Japanese Yen",
                  "PLN": "Polish Zloty", "CAD": "Canadian Dollar", "AUD": "Australian Dollar",
                  "CHF": "Swiss Franc", "SEK": "Swedish Krona", "NOK": "Norwegian Krone", "DKK": "Danish Krone",
                  "CZK": "Czech Koruna"}
#: properties whose options are the portal's enabled currencies (account settings), not a fixed list
CURRENCY_PROPERTIES: dict[str, tuple[str, ...]] = {"deals": ("deal_currency_code",),
                                                   "line_items": ("hs_line_item_currency_code",)}


def currency_options(codes: list[str]) -> list[dict[str, Any]]:
    """The options of a currency property in a portal with these enabled currencies."""
    return [{"value": code, "label": CURRENCY_NAMES.get(code, code), "description": "", "displayOrder": n,
             "hidden": False} for n, code in enumerate(codes)]

DEFAULT_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled", "0.2", "false"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", "false"),
    ("presentationscheduled", "Presentation Scheduled", "0.6", "false"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", "false"),
    ("contractsent", "Contract Sent", "0.9", "false"),
    ("closedwon", "Closed Won", "1.0", "true"),
    ("closedlost", "Closed Lost", "0.0", "true"),
]


def default_pipeline() -> dict[str, Any]:
    """The ``default`` deal pipeline every account starts with (createdAt 0, as HubSpot reports it)."""
    epoch = "1970-01-01T00:00:00Z"
    return {
        "id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": False,
        "createdAt": epoch, "updatedAt": epoch,
        "stages": [
            {"id": sid, "label": label, "displayOrder": order, "archived": False,
             "createdAt": epoch, "updatedAt": epoch, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
             "metadata": {"probability": prob, "isClosed": closed}}
            for order, (sid, label, prob, closed) in enumerate(DEFAULT_STAGES)
        ],
    }


def _options(values: list[str] | list[tuple[str, str]]) -> list[dict[str, Any]]:
    result = []
    for order, value in enumerate(values):
        key, label = value if isinstance(value, tuple) else (value, value)
        result.append({"value": key, "label": label, "description": "", "displayOrder": order, "hidden": False})
    return result


def property_definition(object_type_name: str, name: str, label: str, type_: str = "string",
                        field_type: str = "text", *, group: str | None = None,
                        options: list[dict[str, Any]] | None = None, read_only: bool = False,
                        unique: bool = False, calculated: bool = False, hubspot: bool = True,
                        description: str = "", created_ms: int = 0) -> dict[str, Any]:
    """A ``Property`` in HubSpot's schema (crm-properties-v3.json)."""
    stamp = "1970-01-01T00:00:00Z" if created_ms == 0 else None
    definition: dict[str, Any] = {
        "name": name, "label": label, "type": type_, "fieldType": field_type, "description": description,
        "groupName": group or DEFAULT_GROUPS[object_type_name][0][0], "options": options or [],
        "displayOrder": -1, "calculated": calculated, "externalOptions": False, "hasUniqueValue": unique,
        "hidden": False, "hubspotDefined": hubspot, "archived": False, "formField": not read_only,
        "dataSensitivity": "non_sensitive",
        "modificationMetadata": {"archivable": not hubspot, "readOnlyDefinition": hubspot,
                                 "readOnlyValue": read_only},
    }
    if stamp:
        definition["createdAt"] = definition["updatedAt"] = stamp
    return definition


_LIFECYCLE = [("subscriber", "Subscriber"), ("lead", "Lead"), ("marketingqualifiedlead", "Marketing Qualified Lead"),
              ("salesqualifiedlead", "Sales Qualified Lead"), ("opportunity", "Opportunity"),
              ("customer", "Customer"), ("evangelist", "Evangelist"), ("other", "Other")]
_LEAD_STATUS = ["NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED",
                "BAD_TIMING"]

_S, _N, _DT, _D, _E, _B = "string", "number", "datetime", "date", "enumeration", "bool"

# (name, label, type, fieldType, options, read-only, calculated)
_DEFAULTS: dict[str, list[tuple[Any, ...]]] = {
    "contacts": [
        ("email", "Email", _S, "text"), ("firstname", "First Name", _S, "text"),
        ("lastname", "Last Name", _S, "text"), ("phone", "Phone Number", _S, "phonenumber"),
        ("mobilephone", "Mobile Phone Number", _S, "phonenumber"), ("address", "Street Address", _S, "text"),
        ("city", "City", _S, "text"), ("state", "State/Region", _S, "text"), ("zip", "Postal Code", _S, "text"),
        ("country", "Country/Region", _S, "text"), ("company", "Company Name", _S, "text"),
        ("website", "Website URL", _S, "text"), ("jobtitle", "Job Title", _S, "text"),
        ("lifecyclestage", "Lifecycle Stage", _E, "radio", _options(_LIFECYCLE)),
        ("hs_lead_status", "Lead Status", _E, "radio", _options(_LEAD_STATUS)),
        ("hubspot_owner_id", "Contact owner", _E, "select"),
        ("hs_additional_emails", "Additional email addresses", _S, "textarea", None, True),
        ("hs_email_domain", "Email Domain", _S, "text", None, True, True),
        ("createdate", "Create Date", _DT, "date"),
        ("lastmodifieddate", "Last Modified Date", _DT, "date", None, True),
        ("hs_object_id", "Record ID", _N, "number", None, True),
    ],
    "deals": [
        ("dealname", "Deal Name", _S, "text"), ("amount", "Amount", _N, "number"),
        ("closedate", "Close Date", _DT, "date"), ("pipeline", "Pipeline", _E, "select"),
        ("dealstage", "Deal Stage", _E, "radio"),
        ("deal_currency_code", "Currency", _E, "select", _options(CURRENCIES)),
        ("dealtype", "Deal Type", _E, "radio",
         _options([("newbusiness", "New Business"), ("existingbusiness", "Existing Business")])),
        ("description", "Deal Description", _S, "textarea"),
        ("hs_priority", "Priority", _E, "radio", _options([("low", "Low"), ("medium", "Medium"), ("high", "High")])),
        ("closed_lost_reason", "Closed Lost Reason", _S, "textarea"),
        ("hubspot_owner_id", "Deal owner", _E, "select"),
        ("hs_is_closed", "Is Deal Closed?", _B, "booleancheckbox", None, True, True),
        ("createdate", "Create Date", _DT, "date"),
        ("hs_lastmodifieddate", "Last Modified Date", _DT, "date", None, True),
        ("hs_object_id", "Record ID", _N, "number", None, True),
    ],
    "products": [
        ("name", "Name", _S, "text"), ("description", "Description", _S, "textarea"),
        ("price", "Unit price", _N, "number"), ("hs_sku", "SKU", _S, "text"),
        ("hs_cost_of_goods_sold", "Unit cost", _N, "number"), ("hs_url", "URL", _S, "text"),
        ("hs_images", "Image URL", _S, "text"),
        ("hs_product_type", "Product type", _E, "select",
         _options([("inventory", "Inventory"), ("non_inventory", "Non-inventory"), ("service", "Service")])),
        ("hs_recurring_billing_period", "Term", _S, "text"), ("tax", "Tax", _N, "number"),
        ("createdate", "Create Date", _DT, "date"),
        ("hs_lastmodifieddate", "Last Modified Date", _DT, "date", None, True),
        ("hs_object_id", "Record ID", _N, "number", None, True),
    ],
    "line_items": [
        ("name", "Name", _S, "text"), ("description", "Description", _S, "textarea"),
        ("quantity", "Quantity", _N, "number"), ("price", "Unit price", _N, "number"),
        ("amount", "Net price", _N, "number", None, True, True),
        ("hs_product_id", "Product ID", _N, "number"), ("hs_sku", "SKU", _S, "text"),
        ("hs_line_item_currency_code", "Currency", _E, "select", _options(CURRENCIES)),
        ("discount", "Unit discount", _N, "number"), ("hs_discount_percentage", "Discount Percentage", _N, "number"),
        ("tax", "Tax", _N, "number"), ("hs_cost_of_goods_sold", "Unit cost", _N, "number"),
        ("hs_recurring_billing_period", "Term", _S, "text"),
        ("hs_position_on_quote", "Position on quote", _N, "number"),
        ("createdate", "Create Date", _DT, "date"),
        ("hs_lastmodifieddate", "Last Modified Date", _DT, "date", None, True),
        ("hs_object_id", "Record ID", _N, "number", None, True),
    ],
}


def default_properties(object_type_name: str) -> dict[str, dict[str, Any]]:
    result = {}
    for row in _DEFAULTS[object_type_name]:
        name, label, type_, field_type, *rest = row
        options = rest[0] if rest else None
        read_only = bool(rest[1]) if len(rest) > 1 else False
        calculated = bool(rest[2]) if len(rest) > 2 else False
        result[name] = property_definition(object_type_name, name, label, type_, field_type, options=options,
                                           read_only=read_only, calculated=calculated)
    return result
