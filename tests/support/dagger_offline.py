"""Checking the Dagger layer with no engine.

- ``shared_dagger_file(name)``: ``../shared/dagger/<name>`` beside the checkout
  (CI puts ``shared/`` next to the clone), or a clean skip saying what is
  missing.
- ``StandInSession``: what the SDK's shared connection talks to in these
  tests. It answers the schema from ``schema-v0.21.11.graphqls``; every query
  the SDK sends is validated against that schema (graphql-core's rules, plus
  the ``@expectedType`` of ID arguments: a ``Service`` argument must get a
  Service's ID), recorded, and answered with made-up values of the right
  types, or with what a test told it (``respond``). A responder can raise
  ``ExecFailure`` (the SDK raises ``dagger.ExecError``) or ``QueryFailure``
  (``dagger.QueryError``).
- fixture ``dagger_standin``: installs a fresh ``StandInSession`` as the SDK's
  shared connection for one test.
- ``chain(obj)``: the call chain of a lazy Dagger object (field, arguments);
  ``render(session, obj)``: the GraphQL text that evaluates it.
- ``PlayedApps``: answers the smoke test's probes as the sample apps would.
- ``module_surface()``: what ``dagger call`` exposes, as JSON-able data.

These read private SDK attributes (``_ctx.selections``, the shared
connection's ``_session``, ``Module._objects``); dagger-io is pinned exactly.
"""

from __future__ import annotations

import itertools
import json
import os
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# dagger.mod reads the main object's name when it is first imported.
os.environ.setdefault("DAGGER_MAIN_OBJECT", "MetaboostCi")

import graphql
import pytest
from gql.transport.exceptions import TransportQueryError

from .engine_schema import SCHEMA_FILE

REPO = Path(__file__).resolve().parents[2]
SHARED_DAGGER = REPO.parent / "shared" / "dagger"
# Another folder with the same files, e.g. the schema written from a running
# engine by tests/support/engine_schema.py (ci.yml's engine job).
SCHEMA_DIR_VARIABLE = "METABOOST_DAGGER_SCHEMA_DIR"
DAGGER_JSON_SCHEMA_FILE = "dagger.json.schema.json"
MAIN_OBJECT = "MetaboostCi"


def shared_dagger_dir() -> Path:
    """The schema files' folder: ``$METABOOST_DAGGER_SCHEMA_DIR``, else ``../shared/dagger``."""
    override = os.environ.get(SCHEMA_DIR_VARIABLE)
    return Path(override) if override else SHARED_DAGGER


def shared_dagger_file(name: str) -> Path:
    """``<schema dir>/<name>``, or skip the test saying where it was looked for."""
    path = shared_dagger_dir() / name
    if not path.is_file():
        pytest.skip(
            f"{path} is absent (.ci/run has ../shared beside the clone; elsewhere set "
            f"{SCHEMA_DIR_VARIABLE}); check not run here"
        )
    return path


_schemas: dict[Path, graphql.GraphQLSchema] = {}


def engine_schema() -> graphql.GraphQLSchema:
    path = shared_dagger_file(SCHEMA_FILE)
    if path not in _schemas:
        _schemas[path] = graphql.build_schema(path.read_text(encoding="utf-8"))
    return _schemas[path]


# ------------------------------------------------------------------ answers


@dataclass(frozen=True)
class Call:
    """One field of a query: the type it is on, its name, its arguments."""

    type_name: str
    field: str
    args: dict[str, Any]


@dataclass
class ExecFailure(Exception):
    """Raised by a responder: the SDK will raise ``dagger.ExecError`` with these."""

    cmd: list[str]
    exit_code: int = 1
    stdout: str = ""
    stderr: str = ""


@dataclass
class QueryFailure(Exception):
    """Raised by a responder: the SDK will raise ``dagger.QueryError`` with this message."""

    message: str


Responder = Callable[[list[Call]], Any]


@dataclass
class Recorded:
    text: str
    # The chain of every leaf answered, root first.
    leaves: list[list[Call]]


def _unwrap(t: graphql.GraphQLOutputType) -> graphql.GraphQLOutputType:
    return t.of_type if isinstance(t, graphql.GraphQLNonNull) else t


def _expected_type(node: Any) -> str | None:
    """The ``@expectedType(name:)`` on a field or argument definition, if any."""
    for directive in getattr(node, "directives", None) or ():
        if directive.name.value == "expectedType":
            for arg in directive.arguments:
                if arg.name.value == "name":
                    return str(arg.value.value)
    return None


