"""Build settings the wheel must carry from the project's own files."""

import sesame


def test_wheel_is_built_with_the_projects_cargo_env():
    # maturin runs cargo, which reads .cargo/config.toml's [env]: aws-lc without its CPU-jitter
    # entropy source, whose first use cost every Python process ~30 ms of CPU at its first TLS
    # connection (docs/design/tls-startup.md).
    assert sesame._sesame._AWS_LC_NO_JITTER_ENTROPY is True, (
        "the wheel was built without AWS_LC_SYS_NO_JITTER_ENTROPY=1: did the build run cargo "
        "outside the repository, or override it in the environment?"
    )
