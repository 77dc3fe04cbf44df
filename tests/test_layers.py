"""The import graph of the `paymesh` package: layers point one way and nothing is a cycle.

Layers, lowest first (a module may import its own area and any lower layer, nothing else):

    errors, catalog, rsa, ids, money, the package root, generated protos
    runtime                       logging, settings, context, server, status
    config                        typed config in etcd/file, the config factory
    core | channels               the money state machine | the provider adapters (siblings)
    gateway | callback | order_monitor | notify | console | recon | cashier  the services (siblings)
    testing                       real-server fixtures (also used by dev and bench)
    deploy                        k8s manifests rendered from the service registry
    dev, then bench, then cli     developer entry points

Inside `channels`, one provider's package never imports another's, and nothing but the
sandbox and the registry/serve glue imports the sandbox.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "paymesh"
GENERATED = {"channel", "merchant", "common", "events", "ops"}
LAYERS: list[set[str]] = [
    {"", "errors", "catalog", "rsa", "ids", "money", *GENERATED},
    {"runtime"},
    {"config"},
    {"core", "channels"},
    {"gateway", "callback", "order_monitor", "notify", "console", "recon", "cashier"},
    {"testing"},
    {"deploy"},
    {"dev"},
    {"bench"},
    {"cli"},
]
PROVIDERS = {"wechat", "alipay", "unionpay"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    paths = (
        Path(d, f)
        for d, _, files in os.walk(ROOT, followlinks=True)  # the symlinked top-level folders
        for f in files
        if f.endswith(".py")
    )
    for path in paths:
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts[1:2] and parts[1] in GENERATED:
            continue
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(target: str) -> str | None:
    """The paymesh module `target` names (a package, module, or a name inside one)."""
    while target:
        if target in MODULES:
            return target
        target = target.rpartition(".")[0]
    return None


def _type_only(tree: ast.Module) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:` (annotations only, never run)."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for stmt in node.body
        for inner in ast.walk(stmt)
    }


def _imports(module: str, path: Path, *, typing: bool) -> Iterator[str]:
    """What `module` imports; `typing` includes the imports under `if TYPE_CHECKING:`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skip = set() if typing else _type_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names = [f"{base}.{a.name}" for a in node.names] or [base]
        else:
            continue
        for name in names:
            if name == "paymesh" or name.startswith("paymesh."):
                yield name


def _generated(name: str) -> bool:
    parts = name.split(".")
    return len(parts) > 1 and parts[1] in GENERATED


def _graph(*, typing: bool) -> dict[str, set[str]]:
    return {
        m: {
            t
            for n in _imports(m, p, typing=typing)
            if not _generated(n) and (t := _resolve(n)) and t != m
        }
        for m, p in MODULES.items()
    }


GRAPH = _graph(typing=True)  # layers: type-only imports count too
RUNTIME_GRAPH = _graph(typing=False)  # cycles: what runs when a module is imported


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(area: str) -> int:
    for i, layer in enumerate(LAYERS):
        if area in layer:
            return i
    raise AssertionError(f"paymesh.{area} is in no layer of tests/test_layers.py: place it")


def test_every_area_has_a_layer() -> None:
    for module in MODULES:
        _layer(_area(module))


def test_imports_point_down() -> None:
    upward = sorted(
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        for t in targets
        if _area(m) != _area(t) and _layer(_area(t)) >= _layer(_area(m))
    )
    assert upward == [], "imports that point up or sideways:\n" + "\n".join(upward)


def _provider(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "channels" and parts[2] in {*PROVIDERS, "sandbox"}:
        return parts[2]
    return None


def test_channel_packages_stay_apart() -> None:
    crossing = sorted(
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        for t in targets
        if (a := _provider(m)) in PROVIDERS and (b := _provider(t)) is not None and a != b
    )
    assert crossing == [], "a channel imports another channel or the sandbox:\n" + "\n".join(
        crossing
    )


def test_no_import_cycle() -> None:
    seen: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[str] = []

    def visit(m: str) -> None:
        seen.add(m)
        stack.append(m)
        on_stack.add(m)
        for t in sorted(RUNTIME_GRAPH[m]):
            if t in on_stack:
                cycles.append(" -> ".join([*stack[stack.index(t) :], t]))
            elif t not in seen:
                visit(t)
        stack.pop()
        on_stack.discard(m)

    for m in sorted(RUNTIME_GRAPH):
        if m not in seen:
            visit(m)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize(
    ("module", "target", "check"),
    [
        ("paymesh.runtime.server", "paymesh.core.db.models", test_imports_point_down),
        ("paymesh.core.db.migrations.env", "paymesh.notify.store", test_imports_point_down),
        ("paymesh.notify.relay", "paymesh.gateway.orders", test_imports_point_down),
        ("paymesh.core.db.models", "paymesh.channels.transport", test_imports_point_down),
        (
            "paymesh.channels.alipay.adapter",
            "paymesh.channels.wechat.adapter",
            test_channel_packages_stay_apart,
        ),
        ("paymesh.core.db.models", "paymesh.core.db.store", test_no_import_cycle),
    ],
)
def test_the_checks_catch_a_wrong_arrow(
    module: str, target: str, check: Callable[[], None]
) -> None:
    """Each check fails on an arrow of the kind it forbids."""
    assert target in MODULES
    before = set(GRAPH[module]), set(RUNTIME_GRAPH[module])
    GRAPH[module].add(target)
    RUNTIME_GRAPH[module].add(target)
    try:
        with pytest.raises(AssertionError):
            check()
    finally:
        GRAPH[module], RUNTIME_GRAPH[module] = before
