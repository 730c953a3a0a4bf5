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


def test_only_steps_pipelines_and_tools_import_zenml() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files("llm_engineering")
        for module in imported_modules(path)
        if module.split(".")[0] == "zenml"
    ]
    assert not offenders, "\n".join(offenders)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from llm_engineering.infrastructure.settings import Settings\n")
    assert "llm_engineering.infrastructure.settings" in imported_modules(module)