@dataclass
class StandInSession:
    """A stand-in for the SDK's ``ClientSession``: schema, validation, answers."""

    schema: graphql.GraphQLSchema
    queries: list[Recorded] = field(default_factory=lambda: [])
    responders: dict[str, Responder] = field(default_factory=lambda: {})
    # Made-up ID -> (its type, the chain that produced it)
    ids: dict[str, tuple[str, list[Call]]] = field(default_factory=lambda: {})
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- what the SDK calls

    async def get_schema(self) -> graphql.GraphQLSchema:
        return self.schema

    async def execute(self, request: Any) -> dict[str, Any]:
        document: graphql.DocumentNode = request.document
        text = graphql.print_ast(document)
        errors = graphql.validate(self.schema, document)
        if errors:
            raise AssertionError(
                f"query does not validate against the engine schema: {errors}\n{text}"
            )
        record = Recorded(text, [])
        self.queries.append(record)
        operation = typing.cast(graphql.OperationDefinitionNode, document.definitions[0])
        try:
            return self._select(self.schema.query_type, operation.selection_set, [], record)
        except QueryFailure as failure:
            raise TransportQueryError(
                failure.message, errors=[{"message": failure.message, "path": ["x"]}]
            ) from None
        except ExecFailure as failure:
            message = f"process did not complete successfully: exit code: {failure.exit_code}"
            raise TransportQueryError(
                message,
                errors=[
                    {
                        "message": message,
                        "path": ["container"],
                        "extensions": {
                            "_type": "EXEC_ERROR",
                            "cmd": failure.cmd,
                            "exitCode": failure.exit_code,
                            "stdout": failure.stdout,
                            "stderr": failure.stderr,
                        },
                    }
                ],
            ) from None

    # -- what tests call

    def respond(self, key: str, responder: Responder | Any) -> None:
        """Answer ``Type.field`` (e.g. ``Container.publish``) with a value or ``f(chain)``."""
        self.responders[key] = responder if callable(responder) else (lambda _chain: responder)

    def origin(self, made_id: str) -> list[Call]:
        """The chain that produced an ID the stand-in made (e.g. a bound Service)."""
        return self.ids[made_id][1]

    def texts(self) -> list[str]:
        return [q.text for q in self.queries]

    def leaves(self, key: str) -> list[list[Call]]:
        """Every answered chain ending in ``Type.field``."""
        type_name, _, name = key.partition(".")
        return [
            chain
            for q in self.queries
            for chain in q.leaves
            if chain and chain[-1].type_name == type_name and chain[-1].field == name
        ]

    # -- answering

    def _args(
        self, definition: graphql.GraphQLField, node: graphql.FieldNode, type_name: str
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for arg_node in node.arguments:
            name = arg_node.name.value
            arg_def = definition.args[name]
            value = graphql.value_from_ast(arg_node.value, arg_def.type)
            expected = _expected_type(arg_def.ast_node)
            if expected is not None:
                for one in value if isinstance(value, list) else [value]:
                    self._check_id(one, expected, f"{type_name}.{node.name.value}({name}:)")
            values[name] = value
        return values

    def _check_id(self, value: Any, expected: str, where: str) -> None:
        if value is None:
            return
        known = self.ids.get(str(value))
        if known is None:
            raise AssertionError(f"{where} got {value!r}, which is no ID the stand-in made")
        if known[0] != expected:
            raise AssertionError(f"{where} expects a {expected} ID, got a {known[0]} ID")

    def _make_id(self, type_name: str, chain: list[Call]) -> str:
        made = f"standin:{type_name}:{next(self._counter)}"
        self.ids[made] = (type_name, chain)
        return made

    def _select(
        self,
        parent: graphql.GraphQLObjectType | graphql.GraphQLInterfaceType,
        selection_set: graphql.SelectionSetNode,
        chain: list[Call],
        record: Recorded,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for selection in selection_set.selections:
            if isinstance(selection, graphql.InlineFragmentNode):
                assert selection.type_condition is not None
                fragment_type = typing.cast(
                    graphql.GraphQLObjectType,
                    self.schema.get_type(selection.type_condition.name.value),
                )
                out.update(self._select(fragment_type, selection.selection_set, chain, record))
                continue
            assert isinstance(selection, graphql.FieldNode)
            name = selection.name.value
            definition = parent.fields[name]
            call = Call(parent.name, name, self._args(definition, selection, parent.name))
            here = [*chain, call]
            if parent.name == "Query" and name == "node":
                # node(id:) continues the chain of the object the ID was made for.
                type_name, origin = self.ids[str(call.args["id"])]
                fragment = selection.selection_set
                assert fragment is not None
                inline = typing.cast(graphql.InlineFragmentNode, fragment.selections[0])
                assert inline.type_condition is not None
                if inline.type_condition.name.value != type_name:
                    raise AssertionError(
                        f"node(id:) of a {type_name} read as a {inline.type_condition.name.value}"
                    )
                node_type = typing.cast(graphql.GraphQLObjectType, self.schema.get_type(type_name))
                out[selection.alias.value if selection.alias else name] = self._select(
                    node_type, inline.selection_set, origin, record
                )
                continue
            key = selection.alias.value if selection.alias else name
            out[key] = self._answer(definition, selection, here, record)
        return out

    def _answer(
        self,
        definition: graphql.GraphQLField,
        node: graphql.FieldNode,
        chain: list[Call],
        record: Recorded,
    ) -> Any:
        result_type = _unwrap(definition.type)
        if node.selection_set is not None:
            assert isinstance(
                result_type, (graphql.GraphQLObjectType, graphql.GraphQLInterfaceType)
            )
            return self._select(result_type, node.selection_set, chain, record)
        record.leaves.append(chain)
        last = chain[-1]
        responder = self.responders.get(f"{last.type_name}.{last.field}")
        if responder is not None:
            return responder(chain)
        if (last.type_name, last.field) == ("Secret", "plaintext"):
            # What dag.set_secret stored: the only secrets tests make.
            return [c.args["plaintext"] for c in chain if c.field == "setSecret"][-1]
        return self._default(result_type, definition, chain)

    def _default(
        self,
        result_type: graphql.GraphQLOutputType,
        definition: graphql.GraphQLField,
        chain: list[Call],
    ) -> Any:
        if isinstance(result_type, graphql.GraphQLList):
            return []
        if isinstance(result_type, graphql.GraphQLEnumType):
            return next(iter(result_type.values))
        assert isinstance(result_type, graphql.GraphQLScalarType), result_type
        name = result_type.name
        if name == "ID":
            type_name = _expected_type(definition.ast_node) or chain[-1].type_name
            return self._make_id(type_name, chain[:-1] if chain[-1].field == "id" else chain)
        if name == "Int":
            return 0
        if name == "Float":
            return 0.0
        if name == "Boolean":
            return False
        if name == "Void":
            return None
        if name == "Platform":
            return "linux/amd64"
        return ""


@pytest.fixture
def dagger_standin(monkeypatch: pytest.MonkeyPatch) -> StandInSession:
    """The SDK's shared connection answered by a fresh ``StandInSession``."""
    from dagger.client._session import SharedConnection

    session = StandInSession(engine_schema())
    monkeypatch.setattr(SharedConnection(), "_session", session)
    return session


# ------------------------------------------------------------------ chains


def chain(obj: Any) -> list[tuple[str, dict[str, Any]]]:
    """The call chain of a lazy Dagger object: ``[(field, args), ...]`` from the root."""
    return [(f.name, dict(f.args)) for f in obj._ctx.selections]


def calls_named(obj: Any, name: str) -> list[dict[str, Any]]:
    """The arguments of every ``name`` call in ``obj``'s chain."""
    return [args for field_name, args in chain(obj) if field_name == name]


async def render(session: StandInSession, obj: Any) -> str:
    """The GraphQL query that evaluates ``obj`` (sent to, and validated by, ``session``)."""
    await obj.id()
    return session.texts()[-1]


def args_of(calls: list[Call], field_name: str) -> list[dict[str, Any]]:
    """The arguments of every ``field_name`` call in an answered chain."""
    return [c.args for c in calls if c.field == field_name]


def execs(calls: list[Call]) -> list[list[str]]:
    """The ``withExec`` argument lists of an answered chain, in order."""
    return [list(a["args"]) for a in args_of(calls, "withExec")]


def env_of(calls: list[Call]) -> dict[str, str]:
    """The environment a chain's ``withEnvVariable`` calls leave."""
    return {a["name"]: a["value"] for a in args_of(calls, "withEnvVariable")}


def env_before_last_exec(calls: list[Call]) -> dict[str, str]:
    """The environment the last exec of a chain runs with."""
    last = max(i for i, c in enumerate(calls) if c.field == "withExec")
    return env_of(calls[:last])


# ------------------------------------------------------------------ the sample apps, played

SMOKE_PORT = 8080
# The apps that need RUNTIME_CONFIG_URL to start (sample/packages/runtime-config).
WEB_APPS = frozenset({"web", "management-web"})


def app_of(service_chain: list[Call]) -> str:
    """The app a service runs: test images are ``example/<app>``, builds use their Dockerfile."""
    froms = args_of(service_chain, "from")
    if froms:
        return froms[0]["address"].removeprefix("example/")
    dockerfile = args_of(service_chain, "dockerBuild")[0]["dockerfile"]
    return dockerfile.split("/")[-2]


def public(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("NEXT_PUBLIC_")}


class PlayedApps:
    """Answers probes as the apps would; ``broken`` apps ignore their sidecar."""

    def __init__(self, session: StandInSession, broken: frozenset[str] = frozenset()) -> None:
        self.session = session
        self.broken = broken
        self.probed: list[tuple[str, str, list[Call]]] = []
        session.respond("Container.stdout", self.stdout)

    @staticmethod
    def is_probe(calls: list[Call]) -> bool:
        commands = execs(calls)
        return bool(commands) and commands[-1][:2] == ["node", "-e"]

    def stdout(self, calls: list[Call]) -> str:
        _node, _e, _script, url, stay = execs(calls)[-1]
        [binding] = args_of(calls, "withServiceBinding")
        service = self.session.origin(binding["service"])
        self.probed.append((binding["alias"], url, service))
        assert urlsplit(url).hostname == binding["alias"]
        assert urlsplit(url).port == SMOKE_PORT
        env = env_of(service)
        if app_of(service) in WEB_APPS and "RUNTIME_CONFIG_URL" not in env:
            # The sample's web apps exit at start without it (the contract).
            raise QueryFailure(f"service {app_of(service)} exited: exit code 1")
        if urlsplit(url).path == "/":
            answer = {"status": 200, "body": "{}"}
            return json.dumps({"first": answer, "second": answer, "stay": stay})
        bound = {
            b["alias"]: self.session.origin(b["service"])
            for b in args_of(service, "withServiceBinding")
        }
        host = urlsplit(env["RUNTIME_CONFIG_URL"]).hostname
        if host in bound and app_of(service) not in self.broken:
            used: dict[str, Any] = {"source": "sidecar", "config": public(env_of(bound[host]))}
        else:
            used = {"source": "env", "config": public(env)}
        answer = {"status": 200, "body": json.dumps(used)}
        return json.dumps({"first": answer, "second": answer})


# ------------------------------------------------------------------ surface


def _type_name(annotation: Any) -> str:
    import types

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = " | ".join(_type_name(a) for a in members)
        return f"{inner} | None"
    if origin is list:
        return f"list[{_type_name(typing.get_args(annotation)[0])}]"
    if isinstance(annotation, type):
        module = annotation.__module__
        prefix = "dagger." if module.startswith("dagger") else ""
        return prefix + annotation.__name__
    return repr(annotation)


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def module_surface() -> dict[str, Any]:
    """Every object, function and argument ``dagger call`` would expose, with docs.

    Read in process from ``dagger.mod.default_module()``, the builder the
    module runtime registers from.
    """
    import dagger.mod

    import metaboost_ci.engine.main  # noqa: F401 - registers the object types

    module = dagger.mod.default_module()
    if module._main_name != MAIN_OBJECT:
        raise AssertionError(
            f"dagger.mod was imported before DAGGER_MAIN_OBJECT={MAIN_OBJECT} was set; "
            "load tests.support.dagger_offline first"
        )
    objects: dict[str, Any] = {}
    for name, object_type in sorted(module._objects.items()):
        object_type.get_constructor(module._converter)
        functions: dict[str, Any] = {}
        for api_name, function in sorted(object_type.functions.items()):
            key = "(constructor)" if api_name == "" else _kebab(function.original_name)
            functions[key] = {
                "doc": function.doc,
                "cache": function.cache_policy,
                "returns": _type_name(function.return_type),
                "args": [
                    {
                        "flag": f"--{_kebab(param.signature.name)}",
                        "type": _type_name(param.resolved_type),
                        "optional": param.is_optional,
                        "default": param.default_value,
                        "default_path": param.default_path,
                        "ignore": param.ignore,
                        "doc": param.doc,
                    }
                    for param in function.parameters.values()
                ],
            }
        objects[name] = {"doc": object_type.cls.__doc__, "functions": functions}
    from dagger.mod._utils import get_parent_module_doc

    main = module._objects[MAIN_OBJECT].cls
    return {
        "main_object": module._main_name,
        "description": get_parent_module_doc(main),
        "objects": objects,
    }
