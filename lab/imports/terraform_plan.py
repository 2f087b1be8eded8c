"""`terraform show -json` of a plan or of state: every managed resource, in every module,
with what is known of it and the references that stand for what is not yet.

A plan knows most values before apply but not the ids the cloud will give (nor
addresses it will pick): planned values leave them out, `after_unknown` marks
them, and the configuration says which resource each came from
(`"vpc_id": {"references": ["aws_vpc.main.id", "aws_vpc.main"]}`). A resource's
identifier is its id when known, else a stand-in that keeps the provider's prefix
and names the resource (`vpc-(module.net.aws_vpc.main)`), so references resolve
to the same identifier whichever way they are written. Provider-neutral. Format:
<https://developer.hashicorp.com/terraform/internals/json-format>.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from lab.imports.problems import Origin, Problems

INDEX = re.compile(r"\[[^\]]*\]")
# Providers that make values, not cloud resources: a plan for any cloud may hold them.
UTILITY_PROVIDERS = ("random_", "tls_", "null_", "time_", "local_", "terraform_data",
                     "cloudinit_", "archive_")
NOT_RESOURCES = ("var.", "local.", "module.", "data.", "each.", "count.", "path.", "self.",
                 "terraform.")


@dataclass(frozen=True, slots=True)
class Resource:
    address: str  # module.net.aws_subnet.a[0]
    module: str  # module.net ('' at the root)
    type: str
    name: str
    index: str  # '[0]', '["a"]' or ''
    values: dict[str, Any]
    unknown: dict[str, Any]  # after_unknown: attribute -> True, or a nested structure
    expressions: dict[str, Any]  # the configuration's, for this resource
    origin: Origin

    @property
    def key(self) -> str:
        """The configuration's name for it: module path and type.name, no indexes."""
        return INDEX.sub("", f"{self.module}.{self.type}.{self.name}".lstrip("."))

    def known(self, attr: str) -> bool:
        if attr not in self.values or self.values[attr] is None:
            return False
        return not _unknown(self.unknown.get(attr))


def _unknown(flag: Any) -> bool:
    """`after_unknown`'s mark for a value: true, or a list with an unknown element."""
    return flag is True or (isinstance(flag, list) and any(f is True for f in flag))


@dataclass(frozen=True)
class ModuleConfig:
    """What the configuration says of one module: its module calls' arguments (what each
    child's `var.NAME` is) and its outputs (what `module.THIS.NAME` is)."""

    calls: dict[str, dict[str, Any]]  # child name -> argument -> expression
    outputs: dict[str, Any]  # output name -> expression


@dataclass
class Plan:
    resources: list[Resource]
    stand_in: dict[str, str]  # resource type -> the prefix of its provider's ids
    modules: dict[str, ModuleConfig] = field(default_factory=dict)  # by path, '' the root

    def identifier(self, resource: Resource) -> str:
        if resource.known("id"):
            return str(resource.values["id"])
        return f"{self.stand_in.get(resource.type, '')}({resource.address})"

    def by_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def value(self, resource: Resource, attr: str) -> Any:
        """What `attr` will be: the known value, or the identifiers its references name
        (one string, or a list when the attribute is a list), or None."""
        if resource.known(attr):
            return resource.values[attr]
        expression = resource.expressions.get(attr)
        return self.from_expression(resource, expression)

    def from_expression(self, resource: Resource, expression: Any) -> Any:
        if not isinstance(expression, dict):
            return None
        if "constant_value" in expression:
            return expression["constant_value"]
        targets = self.referenced(resource, expression.get("references", []))
        if not targets:
            return None
        names = [self.identifier(t) for t in targets]
        return names if len(names) > 1 else names[0]

    def referenced(self, resource: Resource, references: list[str]) -> list[Resource]:
        """The resources a configuration's references name; `var.X` and `module.M.X` are
        followed through the module calls and outputs; with `count`/`for_each`, the
        instance of the same index when there is one."""
        return self._resolve(resource.module, resource.index, references, depth=0)

    def _resolve(self, module: str, index: str, references: list[str],
                 depth: int) -> list[Resource]:
        found: list[Resource] = []
        for ref in _most_specific(references) if depth < MAX_DEPTH else []:
            for target in self._one(module, index, ref, depth):
                if target not in found:
                    found.append(target)
        return found

    def _one(self, module: str, index: str, ref: str, depth: int) -> list[Resource]:
        parts = INDEX.sub("", ref).split(".")
        if ref.startswith("var.") and module:
            parent, name = _parent(module)
            argument = self.modules.get(parent, EMPTY).calls.get(name, {}).get(parts[1])
            return self._resolve(parent, index, _references(argument), depth + 1)
        if ref.startswith("module.") and len(parts) >= 3:
            child = f"{module}.module.{parts[1]}".lstrip(".")
            output = self.modules.get(INDEX.sub("", child), EMPTY).outputs.get(parts[2])
            return self._resolve(child, index, _references(output), depth + 1)
        if ref.startswith(NOT_RESOURCES) or len(parts) < 2:
            return []
        key = INDEX.sub("", f"{module}.{parts[0]}.{parts[1]}".lstrip("."))
        instances = [r for r in self.resources if r.key == key]
        named = INDEX.findall(ref.split(".")[1])
        return [r for r in instances if named and r.index == named[0]] or \
            [r for r in instances if r.index and r.index == index] or instances


