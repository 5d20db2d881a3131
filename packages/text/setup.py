"""Package layout only (metadata is in pyproject.toml): src/ plus configs/ shipped as recur_text.configs."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("src"), "recur_text.configs"],
    package_dir={"": "src", "recur_text.configs": "configs"},
)
