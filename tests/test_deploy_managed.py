"""deploy/cloudrun, deploy/ecs, deploy/azure: each parses as its platform expects (the ECS files
against the AWS API's own shapes, from botocore) and keeps the key settings: the image by
digest, a non-root user, probes on /health and /ready, the database URL from the platform's
secret store with the key every replica signs cursors with (PostgreSQL needs one set), a drain
that fits the platform's stop timeout, and only real TODO_* settings."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from deploy_support import (
    DIGEST_PATTERN,
    SETTING_NAMES,
    checkers_python,
    load_yaml,
    run_tool,
)
from support import PROJECT_ROOT
from todo_api.config import Settings

DEPLOY = PROJECT_ROOT / "deploy"
CLOUD_RUN = DEPLOY / "cloudrun" / "service.yaml"
ECS = DEPLOY / "ecs"
AZURE = DEPLOY / "azure" / "containerapp.yaml"
APP_USER = "10001:10001"
CLOUD_RUN_STOP_SECONDS = 10  # Cloud Run sends SIGKILL this long after SIGTERM
CLOUD_RUN_MAX_TIMEOUT_SECONDS = 3600  # the longest request (or stream) Cloud Run allows
# Each ECS file, the AWS API operation whose input it is.
ECS_OPERATIONS = {
    "task-definition.json": ("ecs", "RegisterTaskDefinition"),
    "service.json": ("ecs", "CreateService"),
    "target-group.json": ("elbv2", "CreateTargetGroup"),
}
VALIDATE_WITH_BOTOCORE = """
import json, sys
import botocore.session
from botocore.validate import ParamValidator
service, operation, path = sys.argv[1:]
model = botocore.session.get_session().get_service_model(service)
report = ParamValidator().validate(
    json.load(open(path)), model.operation_model(operation).input_shape
)
print(report.generate_report())
sys.exit(1 if report.has_errors() else 0)
"""


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {variable["name"]: variable.get("value", "") for variable in container["env"]}


SECRET_FILES = ("TODO_DATABASE_URL_FILE", "TODO_SECRET_KEY_FILE")


def are_settings(variables: dict[str, str]) -> bool:
    """Every variable is a TODO_* setting, or the file variant of one (TODO_X_FILE)."""
    return {name.removesuffix("_FILE") for name in variables} <= SETTING_NAMES


def secret_files(variables: dict[str, str]) -> dict[str, Path]:
    """The image's SQLite preset is blanked; the URL and the secret key are read from files:
    each variable's file."""
    assert variables["TODO_DATABASE_URL"] == ""
    return {name: Path(variables[name]) for name in SECRET_FILES}


def test_cloud_run_service() -> None:
    service = load_yaml(CLOUD_RUN)
    assert (service["apiVersion"], service["kind"]) == ("serving.knative.dev/v1", "Service")
    template = service["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert re.fullmatch(DIGEST_PATTERN, container["image"])
    assert container["ports"] == [{"name": "http1", "containerPort": 8000}]
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    variables = env_of(container)
    assert are_settings(variables)
    assert int(variables["TODO_GRACEFUL_TIMEOUT"]) < CLOUD_RUN_STOP_SECONDS
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume["secret"] for volume in template["spec"]["volumes"]}
    for path in secret_files(variables).values():
        mount = mounts[str(path.parent)]  # one Secret Manager secret per folder
        assert mount["readOnly"] is True
        assert volumes[mount["name"]]["items"] == [{"key": "latest", "path": path.name}]
    assert "run.googleapis.com/cloudsql-instances" in template["metadata"]["annotations"]


def test_cloud_run_lets_the_change_stream_run_for_its_maximum() -> None:
    """Cloud Run's request timeout ends streams too: at 30 s every open page's GET /events was
    cut twice a minute. 3600 is the most Cloud Run allows."""
    template = load_yaml(CLOUD_RUN)["spec"]["template"]
    assert template["spec"]["timeoutSeconds"] == CLOUD_RUN_MAX_TIMEOUT_SECONDS
    heartbeat = Settings.model_fields["events_heartbeat_seconds"].default
    assert heartbeat < CLOUD_RUN_MAX_TIMEOUT_SECONDS


