"""The WooCommerce -> HubSpot mapping configuration: load and validate ``mapping.yaml``
into frozen dataclasses, and check the deal stage table against the portal's pipelines."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from woohub.mapping import config_checks as checks
from woohub.mapping.config_checks import MappingConfigError
from woohub.mapping.transforms import CURRENCY_TRANSFORMS, TRANSFORMS

DEFAULT_MAPPING_PATH = Path(__file__).with_name("mapping.yaml")

# The order statuses of WooCommerce core (wc_get_order_statuses() without the "wc-" prefix, plus trash).
WOO_ORDER_STATUSES: tuple[str, ...] = (
    "pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash",
    "checkout-draft",
)  # fmt: skip

OBJECTS: tuple[str, ...] = ("products", "contacts", "deals", "line_items")

# "@" sources each mapping module computes (documented in the YAML).
DERIVED_SOURCES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "products": frozenset({"@name", "@own_sku", "@store_currency"}),
        "contacts": frozenset(
            f"@address.{f}" for f in ("address_1", "address_2", "city", "state", "postcode", "country")
        ),
        "deals": frozenset({"@pipeline", "@dealstage"}),
        "line_items": frozenset({"@quantity", "@unit_price", "@unit_discount", "@line_type"}),
    }
)

# HubSpot refuses to create the object without these.
REQUIRED_PROPERTIES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "products": frozenset({"name"}),
        "contacts": frozenset({"email"}),
        "deals": frozenset({"dealname", "pipeline", "dealstage"}),
        "line_items": frozenset({"name", "quantity", "price"}),
    }
)

HUBSPOT_TYPES = frozenset({"bool", "enumeration", "date", "datetime", "string", "number"})
HUBSPOT_FIELD_TYPES = frozenset(
    {"booleancheckbox", "calculation_equation", "checkbox", "date", "file", "html", "number",
     "phonenumber", "radio", "select", "text", "textarea"}
)  # fmt: skip
MAX_UNIQUE_PROPERTIES = 10


class StageMappingError(ValueError):
    """WooCommerce order statuses without a deal stage, or stage ids the HubSpot pipeline lacks."""

    def __init__(
        self, message: str, missing_statuses: Sequence[str] = (), unknown_stages: Sequence[str] = ()
    ):
        super().__init__(message)
        self.missing_statuses = tuple(missing_statuses)
        self.unknown_stages = tuple(unknown_stages)


@dataclass(frozen=True)
class PropertySpec:
    """How one HubSpot property is computed: from ``sources`` (first non-empty, or all joined with
    ``join``) or from a ``template``, through the named ``transform``, with ``default`` when empty.
    ``currency`` is the path of the row's ISO currency code for currency-aware transforms (money);
    ``hubspot_type`` the property's HubSpot type when known (``date`` values are sent as the UTC day)."""

    name: str
    sources: tuple[str, ...] = ()
    template: str | None = None
    transform: str = "str"
    join: str | None = None
    default: str | None = None
    currency: str | None = None
    hubspot_type: str | None = None

    def paths(self) -> tuple[str, ...]:
        """The payload paths this property reads (sources or the template's placeholders, and currency)."""
        if self.template is None:
            read = self.sources
        else:
            read = tuple(field for _, field, _, _ in string.Formatter().parse(self.template) if field)
        return read + ((self.currency,) if self.currency else ())


@dataclass(frozen=True)
class ObjectMapping:
    """The property specs of one HubSpot object type, in YAML order."""

    properties: tuple[PropertySpec, ...]

    def paths(self) -> frozenset[str]:
        """Every payload path (not the computed "@" ones) the properties read."""
        return frozenset(p for spec in self.properties for p in spec.paths() if not p.startswith("@"))


@dataclass(frozen=True)
class ProductSettings:
    mapping: ObjectMapping
    archive_statuses: frozenset[str]


