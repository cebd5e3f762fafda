"""The platform registry: lazy built-ins, entry-point plugins, broken plugins as warnings."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopostr.config import load_settings
from autopostr.errors import InvalidInput
from autopostr.platforms import registry
from autopostr.platforms.base import AccountRef, Platform, PublishRequest, PublishResult
from autopostr.platforms.sandbox import SandboxPlatform


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    registry.reset()
    yield
    registry.reset()


def test_builtin_sandbox_is_found() -> None:
    assert "sandbox" in registry.platform_names()
    assert registry.get_platform_class("sandbox") is SandboxPlatform
    assert registry.get_platform_class(" Sandbox ") is SandboxPlatform
    platform = registry.get_platform("sandbox", load_settings())
    assert isinstance(platform, SandboxPlatform)


def test_unknown_platform_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"unknown platform 'myspace'.*sandbox"):
        registry.get_platform_class("myspace")


def test_listing_names_imports_no_adapter_and_no_text_library() -> None:
    code = (
        "import sys\n"
        "from autopostr.platforms.registry import platform_names\n"
        "assert 'sandbox' in platform_names()\n"
        "assert 'autopostr.platforms.sandbox' not in sys.modules\n"
        "assert 'twitter_text' not in sys.modules\n"
        "from autopostr.platforms.registry import get_platform_class\n"
        "get_platform_class('sandbox')\n"
        "assert 'twitter_text' not in sys.modules, 'adapters count text lazily'\n"
        "assert 'regex' not in sys.modules, 'graphemes are counted lazily'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


class _Dummy(Platform):
    name = "dummy"
    title = "Dummy"
    limits = SandboxPlatform.limits

    def publish(self, account: AccountRef, request: PublishRequest) -> PublishResult:
        return PublishResult("1")


def test_register_a_class_or_a_lazy_path() -> None:
    registry.register("dummy", _Dummy)
    assert registry.get_platform_class("dummy") is _Dummy
    registry.register("dummy2", f"{__name__}:_Dummy")
    assert registry.get_platform_class("dummy2") is _Dummy
    assert {"dummy", "dummy2", "sandbox"} <= set(registry.platform_names())


def test_register_rejects_what_is_not_a_concrete_platform() -> None:
    with pytest.raises(TypeError):
        registry.register("bad", int)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="does not implement publish"):
        registry.register("abstract", Platform)
    with pytest.raises(ValueError, match="module:Class"):
        registry.register("bad", "no_colon_here")


GOOD_PLUGIN = """
from autopostr.platforms.base import Limits, Platform, PublishResult


class GoodPlatform(Platform):
    name = "goodfake"
    title = "Good fake"
    limits = Limits(max_chars=500)

    def publish(self, account, request):
        return PublishResult("good-1")


class NotAPlatform:
    pass
"""

BROKEN_PLUGIN = """
raise ImportError("this plugin needs a library that is not installed")
"""

ENTRY_POINTS = """
[autopostr.platforms]
goodfake = autopostr_test_good_plugin:GoodPlatform
brokenfake = autopostr_test_broken_plugin:BrokenPlatform
notaplatform = autopostr_test_good_plugin:NotAPlatform
missingattr = autopostr_test_good_plugin:Nope
sandbox = autopostr_test_good_plugin:GoodPlatform
"""


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real installed distribution (dist-info with entry points) on sys.path."""
    site = tmp_path / "site"
    dist_info = site / "autopostr_test_plugins-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: autopostr-test-plugins\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    (site / "autopostr_test_good_plugin.py").write_text(GOOD_PLUGIN)
    (site / "autopostr_test_broken_plugin.py").write_text(BROKEN_PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module in ("autopostr_test_good_plugin", "autopostr_test_broken_plugin"):
        sys.modules.pop(module, None)


def test_good_plugin_is_usable_and_broken_ones_are_warnings(
    plugin_site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="autopostr.platforms"):
        names = registry.platform_names()

    assert "goodfake" in names
    assert "sandbox" in names
    for skipped in ("brokenfake", "notaplatform", "missingattr"):
        assert skipped not in names

    cls = registry.get_platform_class("goodfake")
    assert cls.__name__ == "GoodPlatform"
    platform = registry.get_platform("goodfake", load_settings())
    result = platform.publish(AccountRef(1, "goodfake", "me"), PublishRequest(1, 1, ["hi"]))
    assert result.remote_id == "good-1"

    # A plugin cannot take over a built-in name.
    assert registry.get_platform_class("sandbox") is SandboxPlatform

    warnings = registry.plugin_warnings()
    assert len(warnings) == 4
    joined = "\n".join(warnings)
    assert "brokenfake" in joined and "not installed" in joined
    assert "notaplatform" in joined and "not a Platform subclass" in joined
    assert "missingattr" in joined
    assert "'sandbox' is a built-in" in joined
    assert [r.getMessage() for r in caplog.records if r.name == "autopostr.platforms"] == warnings


def test_unknown_name_after_plugins_still_lists_them(plugin_site: Path) -> None:
    with pytest.raises(InvalidInput, match=r"goodfake, .*sandbox"):
        registry.get_platform_class("brokenfake")
