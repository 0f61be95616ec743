"""The HubSpot -> WooCommerce rules: load and validate ``mapping.yaml`` into frozen dataclasses, and check
it against the WooCommerce -> HubSpot mapping (both directions compare contacts through that one)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any

from woohub.core.conflicts import OWNERS, FieldPolicy
from woohub.mapping import config_checks as checks
from woohub.mapping.config_checks import MappingConfigError
from woohub.mapping.woocommerce_to_hubspot.config import MappingConfig

__all__ = [
    "DEFAULT_MAPPING_PATH", "CustomerField", "CustomerRules", "DealRules", "FeeLine", "H2WMapping",
    "MappingConfigError", "OrderStatus", "check_against_w2h", "load_mapping", "mapping_or_packaged",
    "packaged_mapping", "parse_mapping",
]  # fmt: skip

DEFAULT_MAPPING_PATH = Path(__file__).with_name("mapping.yaml")

#: order statuses an order made from a deal may be created in
ORDER_STATUSES: tuple[str, ...] = ("pending", "processing", "on-hold", "completed")
PRICE_POLICIES: tuple[str, ...] = ("woocommerce", "hubspot")
WITHOUT_LINE_ITEMS: tuple[str, ...] = ("fee", "reject")
CUSTOMER_MODES: tuple[str, ...] = ("create", "guest")
FEE_TAX_STATUSES: tuple[str, ...] = ("none", "taxable")
#: ``email_targets`` entry -> the WooCommerce customer path it writes
EMAIL_TARGET_PATHS: Mapping[str, str] = MappingProxyType({"account": "email", "billing": "billing.email"})
#: value normalisers of ``customers.fields`` (scalar versions of the mapping transforms of the same names)
FIELD_TRANSFORMS: tuple[str, ...] = ("strip", "lower", "upper", "email")
_ADDRESS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
            "country", "phone")
#: every WooCommerce customer path a field may write
CUSTOMER_PATHS: frozenset[str] = frozenset(
    {"email", "first_name", "last_name", "billing.email"}
    | {f"billing.{f}" for f in _ADDRESS} | {f"shipping.{f}" for f in _ADDRESS}
)
FEE_PLACEHOLDERS = ("dealname", "id")


@dataclass(frozen=True)
class OrderStatus:
    """The status an order is created in, and ``set_paid``."""

    status: str
    set_paid: bool


@dataclass(frozen=True)
class FeeLine:
    """The fee line of a deal without line items: ``name`` with ``{dealname}``/``{id}``, its tax status."""

    name: str
    tax_status: str


@dataclass(frozen=True)
class DealRules:
    """``deals``: which deals qualify, the reverse stage table, pricing, amounts, the customer mode."""

    qualify: Mapping[str, frozenset[str]]
    order_status: Mapping[str, OrderStatus]
    without_line_items: str
    fee_line: FeeLine
    price_policy: str
    unit_price_tolerance: Decimal
    amount_tolerance: Decimal
    customer: str


@dataclass(frozen=True)
class CustomerField:
    """One contact property and the WooCommerce customer paths it is written to (see the YAML)."""

    name: str
    paths: tuple[str, ...]
    clear: tuple[str, ...]
    shipping: tuple[str, ...]
    shipping_clear: tuple[str, ...]
    transform: str


@dataclass(frozen=True)
class CustomerRules:
    """``customers``: email targets, whether unlinked contacts create customers, shipping, the fields."""

    email_targets: tuple[str, ...]
    create_unlinked: bool
    update_shipping: bool
    fields: Mapping[str, CustomerField]

    def update_paths(self, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(paths written with the value, paths cleared)`` when field ``name`` changes on a customer."""
        spec = self.fields[name]
        paths, clear = spec.paths, spec.clear
        if self.update_shipping:
            paths, clear = paths + spec.shipping, clear + spec.shipping_clear
        return paths, clear


@dataclass(frozen=True)
class H2WMapping:
    """The whole validated HubSpot -> WooCommerce mapping."""

    deals: DealRules
    customers: CustomerRules
    two_way: Mapping[str, FieldPolicy]


def load_mapping(path: Path | None = None, *, w2h: MappingConfig | None = None) -> H2WMapping:
    """Read and validate the mapping YAML (default: the packaged ``mapping.yaml``) and check it against the
    WooCommerce -> HubSpot mapping ``w2h`` (default: the packaged one, :func:`check_against_w2h`).

    Raises ``MappingConfigError`` naming the bad key when the file is not a valid mapping."""
    mapping = parse_mapping(checks.read_yaml(path or DEFAULT_MAPPING_PATH))
    if w2h is None:
        from woohub.mapping.woocommerce_to_hubspot import load_mapping as load_w2h

        w2h = load_w2h()
    check_against_w2h(mapping, w2h)
    return mapping


@functools.cache
def packaged_mapping() -> H2WMapping:
    """The packaged mapping, loaded once per process (the default of every function taking a mapping)."""
    return load_mapping()


