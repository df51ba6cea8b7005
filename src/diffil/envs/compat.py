"""Compatibility shim: gymnasium-robotics' Fetch environments on MuJoCo >= 3.12.

MuJoCo's enums (since 3.12) compare unequal when the enum is on the left and a numpy integer on
the right (``mjtJoint.mjJNT_HINGE == np.int32(3)`` is False, the other way round True). The joint
helpers of ``gymnasium_robotics.utils.mujoco_utils`` check ``joint_type in (mjJNT_HINGE,
mjJNT_SLIDE)`` on a numpy integer, which compares that way round, so ``gym.make("FetchPush-v4")``
fails with an AssertionError while setting the robot's initial joint positions.

gymnasium-robotics fixed it upstream (PR #330, casting the joint type to int), not yet in a
release. :func:`patch_joint_type_checks` detects the bug by calling those helpers on a one-joint
model, and only where it reproduces, gives ``mujoco_utils`` a view of the ``mujoco`` module whose
``mjtJoint`` members are plain ints (which compare equal to numpy integers either way round).
Everything else is the real module.

REMOVE this module (and its call in :mod:`diffil.envs.fetch`) once a gymnasium-robotics release
carries the fix; ``tests/test_new_tasks.py`` says so when the bug no longer reproduces.
"""

from __future__ import annotations

import functools
import types
from typing import Any

_ONE_HINGE = """
<mujoco><worldbody><body><joint name="hinge" type="hinge"/><geom size="0.1"/></body></worldbody>
</mujoco>
"""


def joint_type_checks_fail() -> bool:
    """Whether gymnasium-robotics' joint helpers, as loaded now, reject a hinge joint."""
    import mujoco
    from gymnasium_robotics.utils import mujoco_utils

    model = mujoco.MjModel.from_xml_string(_ONE_HINGE)
    data = mujoco.MjData(model)
    try:
        mujoco_utils.get_joint_qpos(model, data, "hinge")
    except AssertionError:
        return True
    return False


class _IntJointEnums(types.ModuleType):
    """The ``mujoco`` module, except that ``mjtJoint``'s members are plain ints."""

    def __init__(self, module: types.ModuleType):
        super().__init__(module.__name__, module.__doc__)
        self._module = module
        members = module.mjtJoint.__members__
        self.mjtJoint = types.SimpleNamespace(**{k: int(v) for k, v in members.items()})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


@functools.cache
def patch_joint_type_checks() -> bool:
    """Make gymnasium-robotics' joint helpers work on this MuJoCo; True if a patch was needed.

    Idempotent. Raises RuntimeError if the helpers still fail after patching (a different bug).
    """
    if not joint_type_checks_fail():
        return False
    from gymnasium_robotics.utils import mujoco_utils

    mujoco_utils.mujoco = _IntJointEnums(mujoco_utils.mujoco)
    if joint_type_checks_fail():
        raise RuntimeError("gymnasium-robotics' joint helpers fail even with int joint types")
    return True
