"""Typed configs (from_dict, field_docs, to_dict) and name registries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from autoencoding import AutoencodingError, ModelConfig
from autoencoding.config import field_docs, from_dict, require, to_dict
from autoencoding.parts import BOTTLENECKS, ENCODERS, RECONSTRUCTIONS
from autoencoding.recipes import RECIPES, get_recipe
from autoencoding.registry import Registry
from autoencoding.train import TrainConfig


@dataclass
class Inner:
    width: int = 4
    """How wide."""
    scale: float = 1.0
    """How big."""


@dataclass
class Outer:
    name: str = "x"
    """A name,
    written over two lines."""
    inner: Inner = field(default_factory=Inner)
    """The nested part."""
    widths: list[int] = field(default_factory=list)
    """Layer widths."""
    mode: Literal["a", "b"] = "a"
    """One of two modes."""
    limit: float | None = None
    """An optional limit."""
    flag: bool = False
    undocumented: int = 0


@dataclass
class Child(Outer):
    extra: int = 1
    """Only in the subclass."""


# -- from_dict ------------------------------------------------------------------------------
def test_from_dict_builds_nested_dataclasses():
    obj = from_dict(
        Outer,
        {"name": "n", "inner": {"width": 8}, "widths": [1, 2], "mode": "b", "limit": 2},
    )
    assert obj == Outer("n", Inner(8, 1.0), [1, 2], "b", 2.0)
    assert isinstance(obj.inner, Inner)
    assert isinstance(obj.limit, float)


def test_from_dict_fills_defaults_and_accepts_instances():
    assert from_dict(Outer, {}) == Outer()
    inst = Outer(name="kept")
    assert from_dict(Outer, inst) is inst


def test_from_dict_lists_unknown_keys_and_the_known_ones():
    with pytest.raises(AutoencodingError) as e:
        from_dict(Outer, {"nmae": "x", "zzz": 1})
    msg = str(e.value)
    assert "'nmae'" in msg and "'zzz'" in msg
    assert "known options:" in msg and "name" in msg and "inner" in msg


def test_from_dict_unknown_key_in_nested_dataclass_names_the_path():
    with pytest.raises(AutoencodingError, match=r"Outer\.inner: unknown option\(s\) 'depth'"):
        from_dict(Outer, {"inner": {"depth": 3}})


@pytest.mark.parametrize(
    "data, where, expected",
    [
        ({"inner": {"width": "8"}}, "Outer.inner.width", "an integer"),
        ({"inner": {"width": 2.5}}, "Outer.inner.width", "an integer"),
        ({"inner": {"width": True}}, "Outer.inner.width", "an integer"),
        ({"inner": {"scale": "big"}}, "Outer.inner.scale", "a number"),
        ({"inner": {"scale": False}}, "Outer.inner.scale", "a number"),
        ({"name": 3}, "Outer.name", "a string"),
        ({"flag": "yes"}, "Outer.flag", "true or false"),
        ({"flag": 1}, "Outer.flag", "true or false"),
        ({"widths": 3}, "Outer.widths", "a list"),
        ({"widths": [1, "two"]}, r"Outer.widths\[1\]", "an integer"),
        ({"mode": "c"}, "Outer.mode", r"one of \['a', 'b'\]"),
        ({"limit": "none"}, "Outer.limit", "float or None"),
        ({"inner": 5}, "Outer.inner", "a mapping"),
    ],
)
def test_from_dict_rejects_wrong_types_with_the_field_path(data, where, expected):
    with pytest.raises(AutoencodingError, match=rf"{where}: expected {expected}"):
        from_dict(Outer, data)


def test_from_dict_accepts_integral_floats_for_ints():
    # TOML/YAML/JSON may give 8.0 for 8; a whole number is unambiguous
    assert from_dict(Inner, {"width": 8.0}).width == 8


def test_from_dict_rejects_non_mappings():
    with pytest.raises(AutoencodingError, match="expected a mapping of options"):
        from_dict(Outer, ["name", "x"])


def test_from_dict_uses_the_given_location_in_messages():
    with pytest.raises(AutoencodingError, match=r"^model: unknown option"):
        from_dict(ModelConfig, {"latent": 3}, where="model")


def test_to_dict_round_trips_nested_dataclasses():
    obj = Outer("n", Inner(8, 2.0), [3], "b", None, True, 5)
    doc = to_dict(obj)
    assert doc["inner"] == {"width": 8, "scale": 2.0}
    assert from_dict(Outer, doc) == obj


def test_require():
    require(True, "never")
    with pytest.raises(AutoencodingError, match="^boom$"):
        require(False, "boom")


# -- field_docs -----------------------------------------------------------------------------
def test_field_docs_reads_the_string_under_each_field():
    docs = field_docs(Outer)
    assert docs["inner"] == "The nested part."
    assert docs["name"] == "A name, written over two lines."  # whitespace collapsed
    assert "flag" not in docs and "undocumented" not in docs


def test_field_docs_includes_base_class_fields():
    docs = field_docs(Child)
    assert docs["extra"] == "Only in the subclass."
    assert docs["widths"] == "Layer widths."


@pytest.mark.parametrize("cls", [ModelConfig, TrainConfig])
def test_every_library_config_field_is_documented(cls):
    import dataclasses

    docs = field_docs(cls)
    missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
    assert missing == []


@pytest.mark.parametrize(
    "registry, name", [(BOTTLENECKS, "gaussian"), (ENCODERS, "mlp"), (RECONSTRUCTIONS, "gaussian")]
)
def test_part_config_fields_are_documented(registry, name):
    import dataclasses

    cfg = registry.get(name).Config
    docs = field_docs(cfg)
    assert all(docs.get(f.name) for f in dataclasses.fields(cfg))


def test_field_docs_of_a_known_field():
    assert field_docs(TrainConfig)["lr"] == "Peak learning rate."


# -- registries -----------------------------------------------------------------------------
def test_registry_unknown_name_lists_the_known_ones():
    reg: Registry[type] = Registry("widget")

    @reg.register("beta")
    class B:
        pass

    @reg.register("alpha")
    class A:
        pass

    assert reg.get("alpha") is A and A.registry_name == "alpha"
    assert reg.names() == ["alpha", "beta"] and list(reg) == ["alpha", "beta"]
    assert "beta" in reg and "gamma" not in reg
    with pytest.raises(
        AutoencodingError, match=r"unknown widget 'gamma'; known widgets: alpha, beta"
    ):
        reg.get("gamma")
    with pytest.raises(AutoencodingError, match="unknown widget 3"):
        reg.get(3)  # type: ignore[arg-type]


def test_registry_rejects_a_second_object_under_one_name():
    reg: Registry[type] = Registry("widget")

    class A:
        pass

    class B:
        pass

    reg.register("a")(A)
    reg.register("a")(A)  # registering the same object again is harmless (module reloads)
    with pytest.raises(AutoencodingError, match="registered twice"):
        reg.register("a")(B)


def test_unknown_recipe_and_part_list_the_known_ones():
    with pytest.raises(AutoencodingError) as e:
        get_recipe("vea")
    assert "unknown recipe 'vea'" in str(e.value)
    for name in ("ae", "vae", "cae", "dae", "lorae", "beta-vae"):
        assert name in str(e.value)
    with pytest.raises(AutoencodingError, match="known bottlenecks: .*gaussian.*identity"):
        BOTTLENECKS.get("gausian")


def test_builtin_recipes_are_registered():
    assert {"ae", "dae", "dae-masking", "cae", "lorae", "vae", "beta-vae"} <= set(RECIPES.names())
    for name in RECIPES.names():
        r = get_recipe(name)
        assert r.summary and r.paper