@dataclass(frozen=True)
class ContactSettings:
    mapping: ObjectMapping
    address_sources: tuple[str, ...]


@dataclass(frozen=True)
class DealSettings:
    mapping: ObjectMapping
    pipeline: str
    stages: Mapping[str, Mapping[str, str]]
    extra_order_statuses: tuple[str, ...]

    @property
    def stage_table(self) -> Mapping[str, str]:
        """WooCommerce order status -> deal stage id for the configured pipeline."""
        return self.stages[self.pipeline]

    @property
    def order_statuses(self) -> tuple[str, ...]:
        """Every order status that needs a stage: WooCommerce core ones plus the configured extras."""
        return WOO_ORDER_STATUSES + tuple(s for s in self.extra_order_statuses if s not in WOO_ORDER_STATUSES)

    @property
    def staged_order_statuses(self) -> tuple[str, ...]:
        """The order statuses the stage table gives a deal stage (core, plugin extras, any other key):
        the statuses an order may have to be loaded. Sorted."""
        return tuple(sorted(status for status, stage in self.stage_table.items() if stage))


@dataclass(frozen=True)
class LineItemSettings:
    mapping: ObjectMapping
    include_shipping_lines: bool
    include_fee_lines: bool
    include_tax_lines: bool


@dataclass(frozen=True)
class CustomProperty:
    """A custom HubSpot property definition (the body of ``POST /crm/v3/properties/{object_type}``)."""

    object_type: str
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    has_unique_value: bool

    def to_hubspot(self) -> dict[str, Any]:
        """The property as HubSpot's create body."""
        return {"name": self.name, "label": self.label, "type": self.type, "fieldType": self.field_type,
                "groupName": self.group_name, "hasUniqueValue": self.has_unique_value}  # fmt: skip


@dataclass(frozen=True)
class MappingConfig:
    """The whole validated mapping."""

    products: ProductSettings
    contacts: ContactSettings
    deals: DealSettings
    line_items: LineItemSettings
    custom_properties: tuple[CustomProperty, ...]

    def custom_properties_for(self, object_type: str) -> tuple[CustomProperty, ...]:
        """The custom property definitions of one object type (products, contacts, deals, line_items)."""
        return tuple(p for p in self.custom_properties if p.object_type == object_type)


def load_mapping(path: Path | None = None) -> MappingConfig:
    """Read and validate the mapping YAML (default: the packaged ``mapping.yaml``).

    Raises ``MappingConfigError`` naming the bad key when the file is not a valid mapping."""
    return parse_mapping(checks.read_yaml(path or DEFAULT_MAPPING_PATH))


def parse_mapping(raw: Any) -> MappingConfig:
    """Validate an already parsed mapping document and build the ``MappingConfig``."""
    doc = checks.versioned_document(raw, {*OBJECTS, "custom_properties"})
    custom = _custom_properties(doc.get("custom_properties", {}))
    config = MappingConfig(
        products=_products(checks.section(doc, "products")),
        contacts=_contacts(checks.section(doc, "contacts")),
        deals=_deals(checks.section(doc, "deals")),
        line_items=_line_items(checks.section(doc, "line_items")),
        custom_properties=custom,
    )
    _check_custom_properties_declared(config)
    return _with_custom_types(config)


def _with_custom_types(config: MappingConfig) -> MappingConfig:
    """Give each mapped custom property the HubSpot ``type`` of its ``custom_properties`` definition (a
    property entry's own ``type`` must agree)."""
    sections = {}
    for object_type in OBJECTS:
        settings = getattr(config, object_type)
        types = {p.name: p.type for p in config.custom_properties_for(object_type)}
        specs = []
        for spec in settings.mapping.properties:
            declared = types.get(spec.name)
            if declared and spec.hubspot_type and spec.hubspot_type != declared:
                raise MappingConfigError(
                    f"{object_type}.properties.{spec.name}.type: {spec.hubspot_type!r} but custom_properties."
                    f"{object_type} defines it as {declared!r}"
                )
            specs.append(replace(spec, hubspot_type=spec.hubspot_type or declared))
        sections[object_type] = replace(settings, mapping=ObjectMapping(tuple(specs)))
    return replace(config, **sections)