MAX_DEPTH = 8
EMPTY = ModuleConfig({}, {})
UNKNOWN_PUBLIC = IPv4Address("203.0.113.200")  # counting up; the lab's pool keeps them


class PlanReader:
    """What every provider's reader asks of a plan: a resource's identifier, an
    attribute as planned or as its references resolve, nested blocks, and a public
    address the lab chooses when the plan does not know it yet."""

    def __init__(self, plan: Plan, problems: Problems) -> None:
        self.plan = plan
        self.problems = problems
        self.next_public = UNKNOWN_PUBLIC

    def id(self, resource: Resource) -> str:
        return self.plan.identifier(resource)

    def get(self, resource: Resource, attr: str) -> Any:
        return self.plan.value(resource, attr)

    def text(self, resource: Resource, attr: str) -> str:
        value = self.get(resource, attr)
        return "" if value is None or isinstance(value, (list, dict)) else str(value)

    def texts(self, resource: Resource, attr: str) -> tuple[str, ...]:
        value = self.get(resource, attr)
        if value is None:
            return ()
        return tuple(str(v) for v in (value if isinstance(value, list) else [value]) if v)

    def blocks(self, resource: Resource, attr: str) -> list[dict[str, Any]]:
        """Nested blocks (`ingress`, `route`, `ip_configuration`...): as planned, each
        value the plan does not know yet taken from the configuration's block of the same
        place with its references resolved; when the whole attribute is unknown, each
        block as configured."""
        configured = resource.expressions.get(attr)
        configured = configured if isinstance(configured, list) else []
        if not resource.known(attr):
            return [{k: self.plan.from_expression(resource, e) for k, e in block.items()}
                    for block in configured if isinstance(block, dict)]
        flags = resource.unknown.get(attr)
        out = []
        for i, block in enumerate(resource.values[attr]):
            if not isinstance(block, dict):
                continue
            flag = flags[i] if isinstance(flags, list) and i < len(flags) else {}
            config = configured[i] if i < len(configured) and \
                isinstance(configured[i], dict) else {}
            unknown = [k for k, f in (flag.items() if isinstance(flag, dict) else ())
                       if _unknown(f)]
            out.append({**block, **{k: self.plan.from_expression(resource, config.get(k))
                                    for k in unknown}})
        return out

    def public(self, resource: Resource, attr: str, what: str) -> IPv4Address:
        """The planned public address, or the next of the lab's (a warning says which)."""
        if resource.known(attr):
            return IPv4Address(str(resource.values[attr]))
        chosen = self.next_public
        self.next_public += 1
        self.problems.warn(resource.origin, f"{what}: the public IP is unknown until apply; "
                           f"the lab uses {chosen}")
        return chosen

    def not_read(self, resource: Resource, prefix: str) -> None:
        """A resource the lab does not read: of this provider, a warning; of another, a
        problem (a plan that mixes clouds is refused before)."""
        if resource.type.startswith(prefix):
            self.problems.warn(resource.origin, f"{resource.address}: not needed by the lab: "
                               "not read")
        elif resource.type.startswith(UTILITY_PROVIDERS):
            self.problems.warn(resource.origin, f"{resource.address}: not a cloud resource "
                               "(a utility provider's): not read")
        else:
            self.problems.unsupported(resource.origin, f"{resource.address}: the Terraform "
                                      "importer reads the AWS and Azure providers' resources "
                                      "(aws_*, azurerm_*)",
                                      "the lab models AWS and Azure networks")


