"""The Docker image and compose file agree with the repository, the CLI and each other.

No Docker daemon is needed: the files are parsed and cross-checked, which catches the usual
drift (a renamed folder, a dropped CLI flag, a port changed in one place only).
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yml"


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]


def parse_dockerfile(text: str) -> list[Stage]:
    """Split into stages of (KEYWORD, args); continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            stages.append(Stage(base=args))
        else:
            assert stages, f"instruction before FROM: {line}"
            stages[-1].instructions.append((keyword, args))
    return stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec (JSON) form: {args}"
    return value


def copy_parts(args: str) -> tuple[list[str], list[str], str]:
    """(flags, sources, destination) of a COPY instruction."""
    tokens = exec_form(args) if args.startswith("[") else shlex.split(args)
    flags = [token for token in tokens if token.startswith("--")]
    paths = [token for token in tokens if not token.startswith("--")]
    return flags, paths[:-1], paths[-1]


def flag_value(argv: list[str], flag: str) -> str:
    assert flag in argv, f"{flag} missing from {argv}"
    return argv[argv.index(flag) + 1]


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_image_is_multi_stage(stages: list[Stage]):
    assert len(stages) >= 2
    assert stages[-1].base.startswith("python:3.11-slim")


def test_every_copy_source_exists_in_the_repo(stages: list[Stage]):
    local_copies = 0
    for stage in stages:
        for args in stage.all("COPY"):
            flags, sources, _ = copy_parts(args)
            if any(flag.startswith("--from") for flag in flags):
                continue
            for source in sources:
                local_copies += 1
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    assert local_copies >= 6


def test_the_builder_copies_every_package_the_project_installs(stages: list[Stage], pyproject):
    """A package left out of the image would make `pip install .` silently skip it."""
    copied = {
        source.rstrip("/")
        for stage in stages[:-1]
        for args in stage.all("COPY")
        for source in copy_parts(args)[1]
    }
    packages = {
        name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= copied, f"not copied into the builder: {sorted(packages - copied)}"


def test_runtime_copies_the_venv_from_the_builder(runtime: Stage):
    from_builder = [copy_parts(args) for args in runtime.all("COPY") if "--from=" in args]
    assert (["--from=builder"], ["/opt/venv"], "/opt/venv") in from_builder


def test_runtime_runs_as_a_non_root_user(runtime: Stage):
    user = runtime.last("USER").split(":")[0]
    assert user not in {"root", "0"}


def test_runtime_is_offline(runtime: Stage):
    env = " ".join(runtime.all("ENV"))
    assert "HF_HUB_OFFLINE=1" in env
    assert "TRANSFORMERS_OFFLINE=1" in env


def test_entrypoint_is_a_declared_console_script(runtime: Stage, pyproject: dict):
    entrypoint = exec_form(runtime.last("ENTRYPOINT"))
    assert len(entrypoint) == 1
    assert entrypoint[0] in pyproject["project"]["scripts"]


def test_torch_pin_matches_constraints(stages: list[Stage]):
    constraints = (REPO / "constraints.txt").read_text()
    pinned = re.search(r"^torch==(\S+)", constraints, re.MULTILINE)
    assert pinned, "constraints.txt pins no torch version"
    runs = [args for stage in stages for args in stage.all("RUN") if "torch==" in args]
    assert runs, "the Dockerfile never installs a pinned torch"
    for run in runs:
        assert re.findall(r"torch==(\S+)", run) == [pinned.group(1)]
        assert "download.pytorch.org/whl/cpu" in run


def test_one_port_everywhere(runtime: Stage, compose: dict):
    exposed = runtime.last("EXPOSE").split("/")[0]
    cmd = exec_form(runtime.last("CMD"))
    [mapping] = compose["services"]["bot"]["ports"]
    container_port = str(mapping).split(":")[-1].split("/")[0]
    health = runtime.last("HEALTHCHECK")

    assert exposed == flag_value(cmd, "--port") == container_port
    assert f"http://127.0.0.1:{exposed}/health" in health


def test_compose_wires_models_and_the_database(runtime: Stage, compose: dict):
    bot = compose["services"]["bot"]
    cmd = exec_form(runtime.last("CMD"))
    mounts = {volume.split(":")[1]: volume for volume in bot["volumes"]}

    assert bot["restart"] == "unless-stopped"
    assert bot["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert flag_value(cmd, "--model").startswith("/models/")
    assert mounts["/models"].endswith(":ro")
    db_dir = str(Path(flag_value(cmd, "--db")).parent)
    assert mounts[db_dir].split(":")[0] in compose["volumes"]


def test_train_service_uses_data_shipped_in_the_image(runtime: Stage, compose: dict):
    train = compose["services"]["train"]
    command = train["command"]
    [data_path] = [arg for arg in command if arg.startswith("/app/")]
    copied_to = {copy_parts(args)[2].rstrip("/") for args in runtime.all("COPY")}

    assert train["profiles"] == ["train"]
    assert command[0] == "train"
    assert (REPO / data_path.removeprefix("/app/")).is_dir()
    assert "/app/data" in copied_to
    assert "/models" in {volume.split(":")[1] for volume in train["volumes"]}
    assert not any(volume.endswith(":ro") for volume in train["volumes"])


def _cli_parser():
    from supportbot.cli import build_parser

    return build_parser()


def test_cmd_parses_with_the_cli(runtime: Stage):
    cmd = exec_form(runtime.last("CMD"))
    assert cmd[0] == "serve"

    args = _cli_parser().parse_args(cmd)

    assert str(args.port) == flag_value(cmd, "--port")


def test_compose_train_command_parses_with_the_cli(compose: dict):
    command = compose["services"]["train"]["command"]

    _cli_parser().parse_args(command)


def test_compose_serves_with_the_image_command_and_requires_the_rest_token(
    runtime: Stage, compose: dict
):
    """The REST channel is closed by default in compose: the bot's command is the image's
    with `--require-rest-token`, and the token variable is the one the config names."""
    from supportbot.config.channels import RestConfig

    bot = compose["services"]["bot"]
    assert bot["command"] == [*exec_form(runtime.last("CMD")), "--require-rest-token"]
    assert _cli_parser().parse_args(bot["command"]).require_rest_token is True
    variable = RestConfig().token_env
    assert bot["environment"][variable] == "${" + variable + ":-}"