def mapping_or_packaged(mapping: H2WMapping | None) -> H2WMapping:
    """``mapping``, or the packaged one when ``None``."""
    return mapping if mapping is not None else packaged_mapping()


def parse_mapping(raw: Any) -> H2WMapping:
    """Validate an already parsed mapping document and build the ``H2WMapping``."""
    doc = checks.versioned_document(raw, {"deals", "customers", "two_way"})
    customers = _customers(checks.section(doc, "customers"))
    return H2WMapping(deals=_deals(checks.section(doc, "deals")), customers=customers,
                      two_way=_two_way(checks.section(doc, "two_way"), customers))


def check_against_w2h(mapping: H2WMapping, w2h: MappingConfig) -> None:
    """Both directions must agree on the contact fields: every two-way field is a contact property the
    WooCommerce -> HubSpot mapping computes, and the email is written where that mapping reads it from
    (else what one direction writes the other would read as a change and undo)."""
    mapped = {spec.name: spec for spec in w2h.contacts.mapping.properties}
    for name in mapping.two_way:
        if name not in mapped:
            raise MappingConfigError(f"two_way.{name}: woocommerce_to_hubspot does not map the contact property "
                                     f"{name!r} (contacts.properties), so it cannot be compared")
    email = mapped.get("email")
    if email is not None and "email" in mapping.two_way:
        written = set(mapping.customers.fields["email"].paths)
        unread = [p for p in email.sources if p not in written]
        if unread:
            raise MappingConfigError(
                f"customers.email_targets: woocommerce_to_hubspot reads the contact email from {unread[0]!r}, "
                f"which {list(mapping.customers.email_targets)} does not write")


# ----------------------------------------------------------------------------------------- sections


def _deals(section: Mapping[str, Any]) -> DealRules:
    """The ``deals`` section."""
    checks.no_unknown_keys(section, "deals", {"qualify", "order_status", "without_line_items", "fee_line",
                                              "price_policy", "unit_price_tolerance", "amount_tolerance",
                                              "customer"})
    qualify_raw = checks.mapping(section.get("qualify"), "deals.qualify")
    if not qualify_raw:
        raise MappingConfigError("deals.qualify: name at least one pipeline and its stages")
    qualify = {str(p): frozenset(_stripped_list(stages, f"deals.qualify.{p}", non_empty=True))
               for p, stages in qualify_raw.items()}
    order_status_raw = checks.mapping(section.get("order_status"), "deals.order_status")
    order_status = {str(stage): _order_status(value, f"deals.order_status.{stage}")
                    for stage, value in order_status_raw.items()}
    for pipeline, stages in qualify.items():
        missing = sorted(stages - set(order_status))
        if missing:
            raise MappingConfigError(f"deals.order_status: no entry for the qualifying stage {missing[0]!r} "
                                     f"(deals.qualify.{pipeline})")
    return DealRules(
        qualify=MappingProxyType(qualify),
        order_status=MappingProxyType(order_status),
        without_line_items=_choice(section.get("without_line_items", "fee"), "deals.without_line_items",
                                   WITHOUT_LINE_ITEMS),
        fee_line=_fee_line(section.get("fee_line", {})),
        price_policy=_choice(section.get("price_policy", "woocommerce"), "deals.price_policy", PRICE_POLICIES),
        unit_price_tolerance=_amount(section.get("unit_price_tolerance", "0.01"), "deals.unit_price_tolerance"),
        amount_tolerance=_amount(section.get("amount_tolerance", "0.01"), "deals.amount_tolerance"),
        customer=_choice(section.get("customer", "create"), "deals.customer", CUSTOMER_MODES),
    )


def _order_status(raw: Any, key: str) -> OrderStatus:
    """One reverse stage table entry ``{status, set_paid}``."""
    entry = checks.mapping(raw, key)
    checks.no_unknown_keys(entry, key, {"status", "set_paid"})
    if "status" not in entry:
        raise MappingConfigError(f"{key}: missing status")
    return OrderStatus(status=_choice(entry["status"], f"{key}.status", ORDER_STATUSES),
                       set_paid=checks.boolean(entry.get("set_paid", False), f"{key}.set_paid"))


def _fee_line(raw: Any) -> FeeLine:
    """``deals.fee_line``: the fee's name template and tax status."""
    entry = checks.mapping(raw, "deals.fee_line")
    checks.no_unknown_keys(entry, "deals.fee_line", {"name", "tax_status"})
    name = checks.text(entry.get("name", "HubSpot deal {dealname}"), "deals.fee_line.name")
    try:
        name.format(**dict.fromkeys(FEE_PLACEHOLDERS, ""))
    except (KeyError, IndexError, ValueError) as exc:
        raise MappingConfigError(f"deals.fee_line.name: only {{dealname}} and {{id}} may be used, got {name!r}"
                                 ) from exc
    return FeeLine(name=name, tax_status=_choice(entry.get("tax_status", "none"), "deals.fee_line.tax_status",
                                                 FEE_TAX_STATUSES))


