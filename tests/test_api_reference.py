"""The API reference covers every public name, and every public callable has a numpydoc docstring.

Fast: no Sphinx build. The public names are computed here independently of the generator
(``docs/api_pages.py``, run by ``docs/conf.py``): every module under ``doseresponse`` with no
dotted part starting with ``_``, its ``__all__``, and the top-level lazy names.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import doseresponse

GENERATOR = Path(__file__).resolve().parents[1] / "docs" / "api_pages.py"
SECTION = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n-{3,}$", re.MULTILINE)
# a numpydoc parameter line: "name : type", "a, b : float", "*args", "**kwargs"
PARAM_LINE = re.compile(r"^(?P<names>\*{0,2}[A-Za-z_]\w*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*)(\s*:.*)?$")


def _generator():
    spec = importlib.util.spec_from_file_location("api_pages", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def _public_modules() -> list[str]:
    names = ["doseresponse"]
    for info in pkgutil.walk_packages(doseresponse.__path__, "doseresponse."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def _public_names() -> set[tuple[str, str]]:
    out = set()
    for name in _public_modules():
        module = importlib.import_module(name)
        listed = set(getattr(module, "__all__", ()))
        if name == "doseresponse":
            listed |= set(doseresponse._LAZY)
        out |= {(name, member) for member in listed}
    return out


GEN = _generator()
ENTRIES = GEN.entries()


def test_every_public_module_declares_all():
    missing = [name for name in _public_modules() if not hasattr(importlib.import_module(name),
                                                                   "__all__")]
    assert not missing, f"public modules without __all__ (their names go undocumented): {missing}"


def test_generator_lists_every_public_name():
    listed = {(entry.module, entry.name) for entry in ENTRIES}
    expected = _public_names()
    assert expected - listed == set(), "public names missing from the API reference"
    assert listed - expected == set(), "the API reference lists names that are not public"
    assert len(expected) > 200  # the package has ~275 public names: the walk found them


def test_every_name_links_to_a_documented_entry():
    modules = set(_public_modules())
    documented = {entry.target for entry in ENTRIES if entry.canonical}
    for entry in ENTRIES:
        if entry.kind == "module":
            assert entry.target in modules, entry
        else:
            assert entry.target in documented, f"{entry.module}.{entry.name} → {entry.target}"


def test_each_object_is_documented_once_at_its_defining_module():
    canonical = [entry for entry in ENTRIES if entry.canonical]
    targets = [entry.target for entry in canonical]
    assert len(targets) == len(set(targets))
    for entry in canonical:
        value = getattr(importlib.import_module(entry.module), entry.name)
        home = getattr(value, "__module__", None)
        if entry.kind in {"class", "exception", "function"} and home in set(_public_modules()):
            assert home == entry.module, f"{entry.target} is defined in {home}"


def test_pages_have_an_entry_per_documented_object_and_a_row_per_name():
    pages = GEN.pages()
    assert set(pages) == {"index.rst"} | {f"{name}.rst" for name in _public_modules()}
    for entry in ENTRIES:
        page = pages[f"{entry.module}.rst"]
        assert f"   ~{entry.target}\n" in page
        if entry.canonical:
            assert re.search(rf"^\.\. auto\w+:: {re.escape(entry.target)}$", page, re.MULTILINE)
    for name in _public_modules():
        assert f"   {name}\n" in pages["index.rst"]


def test_xref_aliases_point_at_documented_classes():
    documented = {entry.target for entry in ENTRIES if entry.canonical}
    aliases = GEN.xref_aliases(ENTRIES)
    assert "FittedModel" in aliases and "DoseResponseData" in aliases
    assert set(aliases.values()) <= documented


# --- numpydoc docstrings ---------------------------------------------------------------------


def _sections(doc: str) -> dict[str, str]:
    doc = inspect.cleandoc(doc)
    matches = list(SECTION.finditer(doc))
    out = {}
    for here, after in zip(matches, [*matches[1:], None][: len(matches)], strict=True):
        end = after.start() if after else len(doc)
        out[here["title"].strip()] = doc[here.end():end]
    return out


def _documented_parameters(body: str) -> set[str]:
    names = set()
    for line in body.splitlines():
        if line and not line[0].isspace():
            match = PARAM_LINE.match(line.strip())
            if match:
                names |= {n.strip().lstrip("*") for n in match["names"].split(",")}
    return names


def _signature_parameters(func, *, bound: bool) -> list[str]:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    names = list(signature.parameters)
    if bound and names and names[0] in {"self", "cls"}:
        names = names[1:]
    return names


def _returns_something(func) -> bool:
    annotation = inspect.signature(func).return_annotation
    return annotation not in {inspect.Signature.empty, None, "None"}


DELEGATE = re.compile(r"^[^\n]*[Ss]ee :func:`~?(?P<target>doseresponse(?:\.\w+)+)`")


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            value = getattr(value, part)
        return value
    raise LookupError(dotted)


def _problems_of_function(qualname: str, func, *, bound: bool) -> list[str]:
    doc = inspect.getdoc(func)
    if not doc:
        return [f"{qualname}: no docstring"]
    sections = _sections(doc)
    problems = []
    params = _signature_parameters(func, bound=bound)
    delegate = DELEGATE.match(doc)
    if delegate and "Parameters" not in sections:
        # a thin method whose summary line says "see :func:`doseresponse...`": the function it
        # calls must describe each of its parameters (the object itself is passed as the first)
        target = _resolve(delegate["target"])
        target_sections = _sections(inspect.getdoc(target) or "")
        documented = _documented_parameters(target_sections.get("Parameters", ""))
        missing = [name for name in params if name not in documented]
        if missing:
            problems.append(f"{qualname}: {delegate['target']} does not describe {missing}")
        if _returns_something(func) and not ({"Returns", "Yields"} & set(target_sections)):
            problems.append(f"{qualname}: {delegate['target']} has no Returns section")
        return problems
    if params:
        documented = _documented_parameters(
            sections.get("Parameters", "") + "\n" + sections.get("Other Parameters", "")
        )
        if "Parameters" not in sections:
            problems.append(f"{qualname}: no Parameters section (for {', '.join(params)})")
        else:
            missing = [name for name in params if name not in documented]
            if missing:
                problems.append(f"{qualname}: Parameters does not describe {', '.join(missing)}")
    if _returns_something(func) and not ({"Returns", "Yields"} & set(sections)):
        problems.append(f"{qualname}: no Returns section")
    return problems


def _own_public_methods(cls):
    for name, raw in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(raw, property):
            yield name, raw, "property"
        elif isinstance(raw, (staticmethod, classmethod)):
            yield name, raw.__func__, "static" if isinstance(raw, staticmethod) else "class"
        elif inspect.isfunction(raw):
            yield name, raw, "method"


def _problems_of_class(qualname: str, cls) -> list[str]:
    doc = inspect.getdoc(cls) if cls.__doc__ else None
    if not doc:
        return [f"{qualname}: no docstring"]
    problems = []
    if not issubclass(cls, BaseException):
        init = cls.__init__
        # parameters of the constructor: "Parameters" or, for a dataclass or named tuple, the
        # fields in "Attributes"
        own_init = init is not object.__init__ and getattr(init, "__module__", "").startswith(
            "doseresponse"
        )
        if own_init or dataclasses.is_dataclass(cls) or hasattr(cls, "_fields"):
            # described in the class or in a package base class it refers to
            documented = set()
            for klass in cls.__mro__:
                if klass.__module__.startswith("doseresponse") and klass.__doc__:
                    sections = _sections(klass.__doc__)
                    documented |= _documented_parameters(
                        sections.get("Parameters", "") + "\n" + sections.get("Attributes", "")
                        + "\n" + sections.get("Other Parameters", "")
                    )
            missing = [
                name for name in _signature_parameters(init, bound=True)
                if name not in documented and not name.startswith("_")
            ]
            if dataclasses.is_dataclass(cls):
                missing = [
                    name for name in missing
                    if any(f.name == name and f.init for f in dataclasses.fields(cls))
                ]
            if missing:
                problems.append(f"{qualname}: constructor arguments not described: {missing}")
    for name, member, kind in _own_public_methods(cls):
        where = f"{qualname}.{name}"
        if kind == "property":
            if not (member.__doc__ or "").strip():
                problems.append(f"{where}: no docstring")
        else:
            problems += _problems_of_function(where, member, bound=kind != "static")
    return problems


def _canonical_callables():
    for entry in ENTRIES:
        if entry.canonical and entry.kind in {"class", "exception", "function"}:
            yield entry.target, getattr(importlib.import_module(entry.module), entry.name), entry


def _problems(target, value, entry) -> list[str]:
    if entry.kind == "function":
        return _problems_of_function(target, value, bound=False)
    return _problems_of_class(target, value)


@pytest.mark.parametrize(
    ("target", "value", "entry"),
    list(_canonical_callables()),
    ids=[target for target, _, _ in _canonical_callables()],
)
def test_public_callable_has_a_numpydoc_docstring(target, value, entry):
    problems = _problems(target, value, entry)
    assert not problems, "\n".join(problems)


def test_the_docstring_checker_catches_missing_sections():
    def undocumented(x: float) -> float:
        """Do something."""
        return x

    def documented(x: float) -> float:
        """Do something.

        Parameters
        ----------
        x : float
            Input (Gy).

        Returns
        -------
        float
            Output (Gy).
        """
        return x

    def delegating(fit, ci_prob: float = 0.95, *, bogus: int = 1):
        """Curve; see :func:`doseresponse.models.plotting.plot_curve`."""

    problems = _problems_of_function("undocumented", undocumented, bound=False)
    assert any("no Parameters" in p for p in problems)
    assert any("no Returns" in p for p in problems)
    assert _problems_of_function("documented", documented, bound=False) == []
    problems = _problems_of_function("delegating", delegating, bound=True)
    assert problems == [
        "delegating: doseresponse.models.plotting.plot_curve does not describe ['bogus']"
    ]
