"""Package layout only (metadata is in pyproject.toml): src/ plus configs/ shipped as recur_pointcloud.configs."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("src"), "recur_pointcloud.configs"],
    package_dir={"": "src", "recur_pointcloud.configs": "configs"},
)
