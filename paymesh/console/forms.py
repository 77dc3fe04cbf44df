"""HTML forms generated from a config model's JSON Schema, and form data back to a document.

Nothing here knows a channel: titles, descriptions, enums (selects / checkboxes), formats
(`password`, `textarea`), `writeOnly` secrets and `$defs` come from the schema, so a new
channel's account model (or a new field) gets its form without console changes.

- `writeOnly` secrets render as empty password fields ("leave empty to keep" when a value is
  stored); an empty one is left out of the document, so the stored secret is kept.
- maps of objects (an app's routes) render as rows: key + one input per property.
- anything the generator has no widget for renders as a JSON textarea.
Validation is the model's own (server side, via ConfigRepository); errors come back by field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paymesh.console.html import esc

EXTRA_MAP_ROWS = 3


@dataclass(frozen=True)
class FieldSpec:
    name: str
    title: str
    description: str
    # text number password textarea select checkbox multi list (numbers, comma-separated)
    # lines (strings: one per line, or PEM blocks) map json const
    kind: str
    required: bool = False
    nullable: bool = False
    options: tuple[str, ...] = ()
    default: Any = None
    props: tuple[FieldSpec, ...] = field(default_factory=tuple)  # map value properties


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Inline `$ref` and collapse `anyOf [X, null]`, keeping the outer title/description."""
    out = dict(node)
    while "$ref" in out:
        ref = out.pop("$ref")
        target = root.get("$defs", {}).get(str(ref).rsplit("/", 1)[-1], {})
        out = {**target, **out}
    if "anyOf" in out:
        choices = [c for c in out["anyOf"] if c.get("type") != "null"]
        if len(choices) == 1:
            out = {**_resolve(choices[0], root), **{k: v for k, v in out.items() if k != "anyOf"}}
            out["nullable"] = True
    return out