def check_stage_table(config: MappingConfig, pipelines: list[dict[str, Any]]) -> None:
    """Check the configured stage table against HubSpot's deal pipelines (``GET /crm/v3/pipelines/deals``
    ``results``). Raises ``StageMappingError`` naming every order status without a stage and every
    mapped stage id that the configured pipeline does not have."""
    deals = config.deals
    table = deals.stage_table
    missing = [status for status in deals.order_statuses if not table.get(status)]
    pipeline = next((p for p in pipelines if str(p.get("id")) == deals.pipeline), None)
    known = {str(stage.get("id")) for stage in (pipeline or {}).get("stages", [])}
    unknown = sorted({stage for stage in table.values() if stage not in known})
    problems = []
    if missing:
        problems.append("WooCommerce order statuses without a deal stage: " + ", ".join(missing))
    if pipeline is None:
        available = ", ".join(sorted(str(p.get("id")) for p in pipelines)) or "none"
        problems.append(f"pipeline {deals.pipeline!r} does not exist in HubSpot (pipelines: {available})")
    elif unknown:
        users = {s: sorted(k for k, v in table.items() if v == s) for s in unknown}
        listed = ", ".join(f"{s!r} (for {', '.join(users[s])})" for s in unknown)
        problems.append(f"stage ids not in HubSpot pipeline {deals.pipeline!r}: {listed}; "
                        f"its stages are: {', '.join(sorted(known))}")  # fmt: skip
    if problems:
        message = f"deals.stages.{deals.pipeline}: " + "; ".join(problems)
        raise StageMappingError(message, missing, unknown if pipeline is not None else ())


# ----------------------------------------------------------------------------------------- sections


def _products(section: Mapping[str, Any]) -> ProductSettings:
    """The ``products`` section."""
    checks.no_unknown_keys(section, "products", {"properties", "archive_statuses"})
    return ProductSettings(
        mapping=_object_mapping(section, "products"),
        archive_statuses=frozenset(
            checks.str_list(section.get("archive_statuses", ["trash"]), "products.archive_statuses")
        ),
    )


def _contacts(section: Mapping[str, Any]) -> ContactSettings:
    """The ``contacts`` section."""
    checks.no_unknown_keys(section, "contacts", {"properties", "address_sources"})
    sources = tuple(
        checks.str_list(section.get("address_sources", ["billing", "shipping"]), "contacts.address_sources")
    )
    bad = [s for s in sources if s not in ("billing", "shipping")]
    if bad or not sources:
        raise MappingConfigError(
            f"contacts.address_sources: must list billing and/or shipping, got {sources!r}"
        )
    return ContactSettings(mapping=_object_mapping(section, "contacts"), address_sources=sources)


def _deals(section: Mapping[str, Any]) -> DealSettings:
    """The ``deals`` section: pipeline, stage tables per pipeline, extra statuses, properties."""
    checks.no_unknown_keys(section, "deals", {"properties", "pipeline", "stages", "extra_order_statuses"})
    pipeline = checks.text(section.get("pipeline"), "deals.pipeline")
    stages_raw = checks.mapping(section.get("stages"), "deals.stages")
    stages: dict[str, Mapping[str, str]] = {}
    for pipeline_id, table in stages_raw.items():
        key = f"deals.stages.{pipeline_id}"
        entries = checks.mapping(table, key)
        stages[str(pipeline_id)] = MappingProxyType(
            {str(status): checks.text(stage, f"{key}.{status}") for status, stage in entries.items()}
        )
    if pipeline not in stages:
        raise MappingConfigError(f"deals.pipeline: {pipeline!r} has no table under deals.stages")
    extra = tuple(checks.str_list(section.get("extra_order_statuses", []), "deals.extra_order_statuses"))
    return DealSettings(
        mapping=_object_mapping(section, "deals"),
        pipeline=pipeline,
        stages=MappingProxyType(stages),
        extra_order_statuses=extra,
    )


