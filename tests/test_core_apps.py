"""Picking apps (and other named things) from a known list."""

import pytest

from metaboost_ci.core.apps import (
    DEFAULT_APPS,
    choose_known,
    image_name,
    parse_apps,
    validate_app_names,
)
from metaboost_ci.core.errors import InputError


def test_no_apps_given_means_all_six() -> None:
    assert parse_apps(None) == DEFAULT_APPS
    assert validate_app_names(None) == DEFAULT_APPS


@pytest.mark.parametrize("given", ["", ",", " ", " , ,"])
def test_a_list_naming_no_app_is_refused_not_taken_as_all(given: str) -> None:
    with pytest.raises(InputError, match="names no app") as caught:
        parse_apps(given)
    assert "--apps api,web" in (caught.value.fix or "")
    # The Dagger module's list (its CLI splits ',' into two empty names).
    with pytest.raises(InputError, match="names no app"):
        validate_app_names(given.split(","))
    with pytest.raises(InputError, match="names no app"):
        validate_app_names([])


def test_apps_keep_the_order_given_and_ignore_blanks() -> None:
    assert parse_apps(" web, api ,") == ("web", "api")


def test_unknown_and_repeated_names_are_refused_naming_the_choices() -> None:
    with pytest.raises(InputError) as unknown:
        parse_apps("api,payments")
    assert unknown.value.message == "Unknown app(s): payments."
    assert unknown.value.fix == f"Choose from: {', '.join(DEFAULT_APPS)}."
    with pytest.raises(InputError, match=r"App\(s\) named twice in 'api,web,api': api\."):
        parse_apps("api,web,api")
    with pytest.raises(InputError, match=r"Unknown validate step\(s\): tests\."):
        choose_known(["lint", "tests"], ("install", "lint"), what="validate step")


def test_image_names_are_lower_case_as_registries_require() -> None:
    assert image_name("Acme/MetaBoost", "web-sidecar") == "acme/metaboost/web-sidecar"
