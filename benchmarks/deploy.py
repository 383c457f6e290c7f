"""plan/apply of the large spec against the local HTTPS fake of the management API, then
import of the instance it made (read, map, recognise every policy, write).

The baseline is the same number of bare SDK requests (``api_management_service.get``) over the
same connection: the ratio is what reading, normalising and diffing add on top of the HTTP round
trips a plan cannot avoid.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from benchmarks.large_spec import large_spec

if TYPE_CHECKING:
    from azure.mgmt.apimanagement import ApiManagementClient

    from apimgen.deploy.target import Target
    from apimgen.importer.to_spec import ImportedSpec


def main() -> None:
    from apimgen.deploy.apply import apply_plan
    from apimgen.deploy.client import make_client
    from apimgen.deploy.session import TargetOptions, plan_spec
    from tests.fakes.arm_apim import fake_arm

    with tempfile.TemporaryDirectory() as folder, fake_arm(Path(folder)) as (url, ca, state):
        os.environ["REQUESTS_CA_BUNDLE"] = str(ca)
        data = large_spec()
        spec = Path(folder) / "large.yaml"
        spec.write_text(yaml.safe_dump(data, sort_keys=False))
        group, service = data["gateway"]["resource_group"], data["gateway"]["name"]
        state.add_service("sub", group, service)
        options = TargetOptions("sub", arm_endpoint=url)
        secrets = {"APIMGEN_APP_INSIGHTS_INSTRUMENTATION_KEY": "k",
                   "APIMGEN_REDIS_CONNECTION_STRING": "c"}  # fmt: skip

        def connect(target: Target) -> ApiManagementClient:
            return make_client(target, "token")

        start = time.perf_counter()
        plan, client = plan_spec(spec, options, None, False, connect)
        first_plan = time.perf_counter() - start
        start = time.perf_counter()
        report = apply_plan(client, plan, secrets)
        applying = time.perf_counter() - start
        assert report.complete
        before = len(state.requests)
        start = time.perf_counter()
        again, _ = plan_spec(spec, options, None, False, connect)
        second_plan = time.perf_counter() - start
        reads = len(state.requests) - before
        assert not again.changes
        start = time.perf_counter()
        for _ in range(reads):
            client.api_management_service.get(group, service)
        bare = time.perf_counter() - start
        start = time.perf_counter()
        imported = _import(client, group, service, Path(folder) / "imported")
        importing = time.perf_counter() - start
    writes = len(plan.changes)
    print(
        f"deploy    large spec: plan (empty instance) {first_plan * 1000:6.0f} ms | apply "
        f"{writes} writes {applying * 1000:6.0f} ms | plan again {second_plan * 1000:6.0f} ms "
        f"({reads} requests) vs {reads} bare SDK requests {bare * 1000:6.0f} ms | ratio "
        f"{second_plan / bare:4.1f}x"
    )
    counts = imported.summary.counts()
    print(
        f"deploy    import of that instance {importing * 1000:6.0f} ms: "
        f"{sum(counts.values())} resources, {counts['mapped']} mapped to keys, "
        f"{counts['kept']} kept as written, {counts['skipped']} left out"
    )


def _import(client: ApiManagementClient, group: str, service: str, folder: Path) -> ImportedSpec:
    from apimgen.deploy.session import read_service
    from apimgen.deploy.target import Target
    from apimgen.importer.policy_keys import map_policies
    from apimgen.importer.to_spec import spec_from_live
    from apimgen.importer.write import write_import

    body, live = read_service(client, Target("sub", group, service, "AzureCloud", None))
    imported = spec_from_live(body, (group, service), live)
    map_policies(imported)
    write_import(imported, folder)
    return imported


if __name__ == "__main__":
    main()