def _kind(node: Mapping[str, Any], root: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    if node.get("writeOnly") or node.get("format") == "password":
        return "password", ()
    if "const" in node:
        return "const", (str(node["const"]),)
    if "enum" in node:
        return "select", tuple(str(v) for v in node["enum"])
    t = node.get("type")
    if t == "boolean":
        return "checkbox", ()
    if t in ("integer", "number"):
        return "number", ()
    if t == "string":
        return ("textarea" if node.get("format") == "textarea" else "text"), ()
    if t == "array":
        items = _resolve(node.get("items", {}), root)
        if "enum" in items:
            return "multi", tuple(str(v) for v in items["enum"])
        if items.get("type") == "string":
            return "lines", ()
        if items.get("type") in ("number", "integer"):
            return "list", ()
        return "json", ()
    if t == "object":
        value = node.get("additionalProperties")
        if isinstance(value, dict):
            resolved = _resolve(value, root)
            if resolved.get("type") == "object" and resolved.get("properties"):
                return "map", ()
    return "json", ()


def field_specs(schema: Mapping[str, Any]) -> list[FieldSpec]:
    """One FieldSpec per top-level property, in the model's order."""
    required = set(schema.get("required", []))
    specs: list[FieldSpec] = []
    for name, raw in schema.get("properties", {}).items():
        node = _resolve(raw, schema)
        kind, options = _kind(node, schema)
        props: tuple[FieldSpec, ...] = ()
        if kind == "map":
            value = _resolve(node["additionalProperties"], schema)
            props = tuple(field_specs(value))
        specs.append(
            FieldSpec(
                name=name,
                title=str(node.get("title") or name),
                description=str(node.get("description") or ""),
                kind=kind,
                required=name in required,
                nullable=bool(node.get("nullable")),
                options=options,
                default=node.get("default"),
                props=props,
            )
        )
    return specs


# ---- rendering ----


def _text_value(spec: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    if spec.kind == "list":
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if spec.kind == "lines":
        if isinstance(value, list):
            return "\n".join(str(v).rstrip("\n") for v in value)
        return str(value)
    if spec.kind == "json":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _input(spec: FieldSpec, name: str, value: Any, *, readonly: bool, secret_set: bool) -> str:
    fid = f"f-{name}"
    req = " required" if spec.required and spec.kind not in ("checkbox", "password") else ""
    ro = " readonly" if readonly else ""
    described = f' aria-describedby="d-{esc(name)}"' if spec.description else ""
    common = f'id="{esc(fid)}" name="{esc(name)}"{described}{req}{ro}'
    if spec.kind == "password":
        hint = "leave empty to keep" if secret_set else "not set"
        # A secret is never sent to the browser, not even masked.
        return f'<input type="password" {common} value="" autocomplete="new-password" placeholder="{hint}">'
    if spec.kind == "checkbox":
        checked = " checked" if value in (True, "true", "on", "1") else ""
        return f'<input type="hidden" name="{esc(name)}.present" value="1"><input type="checkbox" {common} value="on"{checked}>'
    if spec.kind == "select":
        opts = [] if spec.required else ['<option value="">–</option>']
        for o in spec.options:
            sel = " selected" if str(value) == o else ""
            opts.append(f'<option value="{esc(o)}"{sel}>{esc(o)}</option>')
        return f"<select {common}>{''.join(opts)}</select>"
    if spec.kind == "multi":
        chosen = {str(v) for v in value} if isinstance(value, list) else set()
        boxes = [f'<input type="hidden" name="{esc(name)}.present" value="1">']
        for o in spec.options:
            c = " checked" if o in chosen else ""
            boxes.append(
                f'<label class="opt"><input type="checkbox" name="{esc(name)}" value="{esc(o)}"{c}> {esc(o)}</label>'
            )
        return f'<span id="{esc(fid)}" class="multi">{"".join(boxes)}</span>'
    if spec.kind == "const":
        return f'<input type="text" {common} value="{esc(spec.options[0])}" readonly>'
    if spec.kind in ("textarea", "json", "lines"):
        rows = 4 if spec.kind == "json" else 6
        return f'<textarea {common} rows="{rows}" spellcheck="false">{esc(_text_value(spec, value))}</textarea>'
    itype = "number" if spec.kind == "number" else "text"
    step = ' step="any"' if spec.kind == "number" else ""
    return f'<input type="{itype}"{step} {common} value="{esc(_text_value(spec, value))}">'


def _map_rows(spec: FieldSpec, value: Any, errors: Mapping[str, str]) -> str:
    rows: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(value, dict):
        rows = [(str(k), v if isinstance(v, dict) else {}) for k, v in value.items()]
    elif isinstance(value, list):  # re-rendered submission: [(key, props)]
        rows = list(value)
    rows += [("", {})] * EXTRA_MAP_ROWS
    head = "".join(f"<th>{esc(p.title)}</th>" for p in spec.props)
    body = []
    for i, (key, props) in enumerate(rows):
        cells = [
            f'<td><input type="text" name="{esc(spec.name)}[{i}][key]" value="{esc(key)}" '
            f'aria-label="{esc(spec.title)} key {i + 1}"></td>'
        ]
        for p in spec.props:
            n = f"{spec.name}[{i}][{p.name}]"
            cells.append(
                f'<td><input type="text" name="{esc(n)}" value="{esc(props.get(p.name) or "")}" '
                f'aria-label="{esc(p.title)} {i + 1}"></td>'
            )
        err = errors.get(f"{spec.name}.{key}", "") if key else ""
        cells.append(f'<td class="error">{esc(err)}</td>' if err else "<td></td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="map" id="f-{esc(spec.name)}"><tr><th>key</th>{head}<th></th></tr>'
        f"{''.join(body)}</table>"
    )


def render_fields(
    specs: Iterable[FieldSpec],
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    *,
    readonly: Iterable[str] = (),
    secrets_set: Iterable[str] = (),
) -> str:
    """The form's fields (labels, inputs, descriptions, errors beside each field)."""
    ro, stored = set(readonly), set(secrets_set)
    out: list[str] = []
    for spec in specs:
        value = values.get(spec.name, spec.default)
        if spec.kind == "map":
            control = _map_rows(spec, value, errors)
        else:
            control = _input(
                spec, spec.name, value, readonly=spec.name in ro, secret_set=spec.name in stored
            )
        own = errors.get(spec.name, "")
        nested = [
            f"{k.removeprefix(spec.name + '.')}: {v}"
            for k, v in errors.items()
            if k.startswith(spec.name + ".") and spec.kind != "map"
        ]
        err_text = "; ".join([own, *nested] if own else nested)
        err = f'<p class="error" id="err-{esc(spec.name)}">{esc(err_text)}</p>' if err_text else ""
        desc = (
            f'<p class="desc" id="d-{esc(spec.name)}">{esc(spec.description)}</p>'
            if spec.description
            else ""
        )
        req = ' <span class="req" title="required">*</span>' if spec.required else ""
        out.append(
            f'<div class="field{" has-error" if err else ""}" data-field="{esc(spec.name)}">'
            f'<label for="f-{esc(spec.name)}">{esc(spec.title)}{req}</label>'
            f"{control}{desc}{err}</div>"
        )
    return "".join(out)


# ---- parsing ----


def parse_form(specs: Iterable[FieldSpec], form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Form data (aiohttp MultiDict) -> (document for the model, errors of unparsable input).

    Empty password fields are left out (the stored secret is kept); empty optional fields
    are left out (the model's default) or None when the schema allows null.
    """
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        name = spec.name
        if spec.kind == "checkbox":
            if form.get(f"{name}.present") is not None or name in form:
                data[name] = name in form
            continue
        if spec.kind == "multi":
            if form.get(f"{name}.present") is not None:
                data[name] = list(form.getall(name, []))
            continue
        if spec.kind == "map":
            data[name] = _parse_map(spec, form)
            continue
        raw = form.get(name)
        if raw is None or spec.kind == "const":
            continue
        text = str(raw)
        if spec.kind == "password":
            if text:
                data[name] = text
            continue
        stripped = text.strip()
        if stripped == "" and not spec.required:
            if spec.nullable:
                data[name] = None
            elif spec.kind in ("text", "textarea"):
                data[name] = ""
            continue
        if spec.kind == "list":
            data[name] = [p.strip() for p in stripped.replace("\n", ",").split(",") if p.strip()]
        elif spec.kind == "lines":
            data[name] = split_lines(text)
        elif spec.kind == "json":
            try:
                data[name] = json.loads(stripped)
            except json.JSONDecodeError as e:
                errors[name] = f"not valid JSON: {e.msg} (line {e.lineno})"
        elif spec.kind == "textarea":
            data[name] = text.replace("\r\n", "\n")
        else:
            data[name] = stripped
    return data, errors


_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)


def split_lines(text: str) -> list[str]:
    """A list of strings typed one per line; PEM blocks (certificates) are kept whole."""
    text = text.replace("\r\n", "\n")
    if "-----BEGIN " in text:
        return [m.group(0) + "\n" for m in _PEM.finditer(text)]
    return [line.strip() for line in text.split("\n") if line.strip()]


def _parse_map(spec: FieldSpec, form: Any) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    i = 0
    while f"{spec.name}[{i}][key]" in form:
        key = str(form.get(f"{spec.name}[{i}][key]", "")).strip()
        props = {
            p.name: str(form.get(f"{spec.name}[{i}][{p.name}]", "")).strip() for p in spec.props
        }
        if key:
            out[key] = {k: v for k, v in props.items() if v}
        i += 1
    return out


def submitted_values(specs: Iterable[FieldSpec], form: Any) -> dict[str, Any]:
    """What the operator typed, to re-render a form after an error (never secrets)."""
    values: dict[str, Any] = {}
    for spec in specs:
        if spec.kind == "password":
            continue
        if spec.kind == "checkbox":
            values[spec.name] = spec.name in form
        elif spec.kind == "multi":
            values[spec.name] = list(form.getall(spec.name, []))
        elif spec.kind == "map":
            rows = []
            i = 0
            while f"{spec.name}[{i}][key]" in form:
                key = str(form.get(f"{spec.name}[{i}][key]", ""))
                props = {
                    p.name: str(form.get(f"{spec.name}[{i}][{p.name}]", "")) for p in spec.props
                }
                if key or any(props.values()):
                    rows.append((key, props))
                i += 1
            values[spec.name] = rows
        elif spec.name in form:
            values[spec.name] = str(form.get(spec.name))
    return values


__all__ = [
    "FieldSpec",
    "field_specs",
    "parse_form",
    "render_fields",
    "split_lines",
    "submitted_values",
]