@pytest.mark.deploy_tools
@pytest.mark.parametrize("file_name", sorted(ECS_OPERATIONS))
def test_ecs_file_is_valid_input_of_its_aws_operation(file_name: str) -> None:
    service, operation = ECS_OPERATIONS[file_name]
    result = run_tool(
        checkers_python(), "-c", VALIDATE_WITH_BOTOCORE, service, operation, ECS / file_name
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.deploy_tools
def test_botocore_validation_catches_a_misspelt_ecs_field(tmp_path: Path) -> None:
    """The check above can fail: AWS's shapes reject a field they do not know."""
    definition = json.loads((ECS / "task-definition.json").read_text())
    definition["containerDefinitions"][0]["readOnlyRootFilesystem"] = True
    wrong = tmp_path / "task-definition.json"
    wrong.write_text(json.dumps(definition))
    result = run_tool(
        checkers_python(), "-c", VALIDATE_WITH_BOTOCORE, "ecs", "RegisterTaskDefinition", wrong
    )
    assert result.returncode == 1
    assert "readOnlyRootFilesystem" in result.stdout


def test_ecs_task_runs_hardened_with_its_secret_from_secrets_manager() -> None:
    task = json.loads((ECS / "task-definition.json").read_text())
    assert task["requiresCompatibilities"] == ["FARGATE"]
    (container,) = task["containerDefinitions"]
    assert re.fullmatch(DIGEST_PATTERN, container["image"])
    assert container["user"] == APP_USER
    assert container["readonlyRootFilesystem"] is True
    assert container["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
    # Fargate has no tmpfs: /tmp is a task-storage volume.
    volumes = {volume["name"] for volume in task["volumes"]}
    assert {m["containerPath"]: m["sourceVolume"] for m in container["mountPoints"]} == {
        "/tmp": "tmp"
    }
    assert volumes == {"tmp"}
    assert container["healthCheck"]["command"] == ["CMD", "todo-api", "healthcheck"]
    variables = {variable["name"] for variable in container["environment"]}
    secrets = {secret["name"]: secret["valueFrom"] for secret in container["secrets"]}
    assert variables | set(secrets) <= SETTING_NAMES
    for name in ("TODO_DATABASE_URL", "TODO_SECRET_KEY"):
        assert re.match(r"arn:aws:(secretsmanager|ssm):", secrets[name])
    graceful = next(
        v["value"] for v in container["environment"] if v["name"].endswith("GRACEFUL_TIMEOUT")
    )
    assert container["stopTimeout"] > int(graceful)


def test_ecs_service_replaces_tasks_only_once_the_new_ones_are_ready() -> None:
    service = json.loads((ECS / "service.json").read_text())
    deployment = service["deploymentConfiguration"]
    assert deployment["minimumHealthyPercent"] == 100
    assert deployment["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["desiredCount"] >= 2
    assert service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    target_group = json.loads((ECS / "target-group.json").read_text())
    assert target_group["HealthCheckPath"] == "/ready"
    assert target_group["Port"] == 8000


def test_azure_container_app() -> None:
    app = load_yaml(AZURE)
    assert app["type"] == "Microsoft.App/containerApps"
    configuration = app["properties"]["configuration"]
    assert configuration["ingress"]["targetPort"] == 8000
    assert configuration["ingress"]["allowInsecure"] is False
    key_vault = {secret["name"] for secret in configuration["secrets"]}
    assert all(secret["keyVaultUrl"].startswith("https://") for secret in configuration["secrets"])
    template = app["properties"]["template"]
    (container,) = template["containers"]
    assert re.fullmatch(DIGEST_PATTERN, container["image"])
    probes = {probe["type"]: probe["httpGet"]["path"] for probe in container["probes"]}
    assert probes == {"Startup": "/health", "Liveness": "/health", "Readiness": "/ready"}
    variables = env_of(container)
    assert are_settings(variables)
    assert template["terminationGracePeriodSeconds"] > int(variables["TODO_GRACEFUL_TIMEOUT"])
    volumes = {volume["name"]: volume for volume in template["volumes"]}
    mounts = {mount["mountPath"]: mount["volumeName"] for mount in container["volumeMounts"]}
    assert volumes[mounts["/tmp"]]["storageType"] == "EmptyDir"
    for path in secret_files(variables).values():
        secret_volume = volumes[mounts[str(path.parent)]]
        assert secret_volume["storageType"] == "Secret"
        files = {entry["path"]: entry["secretRef"] for entry in secret_volume["secrets"]}
        assert files[path.name] in key_vault
    assert template["scale"]["minReplicas"] >= 2
