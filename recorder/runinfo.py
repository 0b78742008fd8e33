"""Where a run (a pytest session) ran: the git commit and branch, the CI system and the
URL of its build. Best effort and quiet: what cannot be found is None."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path


def _github(env: Mapping[str, str]) -> str | None:
    parts = [env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else None


def _azure(env: Mapping[str, str]) -> str | None:
    parts = [env.get(k) for k in ("SYSTEM_COLLECTIONURI", "SYSTEM_TEAMPROJECT", "BUILD_BUILDID")]
    return f"{parts[0]}{parts[1]}/_build/results?buildId={parts[2]}" if all(parts) else None


# (name, the variable that says we run there, the build's URL)
CI_SYSTEMS: tuple[tuple[str, str, Callable[[Mapping[str, str]], str | None]], ...] = (
    ("github-actions", "GITHUB_ACTIONS", _github),
    ("gitlab-ci", "GITLAB_CI", lambda env: env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL")),
    ("jenkins", "JENKINS_URL", lambda env: env.get("BUILD_URL")),
    ("buildkite", "BUILDKITE", lambda env: env.get("BUILDKITE_BUILD_URL")),
    ("circleci", "CIRCLECI", lambda env: env.get("CIRCLE_BUILD_URL")),
    ("azure-pipelines", "TF_BUILD", _azure),
    ("travis", "TRAVIS", lambda env: env.get("TRAVIS_BUILD_WEB_URL")),
    ("ci", "CI", lambda env: env.get("BUILD_URL")),
)
BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME", "GIT_BRANCH",
                    "BUILDKITE_BRANCH", "CIRCLE_BRANCH", "BUILD_SOURCEBRANCHNAME", "TRAVIS_BRANCH")
COMMIT_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT", "BUILDKITE_COMMIT", "CIRCLE_SHA1",
                    "BUILD_SOURCEVERSION", "TRAVIS_COMMIT")


def ci(env: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """(CI system, its build's URL), from the environment; (None, None) outside CI."""
    env = os.environ if env is None else env
    for name, variable, url in CI_SYSTEMS:
        if env.get(variable, "").lower() not in ("", "0", "false"):
            return name, url(env)
    return None, None


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=5,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def git(directory: Path, env: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """(commit, branch) of the checkout at ``directory``; CI's variables fill in what git
    cannot say (a detached HEAD has no branch)."""
    env = os.environ if env is None else env
    commit = _git(directory, "rev-parse", "HEAD")
    branch = _git(directory, "rev-parse", "--abbrev-ref", "HEAD")
    if branch == "HEAD":
        branch = None
    commit = commit or next((env[v] for v in COMMIT_VARIABLES if env.get(v)), None)
    branch = branch or next((env[v] for v in BRANCH_VARIABLES if env.get(v)), None)
    return commit, branch


def describe(directory: Path) -> dict[str, str | None]:
    """The columns of a run that say where it ran."""
    commit, branch = git(directory)
    ci_name, ci_build_url = ci()
    return {"git_commit": commit, "git_branch": branch, "ci_name": ci_name, "ci_build_url": ci_build_url}