def _line_items(section: Mapping[str, Any]) -> LineItemSettings:
    """The ``line_items`` section."""
    checks.no_unknown_keys(
        section, "line_items", {"properties", "include_shipping_lines", "include_fee_lines", "include_tax_lines"}
    )
    return LineItemSettings(
        mapping=_object_mapping(section, "line_items"),
        include_shipping_lines=checks.boolean(
            section.get("include_shipping_lines", True), "line_items.include_shipping_lines"
        ),
        include_fee_lines=checks.boolean(
            section.get("include_fee_lines", True), "line_items.include_fee_lines"
        ),
        include_tax_lines=checks.boolean(
            section.get("include_tax_lines", True), "line_items.include_tax_lines"
        ),
    )


def _object_mapping(section: Mapping[str, Any], object_type: str) -> ObjectMapping:
    """The ``properties`` of one object section, each validated; required HubSpot properties present."""
    raw = checks.mapping(section.get("properties"), f"{object_type}.properties")
    specs = tuple(_property(object_type, str(name), value) for name, value in raw.items())
    missing = sorted(REQUIRED_PROPERTIES[object_type] - {s.name for s in specs})
    if missing:
        raise MappingConfigError(f"{object_type}.properties: missing required {', '.join(missing)}")
    return ObjectMapping(specs)


def _property(object_type: str, name: str, raw: Any) -> PropertySpec:
    """One property spec: exactly one of source/template, a known transform, known "@" sources."""
    key = f"{object_type}.properties.{name}"
    spec = checks.mapping(raw, key)
    checks.no_unknown_keys(
        spec, key, {"source", "template", "transform", "join", "default", "currency", "type"}
    )
    if ("source" in spec) == ("template" in spec):
        raise MappingConfigError(f"{key}: give exactly one of 'source' or 'template'")
    transform = checks.text(spec.get("transform", "str"), f"{key}.transform")
    if transform not in TRANSFORMS:
        raise MappingConfigError(
            f"{key}.transform: unknown transform {transform!r} (known: {', '.join(TRANSFORMS)})"
        )
    result = PropertySpec(
        name=name,
        sources=_sources(spec.get("source"), f"{key}.source") if "source" in spec else (),
        template=_template(spec["template"], f"{key}.template") if "template" in spec else None,
        transform=transform,
        join=checks.text(spec["join"], f"{key}.join", allow_empty=True) if "join" in spec else None,
        default=_scalar_str(spec["default"], f"{key}.default") if "default" in spec else None,
        currency=checks.text(spec["currency"], f"{key}.currency").strip() if "currency" in spec else None,
        hubspot_type=checks.text(spec["type"], f"{key}.type") if "type" in spec else None,
    )
    if result.currency is not None and transform not in CURRENCY_TRANSFORMS:
        raise MappingConfigError(
            f"{key}.currency: only for the transforms {', '.join(sorted(CURRENCY_TRANSFORMS))}, not {transform!r}"
        )
    if result.hubspot_type is not None and result.hubspot_type not in HUBSPOT_TYPES:
        raise MappingConfigError(f"{key}.type: unknown HubSpot type {result.hubspot_type!r}")
    unknown = [p for p in result.paths() if p.startswith("@") and p not in DERIVED_SOURCES[object_type]]
    if unknown:
        known = ", ".join(sorted(DERIVED_SOURCES[object_type]))
        raise MappingConfigError(f"{key}: unknown computed source {unknown[0]!r} (known: {known})")
    return result


