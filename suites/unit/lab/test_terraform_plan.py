"""Reading `terraform show -json`: an id unknown before apply gets a stand-in naming its
resource, and a reference reaches the same stand-in through a module's variable, another
module's output, the most specific of Terraform's reference forms, and `count.index`."""

from __future__ import annotations

from typing import Any

import pytest

from lab.imports.problems import Origin, Problems
from lab.imports.terraform_plan import Plan, Resource, read_plan

pytestmark = pytest.mark.unit

STAND_IN = {"aws_subnet": "subnet-", "aws_network_interface": "eni-", "aws_eip": "eipalloc-"}


def resource(module: str, kind: str, name: str, index: Any = None,
             values: dict[str, Any] | None = None) -> dict[str, Any]:
    suffix = "" if index is None else f"[{index!r}]".replace("'", '"')
    item = {"address": f"{module}.{kind}.{name}{suffix}", "mode": "managed", "type": kind,
            "name": name, "values": values or {}}
    return item if index is None else {**item, "index": index}


def config(kind: str, name: str, **expressions: Any) -> dict[str, Any]:
    return {"address": f"{kind}.{name}", "mode": "managed", "type": kind, "name": name,
            "expressions": expressions}


def refs(*names: str) -> dict[str, list[str]]:
    return {"references": list(names)}


PLAN = {
    "planned_values": {"root_module": {"child_modules": [
        {"address": "module.net", "resources": [
            resource("module.net", "aws_subnet", "a", "x", {"cidr_block": "10.0.1.0/24"}),
            resource("module.net", "aws_subnet", "a", "y",
                     {"cidr_block": "10.0.2.0/24", "id": "subnet-0known"})]},
        {"address": "module.app", "resources": [
            resource("module.app", "aws_network_interface", "eni", 0),
            resource("module.app", "aws_network_interface", "eni", 1),
            resource("module.app", "aws_eip", "e", 0),
            resource("module.app", "aws_eip", "e", 1)]}]}},
    "resource_changes": [
        {"address": 'module.net.aws_subnet.a["x"]', "change": {"after_unknown": {"id": True}}}],
    "configuration": {"root_module": {"module_calls": {
        "net": {"expressions": {}, "module": {
            "resources": [config("aws_subnet", "a")],
            "outputs": {"x_id": {"expression": refs('aws_subnet.a["x"].id', 'aws_subnet.a["x"]',
                                                    "aws_subnet.a")}}}},
        "app": {"expressions": {"subnet_id": refs("module.net.x_id", "module.net")},
                "module": {"resources": [
                    config("aws_network_interface", "eni", subnet_id=refs("var.subnet_id")),
                    config("aws_eip", "e", network_interface=refs("aws_network_interface.eni",
                                                                  "count.index"))]}}}}},
}


def read() -> Plan:
    plan = read_plan(PLAN, Origin("plan.json", ""), Problems(), STAND_IN)
    assert plan is not None
    return plan


def find(plan: Plan, address: str) -> Resource:
    return next(r for r in plan.resources if r.address == address)


def test_an_unknown_id_stands_in_with_the_providers_prefix_and_a_known_one_is_kept() -> None:
    plan = read()
    assert plan.identifier(find(plan, 'module.net.aws_subnet.a["x"]')) == \
        'subnet-(module.net.aws_subnet.a["x"])'
    assert plan.identifier(find(plan, 'module.net.aws_subnet.a["y"]')) == "subnet-0known"


def test_a_variable_is_followed_to_the_other_modules_output_and_its_one_instance() -> None:
    plan = read()
    eni = find(plan, "module.app.aws_network_interface.eni[0]")
    assert plan.value(eni, "subnet_id") == 'subnet-(module.net.aws_subnet.a["x"])'


def test_count_index_picks_the_instance_of_the_same_index() -> None:
    plan = read()
    assert plan.value(find(plan, "module.app.aws_eip.e[1]"), "network_interface") == \
        "eni-(module.app.aws_network_interface.eni[1])"


def test_a_planned_value_wins_over_the_configuration() -> None:
    plan = read()
    assert plan.value(find(plan, 'module.net.aws_subnet.a["x"]'), "cidr_block") == \
        "10.0.1.0/24"


def test_something_else_than_terraform_json_is_a_problem() -> None:
    problems = Problems()
    assert read_plan({"resources": []}, Origin("x.json", ""), problems, STAND_IN) is None
    assert [i.message for i in problems.errors] == [
        "not `terraform show -json` output: no planned_values or values"]
