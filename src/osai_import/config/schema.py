"""Describe the config's shape as a JSON Schema, with each registered plugin's options."""

from __future__ import annotations

from typing import Any

from osai_import.config.models import AnnotationsConfig, RunConfig, SourceSection
from osai_import.plugin.manager import Plugins
from osai_import.plugin.registry import Registry


def _rename_defs(schema: Any, renames: dict[str, str]) -> Any:
    if isinstance(schema, dict):
        out = {k: _rename_defs(v, renames) for k, v in schema.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in renames:
            out["$ref"] = "#/$defs/" + renames[ref[8:]]
        return out
    if isinstance(schema, list):
        return [_rename_defs(v, renames) for v in schema]
    return schema


def _plugin_variants(
    registry: Registry[Any], defs: dict[str, Any], default: str | None = None
) -> list[dict[str, Any]]:
    variants = []
    for entry in registry:
        options = entry.cls.Options.model_json_schema(ref_template="#/$defs/{model}")
        own_defs = options.pop("$defs", {})
        # Two plugins may both name a nested model `Column`: keep both, apart.
        renames = {
            k: f"{entry.name}.{k}" for k, v in own_defs.items() if k in defs and defs[k] != v
        }
        options = _rename_defs(options, renames)
        for key, value in own_defs.items():
            defs[renames.get(key, key)] = _rename_defs(value, renames)
        properties = {"type": {"const": entry.name, "description": entry.description}}
        properties.update(options.get("properties", {}))
        required = list(options.get("required", []))
        variants.append(
            {
                "title": f"{registry.kind} {entry.name}",
                "description": entry.description,
                "type": "object",
                "properties": properties,
                "required": required if entry.name == default else ["type", *required],
                "additionalProperties": False,
            }
        )
    return variants


def config_schema(plugins: Plugins) -> dict[str, Any]:
    """Return the JSON Schema of a config, with `source`/`annotations` per registered plugin."""
    schema = RunConfig.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    props = schema["properties"]
    default_encoder = AnnotationsConfig.model_fields["type"].default
    readers = _plugin_variants(plugins.readers, defs)
    encoders = _plugin_variants(plugins.encoders, defs, default_encoder)
    if readers:
        shared = SourceSection.model_json_schema()["properties"]
        for variant in readers:
            variant["properties"]["label"] = shared["label"]
            variant["properties"]["storage_options"] = shared["storage_options"]
        defs["Source"] = {"oneOf": readers}
        props["source"] = {
            "description": "the dataset's layout: `type` names a registered reader, its "
            "options sit beside it; or a list of them, all into one dataset",
            "anyOf": [
                {"$ref": "#/$defs/Source"},
                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Source"}},
            ],
        }
    if encoders:
        props["annotations"] = {
            "description": f"the annotation format: a registered encoder (default "
            f"{default_encoder}), or just its name",
            "oneOf": [*encoders, {"type": "string", "enum": [e.name for e in plugins.encoders]}],
        }
    if readers:
        # Replaced by the readers' own variants.
        defs.pop("PluginSection", None)
        defs.pop("SourceSection", None)
    if encoders:
        defs.pop("AnnotationsConfig", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "osai-import config"
    return schema
