"""Each layer imports only the layers below it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OWN = ("llm_engineering", "steps", "pipelines", "tools")
ALLOWED_THIRD_PARTY = {"domain": {"pydantic"}, "application": {"pydantic", "loguru", "jinja2"}}
# What each package may import of our own code.
ALLOWED_OWN = {
    "domain": {"llm_engineering.domain"},
    "application": {"llm_engineering.domain", "llm_engineering.application"},
    "infrastructure": {"llm_engineering"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def is_stdlib(module: str) -> bool:
    import sys

    return module.split(".")[0] in sys.stdlib_module_names


@pytest.mark.parametrize("layer", ["domain", "application", "infrastructure"])
def test_layer_imports_only_what_it_may(layer: str) -> None:
    offenders = []
    for path in python_files(f"llm_engineering/{layer}"):
        for module in imported_modules(path):
            if module.split(".")[0] in OWN:
                ok = any(module == p or module.startswith(p + ".") for p in ALLOWED_OWN[layer])
            elif layer in ALLOWED_THIRD_PARTY:
                ok = is_stdlib(module) or module.split(".")[0] in ALLOWED_THIRD_PARTY[layer]
            else:
                ok = True
            if not ok:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offenders, "\n".join(offenders)


def offenders_importing(top: str, packages: tuple[str, ...], allowed: tuple[str, ...]) -> list[str]:
    """Files of `packages` outside the `allowed` paths that import the top-level module `top`."""
    return [
        f"{path.relative_to(ROOT)} imports {module}"
        for package in packages
        for path in python_files(package)
        if not any(str(path.relative_to(ROOT)).startswith(prefix) for prefix in allowed)
        for module in imported_modules(path)
        if module.split(".")[0] == top
    ]


def test_zenml_is_imported_only_by_steps_pipelines_tools_and_the_registry_adapter() -> None:
    allowed = ("steps/", "pipelines/", "tools/", "llm_engineering/infrastructure/model_registry.py")
    assert not offenders_importing("zenml", OWN, allowed)


def test_fastapi_is_imported_only_by_the_api_package() -> None:
    assert not offenders_importing("fastapi", OWN, ("llm_engineering/infrastructure/api/",))


def test_steps_and_pipelines_never_import_the_cli() -> None:
    assert not offenders_importing("tools", ("steps", "pipelines", "llm_engineering"), ())


# Where adapters (classes that talk to a store, a model or a service) are defined; only the composition
# root and the adapters' own packages construct them.
ADAPTER_PACKAGES = (
    "llm_engineering/infrastructure/warehouse",
    "llm_engineering/infrastructure/monitoring/feedback_store.py",
    "llm_engineering/infrastructure/monitoring/opik.py",
    "llm_engineering/infrastructure/llm",
    "llm_engineering/infrastructure/vector_index",
    "llm_engineering/infrastructure/embeddings.py",
    "llm_engineering/infrastructure/reranking.py",
    "llm_engineering/infrastructure/model_registry.py",
)


def adapter_classes() -> set[str]:
    names = set()
    for place in ADAPTER_PACKAGES:
        target = ROOT / place
        for path in [target] if target.is_file() else sorted(target.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names |= {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    return names


def test_steps_tools_and_the_api_ask_the_composition_root_for_adapters() -> None:
    adapters = adapter_classes()
    assert {"MongoWarehouse", "TransformersChatModel", "ZenMLModelRegistry"} <= adapters
    offenders = []
    for package in ("steps", "pipelines", "tools", "llm_engineering/infrastructure/api"):
        for path in python_files(package):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                called = node.func if isinstance(node, ast.Call) else None
                name = getattr(called, "id", None) or getattr(called, "attr", None)
                if name in adapters:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} builds {name}")
    assert not offenders, "\n".join(offenders)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from llm_engineering.infrastructure.settings import Settings\n")
    assert "llm_engineering.infrastructure.settings" in imported_modules(module)


def test_every_crawler_the_link_table_names_is_built_by_the_composition_root() -> None:
    from llm_engineering.domain.crawling import LINK_PATTERNS, CrawlConfig
    from llm_engineering.infrastructure.container import crawler_factories
    from llm_engineering.infrastructure.settings import Settings

    # The factories are lazy, so building the table starts no browser and opens no connection.
    factories = crawler_factories(CrawlConfig(), Settings(_env_file=None))  # type: ignore[call-arg]
    assert set(LINK_PATTERNS.values()) == set(factories)
