"""The scenario library: the YAML files of this folder and of verify/, and the traces they replay.

The folder stays at the top of the repository, where the README's commands find it
(`tmemsim compare scenarios/quickstart.yaml`); the wheel ships it as the package
tmemsim.scenarios, so an installed tmemsim finds it anywhere (tmemsim.library).
"""
