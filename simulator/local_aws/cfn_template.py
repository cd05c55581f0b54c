"""Read ``template.yaml`` the way CloudFormation would, enough to rebuild the stack in moto.

PyYAML refuses CloudFormation's short tags (``!Ref``, ``!GetAtt``, ``!Sub`` ...), so a loader turns each
into its long form (``{"Ref": ...}``, ``{"Fn::GetAtt": [...]}``), and ``SamTemplate`` exposes the parts the
local stack needs: parameters with their defaults, functions, queues, tables and state machines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Short tag -> long-form key. !GetAtt is special: "A.B" becomes ["A", "B"].
_SHORT_TAGS = (
    "Ref",
    "Sub",
    "GetAtt",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Base64",
    "Cidr",
    "Condition",
    "ToJsonString",
    "Length",
)


class _CfnLoader(yaml.SafeLoader):
    """A SafeLoader that also understands CloudFormation's short intrinsic-function tags."""


def _construct_tag(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], Any]:
    key = "Ref" if tag == "Ref" else ("Condition" if tag == "Condition" else f"Fn::{tag}")

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _tag in _SHORT_TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _construct_tag(_tag))


def load_cfn_yaml(text: str) -> dict[str, Any]:
    data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass with extra tags
    if not isinstance(data, dict):
        raise ValueError("template is not a YAML mapping")
    return data


class TemplateError(ValueError):
    """The template lacks something the local stack needs, or uses a construct it cannot resolve."""


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: str
    handler: str
    environment: Mapping[str, Any]
    events: Mapping[str, Any]
    timeout_s: int | None = None

    @property
    def handler_module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_function(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    def event_types(self) -> set[str]:
        return {str(e.get("Type", "")) for e in self.events.values() if isinstance(e, Mapping)}

    def rule_sources(self) -> set[str]:
        """The ``source`` values its EventBridge rules match (``aws.states`` for Step Functions' own)."""
        sources: set[str] = set()
        for event in self.events.values():
            properties = event.get("Properties") if isinstance(event, Mapping) else None
            pattern = properties.get("Pattern") if isinstance(properties, Mapping) else None
            source = pattern.get("source") if isinstance(pattern, Mapping) else None
            if isinstance(source, list):
                sources.update(str(s) for s in source)
        return sources


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    definition_uri: str
    substitutions: Mapping[str, Any]
    name: str | None = None


@dataclass
class SamTemplate:
    path: Path
    raw: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    state_machines: dict[str, StateMachineSpec] = field(default_factory=dict)
    global_environment: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> SamTemplate:
        template_path = Path(path)
        raw = load_cfn_yaml(template_path.read_text(encoding="utf-8"))
        tpl = cls(path=template_path, raw=raw)
        for name, spec in (raw.get("Parameters") or {}).items():
            tpl.parameters[name] = spec.get("Default")
        globals_fn = (raw.get("Globals") or {}).get("Function") or {}
        tpl.global_environment = dict((globals_fn.get("Environment") or {}).get("Variables") or {})
        global_timeout = globals_fn.get("Timeout")
        for logical_id, resource in (raw.get("Resources") or {}).items():
            kind = resource.get("Type")
            props = resource.get("Properties") or {}
            if kind == "AWS::Serverless::Function":
                code_uri = props.get("CodeUri") or globals_fn.get("CodeUri")
                handler = props.get("Handler") or globals_fn.get("Handler")
                if not isinstance(code_uri, str) or not isinstance(handler, str):
                    raise TemplateError(f"{logical_id}: CodeUri and Handler must be plain strings")
                env = dict(tpl.global_environment)
                env.update((props.get("Environment") or {}).get("Variables") or {})
                timeout = props.get("Timeout", global_timeout)
                tpl.functions[logical_id] = FunctionSpec(
                    logical_id=logical_id,
                    code_uri=code_uri,
                    handler=handler,
                    environment=env,
                    events=props.get("Events") or {},
                    timeout_s=timeout if isinstance(timeout, int) else None,
                )
            elif kind == "AWS::SQS::Queue":
                tpl.queues[logical_id] = dict(props)
            elif kind in {"AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"}:
                tpl.tables[logical_id] = dict(props)
            elif kind == "AWS::Serverless::StateMachine":
                uri = props.get("DefinitionUri")
                if not isinstance(uri, str):
                    raise TemplateError(f"{logical_id}: DefinitionUri must be a path to the ASL file")
                name = props.get("Name")
                tpl.state_machines[logical_id] = StateMachineSpec(
                    logical_id=logical_id,
                    definition_uri=uri,
                    substitutions=props.get("DefinitionSubstitutions") or {},
                    name=name if isinstance(name, str) else None,
                )
        return tpl

    @property
    def root(self) -> Path:
        return self.path.parent

    def single_state_machine(self) -> StateMachineSpec:
        if len(self.state_machines) != 1:
            raise TemplateError(f"expected one state machine, found {sorted(self.state_machines)}")
        return next(iter(self.state_machines.values()))

    def function_for_code(self, code_dir: str) -> FunctionSpec:
        """The function whose CodeUri is ``functions/<code_dir>/`` (how the runner finds its handlers)."""
        wanted = code_dir.strip("/").split("/")[-1]
        for spec in self.functions.values():
            if spec.code_uri.rstrip("/").split("/")[-1] == wanted:
                return spec
        raise TemplateError(f"no function with CodeUri functions/{wanted}/ in {self.path.name}")

    def read_definition(self, spec: StateMachineSpec) -> str:
        return (self.root / spec.definition_uri).read_text(encoding="utf-8")


def resolve_intrinsic(value: Any, lookup: Callable[[str, str | None], Any]) -> Any:
    """Resolve ``Ref``/``Fn::GetAtt``/``Fn::Sub`` (no variable map) through ``lookup(logical_id, attr)``.

    ``lookup(name, None)`` answers ``!Ref name``; ``lookup(name, "Arn")`` answers ``!GetAtt name.Arn``.
    Anything else raises ``TemplateError`` so an unsupported construct is loud, not silently wrong.
    """
    if isinstance(value, Mapping):
        if set(value) == {"Ref"}:
            return lookup(str(value["Ref"]), None)
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            logical_id, attr = (target if isinstance(target, list) else str(target).split(".", 1))[:2]
            return lookup(str(logical_id), str(attr))
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return _resolve_sub(value["Fn::Sub"], lookup)
        if any(str(k).startswith("Fn::") for k in value):
            raise TemplateError(f"unsupported intrinsic function: {json.dumps(value, default=str)[:200]}")
        return {k: resolve_intrinsic(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_intrinsic(v, lookup) for v in value]
    return value


def _resolve_sub(text: str, lookup: Callable[[str, str | None], Any]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        end = text.find("}", start)
        if end < 0:
            raise TemplateError(f"unterminated ${{ in Fn::Sub: {text!r}")
        name = text[start + 2 : end]
        if name.startswith("!"):
            out.append("${" + name[1:] + "}")
        elif "." in name:
            logical_id, attr = name.split(".", 1)
            out.append(str(lookup(logical_id, attr)))
        else:
            out.append(str(lookup(name, None)))
        i = end + 1
    return "".join(out)
