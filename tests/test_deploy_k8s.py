"""deploy/k8s: every overlay renders, validates strictly against a pinned Kubernetes version,
passes checkov (a skip only with a reason), and keeps the promises docs/deploy.md makes:
the restricted Pod Security Standard on every container, probes, the drain timing, SQLite in one
pod, replicas that roll without downtime, secrets as files, the image by digest."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from deploy_support import (
    DIGEST_PATTERN,
    OVERLAYS,
    SETTING_NAMES,
    only,
    rendered,
    rendered_text,
    run_tool,
    tool,
)
from todo_api.config import Settings

pytestmark = pytest.mark.deploy_tools

KUBERNETES_VERSION = "1.32.0"  # the oldest minor the manifests promise to fit; bump on purpose
APP_UID = 10001
# Volume types the restricted Pod Security Standard admits.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
EXPECTED_KINDS = {
    "single": {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "PersistentVolumeClaim",
        "Deployment",
        "NetworkPolicy",
    },
    "postgres": {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "Deployment",
        "NetworkPolicy",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    },
}


def pod_spec(overlay: str) -> dict[str, Any]:
    spec: dict[str, Any] = only(rendered(overlay), "Deployment")["spec"]["template"]["spec"]
    return spec


def all_containers(overlay: str) -> list[dict[str, Any]]:
    spec = pod_spec(overlay)
    return [*spec.get("initContainers", []), *spec["containers"]]


def server(overlay: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(overlay)["containers"]
    (container,) = containers
    return container


def environment(overlay: str, container: dict[str, Any]) -> dict[str, str]:
    """The TODO_* variables a container gets: its ConfigMap, then its own `env` on top."""
    settings: dict[str, str] = dict(only(rendered(overlay), "ConfigMap")["data"])
    for variable in container.get("env", []):
        settings[variable["name"]] = variable["value"]
    return settings


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_renders_into_its_objects_in_one_namespace(overlay: str) -> None:
    documents = rendered(overlay)
    assert {document["kind"] for document in documents} == EXPECTED_KINDS[overlay]
    for document in documents:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == "todo-api", document["kind"]
    namespace = only(documents, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.slow
def test_the_overlays_validate_strictly_against_the_pinned_kubernetes(tmp_path: Path) -> None:
    validate = tool("kubernetes-validate")
    files = []
    for overlay in OVERLAYS:
        files.append(tmp_path / f"{overlay}.yaml")
        files[-1].write_text(rendered_text(overlay))
    result = run_tool(validate, "--strict", "--quiet", "-k", KUBERNETES_VERSION, *files)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_strict_validation_rejects_a_field_kubernetes_does_not_know(tmp_path: Path) -> None:
    """The check above can fail: a misspelt field is an error, not silently dropped."""
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(
        rendered_text("single").replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:", 1)
    )
    validate = tool("kubernetes-validate")
    result = run_tool(validate, "--strict", "--quiet", "-k", KUBERNETES_VERSION, manifest)
    assert result.returncode != 0
    assert "readOnlyRootFileSystem" in result.stdout + result.stderr


@pytest.mark.slow
def test_checkov_fails_nothing_and_every_skip_gives_its_reason(tmp_path: Path) -> None:
    checkov = tool("checkov")
    files = []
    for overlay in OVERLAYS:
        files.append(tmp_path / f"{overlay}.yaml")
        files[-1].write_text(rendered_text(overlay))
    arguments: list[str | Path] = ["--framework", "kubernetes", "--skip-download", "-o", "json"]
    for path in files:
        arguments += ["-f", path]
    result = run_tool(checkov, *arguments)
    report = json.loads(result.stdout)
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["passed"] > 0
    assert report["summary"]["parsing_errors"] == 0
    for check in report["results"]["skipped_checks"]:
        assert check["check_result"].get("suppress_comment"), check["check_id"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_meets_the_restricted_profile_with_a_read_only_root(
    overlay: str,
) -> None:
    spec = pod_spec(overlay)
    pod_context = spec["securityContext"]
    assert pod_context["runAsNonRoot"] is True
    assert pod_context["runAsUser"] == APP_UID
    assert pod_context["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    # Service links would add TODO_API_* variables (from the Service's name) among the settings.
    assert spec["enableServiceLinks"] is False
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(forbidden), forbidden
    for volume in spec["volumes"]:
        kinds = set(volume) - {"name"}
        assert kinds <= RESTRICTED_VOLUME_TYPES, volume
    for container in all_containers(overlay):
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True, container["name"]
        assert context["runAsUser"] == APP_UID, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context.get("privileged", False) is False, container["name"]
        assert context["capabilities"] == {"drop": ["ALL"]}, container["name"]
        assert context["seccompProfile"]["type"] == "RuntimeDefault", container["name"]
        assert not container.get("ports", [{}])[0].get("hostPort"), container["name"]
        # With the root read-only, /tmp is the scratch space Python and SQLite may need.
        assert "/tmp" in {mount["mountPath"] for mount in container["volumeMounts"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_server_has_probes_resources_and_a_drain_that_fits_the_grace_period(
    overlay: str,
) -> None:
    container = server(overlay)
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    for container_ in all_containers(overlay):
        for kind in ("requests", "limits"):
            assert set(container_["resources"][kind]) == {"cpu", "memory"}, container_["name"]
    pause = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"
    default = Settings.model_fields["graceful_timeout"].default
    graceful_seconds = int(environment(overlay, container).get("TODO_GRACEFUL_TIMEOUT", default))
    assert pod_spec(overlay)["terminationGracePeriodSeconds"] > int(pause[1]) + graceful_seconds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_in_an_init_container_of_the_same_image(overlay: str) -> None:
    (migrate,) = pod_spec(overlay)["initContainers"]
    assert migrate["args"] == ["migrate"]
    assert migrate["image"] == server(overlay)["image"]
    assert environment(overlay, migrate) == environment(overlay, server(overlay))
    mounts = {mount["mountPath"] for mount in migrate["volumeMounts"]}
    assert mounts == {mount["mountPath"] for mount in server(overlay)["volumeMounts"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_is_a_real_setting_with_a_valid_value(overlay: str) -> None:
    """A misspelt TODO_ variable would be ignored silently; a bad value stops the pod."""
    for container in all_containers(overlay):
        variables = environment(overlay, container)
        names = {name.removesuffix("_FILE") for name in variables}
        assert names <= SETTING_NAMES, names - SETTING_NAMES
        plain = {name: value for name, value in variables.items() if not name.endswith("_FILE")}
        values = {name.removeprefix("TODO_").lower(): value for name, value in plain.items()}
        if not values.get("database_url"):  # postgres: the URL comes from the secret file
            values.pop("database_url", None)
        Settings.model_validate(values)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_image_is_referenced_by_digest(overlay: str) -> None:
    for container in all_containers(overlay):
        assert re.fullmatch(DIGEST_PATTERN, container["image"]), container["image"]
        assert container["imagePullPolicy"] == "IfNotPresent"


def test_single_keeps_sqlite_to_one_pod_on_its_volume() -> None:
    documents = rendered("single")
    deployment = only(documents, "Deployment")["spec"]
    assert deployment["replicas"] == 1
    assert deployment["strategy"] == {"type": "Recreate"}
    claim = only(documents, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    volumes = {volume["name"]: volume for volume in pod_spec("single")["volumes"]}
    data_mounts = [m for m in server("single")["volumeMounts"] if m["mountPath"] == "/data"]
    (data,) = data_mounts
    pvc = volumes[data["name"]]["persistentVolumeClaim"]
    assert pvc["claimName"] == claim["metadata"]["name"]
    url = environment("single", server("single"))["TODO_DATABASE_URL"]
    assert url == "sqlite:////data/todo.db"


def test_postgres_rolls_without_downtime_and_spreads() -> None:
    documents = rendered("postgres")
    deployment = only(documents, "Deployment")
    spec = deployment["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod_labels = spec["template"]["metadata"]["labels"]
    autoscaler = only(documents, "HorizontalPodAutoscaler")["spec"]
    assert autoscaler["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert autoscaler["minReplicas"] >= 2
    budget = only(documents, "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] >= 1
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
    keys = {c["topologyKey"] for c in pod_spec("postgres")["topologySpreadConstraints"]}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_autoscaled_deployment_leaves_its_replica_count_to_the_autoscaler(overlay: str) -> None:
    """`spec.replicas` beside an HPA resets the pods to that number on every `kubectl apply`
    (Kubernetes' HPA docs: remove it from the manifest); the HPA's minimum keeps two."""
    documents = rendered(overlay)
    autoscalers = [d for d in documents if d["kind"] == "HorizontalPodAutoscaler"]
    scaled = {a["spec"]["scaleTargetRef"]["name"] for a in autoscalers}
    for document in documents:
        if document["kind"] == "Deployment" and document["metadata"]["name"] in scaled:
            assert "replicas" not in document["spec"]
    assert all(a["spec"]["minReplicas"] >= 2 for a in autoscalers)
    assert bool(autoscalers) == (overlay == "postgres")


def test_postgres_reads_its_database_url_and_secret_key_from_secret_files() -> None:
    """On PostgreSQL the server does not start without TODO_SECRET_KEY, and every replica must
    sign cursors with the same one: both come from the Secret, as files."""
    spec = pod_spec("postgres")
    secrets = {v["name"]: v["secret"] for v in spec["volumes"] if "secret" in v}
    for container in all_containers("postgres"):
        variables = environment("postgres", container)
        assert variables["TODO_DATABASE_URL"] == ""  # blanks the image's SQLite preset
        for name in ("TODO_DATABASE_URL_FILE", "TODO_SECRET_KEY_FILE"):
            path = Path(variables[name])
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            mount = mounts[str(path.parent)]
            assert mount["readOnly"] is True
            items = {item["path"] for item in secrets[mount["name"]]["items"]}
            assert path.name in items


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_network_policy_admits_the_port_and_lets_out_dns_and_the_database(
    overlay: str,
) -> None:
    policy = only(rendered(overlay), "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    egress_ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert egress_ports == ({53, 5432} if overlay == "postgres" else {53})
