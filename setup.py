"""Packaging beyond what pyproject.toml can say: the presets (configs/) and prompts
(prompts/) stay at the top of the repository, where people read and edit them, and are
shipped inside the wheel as mosaic/presets/ and mosaic/prompts/ (mosaic.config finds them
in either place)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["mosaic*"]), "mosaic.presets", "mosaic.prompts"],
    package_dir={"mosaic.presets": "configs", "mosaic.prompts": "prompts"},
    package_data={"mosaic": ["py.typed", "data/starter/*"],
                  "mosaic.presets": ["*.yaml"], "mosaic.prompts": ["*.j2"]},
)
