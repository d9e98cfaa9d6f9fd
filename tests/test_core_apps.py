"""The apps as data, and picking apps (and other named things) from a known list."""

import json
from pathlib import Path

import pytest

from metaboost_ci.core.apps import (
    APPS,
    DEFAULT_APPS,
    SIDECARS,
    App,
    choose_known,
    dockerfile_path,
    image_name,
    parse_apps,
    validate_app_names,
)
from metaboost_ci.core.errors import InputError

SAMPLE = Path(__file__).resolve().parents[1] / "sample"


def test_every_app_and_only_those_has_its_files_in_the_sample_monorepo() -> None:
    """What a new app needs besides its line in APPS: a Dockerfile where its App says, and
    a workspace (the rehearsal builds and smoke-tests the sample)."""
    for app in APPS:
        assert (SAMPLE / app.dockerfile).is_file(), app
        assert json.loads((SAMPLE / "apps" / app.name / "package.json").read_text())
    assert sorted(p.name for p in (SAMPLE / "apps").iterdir()) == sorted(DEFAULT_APPS)


def test_the_smoke_pairs_come_from_the_apps_sidecars() -> None:
    assert SIDECARS == {"web": "web-sidecar", "management-web": "management-web-sidecar"}
    assert all(sidecar in DEFAULT_APPS for sidecar in SIDECARS.values())
    assert [app.name for app in APPS] == list(DEFAULT_APPS)


def test_an_app_named_outside_the_list_has_its_dockerfile_in_the_conventional_place() -> None:
    assert dockerfile_path("api") == "infra/docker/local/api/Dockerfile"
    assert dockerfile_path("worker") == "infra/docker/local/worker/Dockerfile"
    assert App("api", "docker/api.Dockerfile").dockerfile == "docker/api.Dockerfile"


def test_no_apps_given_means_all_of_them() -> None:
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
