"""The package's dependency direction, checked on the source (module-level imports only).

The rules (``doseresponse/models/__init__.py`` tabulates the modules):

* ``radiobiology`` imports nothing from the modelling layers;
* ``models.results`` is the Bayesian leaf: no module-level import of ``checks``, ``plotting``,
  ``io``, ``model`` or the PyMC oracle (its delegating methods import on call);
* ``checks``, ``plotting`` and ``io`` depend on ``results``, never on each other's callers;
* only ``hierarchical``, ``tensor_curves``, ``pymc_sampling`` and ``late_hierarchical`` (the
  late-toxicity model's PyMC oracle, imported only by tests and ``LateToxicityModel.build``)
  import PyMC or PyTensor at module level (the default fit, a loaded fit, LOO and PPC never
  load them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "doseresponse"
PYMC_MODULES = {"doseresponse.models.hierarchical", "doseresponse.models.tensor_curves",
                "doseresponse.models.pymc_sampling",
                # the late-toxicity PyMC oracle; the fast path (late_density) never imports it
                "doseresponse.models.late_hierarchical"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported at module level (not inside functions or TYPE_CHECKING blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                test = ast.unparse(node.test)
                if "TYPE_CHECKING" not in test:
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)

    visit(tree.body)
    return found


MODULES = {_module_name(p): _top_level_imports(p) for p in PACKAGE.rglob("*.py")}


def _imports(module: str, prefix: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for name in MODULES[module])


RADIOBIOLOGY = sorted(m for m in MODULES if m.startswith("doseresponse.radiobiology"))


@pytest.mark.parametrize("module", RADIOBIOLOGY)
def test_radiobiology_does_not_import_the_modelling_layers(module):
    for layer in ("doseresponse.models", "doseresponse.prescribe", "doseresponse.cli",
                  "pymc", "pytensor", "arviz"):
        assert not _imports(module, layer), f"{module} imports {layer}"


def test_results_is_the_bayesian_leaf():
    for other in ("checks", "plotting", "io", "model", "hierarchical", "pymc_sampling"):
        assert not _imports("doseresponse.models.results", f"doseresponse.models.{other}")


@pytest.mark.parametrize("module", ["checks", "plotting", "io"])
def test_checks_plotting_io_depend_on_results_one_way(module):
    name = f"doseresponse.models.{module}"
    assert not _imports(name, "doseresponse.models.model")
    for other in {"checks", "plotting", "io"} - {module}:
        assert not _imports(name, f"doseresponse.models.{other}"), f"{name} imports {other}"


@pytest.mark.parametrize("module", sorted(set(MODULES) - PYMC_MODULES))
def test_only_the_oracle_modules_import_pymc_at_module_level(module):
    assert not _imports(module, "pymc"), module
    assert not _imports(module, "pytensor"), module