def _sources(raw: Any, key: str) -> tuple[str, ...]:
    """``source``: one dotted path or a non-empty list of them."""
    paths = [raw] if isinstance(raw, str) else checks.str_list(raw, key)
    if not paths or any(not isinstance(p, str) or not p.strip() for p in paths):
        raise MappingConfigError(f"{key}: must be a dotted path or a non-empty list of paths")
    return tuple(p.strip() for p in paths)


def _template(raw: Any, key: str) -> str:
    """``template``: text with ``{path}`` placeholders only (no format specs or conversions)."""
    text = checks.text(raw, key)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise MappingConfigError(f"{key}: {exc}") from exc
    for _, field, spec, conversion in parts:
        if field == "" or spec or conversion:
            raise MappingConfigError(f"{key}: placeholders must be plain {{path}}, got {text!r}")
    return text


def _custom_properties(raw: Any) -> tuple[CustomProperty, ...]:
    """``custom_properties``: per object type, a list of HubSpot property definitions."""
    sections = checks.mapping(raw, "custom_properties")
    checks.no_unknown_keys(sections, "custom_properties", set(OBJECTS))
    result: list[CustomProperty] = []
    for object_type, items in sections.items():
        key = f"custom_properties.{object_type}"
        if not isinstance(items, list):
            raise MappingConfigError(f"{key}: must be a list")
        defined = [_custom_property(object_type, item, f"{key}[{i}]") for i, item in enumerate(items)]
        names = [p.name for p in defined]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise MappingConfigError(f"{key}: duplicate property {', '.join(duplicates)}")
        if sum(p.has_unique_value for p in defined) > MAX_UNIQUE_PROPERTIES:
            raise MappingConfigError(
                f"{key}: HubSpot allows at most {MAX_UNIQUE_PROPERTIES} unique properties"
            )
        result.extend(defined)
    return tuple(result)


def _custom_property(object_type: str, raw: Any, key: str) -> CustomProperty:
    """One custom property definition with HubSpot's required fields and known type/fieldType."""
    item = checks.mapping(raw, key)
    fields = {"name", "label", "type", "fieldType", "groupName", "hasUniqueValue"}
    checks.no_unknown_keys(item, key, fields)
    absent = sorted(fields - set(item))
    if absent:
        raise MappingConfigError(f"{key}: missing {', '.join(absent)}")
    prop = CustomProperty(
        object_type=object_type,
        name=checks.text(item["name"], f"{key}.name"),
        label=checks.text(item["label"], f"{key}.label"),
        type=checks.text(item["type"], f"{key}.type"),
        field_type=checks.text(item["fieldType"], f"{key}.fieldType"),
        group_name=checks.text(item["groupName"], f"{key}.groupName"),
        has_unique_value=checks.boolean(item["hasUniqueValue"], f"{key}.hasUniqueValue"),
    )
    if prop.type not in HUBSPOT_TYPES:
        raise MappingConfigError(f"{key}.type: unknown HubSpot type {prop.type!r}")
    if prop.field_type not in HUBSPOT_FIELD_TYPES:
        raise MappingConfigError(f"{key}.fieldType: unknown HubSpot fieldType {prop.field_type!r}")
    return prop


def _check_custom_properties_declared(config: MappingConfig) -> None:
    """Every mapped ``woo_*`` property must be defined under ``custom_properties`` (the loader creates it)."""
    for object_type in OBJECTS:
        defined = {p.name for p in config.custom_properties_for(object_type)}
        mapping: ObjectMapping = getattr(config, object_type).mapping
        for spec in mapping.properties:
            if spec.name.startswith("woo_") and spec.name not in defined:
                raise MappingConfigError(
                    f"{object_type}.properties.{spec.name}: custom property is not defined under "
                    f"custom_properties.{object_type}"
                )


# ------------------------------------------------------------------------------------------ helpers


def _scalar_str(raw: Any, key: str) -> str:
    """A string, number or bool written as text (``default: 0`` -> "0")."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, str | int | float):
        return str(raw)
    raise MappingConfigError(f"{key}: must be a scalar, got {type(raw).__name__}")
