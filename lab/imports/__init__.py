"""Importers: a real cloud's exports in, a topology the lab can build out.

    result = import_export("aws", [Path("aws_configs")], name="my-vpc",
                           files_dir="my-vpc-lab", command="cclab import aws aws_configs")
    # or "azure" with `az network ... list` files (vnet, nsg, route-table, nic,
    # public-ip, lb); or "terraform" with `terraform show -json` of a plan or state
    # (its AWS or its Azure resources)
    result.topology, result.files

Pure apart from reading the files given (and the lab's own base.yaml): every
problem of the export is collected and raised at once (`ExportError`, each with
file, JSON path and hint). docs/cloud-semantics.md says what is modelled.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

from lab.imports.aws_cli import read_account
from lab.imports.aws_lab import AwsOptions, aws_cloud
from lab.imports.aws_model import Account
from lab.imports.azure_cli import read_subscription
from lab.imports.azure_lab import AzureOptions, azure_cloud
from lab.imports.azure_model import Subscription
from lab.imports.cloud import LabCloud
from lab.imports.jsonfiles import Document, read_documents
from lab.imports.layout import ImportResult, lay_out
from lab.imports.problems import ExportError, Origin, Problems
from lab.imports.terraform_aws import STAND_IN, read_aws
from lab.imports.terraform_azure import read_azure
from lab.imports.terraform_plan import Plan, provider_of, read_plan

__all__ = ["ExportError", "ImportResult", "import_export"]


def import_export(provider: str, paths: list[Path], *, name: str, files_dir: str, command: str,
                  connector_tag: tuple[str, str] = ("Role", "cloud-connector"),
                  connector_enis: tuple[tuple[str, str], ...] = (), workload_subnet: str = "",
                  allow_unsupported: bool = False,
                  gateway_prefixes: tuple[tuple[str, IPv4Network], ...] = ()) -> ImportResult:
    """`provider`'s exports at `paths` as a topology named `name`, or ExportError."""
    problems = Problems(allow_unsupported)
    azure = AzureOptions(connector_tag, workload_subnet, gateway_prefixes)
    documents = read_documents(paths, problems)
    cloud: LabCloud | None = None
    if provider == "aws":
        account = read_account(documents, problems)
        cloud = _aws(account, problems, connector_tag, connector_enis, workload_subnet,
                     gateway_prefixes)
    elif provider == "azure":
        subscription = read_subscription(documents, problems)
        cloud = _azure(subscription, problems, azure, connector_enis)
    elif provider == "terraform":
        plan = _terraform(documents, problems)
        which = provider_of(plan, problems)  # '' when it holds both: a problem
        if which == "azure":
            subscription = read_azure(plan, problems, [d.name for d in documents])
            cloud = _azure(subscription, problems, azure, connector_enis)
        elif which == "aws":
            plan.stand_in = STAND_IN
            account = read_aws(plan, problems, [d.name for d in documents])
            cloud = _aws(account, problems, connector_tag, connector_enis, workload_subnet,
                         gateway_prefixes)
    else:
        raise ValueError(provider)
    problems.raise_if_any()
    assert cloud is not None
    return lay_out(cloud, name=name, files_dir=files_dir, command=command,
                   warnings=[w.render() for w in problems.warnings])


def _aws(account: Account, problems: Problems, connector_tag: tuple[str, str],
         connector_enis: tuple[tuple[str, str], ...], workload_subnet: str,
         gateway_prefixes: tuple[tuple[str, IPv4Network], ...]) -> LabCloud | None:
    if gateway_prefixes:
        problems.error(Origin("--gateway-prefix", ""), "names Azure VNets",
                       "on AWS, a VPN gateway's routes are in the route tables' export")
    options = AwsOptions(connector_tag, connector_enis, workload_subnet)
    return aws_cloud(account, options, problems) if not problems.errors else None


def _azure(subscription: Subscription, problems: Problems, azure: AzureOptions,
           connector_enis: tuple[tuple[str, str], ...]) -> LabCloud | None:
    if connector_enis:
        problems.error(Origin("--connector-eni", ""), "names AWS interfaces",
                       "for Azure, tag the connectors' interfaces: --connector-tag")
    return azure_cloud(subscription, azure, problems) if not problems.errors else None


def _terraform(documents: list[Document], problems: Problems) -> Plan:
    """Every plan or state given, as one (a plan split over files is read whole)."""
    whole = Plan([], {})
    for doc in documents:
        plan = read_plan(doc.data, doc.origin, problems, {})
        if plan is not None:
            whole.resources += plan.resources
            whole.modules.update(plan.modules)
    return whole
