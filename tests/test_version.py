"""The version: one scheme, one source, the same everywhere it is read."""
import os
import re

import pytest

import pooling

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEMVER = r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"


def test_version_is_semver():
    assert re.fullmatch(SEMVER, pooling.__version__), pooling.__version__


def test_installed_metadata_names_the_distribution():
    """Installed, the distribution is pooling-kernels and its metadata carries
    pooling.__version__ (read from pooling/_version.py at build time)."""
    metadata = pytest.importorskip("importlib.metadata")
    try:
        dist = metadata.distribution("pooling-kernels")
    except metadata.PackageNotFoundError:
        pytest.skip("pooling-kernels is not installed (an in-place build)")
    assert dist.version == pooling.__version__
    files = {str(f) for f in dist.files or ()}
    assert "pooling/__init__.py" in files, sorted(files)[:20]
    requires = dist.requires or []
    assert [r for r in requires if "extra" not in r] == ["numpy>=1.22"], requires


def test_changelog_has_this_version():
    """The newest CHANGELOG entry is the version the package reports."""
    path = os.path.join(ROOT, "CHANGELOG.md")
    if not os.path.exists(path):
        pytest.skip("no CHANGELOG.md beside the tests")
    with open(path, encoding="utf-8") as f:
        versions = re.findall(rf"^## ({SEMVER}) \(\d{{4}}-\d\d-\d\d\)$", f.read(), re.M)
    assert versions, "CHANGELOG.md has no '## X.Y.Z (YYYY-MM-DD)' entry"
    assert versions[0][0] == pooling.__version__, versions