def _most_specific(references: list[str]) -> list[str]:
    """Terraform lists `aws_subnet.this["a"].id`, `aws_subnet.this["a"]` and
    `aws_subnet.this` for one use: the longest says which instance."""
    return [r for r in references
            if not any(o != r and (o.startswith(r + ".") or o.startswith(r + "["))
                       for o in references)]


def _parent(module: str) -> tuple[str, str]:
    """`module.a.module.b` -> (`module.a`, `b`); `module.a` -> ('', `a`)."""
    path = INDEX.sub("", module)
    head, sep, name = path.rpartition(".module.")
    return (head, name) if sep else ("", path.removeprefix("module."))


def _references(expression: Any) -> list[str]:
    return list(expression.get("references", [])) if isinstance(expression, dict) else []


def read_plan(data: Any, where: Origin, problems: Problems, stand_in: dict[str, str]
              ) -> Plan | None:
    if not isinstance(data, dict) or not ("planned_values" in data or "values" in data):
        problems.error(where, "not `terraform show -json` output: no planned_values or values",
                       "run `terraform show -json plan.tfplan > plan.json` (or of the state)")
        return None
    planned = "planned_values" in data
    root = (data.get("planned_values") or data.get("values") or {}).get("root_module", {})
    path = "planned_values.root_module" if planned else "values.root_module"
    unknown = {str(c.get("address")): (c.get("change") or {}).get("after_unknown") or {}
               for c in data.get("resource_changes", []) if isinstance(c, dict)}
    root_config = ((data.get("configuration") or {}).get("root_module")) or {}
    config = dict(_config(root_config, ""))
    modules = dict(_modules(root_config, ""))
    resources = []
    for origin, module, item in _walk(root, where.at(path), ""):
        if item.get("mode") == "data":
            continue
        address = str(item.get("address", ""))
        kind, name = str(item.get("type", "")), str(item.get("name", ""))
        after_unknown = unknown.get(address)
        resources.append(Resource(
            address, module, kind, name,
            address[address.rindex("["):] if address.endswith("]") else "",
            item.get("values") or {}, after_unknown if isinstance(after_unknown, dict) else {},
            config.get(INDEX.sub("", f"{module}.{kind}.{name}").lstrip("."), {}), origin))
    return Plan(resources, stand_in, modules)


def _walk(module: dict[str, Any], where: Origin, path: str
          ) -> Iterator[tuple[Origin, str, dict[str, Any]]]:
    for i, item in enumerate(module.get("resources", [])):
        if isinstance(item, dict):
            yield where.at("resources").at(i), path, item
    for i, child in enumerate(module.get("child_modules", [])):
        if isinstance(child, dict):
            yield from _walk(child, where.at("child_modules").at(i), str(child.get("address")))


def _config(module: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for item in module.get("resources", []):
        if isinstance(item, dict) and item.get("mode", "managed") == "managed":
            key = f"{path}.{item.get('type')}.{item.get('name')}".lstrip(".")
            yield key, item.get("expressions") or {}
    for name, call in (module.get("module_calls") or {}).items():
        inner = (call or {}).get("module") or {}
        yield from _config(inner, f"{path}.module.{name}".lstrip("."))


def _modules(module: dict[str, Any], path: str) -> Iterator[tuple[str, ModuleConfig]]:
    calls = module.get("module_calls") or {}
    yield path, ModuleConfig({name: (call or {}).get("expressions") or {}
                              for name, call in calls.items()},
                             {name: (out or {}).get("expression")
                              for name, out in (module.get("outputs") or {}).items()})
    for name, call in calls.items():
        yield from _modules((call or {}).get("module") or {}, f"{path}.module.{name}".lstrip("."))


PROVIDERS = {"aws": "aws_", "azure": "azurerm_"}  # the clouds read, by type prefix


def provider_of(plan: Plan, problems: Problems) -> str:
    """The cloud whose resources the plan holds: `aws` or `azure` (`aws` when neither,
    whose reader then lists what is there); '' for both, a problem naming the first
    resource of each: the lab builds one cloud at a time."""
    first = {cloud: next((r for r in plan.resources if r.type.startswith(prefix)), None)
             for cloud, prefix in PROVIDERS.items()}
    aws, azure = first["aws"], first["azure"]
    if aws is not None and azure is not None:
        later = max(aws, azure, key=plan.resources.index)
        problems.error(later.origin, f"the plan holds AWS and Azure resources ({aws.address}, "
                       f"{azure.address}...): the lab builds one cloud at a time",
                       "import one cloud's plan (or state) at a time")
        return ""
    return "azure" if azure is not None else "aws"
