"""Sphinx configuration of the doseresponse documentation site.

Build (warnings are errors; cross-references are nitpicky, ``nitpicky = True`` below)::

    python3 -m pip install -e ".[docs]"
    python3 -m sphinx -W -b html docs docs/_build/html

Pages are Markdown (MyST); the API reference (``docs/api/``) is generated when the build starts
by ``docs/api_pages.py``, which walks the package, so new public modules need no edit here.
The build reads nothing from the network (no intersphinx): names of other projects (numpy,
pandas, xarray, ...) are listed in ``nitpick_ignore`` and shown as plain text.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("MPLBACKEND", "Agg")

import api_pages  # noqa: E402  (docs/api_pages.py, beside this file)

import doseresponse  # noqa: E402

project = "doseresponse"
author = "doseresponse developers"
copyright = "doseresponse developers"
release = doseresponse.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax copied into _static (pip package sphinx-mathjax-offline): the formulas render
    # when the site is opened from disk, with no network
    "sphinx-mathjax-offline",
    "numpydoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/__pycache__", ".venv"]
nitpicky = True

# --- MyST: Markdown pages ------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# --- autodoc / autosummary / numpydoc -----------------------------------------------------------
autosummary_generate = False  # the pages come from api_pages.py; tables only
autodoc_typehints = "none"  # types are stated (and cross-referenced) in the numpydoc sections
autodoc_member_order = "bysource"
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
# descriptive words of numpydoc type lines: never links
numpydoc_xref_ignore = {
    "optional", "default", "of", "or", "and", "to", "shape", "the", "a", "an", "each", "one",
    "array_like", "array-like", "scalar", "sequence", "mapping", "iterable", "callable",
    "path-like", "column", "name", "names", "them", "same", "as", "per", "draw", "draws",
    "keyword", "arguments", "positive", "non-negative", "dimensionless",
    # placeholders of shapes and tuple layouts in type lines: "shape (k,)", "(median, sd_log)"
    "k", "n", "mean", "sd", "median", "sd_log", "region", "those", "index", "labels", "mask",
    "curve", "source", "prevalence", "factor", "ni", "nj", "nk", "cycle",
}
# numpydoc's default aliases point builtins at an intersphinx "python:" inventory; offline, plain
# names let Sphinx's built-in-type resolver accept them
numpydoc_xref_aliases = {
    **{name: name for name in ("None", "True", "False", "bool", "list", "tuple", "str", "dict",
                               "float", "int", "bytes", "object", "type", "set", "frozenset")},
    **{word: word for word in ("callable", "iterable", "sequence", "array_like", "array-like",
                               "scalar", "generator", "contextmanager", "namedtuple")},
    "boolean": "bool",
    "string": "str",
    "Path": "pathlib.Path",
    "DataFrame": "pandas.DataFrame",
    "Axes": "matplotlib.axes.Axes",
    **api_pages.xref_aliases(),
}
# public paths of re-exported names (``doseresponse.load_dataset``) → their documented entry
PUBLIC_PATHS = api_pages.public_paths()

# --- names of other projects: no intersphinx offline, so listed here and shown unlinked ----------
_EXTERNAL = {
    "py:class": [
        "numpy.ndarray", "numpy.random.Generator", "numpy.dtype", "numpy.typing.ArrayLike",
        "pandas.DataFrame", "pandas.Series", "pandas.Index",
        "xarray.Dataset", "xarray.DataArray", "xarray.DataTree",
        "arviz.InferenceData",
        "matplotlib.axes.Axes", "matplotlib.figure.Figure",
        "scipy.optimize.OptimizeResult",
        "argparse.ArgumentParser", "argparse.Namespace",
        "pathlib.Path", "os.PathLike",
        "collections.abc.Mapping", "collections.abc.Sequence", "collections.abc.Iterator",
        "typing.NamedTuple", "numpy.float64", "pymc.Model", "dask.array.Array",
    ],
    "py:func": [
        "numpy.random.default_rng", "pandas.read_csv",
        "scipy.special.gammaln", "scipy.optimize.brentq", "scipy.optimize.minimize_scalar",
        "arviz.loo", "arviz.compare", "pymc.sample",
        "nutpie.compile_pymc_model", "nutpie.compiled_pyfunc.from_pyfunc", "dask.delayed",
        "numpy.polynomial.hermite_e.hermegauss", "scipy.integrate.quad",
    ],
    "py:mod": ["scipy", "statsmodels", "arviz", "pymc", "nutpie", "numba"],
    # Python constants: Sphinx's built-in resolver accepts None but not these
    "py:obj": ["True", "False"],
}
nitpick_ignore = [(role, name) for role, names in _EXTERNAL.items() for name in names]
# numpydoc links types with :obj:, so each external name is ignored under that role as well
nitpick_ignore += [("py:obj", name) for name in _EXTERNAL["py:class"] + _EXTERNAL["py:func"]]

# --- HTML -----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"doseresponse {release}"
html_theme_options = {
    "navigation_depth": 2,
    "header_links_before_dropdown": 7,
    "show_toc_level": 2,
}
html_static_path: list[str] = []


def _generate_api_pages(app) -> None:
    api_pages.write_pages(HERE / "api")


def _dataset_toctree(app, docname: str, source: list[str]) -> None:
    """Give the generated datasets index a hidden table of contents of its pages."""
    if docname != "datasets/index":
        return
    pages = sorted(p.stem for p in (HERE / "datasets").glob("*.md") if p.stem != "index")
    source[0] += "\n```{toctree}\n:hidden:\n\n" + "\n".join(pages) + "\n```\n"


def _resolve_public_path(app, env, node, contnode):
    """Resolve a cross-reference written with a re-exported public path or a short name."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip(".~")
    module, klass = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module:
        candidates.insert(0, f"{module}.{target}")
        if klass:
            candidates.insert(0, f"{module}.{klass}.{target}")
    domain = env.get_domain("py")
    reftype = node["reftype"]
    objtypes = domain.objtypes_for_role(reftype) or None
    for candidate in candidates:
        parts = candidate.split(".")
        for cut in range(len(parts), 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in PUBLIC_PATHS:
                resolved = ".".join([PUBLIC_PATHS[prefix], *parts[cut:]])
                found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                            resolved, node, contnode)
                if found is not None:
                    return found
    # a short name (``:class:`FittedModel```) defined in another module: accepted when exactly
    # one documented object has that name
    if target:
        matches = domain.find_obj(env, None, None, target, reftype, searchmode=1)
        matches = [m for m in matches if objtypes is None or m[1].objtype in objtypes]
        if len(matches) == 1:
            return domain.resolve_xref(env, node["refdoc"], app.builder, reftype,
                                       matches[0][0], node, contnode)
    return None


def setup(app):
    """Generate the API pages before Sphinx reads the sources; resolve public paths."""
    app.connect("builder-inited", _generate_api_pages)
    app.connect("missing-reference", _resolve_public_path)
    app.connect("source-read", _dataset_toctree)