def _customers(section: Mapping[str, Any]) -> CustomerRules:
    """The ``customers`` section."""
    checks.no_unknown_keys(section, "customers",
                           {"email_targets", "create_unlinked", "update_shipping", "fields"})
    targets = tuple(_stripped_list(section.get("email_targets", ["account", "billing"]),
                                   "customers.email_targets", non_empty=True))
    bad = [t for t in targets if t not in EMAIL_TARGET_PATHS]
    if bad or len(set(targets)) != len(targets):
        raise MappingConfigError(f"customers.email_targets: must list account and/or billing once each, "
                                 f"got {list(targets)!r}")
    raw_fields = checks.mapping(section.get("fields"), "customers.fields")
    if "email" not in raw_fields:
        raise MappingConfigError("customers.fields: missing email")
    fields = {str(name): _field(str(name), value, targets) for name, value in raw_fields.items()}
    return CustomerRules(
        email_targets=targets,
        create_unlinked=checks.boolean(section.get("create_unlinked", False), "customers.create_unlinked"),
        update_shipping=checks.boolean(section.get("update_shipping", False), "customers.update_shipping"),
        fields=MappingProxyType(fields),
    )


def _field(name: str, raw: Any, email_targets: tuple[str, ...]) -> CustomerField:
    """One ``customers.fields`` entry; the email's paths come from ``email_targets``."""
    key = f"customers.fields.{name}"
    entry = checks.mapping(raw, key)
    checks.no_unknown_keys(entry, key, {"paths", "clear", "shipping", "shipping_clear", "transform"})
    if name == "email":
        if "paths" in entry:
            raise MappingConfigError(f"{key}.paths: the email's paths come from customers.email_targets")
        paths = tuple(EMAIL_TARGET_PATHS[t] for t in email_targets)
    else:
        paths = _paths(entry.get("paths"), f"{key}.paths", non_empty=True)
    return CustomerField(
        name=name, paths=paths, clear=_paths(entry.get("clear", []), f"{key}.clear"),
        shipping=_paths(entry.get("shipping", []), f"{key}.shipping", prefix="shipping."),
        shipping_clear=_paths(entry.get("shipping_clear", []), f"{key}.shipping_clear", prefix="shipping."),
        transform=_choice(entry.get("transform", "strip"), f"{key}.transform", FIELD_TRANSFORMS),
    )


def _paths(raw: Any, key: str, *, non_empty: bool = False, prefix: str = "") -> tuple[str, ...]:
    """A list of known WooCommerce customer paths (all starting with ``prefix``)."""
    paths = _stripped_list(raw, key, non_empty=non_empty)
    for path in paths:
        if path not in CUSTOMER_PATHS or not path.startswith(prefix):
            where = f"a {prefix.rstrip('.')} path" if prefix else "a WooCommerce customer path"
            raise MappingConfigError(f"{key}: {path!r} is not {where} (known: {', '.join(sorted(CUSTOMER_PATHS))})")
    return tuple(paths)


def _two_way(section: Mapping[str, Any], customers: CustomerRules) -> Mapping[str, FieldPolicy]:
    """The ``two_way`` section: per field its owner and empty-value rules."""
    policies = {}
    for name, raw in section.items():
        key = f"two_way.{name}"
        if name not in customers.fields:
            raise MappingConfigError(f"{key}: not one of customers.fields ({', '.join(customers.fields)})")
        entry = checks.mapping(raw if raw is not None else {}, key)
        checks.no_unknown_keys(entry, key, {"owner", "empty_clears_hubspot", "empty_clears_woocommerce"})
        owner = _choice(entry.get("owner", "none"), f"{key}.owner", (*OWNERS, "none"))
        policies[str(name)] = FieldPolicy(
            owner=None if owner == "none" else owner,  # type: ignore[arg-type]
            empty_clears_hubspot=checks.boolean(entry.get("empty_clears_hubspot", False),
                                                f"{key}.empty_clears_hubspot"),
            empty_clears_woocommerce=checks.boolean(entry.get("empty_clears_woocommerce", False),
                                                    f"{key}.empty_clears_woocommerce"),
        )
    return MappingProxyType(policies)


# ------------------------------------------------------------------------------------------ helpers


def _choice(raw: Any, key: str, allowed: tuple[str, ...]) -> str:
    """``raw`` must be one of ``allowed``."""
    if raw not in allowed:
        raise MappingConfigError(f"{key}: must be one of {', '.join(allowed)}, got {raw!r}")
    return str(raw)


def _amount(raw: Any, key: str) -> Decimal:
    """A non-negative decimal amount written as a number or text (0.01 -> Decimal("0.01"))."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise MappingConfigError(f"{key}: must be a non-negative number, got {raw!r}")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise MappingConfigError(f"{key}: must be a non-negative number, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise MappingConfigError(f"{key}: must be a non-negative number, got {raw!r}")
    return value


def _stripped_list(raw: Any, key: str, *, non_empty: bool = False) -> list[str]:
    """``raw`` must be a list of non-empty strings (and not empty itself with ``non_empty``); the strings
    without surrounding white space."""
    return [x.strip() for x in checks.str_list(raw, key, non_empty=non_empty)]
